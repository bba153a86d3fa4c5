//! The switches of a running link: its profiles and its faults, changed at any
//! time from any task, seen by every connection through a `watch` channel.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::{LinkProfile, Schedule};

/// Which way bytes flow through a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the side that connects to the proxy towards the target.
    Up,
    /// From the target back to the side that connected.
    Down,
}

impl Direction {
    pub(crate) fn index(self) -> usize {
        match self {
            Direction::Up => 0,
            Direction::Down => 1,
        }
    }
}

/// What a link does with bytes right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Bytes flow with the link's profiles.
    Open,
    /// Connections stay open and no byte passes, in either direction, until
    /// [`LinkControl::resume`].
    Stalled,
    /// Every connection was closed and new ones are closed at once, until
    /// [`LinkControl::restore`].
    Cut,
}

/// What every connection watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Faults {
    pub stalled: bool,
    pub cut: bool,
    /// Bumped by every [`LinkControl::reset`]: connections older than the
    /// bump are reset.
    pub resets: u64,
    pub profiles: [LinkProfile; 2],
}

#[derive(Debug)]
struct Shared {
    faults: watch::Sender<Faults>,
    /// One bottleneck per direction, shared by every connection: a link's
    /// bandwidth is the path's, however many connections cross it.
    schedules: [Mutex<Schedule>; 2],
    /// Time zero of the schedules.
    origin: Instant,
    connections: AtomicUsize,
    accepted: AtomicU64,
    forwarded: [AtomicU64; 2],
}

/// Controls a [`LinkProxy`](crate::LinkProxy) while it runs: change a
/// direction's profile, stall, cut, reset and restore its connections, and
/// read what it carried. Cheap to clone; every clone controls the same link.
///
/// ```
/// use channel_sim::{Direction, Link, LinkProfile, LinkProxy, LinkState};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let target = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let proxy = LinkProxy::start(target.local_addr()?, Link::symmetric(LinkProfile::metro())).await?;
/// let link = proxy.control();
/// link.stall();
/// assert_eq!(link.state(), LinkState::Stalled);
/// link.resume();
/// link.set_profile(Direction::Down, LinkProfile::latency(Duration::from_millis(40)));
/// assert_eq!(link.profile(Direction::Down).latency, Duration::from_millis(40));
/// assert_eq!(link.state(), LinkState::Open);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LinkControl {
    shared: Arc<Shared>,
}

impl LinkControl {
    pub(crate) fn new(up: LinkProfile, down: LinkProfile, seed: u64) -> Self {
        let (faults, _) = watch::channel(Faults {
            stalled: false,
            cut: false,
            resets: 0,
            profiles: [up, down],
        });
        Self {
            shared: Arc::new(Shared {
                faults,
                schedules: [
                    Mutex::new(Schedule::new(up, seed)),
                    Mutex::new(Schedule::new(down, seed.rotate_left(32) ^ 1)),
                ],
                origin: Instant::now(),
                connections: AtomicUsize::new(0),
                accepted: AtomicU64::new(0),
                forwarded: [AtomicU64::new(0), AtomicU64::new(0)],
            }),
        }
    }

    /// Stops every byte in both directions; connections stay open (a silently
    /// dead path: no FIN, no RST).
    pub fn stall(&self) {
        self.modify(|f| f.stalled = true);
        tracing::debug!("link stalled");
    }

    /// Lets bytes flow again after [`stall`](Self::stall); what was held is
    /// delivered first, in order.
    pub fn resume(&self) {
        self.modify(|f| f.stalled = false);
        tracing::debug!("link resumed");
    }

    /// Closes every connection on both sides (FIN) and closes new ones at
    /// once until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.modify(|f| f.cut = true);
        tracing::debug!("link cut");
    }

    /// Accepts connections again after [`cut`](Self::cut).
    pub fn restore(&self) {
        self.modify(|f| f.cut = false);
        tracing::debug!("link restored");
    }

    /// Resets every open connection on both sides (RST); new connections
    /// are accepted as usual.
    pub fn reset(&self) {
        self.modify(|f| f.resets += 1);
        tracing::debug!("link connections reset");
    }

    /// Changes one direction's profile for the bytes that enter it from now on.
    pub fn set_profile(&self, direction: Direction, profile: LinkProfile) {
        self.schedule(direction).set_profile(profile);
        self.modify(|f| f.profiles[direction.index()] = profile);
    }

    /// One direction's profile.
    pub fn profile(&self, direction: Direction) -> LinkProfile {
        self.shared.faults.borrow().profiles[direction.index()]
    }

    /// Open, stalled or cut (a cut link counts as cut even while stalled).
    pub fn state(&self) -> LinkState {
        let faults = self.shared.faults.borrow();
        if faults.cut {
            LinkState::Cut
        } else if faults.stalled {
            LinkState::Stalled
        } else {
            LinkState::Open
        }
    }

    /// Connections being proxied now.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Connections accepted and proxied so far (not those closed at once
    /// while cut or over the cap).
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }

    /// Bytes delivered in `direction` so far, over all connections.
    pub fn forwarded(&self, direction: Direction) -> u64 {
        self.shared.forwarded[direction.index()].load(Ordering::Relaxed)
    }

    /// The link's time now (since the proxy started).
    pub(crate) fn now(&self) -> Duration {
        self.shared.origin.elapsed()
    }

    /// The instant of the link's time `at`.
    pub(crate) fn instant(&self, at: Duration) -> Instant {
        self.shared.origin + at
    }

    /// When `bytes` handed to `direction` at `now` (link time) arrive.
    pub(crate) fn transmit(&self, direction: Direction, now: Duration, bytes: usize) -> Duration {
        self.schedule(direction).send(now, bytes)
    }

    fn schedule(&self, direction: Direction) -> std::sync::MutexGuard<'_, Schedule> {
        // A schedule update is a few additions: a panic cannot leave it torn.
        self.shared.schedules[direction.index()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Faults> {
        self.shared.faults.subscribe()
    }

    pub(crate) fn count_forwarded(&self, direction: Direction, bytes: usize) {
        self.shared.forwarded[direction.index()].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts a connection as open until the guard is dropped.
    pub(crate) fn open_connection(&self) -> ConnectionGuard {
        self.shared.connections.fetch_add(1, Ordering::Relaxed);
        self.shared.accepted.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard {
            control: self.clone(),
        }
    }

    fn modify(&self, change: impl FnOnce(&mut Faults)) {
        self.shared.faults.send_modify(change);
    }
}

/// One open connection, counted in [`LinkControl::connections`].
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    control: LinkControl,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.control
            .shared
            .connections
            .fetch_sub(1, Ordering::Relaxed);
    }
}

//! An in-process network of `n` parties whose links behave like WAN links, for
//! estimating what a protocol costs before it runs across the internet.
//!
//! [`SimNetwork`] builds parties like `TokioChannel::network` does, but each
//! directed link has a [`LinkProfile`] and each chunk is handed to the
//! receiver when that link would deliver it ([`Schedule`]). Run it on a tokio
//! runtime with a **paused clock** (`#[tokio::main(start_paused = true)]`, or
//! `#[tokio::test(start_paused = true)]`, with tokio's `test-util` feature):
//! tokio then jumps straight to the next delivery whenever every party waits,
//! so a protocol that would take minutes on a 100 ms WAN runs in the CPU time
//! its computation takes. On a normal clock the same network runs in real time.
//!
//! The [`SimReport`] gives the simulated running time, the number of rounds
//! (the longest chain of messages each sent after its sender received the one
//! before) and the bytes on every link in every phase.
//!
//! ```
//! use channel_core::reference::secure_sum;
//! use channel_sim::{LinkProfile, SimNetwork};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let network = SimNetwork::new(3, LinkProfile::intercontinental());
//! let (sums, report) = network
//!     .run(|mut ch| async move {
//!         let me = ch.party();
//!         let mut seed = me as u64 + 1;
//!         secure_sum(&mut ch, me, 3, 10 * me as u64, move || { seed = seed.wrapping_mul(7); seed }).await
//!     })
//!     .await;
//! assert!(sums.iter().all(|sum| *sum.as_ref().unwrap() == 30));
//! // Shares, then partial sums: two rounds of 75 ms one way.
//! assert_eq!(report.rounds, 2);
//! assert!(report.elapsed >= Duration::from_millis(150));
//! assert!(report.elapsed < Duration::from_millis(152));
//! # }
//! ```
//!
//! # What is simulated, and what is not
//!
//! Each directed link is its own bottleneck (bandwidth, latency, jitter); a
//! party's sends to different peers do not share an uplink, and nothing is
//! lost. A chunk arrives whole when its last byte would, so large messages
//! should be chunked (the helpers do it) for their timing to be right. Under a
//! paused clock a party's computation takes no simulated time: the report is
//! the network's share of the running time.

mod halves;
mod report;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use channel_core::asynchronous::{Peers, Split};
use channel_core::transport::{DEFAULT_RECV_TIMEOUT, TransportError, check_peer};
use channel_core::{Channel, DEFAULT_CHUNK_SIZE, DEFAULT_MAX_MESSAGE_SIZE, RecvInfo, SendInfo};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;

pub use halves::{SimReceiver, SimSender};
pub use report::{Phase, SimReport, SimStats, Traffic};

use crate::{LinkProfile, Schedule};
use halves::{Clock, SharedClock};

/// A chunk on its way.
#[derive(Debug)]
pub(crate) struct Envelope {
    /// When it was sent and when it arrives, since the network was built.
    sent: Duration,
    at: Duration,
    /// Its place in the longest chain of messages leading to it.
    depth: u64,
    phase: Arc<str>,
    bytes: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Outgoing {
    tx: UnboundedSender<Envelope>,
    schedule: Schedule,
}

#[derive(Debug)]
pub(crate) struct Incoming {
    rx: UnboundedReceiver<Envelope>,
    /// Taken from the queue but not yet arrived (a receive timed out or was
    /// dropped while waiting for it): the next receive gets it first.
    pending: Option<Envelope>,
}

/// Settings of a simulated network; start with [`SimNetwork::builder`].
#[derive(Debug, Clone)]
pub struct SimBuilder {
    parties: usize,
    /// `profiles[from * parties + to]`.
    profiles: Vec<LinkProfile>,
    recv_timeout: Duration,
    chunk_size: usize,
    max_message_size: usize,
    seed: u64,
}

impl SimBuilder {
    /// `parties` parties on ideal links, receive timeout 5 minutes, 4 MiB
    /// chunks, 1 GiB messages.
    pub fn new(parties: usize) -> Self {
        Self {
            parties,
            profiles: vec![LinkProfile::IDEAL; parties * parties],
            recv_timeout: DEFAULT_RECV_TIMEOUT,
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            seed: 1,
        }
    }

    /// Every link gets `profile`.
    pub fn profile(mut self, profile: LinkProfile) -> Self {
        self.profiles.fill(profile);
        self
    }

    /// The link from `from` to `to` (one direction) gets `profile`; indices
    /// out of range are ignored.
    pub fn link(mut self, from: usize, to: usize, profile: LinkProfile) -> Self {
        if from < self.parties && to < self.parties {
            self.profiles[from * self.parties + to] = profile;
        }
        self
    }

    /// How long a receive waits (in simulated time) before it fails with
    /// [`TransportError::Timeout`].
    pub fn recv_timeout(mut self, timeout: Duration) -> Self {
        self.recv_timeout = timeout;
        self
    }

    /// The chunk size the helpers use.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// The largest message the helpers send or accept.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// The seed of every link's jitter.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The connected parties; time zero of the report is now. Call it in the
    /// tokio runtime that runs the parties.
    pub fn build(self) -> SimNetwork {
        let n = self.parties;
        let origin = Instant::now();
        let stats = SimStats::new(n);
        let mut from: Vec<Vec<Option<Incoming>>> = (0..n).map(|_| Vec::with_capacity(n)).collect();
        let to: Vec<Vec<Option<Outgoing>>> = (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| {
                        if a == b {
                            from[b].push(None);
                            return None;
                        }
                        let (tx, rx) = unbounded_channel();
                        from[b].push(Some(Incoming { rx, pending: None }));
                        let link = (a * n + b) as u64;
                        let seed = self.seed ^ link.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                        let schedule = Schedule::new(self.profiles[a * n + b], seed);
                        Some(Outgoing { tx, schedule })
                    })
                    .collect()
            })
            .collect();
        let parties = to
            .into_iter()
            .zip(from)
            .enumerate()
            .map(|(me, (to, from))| {
                let clock = Clock::new(origin);
                let senders = to
                    .into_iter()
                    .enumerate()
                    .map(|(p, out)| {
                        out.map(|out| {
                            SimSender::new(
                                p,
                                self.chunk_size,
                                out,
                                Arc::clone(&clock),
                                stats.clone(),
                            )
                        })
                    })
                    .collect();
                let receivers = from
                    .into_iter()
                    .enumerate()
                    .map(|(p, incoming)| {
                        incoming.map(|incoming| {
                            SimReceiver::new(
                                me,
                                p,
                                incoming,
                                Arc::clone(&clock),
                                stats.clone(),
                                self.recv_timeout,
                            )
                        })
                    })
                    .collect();
                SimChannel {
                    me,
                    parties: n,
                    senders,
                    receivers,
                    clock,
                    stats: stats.clone(),
                    chunk_size: self.chunk_size,
                    max_message_size: self.max_message_size,
                }
            })
            .collect();
        SimNetwork { parties, stats }
    }
}

/// `n` simulated parties and their shared record; see the [module docs](self).
#[derive(Debug)]
pub struct SimNetwork {
    /// Party `i` at index `i`; move each into its own task.
    pub parties: Vec<SimChannel>,
    /// What the parties have done; read it with [`SimStats::report`].
    pub stats: SimStats,
}

impl SimNetwork {
    /// `parties` parties, every link with `profile`, default settings.
    pub fn new(parties: usize, profile: LinkProfile) -> Self {
        SimBuilder::new(parties).profile(profile).build()
    }

    /// Settings for `parties` parties.
    pub fn builder(parties: usize) -> SimBuilder {
        SimBuilder::new(parties)
    }

    /// Runs `protocol` for every party, each on its own task, and returns
    /// their results (party `i` at index `i`) and the report. A party that
    /// panics makes this panic with its payload, as `std::thread::scope` does.
    pub async fn run<T, Fut>(self, protocol: impl Fn(SimChannel) -> Fut) -> (Vec<T>, SimReport)
    where
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let tasks: Vec<_> = self
            .parties
            .into_iter()
            .map(|party| tokio::spawn(protocol(party)))
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            match task.await {
                Ok(result) => results.push(result),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => std::panic::resume_unwind(Box::new(e.to_string())),
            }
        }
        (results, self.stats.report())
    }
}

/// One party of a [`SimNetwork`], implementing the async [`Channel`].
///
/// Sends never wait (the link's queue is unbounded, as with
/// `TokioChannel`); a receive waits until the chunk arrives in simulated time,
/// at most the receive timeout, then fails with [`TransportError::Timeout`].
/// A dropped peer is [`TransportError::Closed`] once what it sent has arrived.
#[derive(Debug)]
pub struct SimChannel {
    me: usize,
    parties: usize,
    /// Per peer, the sending half (`None` for the party itself).
    senders: Vec<Option<SimSender>>,
    /// Per peer, the receiving half (`None` for the party itself).
    receivers: Vec<Option<SimReceiver>>,
    clock: SharedClock,
    stats: SimStats,
    chunk_size: usize,
    max_message_size: usize,
}

impl SimChannel {
    /// This party's index.
    pub fn party(&self) -> usize {
        self.me
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// The network's record (shared by every party).
    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// This party's simulated time since the network was built: the exact
    /// arrival of the last chunk it waited for, plus the time since.
    pub fn now(&self) -> Duration {
        Clock::lock(&self.clock).now()
    }
}

impl Channel for SimChannel {
    type SendError = TransportError;
    type RecvError = TransportError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), TransportError> {
        check_peer(self.me, p, self.parties)?;
        self.senders
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or(TransportError::Closed { party: p })?
            .send(msg, &info)
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, TransportError> {
        check_peer(self.me, p, self.parties)?;
        self.receivers
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or(TransportError::Closed { party: p })?
            .recv(&info)
            .await
    }

    fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.max_message_size
    }
}

/// Per-peer halves that run at the same time, sharing the party's clock.
impl Split for SimChannel {
    type Sender = SimSender;
    type Receiver = SimReceiver;

    fn split(self) -> Peers<SimSender, SimReceiver> {
        Peers::from_slots(
            self.me,
            self.parties,
            self.chunk_size,
            self.max_message_size,
            self.senders,
            self.receivers,
        )
    }
}

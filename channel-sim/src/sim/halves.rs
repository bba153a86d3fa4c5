//! A simulated party's per-peer halves ([`SimSender`], [`SimReceiver`]): a
//! [`SimChannel`](super::SimChannel) is made of them, and
//! [`Split`](channel_core::asynchronous::Split) hands them out. They share
//! the party's [`Clock`], so that time and message depth stay the party's
//! own whichever half waited.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use channel_core::asynchronous::{PeerReceiver, PeerSender};
use channel_core::transport::TransportError;
use channel_core::{RecvInfo, SendInfo};
use tokio::time::Instant;

use super::report::Hop;
use super::{Envelope, Incoming, Outgoing, SimStats};

/// One party's simulated time and the depth of its longest message chain.
#[derive(Debug)]
pub(crate) struct Clock {
    origin: Instant,
    /// The party's exact time at the tokio time `.1` (both since `origin`):
    /// tokio's timer rounds wake-ups up to the millisecond, so after waiting
    /// for a chunk the party's time is the chunk's exact arrival, and time
    /// spent since (computing, sleeping) is added from the clock.
    anchor: (Duration, Duration),
    /// The longest chain of messages this party has received.
    depth: u64,
}

/// A party's clock, shared by its halves.
pub(crate) type SharedClock = Arc<Mutex<Clock>>;

impl Clock {
    pub(crate) fn new(origin: Instant) -> SharedClock {
        Arc::new(Mutex::new(Clock {
            origin,
            anchor: (Duration::ZERO, Duration::ZERO),
            depth: 0,
        }))
    }

    pub(crate) fn now(&self) -> Duration {
        let (exact, at) = self.anchor;
        exact + self.origin.elapsed().saturating_sub(at)
    }

    pub(crate) fn lock(clock: &SharedClock) -> std::sync::MutexGuard<'_, Clock> {
        clock.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sending to one simulated peer.
#[derive(Debug)]
pub struct SimSender {
    p: usize,
    /// The network's chunk size: a larger chunk is refused.
    chunk_size: usize,
    out: Outgoing,
    clock: SharedClock,
    stats: SimStats,
}

/// Receiving from one simulated peer.
#[derive(Debug)]
pub struct SimReceiver {
    me: usize,
    p: usize,
    incoming: Incoming,
    clock: SharedClock,
    stats: SimStats,
    recv_timeout: Duration,
}

impl SimSender {
    pub(crate) fn new(
        p: usize,
        chunk_size: usize,
        out: Outgoing,
        clock: SharedClock,
        stats: SimStats,
    ) -> Self {
        Self {
            p,
            chunk_size,
            out,
            clock,
            stats,
        }
    }

    /// The peer this half sends to.
    pub fn peer(&self) -> usize {
        self.p
    }

    /// Sends one chunk: it arrives when the link's schedule says.
    pub(crate) fn send(&mut self, msg: Vec<u8>, info: &SendInfo) -> Result<(), TransportError> {
        channel_core::transport::check_chunk(self.p, msg.len(), self.chunk_size)?;
        let (now, depth) = {
            let clock = Clock::lock(&self.clock);
            (clock.now(), clock.depth + 1)
        };
        let at = self.out.schedule.send(now, msg.len());
        self.stats.sent(info.phase(), now, depth);
        let envelope = Envelope {
            sent: now,
            at,
            depth,
            phase: Arc::from(info.phase()),
            bytes: msg,
        };
        self.out
            .tx
            .send(envelope)
            .map_err(|_| TransportError::Closed { party: self.p })
    }
}

impl SimReceiver {
    pub(crate) fn new(
        me: usize,
        p: usize,
        incoming: Incoming,
        clock: SharedClock,
        stats: SimStats,
        recv_timeout: Duration,
    ) -> Self {
        Self {
            me,
            p,
            incoming,
            clock,
            stats,
            recv_timeout,
        }
    }

    /// The peer this half receives from.
    pub fn peer(&self) -> usize {
        self.p
    }

    /// Receives the next chunk once it has arrived in simulated time, at
    /// most the receive timeout.
    pub(crate) async fn recv(&mut self, info: &RecvInfo) -> Result<Vec<u8>, TransportError> {
        let p = self.p;
        let (called, origin) = {
            let clock = Clock::lock(&self.clock);
            (clock.now(), clock.origin)
        };
        let deadline = Instant::now() + self.recv_timeout;
        let timeout = || TransportError::timeout(p, self.recv_timeout, info);
        let incoming = &mut self.incoming;
        if incoming.pending.is_none() {
            match tokio::time::timeout_at(deadline, incoming.rx.recv()).await {
                Ok(Some(envelope)) => incoming.pending = Some(envelope),
                Ok(None) => return Err(TransportError::Closed { party: p }),
                Err(_) => return Err(timeout()),
            }
        }
        let arrives = incoming
            .pending
            .as_ref()
            .map_or(deadline, |e| origin + e.at);
        if arrives > deadline {
            tokio::time::sleep_until(deadline).await;
            return Err(timeout());
        }
        tokio::time::sleep_until(arrives).await;
        let envelope = incoming.pending.take().ok_or_else(timeout)?;
        {
            let mut clock = Clock::lock(&self.clock);
            // This party waited for the chunk: its time is the arrival
            // (not where tokio's rounded-up timer woke it), unless another
            // half's wait already brought it further.
            if envelope.at > called && envelope.at >= clock.anchor.0 {
                clock.anchor = (envelope.at, origin.elapsed());
            }
            clock.depth = clock.depth.max(envelope.depth);
        }
        self.stats.received(Hop {
            from: p,
            to: self.me,
            phase: &envelope.phase,
            bytes: envelope.bytes.len(),
            sent: envelope.sent,
            arrived: envelope.at,
            depth: envelope.depth,
        });
        Ok(envelope.bytes)
    }
}

impl PeerSender for SimSender {
    type Error = TransportError;

    async fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), TransportError> {
        self.send(msg, &info)
    }
}

impl PeerReceiver for SimReceiver {
    type Error = TransportError;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, TransportError> {
        self.recv(&info).await
    }
}

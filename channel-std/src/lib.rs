//! In-process MPC parties on `std::sync::mpsc`, implementing the blocking
//! [`channel_core::blocking::Channel`].
//!
//! [`StdChannel::network`] returns `n` connected parties; move each onto its own
//! thread. The blocking helpers of `channel_core::blocking` (typed, chunked),
//! [`Metered`](channel_core::Metered) and the conformance kit all work on them.
//!
//! ```
//! use channel_core::blocking::{recv_from, send_to};
//! use channel_std::StdChannel;
//!
//! let mut parties = StdChannel::network(2).into_iter();
//! let (mut alice, mut bob) = (parties.next().unwrap(), parties.next().unwrap());
//!
//! let bob_thread = std::thread::spawn(move || {
//!     let x: u64 = recv_from(&mut bob, 0, "hello")?;
//!     send_to(&mut bob, 0, "hello", &(x + 1))
//! });
//! send_to(&mut alice, 1, "hello", &41u64)?;
//! let y: u64 = recv_from(&mut alice, 1, "hello")?;
//! assert_eq!(y, 42);
//! bob_thread.join().expect("bob's thread panicked")?;
//! # Ok::<(), channel_core::Error>(())
//! ```
//!
//! # Sends never wait; memory is the price
//!
//! A send puts the chunk on an unbounded queue and returns at once, so "every
//! party sends to every party, then every party receives" cannot deadlock at any
//! size. A sender far ahead of its receiver therefore holds everything it sent in
//! memory; [`Builder::max_queued_bytes`] bounds the bytes queued per directed pair,
//! and a send beyond it fails at once with [`TransportError::QueueFull`].
//!
//! # Concurrent sends and receives
//!
//! [`Split::split`] cuts a party into one [`StdSender`] and one [`StdReceiver`]
//! per peer; each is `Send`, so a party can run a thread per peer and
//! direction. [`Peers::into_shared`] gives `&self` methods over them, for
//! engines that share one channel between their threads.
//!
//! ```
//! use channel_core::blocking::Split;
//! use channel_std::StdChannel;
//!
//! let parties = StdChannel::network(3);
//! std::thread::scope(|s| {
//!     for party in parties {
//!         s.spawn(move || {
//!             let shared = party.split().into_shared();
//!             let me = shared.party();
//!             let peers: Vec<usize> = (0..3).filter(|&p| p != me).collect();
//!             // One thread per peer and direction, all on one shared channel.
//!             std::thread::scope(|s| {
//!                 for &p in &peers {
//!                     let shared = &shared;
//!                     s.spawn(move || shared.send_to(p, "hello", &(me as u64)).unwrap());
//!                     s.spawn(move || {
//!                         let got: u64 = shared.recv_from(p, "hello").unwrap();
//!                         assert_eq!(got, p as u64);
//!                     });
//!                 }
//!             });
//!         });
//!     }
//! });
//! ```
//!
//! # Timeouts and closed peers
//!
//! A receive waits at most [`Builder::recv_timeout`] (5 minutes by default), then
//! fails with [`TransportError::Timeout`] naming the peer, phase and chunk. When a
//! peer's `StdChannel` is dropped, receiving from it (after its queued messages)
//! and sending to it fail at once with [`TransportError::Closed`].

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};

use channel_core::blocking::{Channel, PeerReceiver, PeerSender, Peers, Split};
pub use channel_core::transport::DEFAULT_RECV_TIMEOUT;
pub use channel_core::transport::TransportError;
use channel_core::transport::{
    BuildNetwork, NetworkBuilder, NetworkSettings, PartOffer, QueueBudget, QueueEnds, QueueFrom,
    QueueTo,
};
use channel_core::{RecvInfo, SendInfo};

/// Settings of an in-process network; start with [`StdChannel::builder`].
pub type Builder = NetworkBuilder<StdChannel>;

impl BuildNetwork for StdChannel {
    fn build_network(settings: NetworkSettings) -> Vec<StdChannel> {
        QueueEnds::network(&settings, channel)
            .into_iter()
            .map(|ends| StdChannel { ends })
            .collect()
    }
}

/// One party of an in-process network on std threads; see the [crate docs](crate).
#[derive(Debug)]
pub struct StdChannel {
    ends: QueueEnds<Sender<Vec<u8>>, Receiver<Vec<u8>>>,
}

impl StdChannel {
    /// `parties` connected parties with default settings; element `i` is party `i`.
    pub fn network(parties: usize) -> Vec<StdChannel> {
        Self::builder(parties).build()
    }

    /// Settings for a network of `parties` parties.
    pub fn builder(parties: usize) -> Builder {
        Builder::new(parties)
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.ends.party()
    }

    /// The number of parties in the network.
    pub fn parties(&self) -> usize {
        self.ends.settings().parties
    }

    /// Bytes this party has sent to `p` that `p` has not received yet.
    pub fn queued_to(&self, p: usize) -> usize {
        self.ends.queued_to(p)
    }
}

impl Channel for StdChannel {
    type SendError = TransportError;
    type RecvError = TransportError;

    fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), TransportError> {
        if info.is_streamed() {
            let ends = &self.ends;
            let after = ends.settings().recv_timeout;
            let stalled = || TransportError::Stalled {
                party: p,
                after,
                queued: ends.queued_to(p),
            };
            let offer = |msg| ends.offer_part(p, msg, |tx, msg| tx.send(msg).is_ok());
            return send_part(offer, msg, after, stalled);
        }
        self.ends.send(p, msg, |tx, msg| tx.send(msg).is_ok())
    }

    fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, TransportError> {
        let after = self.ends.settings().recv_timeout;
        let (rx, budget) = self.ends.receiver(p)?;
        receive(rx, budget, p, after, &info)
    }

    fn chunk_size(&self) -> usize {
        self.ends.settings().chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.ends.settings().max_message_size
    }

    /// A buffer `p` recycled, when one fits (see [`BufferPool`](channel_core::transport::BufferPool)).
    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        self.ends.chunk_buffer(p, capacity)
    }

    /// Hands `buf` back to `p`, for its next large send to this party.
    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        self.ends.recycle(p, buf)
    }
}

/// Per-peer halves: a thread per peer and direction ([`Split`]; see the
/// crate docs, "Concurrent sends and receives").
impl Split for StdChannel {
    type Sender = StdSender;
    type Receiver = StdReceiver;

    fn split(self) -> Peers<StdSender, StdReceiver> {
        let me = self.ends.party();
        let (settings, peers) = self.ends.into_peers();
        let halves = peers.into_iter().map(|(p, to, from)| {
            let recv_timeout = settings.recv_timeout;
            (
                p,
                StdSender { to, recv_timeout },
                StdReceiver { from, recv_timeout },
            )
        });
        Peers::new(
            me,
            settings.parties,
            settings.chunk_size,
            settings.max_message_size,
            halves,
        )
    }
}

/// Sending to one peer: a half of [`StdChannel::split`](Split::split).
#[derive(Debug)]
pub struct StdSender {
    to: QueueTo<Sender<Vec<u8>>>,
    /// How long a streamed part waits for room.
    recv_timeout: std::time::Duration,
}

impl PeerSender for StdSender {
    type Error = TransportError;

    fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), TransportError> {
        if info.is_streamed() {
            let to = &self.to;
            let after = self.recv_timeout;
            let offer = |msg| to.offer_part(msg, |tx, msg| tx.send(msg).is_ok());
            return send_part(offer, msg, after, || to.stalled(after));
        }
        self.to.send(msg, |tx, msg| tx.send(msg).is_ok())
    }

    fn chunk_buffer(&mut self, capacity: usize) -> Vec<u8> {
        self.to.chunk_buffer(capacity)
    }
}

/// Receiving from one peer: a half of [`StdChannel::split`](Split::split).
#[derive(Debug)]
pub struct StdReceiver {
    from: QueueFrom<Receiver<Vec<u8>>>,
    recv_timeout: std::time::Duration,
}

impl PeerReceiver for StdReceiver {
    type Error = TransportError;

    fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, TransportError> {
        let p = self.from.peer();
        let (rx, budget) = self.from.receiver();
        receive(rx, budget, p, self.recv_timeout, &info)
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        self.from.recycle(buf)
    }
}

/// A streamed part: queued once its link holds less than the stream window
/// (`offer`), waiting for the receiver to read at most `after`.
fn send_part(
    offer: impl Fn(Vec<u8>) -> Result<PartOffer, TransportError>,
    mut msg: Vec<u8>,
    after: std::time::Duration,
    stalled: impl FnOnce() -> TransportError,
) -> Result<(), TransportError> {
    let deadline = std::time::Instant::now() + after;
    // Bounded by the deadline: each pass waits for a release or gives up.
    loop {
        match offer(msg)? {
            PartOffer::Queued => return Ok(()),
            PartOffer::Full { part, room } => {
                msg = part;
                if !room.wait_until(deadline) {
                    return Err(stalled());
                }
            }
        }
    }
}

/// One chunk from `p`'s queue, within `after`.
fn receive(
    rx: &mut Receiver<Vec<u8>>,
    budget: &QueueBudget,
    p: usize,
    after: std::time::Duration,
    info: &RecvInfo,
) -> Result<Vec<u8>, TransportError> {
    match rx.recv_timeout(after) {
        Ok(msg) => {
            budget.release(msg.len());
            Ok(msg)
        }
        Err(RecvTimeoutError::Disconnected) => Err(TransportError::Closed { party: p }),
        Err(RecvTimeoutError::Timeout) => Err(TransportError::timeout(p, after, info)),
    }
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! In-process MPC parties on tokio's unbounded mpsc channels, implementing
//! [`channel_core::Channel`] (the async form).
//!
//! [`TokioChannel::network`] returns `n` connected parties; move each into its own
//! task. Everything in `channel_core` works on them: typed and chunked helpers,
//! [`Metered`](channel_core::Metered) counters, the conformance kit.
//!
//! ```
//! use channel_core::{recv_from, send_to};
//! use channel_tokio::TokioChannel;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), channel_core::Error> {
//! let mut parties = TokioChannel::network(2).into_iter();
//! let (mut alice, mut bob) = (parties.next().unwrap(), parties.next().unwrap());
//!
//! // TokioChannel's futures are Send, so each party can run on its own task.
//! let bob_task = tokio::spawn(async move {
//!     let x: u64 = recv_from(&mut bob, 0, "hello").await?;
//!     send_to(&mut bob, 0, "hello", &(x + 1)).await
//! });
//! send_to(&mut alice, 1, "hello", &41u64).await?;
//! let y: u64 = recv_from(&mut alice, 1, "hello").await?;
//! assert_eq!(y, 42);
//! bob_task.await.expect("bob's task panicked")?;
//! # Ok(())
//! # }
//! ```
//!
//! # Sends never wait; memory is the price
//!
//! A send puts the chunk on an unbounded queue and returns at once, so the pattern
//! "every party sends to every party, then every party receives" cannot deadlock at
//! any size. The consequence is that a sender far ahead of its receiver holds all
//! the chunks it sent in memory. [`Builder::max_queued_bytes`] bounds the bytes
//! queued per directed pair: a send that would exceed it fails at once with
//! [`TransportError::QueueFull`] instead of blocking or growing without bound.
//!
//! # Concurrent sends and receives
//!
//! [`Split::split`] cuts a party into one [`TokioSender`] and one
//! [`TokioReceiver`] per peer, so that it can send to and receive from all its
//! peers at once (`try_join` over peers), each half on its own `&mut`. The
//! halves are `Send`: one task per peer works too. [`Peers::into_shared`] gives
//! an engine `&self` methods over them.
//!
//! ```
//! use channel_core::asynchronous::Split;
//! use channel_tokio::TokioChannel;
//! use futures::future::try_join_all;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), channel_core::Error> {
//! let parties = TokioChannel::network(3);
//! let runs = parties.into_iter().map(|party| async move {
//!     let mut peers = party.split();
//!     let me = peers.me as u64;
//!     // Every send and every receive of this party, all in flight at once.
//!     let sends = try_join_all(peers.senders.iter_mut().map(|tx| tx.send("hello", &me)));
//!     let recvs = try_join_all(peers.receivers.iter_mut().map(|rx| rx.recv::<u64>("hello")));
//!     let ((), got) = futures::try_join!(async { sends.await.map(drop) }, recvs)?;
//!     assert_eq!(got.len(), 2);
//!     Ok::<_, channel_core::Error>(())
//! });
//! try_join_all(runs).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Streamed messages
//!
//! A message produced piece by piece (a garbled circuit's tables) can cross
//! as a stream, never held whole: a streamed part waits while the link holds
//! [`Builder::stream_window`] bytes (8 MiB by default) until the receiver
//! reads, at most the receive timeout, so memory stays bounded whatever the
//! size.
//!
//! ```
//! use channel_core::{recv_stream, send_stream};
//! use channel_tokio::TokioChannel;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), channel_core::Error> {
//! let mut parties = TokioChannel::network(2).into_iter();
//! let (mut garbler, mut evaluator) = (parties.next().unwrap(), parties.next().unwrap());
//! let garbling = tokio::spawn(async move {
//!     // 64 MiB in all, made and sent 1 MiB at a time.
//!     let mut tx = send_stream(&mut garbler, 1, "tables", None);
//!     for i in 0..64u8 {
//!         tx.write(&vec![i; 1 << 20]).await?;
//!     }
//!     tx.finish().await
//! });
//! let mut rx = recv_stream(&mut evaluator, 0, "tables").await?;
//! let mut received = 0;
//! while let Some(part) = rx.next_part().await? {
//!     received += part.len();
//!     rx.recycle(part); // the sender's next part reuses this memory
//! }
//! assert_eq!(garbling.await.expect("the garbler panicked")?, 64 << 20);
//! assert_eq!(received, 64 << 20);
//! # Ok(())
//! # }
//! ```
//!
//! # Timeouts and closed peers
//!
//! A receive waits at most [`Builder::recv_timeout`] (5 minutes by default) and
//! then fails with [`TransportError::Timeout`], naming the peer and the phase and
//! chunk being awaited. When a peer's `TokioChannel` is dropped, receiving from it
//! (once its queued messages are consumed) and sending to it fail at once with
//! [`TransportError::Closed`]. The timeout uses tokio's timer, so run the parties
//! on a runtime with the time driver enabled (`#[tokio::main]` and
//! `Builder::enable_all` do).

use channel_core::asynchronous::{PeerReceiver, PeerSender, Peers, Split};
pub use channel_core::transport::DEFAULT_RECV_TIMEOUT;
pub use channel_core::transport::TransportError;
use channel_core::transport::{
    BuildNetwork, NetworkBuilder, NetworkSettings, PartOffer, QueueEnds, QueueFrom, QueueTo,
};
use channel_core::{Channel, RecvInfo, SendInfo};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Settings of an in-process network; start with [`TokioChannel::builder`].
pub type Builder = NetworkBuilder<TokioChannel>;

impl BuildNetwork for TokioChannel {
    fn build_network(settings: NetworkSettings) -> Vec<TokioChannel> {
        QueueEnds::network(&settings, unbounded_channel)
            .into_iter()
            .map(|ends| TokioChannel { ends })
            .collect()
    }
}

/// One party of an in-process network on tokio; see the [crate docs](crate).
#[derive(Debug)]
pub struct TokioChannel {
    ends: QueueEnds<UnboundedSender<Vec<u8>>, UnboundedReceiver<Vec<u8>>>,
}

impl TokioChannel {
    /// `parties` connected parties with default settings; element `i` is party `i`.
    pub fn network(parties: usize) -> Vec<TokioChannel> {
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

impl Channel for TokioChannel {
    type SendError = TransportError;
    type RecvError = TransportError;

    async fn send_bytes_to(
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
            return send_part(offer, msg, after, stalled).await;
        }
        self.ends.send(p, msg, |tx, msg| tx.send(msg).is_ok())
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, TransportError> {
        let after = self.ends.settings().recv_timeout;
        let (rx, budget) = self.ends.receiver(p)?;
        receive(rx, budget, p, after, &info).await
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

/// Per-peer halves: sends and receives to every peer at once
/// ([`Split`]; see the crate docs, "Concurrent sends and receives").
impl Split for TokioChannel {
    type Sender = TokioSender;
    type Receiver = TokioReceiver;

    fn split(self) -> Peers<TokioSender, TokioReceiver> {
        let me = self.ends.party();
        let (settings, peers) = self.ends.into_peers();
        let halves = peers.into_iter().map(|(p, to, from)| {
            let recv_timeout = settings.recv_timeout;
            (
                p,
                TokioSender { to, recv_timeout },
                TokioReceiver { from, recv_timeout },
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

/// Sending to one peer: a half of [`TokioChannel::split`](Split::split).
#[derive(Debug)]
pub struct TokioSender {
    to: QueueTo<UnboundedSender<Vec<u8>>>,
    /// How long a streamed part waits for room.
    recv_timeout: std::time::Duration,
}

impl PeerSender for TokioSender {
    type Error = TransportError;

    async fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), TransportError> {
        if info.is_streamed() {
            let to = &self.to;
            let after = self.recv_timeout;
            let offer = |msg| to.offer_part(msg, |tx, msg| tx.send(msg).is_ok());
            return send_part(offer, msg, after, || to.stalled(after)).await;
        }
        self.to.send(msg, |tx, msg| tx.send(msg).is_ok())
    }

    fn chunk_buffer(&mut self, capacity: usize) -> Vec<u8> {
        self.to.chunk_buffer(capacity)
    }
}

/// Receiving from one peer: a half of [`TokioChannel::split`](Split::split).
#[derive(Debug)]
pub struct TokioReceiver {
    from: QueueFrom<UnboundedReceiver<Vec<u8>>>,
    recv_timeout: std::time::Duration,
}

impl PeerReceiver for TokioReceiver {
    type Error = TransportError;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, TransportError> {
        let p = self.from.peer();
        let (rx, budget) = self.from.receiver();
        receive(rx, budget, p, self.recv_timeout, &info).await
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        self.from.recycle(buf)
    }
}

/// A streamed part: queued once its link holds less than the stream window
/// (`offer`), waiting for the receiver to read at most `after`.
async fn send_part(
    offer: impl Fn(Vec<u8>) -> Result<PartOffer, TransportError>,
    mut msg: Vec<u8>,
    after: std::time::Duration,
    stalled: impl FnOnce() -> TransportError,
) -> Result<(), TransportError> {
    let deadline = tokio::time::Instant::now() + after;
    // Bounded by the deadline: each pass waits for a release or gives up.
    loop {
        match offer(msg)? {
            PartOffer::Queued => return Ok(()),
            PartOffer::Full { part, room } => {
                msg = part;
                if tokio::time::timeout_at(deadline, room).await.is_err() {
                    return Err(stalled());
                }
            }
        }
    }
}

/// One chunk from `p`'s queue, within `after`.
async fn receive(
    rx: &mut UnboundedReceiver<Vec<u8>>,
    budget: &channel_core::transport::QueueBudget,
    p: usize,
    after: std::time::Duration,
    info: &RecvInfo,
) -> Result<Vec<u8>, TransportError> {
    match tokio::time::timeout(after, rx.recv()).await {
        Ok(Some(msg)) => {
            budget.release(msg.len());
            Ok(msg)
        }
        Ok(None) => Err(TransportError::Closed { party: p }),
        Err(_) => Err(TransportError::timeout(p, after, info)),
    }
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

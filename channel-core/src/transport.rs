//! Building blocks for transport authors: the errors every backend shares, the
//! exactly-once sequence rule ([`seq`]), keepalives ([`liveness`]), and the builder and queue ends of
//! in-process networks.
//!
//! A backend may use [`TransportError`] directly as its `SendError`/`RecvError`, or wrap
//! it in its own enum next to transport-specific failures (HTTP status, I/O, ...).

use std::time::Duration;

pub mod liveness;
pub mod recycle;
pub mod seq;

pub use recycle::BufferPool;

pub use crate::network::{
    BuildNetwork, DEFAULT_RECV_TIMEOUT, DEFAULT_STREAM_WINDOW, NetworkBuilder, NetworkSettings,
};
pub use crate::queues::{PartOffer, PeerEnds, QueueEnds, QueueFrom, QueueTo};

/// Failures that every transport can run into, whatever carries the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The party index is not part of this computation.
    #[error("party {party} does not exist: this channel connects parties 0..{parties}")]
    NoSuchParty {
        /// The index asked for.
        party: usize,
        /// How many parties the channel connects.
        parties: usize,
    },
    /// A party tried to send to or receive from itself.
    #[error("party {party} cannot send to or receive from itself")]
    ToSelf {
        /// The party's own index.
        party: usize,
    },
    /// The peer is gone (dropped, disconnected, or its process ended).
    #[error("the connection to party {party} is closed")]
    Closed {
        /// The peer.
        party: usize,
    },
    /// Nothing arrived from the peer within the receive timeout.
    #[error("timed out after {after:?} waiting for party {party} ({waiting_for})")]
    Timeout {
        /// The peer.
        party: usize,
        /// The timeout in force.
        after: Duration,
        /// What was awaited, e.g. "phase 'open', chunk 1/?".
        waiting_for: String,
    },
    /// A chunk is larger than the transport carries: send messages through the
    /// helpers (`send_bytes`, `send_to`), which cut them to [`Channel::chunk_size`](crate::Channel::chunk_size).
    #[error(
        "a chunk of {size} bytes for party {party} exceeds the transport's limit of {limit} bytes \
         (send messages with the helpers, which cut them to the chunk size)"
    )]
    ChunkTooLarge {
        /// The peer.
        party: usize,
        /// Size of the chunk.
        size: usize,
        /// The largest chunk the transport carries.
        limit: usize,
    },
    /// The peer is gone: it has not been heard from for longer than the
    /// transport's bound (its process likely ended), or it said goodbye.
    #[error("party {party} is gone: {reason}")]
    PeerGone {
        /// The peer.
        party: usize,
        /// What the transport knows.
        reason: String,
    },
    /// A chunk from the peer does not authenticate: it was altered, replayed,
    /// reordered, dropped or injected on the way (see `channel-seal`).
    #[error("chunk {chunk} from party {party} does not authenticate")]
    Unauthentic {
        /// The peer.
        party: usize,
        /// The chunk's number in its direction.
        chunk: u64,
    },
    /// A send waited longer than the transport's bound for the peer to take
    /// in what was already sent (a streamed message is held back until its
    /// receiver reads): the peer is stuck or gone.
    #[error(
        "party {party} took nothing in for {after:?}: {queued} bytes still wait for it \
         (a streamed message is held back until its receiver reads)"
    )]
    Stalled {
        /// The peer.
        party: usize,
        /// How long the send waited.
        after: Duration,
        /// Bytes sent and not yet taken in by the peer.
        queued: usize,
    },
    /// The bytes queued towards the peer would exceed the configured bound.
    #[error(
        "{queued} bytes already queued for party {party}; {adding} more would exceed the bound of {limit} bytes"
    )]
    QueueFull {
        /// The peer.
        party: usize,
        /// Bytes queued and not yet received.
        queued: usize,
        /// Size of the chunk that did not fit.
        adding: usize,
        /// The configured bound.
        limit: usize,
    },
}

impl TransportError {
    /// The party the failure concerns.
    pub fn party(&self) -> Option<usize> {
        match self {
            TransportError::NoSuchParty { party, .. }
            | TransportError::ToSelf { party }
            | TransportError::Closed { party }
            | TransportError::Timeout { party, .. }
            | TransportError::ChunkTooLarge { party, .. }
            | TransportError::PeerGone { party, .. }
            | TransportError::Unauthentic { party, .. }
            | TransportError::Stalled { party, .. }
            | TransportError::QueueFull { party, .. } => Some(*party),
        }
    }

    /// What kind of failure this is (see [`ErrorKind`](crate::ErrorKind)).
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        match self {
            TransportError::NoSuchParty { .. } | TransportError::ToSelf { .. } => {
                ErrorKind::BadParty
            }
            TransportError::Closed { .. } | TransportError::PeerGone { .. } => ErrorKind::PeerGone,
            TransportError::Timeout { .. } | TransportError::Stalled { .. } => ErrorKind::Timeout,
            TransportError::ChunkTooLarge { .. } => ErrorKind::TooLarge,
            TransportError::Unauthentic { .. } => ErrorKind::Unauthentic,
            TransportError::QueueFull { .. } => ErrorKind::QueueFull,
        }
    }

    /// The error of a receive from `party` that waited `after` for the chunk `info` describes.
    ///
    /// ```
    /// use channel_core::{RecvInfo, transport::TransportError};
    /// use std::time::Duration;
    ///
    /// let e = TransportError::timeout(1, Duration::from_secs(5), &RecvInfo::new("open", 0, None));
    /// assert_eq!(e.to_string(), "timed out after 5s waiting for party 1 (phase 'open', chunk 1/?)");
    /// ```
    pub fn timeout(party: usize, after: Duration, info: &crate::RecvInfo) -> Self {
        TransportError::Timeout {
            party,
            after,
            waiting_for: info.to_string(),
        }
    }
}

/// Checks that `me` may talk to `peer` in a channel of `parties` parties.
///
/// ```
/// use channel_core::transport::{check_peer, TransportError};
///
/// assert!(check_peer(0, 1, 2).is_ok());
/// assert_eq!(check_peer(0, 0, 2), Err(TransportError::ToSelf { party: 0 }));
/// assert_eq!(check_peer(0, 5, 2), Err(TransportError::NoSuchParty { party: 5, parties: 2 }));
/// ```
pub fn check_peer(me: usize, peer: usize, parties: usize) -> Result<(), TransportError> {
    if peer >= parties {
        Err(TransportError::NoSuchParty {
            party: peer,
            parties,
        })
    } else if peer == me {
        Err(TransportError::ToSelf { party: me })
    } else {
        Ok(())
    }
}

/// Checks that a chunk of `len` bytes (payload and frame footer, as the
/// helpers hand it over) fits a channel whose [`Channel::chunk_size`](crate::Channel::chunk_size)
/// is `chunk_size`: every transport refuses a larger one with
/// [`TransportError::ChunkTooLarge`] (an engine that cuts its own chunks
/// should send through the helpers instead).
///
/// ```
/// use channel_core::frame::FOOTER_LEN;
/// use channel_core::transport::{check_chunk, TransportError};
///
/// assert!(check_chunk(1, 1000 + FOOTER_LEN, 1000).is_ok());
/// assert!(matches!(
///     check_chunk(1, 1001 + FOOTER_LEN, 1000),
///     Err(TransportError::ChunkTooLarge { party: 1, .. })
/// ));
/// ```
pub fn check_chunk(party: usize, len: usize, chunk_size: usize) -> Result<(), TransportError> {
    let limit = chunk_size.saturating_add(crate::frame::FOOTER_LEN);
    if len > limit {
        Err(TransportError::ChunkTooLarge {
            party,
            size: len,
            limit,
        })
    } else {
        Ok(())
    }
}

/// One party's ends of an in-process network: sending ends towards every party and
/// receiving ends from every party, indexed by the peer, `None` at its own index.
pub type Ends<S, R> = (Vec<Option<S>>, Vec<Option<R>>);

/// The wiring of an in-process network of `parties` parties.
///
/// `link()` makes one directed link, returning its sending and its receiving end.
/// Element `i` of the result is party `i`'s [`Ends`].
///
/// ```
/// use channel_core::transport::mesh;
///
/// let parties = mesh(3, std::sync::mpsc::channel::<u8>);
/// let (to, from) = &parties[0];
/// assert!(to[0].is_none() && from[0].is_none());
/// to[1].as_ref().unwrap().send(7).unwrap();
/// assert_eq!(parties[1].1[0].as_ref().unwrap().recv().unwrap(), 7);
/// ```
pub fn mesh<S, R>(parties: usize, mut link: impl FnMut() -> (S, R)) -> Vec<Ends<S, R>> {
    let mut ends: Vec<Ends<S, R>> = (0..parties)
        .map(|_| {
            (
                (0..parties).map(|_| None).collect(),
                (0..parties).map(|_| None).collect(),
            )
        })
        .collect();
    for from in 0..parties {
        for to in (0..parties).filter(|&to| to != from) {
            let (tx, rx) = link();
            ends[from].0[to] = Some(tx);
            ends[to].1[from] = Some(rx);
        }
    }
    ends
}

/// A bound on the bytes queued on one directed link and not yet received, shared
/// by its two ends. The sender [`reserve`](Self::reserve)s before queueing, the
/// receiver [`release`](Self::release)s after taking a message out.
///
/// A whole message's chunk never waits: it fits the bound or fails. A part of
/// a streamed message waits instead, until the link holds less than a
/// window ([`offer_part`](Self::offer_part)), so that a message of any size
/// crosses in bounded memory.
///
/// ```
/// use channel_core::transport::{QueueBudget, TransportError};
///
/// let budget = QueueBudget::new(Some(100));
/// budget.reserve(1, 60).unwrap();
/// assert!(matches!(budget.reserve(1, 60), Err(TransportError::QueueFull { queued: 60, .. })));
/// budget.release(60);
/// budget.reserve(1, 60).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct QueueBudget {
    queued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    limit: Option<usize>,
    /// Told of every release, and of the receiver's end.
    room: std::sync::Arc<event_listener::Event>,
    /// Set when the receiving end is gone.
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// What [`QueueBudget::offer_part`] did with a streamed part.
#[derive(Debug)]
pub enum Offer {
    /// The link had room: the part is reserved for.
    Taken,
    /// The link is full: wait for `room` (a release), then offer the part
    /// again.
    Full {
        /// Fires at the next release on the link, or when its receiver goes.
        room: Room,
    },
}

/// What a streamed part waits for when its link is full: the next release on
/// the link, or its receiver's end. Await it (async form) or
/// [`wait_until`](Self::wait_until) a deadline (blocking form).
#[derive(Debug)]
pub struct Room(event_listener::EventListener);

impl Room {
    /// Blocks until the room changes or `deadline` passes; `false` if the
    /// deadline passed. (Not in browsers, which cannot block.)
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait_until(self, deadline: std::time::Instant) -> bool {
        use event_listener::Listener;
        self.0.wait_deadline(deadline).is_some()
    }
}

impl std::future::Future for Room {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl QueueBudget {
    /// A budget of `limit` bytes, or unbounded for `None`.
    pub fn new(limit: Option<usize>) -> Self {
        Self {
            queued: Default::default(),
            limit,
            room: Default::default(),
            closed: Default::default(),
        }
    }

    /// Accounts for `bytes` more queued towards `party`, or fails without waiting.
    pub fn reserve(&self, party: usize, bytes: usize) -> Result<(), TransportError> {
        use std::sync::atomic::Ordering;
        let Some(limit) = self.limit else {
            self.queued.fetch_add(bytes, Ordering::Relaxed);
            return Ok(());
        };
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                queued.checked_add(bytes).filter(|&total| total <= limit)
            })
            .map(|_| ())
            .map_err(|queued| TransportError::QueueFull {
                party,
                queued,
                adding: bytes,
                limit,
            })
    }

    /// Accounts for a streamed part of `bytes` towards `party` if the link
    /// holds less than `window` with it (or nothing at all, so that a part
    /// larger than the window still goes), within the bound; else says what
    /// to wait for. Fails when the part can never fit the bound or the
    /// receiving end is gone.
    ///
    /// ```
    /// use channel_core::transport::{Offer, QueueBudget};
    ///
    /// let budget = QueueBudget::new(None);
    /// assert!(matches!(budget.offer_part(1, 6, 10).unwrap(), Offer::Taken));
    /// let Offer::Full { room } = budget.offer_part(1, 6, 10).unwrap() else { panic!() };
    /// budget.release(6);
    /// // The release woke it.
    /// assert!(room.wait_until(std::time::Instant::now() + std::time::Duration::from_secs(5)));
    /// assert!(matches!(budget.offer_part(1, 6, 10).unwrap(), Offer::Taken));
    /// ```
    pub fn offer_part(
        &self,
        party: usize,
        bytes: usize,
        window: usize,
    ) -> Result<Offer, TransportError> {
        use std::sync::atomic::Ordering;
        if let Some(limit) = self.limit.filter(|&limit| bytes > limit) {
            return Err(TransportError::QueueFull {
                party,
                queued: self.queued(),
                adding: bytes,
                limit,
            });
        }
        // Listen before looking, so that no release slips between.
        let room = self.room.listen();
        if self.closed.load(Ordering::Acquire) {
            return Err(TransportError::Closed { party });
        }
        let bound = self.limit.map_or(window, |limit| limit.min(window));
        let taken = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                let total = queued.checked_add(bytes)?;
                (queued == 0 || total <= bound).then_some(total)
            })
            .is_ok();
        Ok(if taken {
            Offer::Taken
        } else {
            Offer::Full { room: Room(room) }
        })
    }

    /// Accounts for `bytes` taken out of the queue.
    pub fn release(&self, bytes: usize) {
        use std::sync::atomic::Ordering;
        // Saturating: a release never exceeds what was reserved, but stay safe.
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(bytes))
            });
        self.room.notify(usize::MAX);
    }

    /// The receiving end is gone: a part waiting for room fails at once.
    pub fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.room.notify(usize::MAX);
    }

    /// The bound, if any.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Bytes queued right now.
    pub fn queued(&self) -> usize {
        self.queued.load(std::sync::atomic::Ordering::Acquire)
    }
}

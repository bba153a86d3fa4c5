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

pub use crate::network::{BuildNetwork, DEFAULT_RECV_TIMEOUT, NetworkBuilder, NetworkSettings};
pub use crate::queues::{PeerEnds, QueueEnds, QueueFrom, QueueTo};

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
            TransportError::Timeout { .. } => ErrorKind::Timeout,
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
}

impl QueueBudget {
    /// A budget of `limit` bytes, or unbounded for `None`.
    pub fn new(limit: Option<usize>) -> Self {
        Self {
            queued: Default::default(),
            limit,
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

    /// Accounts for `bytes` taken out of the queue.
    pub fn release(&self, bytes: usize) {
        use std::sync::atomic::Ordering;
        // Saturating: a release never exceeds what was reserved, but stay safe.
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                Some(q.saturating_sub(bytes))
            });
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

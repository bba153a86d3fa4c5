//! One party of an in-process network of queues: what `channel-tokio` and
//! `channel-std` share, so that each is only its queue's send and receive calls.

use crate::network::NetworkSettings;
use crate::transport::{BufferPool, Offer, QueueBudget, TransportError, check_peer, mesh};

/// One party's ends of an in-process network: a sending end `S` towards every
/// peer and a receiving end `R` from every peer, each directed link bounded by
/// [`NetworkSettings::max_queued_bytes`]. Each link hands the buffers its
/// receiver [`recycle`](Self::recycle)s back to its sender's
/// [`chunk_buffer`](Self::chunk_buffer) (see [`BufferPool`]).
///
/// ```
/// use std::sync::mpsc::{Sender, channel};
/// use std::time::Duration;
/// use channel_core::transport::{NetworkSettings, QueueEnds};
///
/// let settings = NetworkSettings {
///     parties: 2,
///     recv_timeout: Duration::from_secs(1),
///     max_queued_bytes: Some(8),
///     chunk_size: 1024,
///     max_message_size: 1 << 20,
///     stream_window: 1 << 20,
/// };
/// let mut parties = QueueEnds::network(&settings, channel::<Vec<u8>>);
/// let mut one = parties.pop().unwrap();
/// let zero = parties.pop().unwrap();
///
/// zero.send(1, vec![1, 2, 3], |tx: &Sender<Vec<u8>>, msg| tx.send(msg).is_ok()).unwrap();
/// assert_eq!(zero.queued_to(1), 3);
/// // The budget of the link is 8 bytes: 6 more do not fit.
/// assert!(zero.send(1, vec![0; 6], |tx: &Sender<Vec<u8>>, msg| tx.send(msg).is_ok()).is_err());
///
/// let (rx, budget) = one.receiver(0).unwrap();
/// let msg = rx.recv().unwrap();
/// budget.release(msg.len());
/// assert_eq!((msg, zero.queued_to(1)), (vec![1, 2, 3], 0));
/// ```
#[derive(Debug)]
pub struct QueueEnds<S, R> {
    me: usize,
    to: Vec<Option<QueueTo<S>>>,
    from: Vec<Option<QueueFrom<R>>>,
    settings: NetworkSettings,
}

impl<S, R> QueueEnds<S, R> {
    /// Every party's ends of a network with `settings`; `queue()` makes one
    /// directed queue. Element `i` is party `i`.
    pub fn network(settings: &NetworkSettings, mut queue: impl FnMut() -> (S, R)) -> Vec<Self> {
        mesh(settings.parties, || {
            let (tx, rx) = queue();
            let budget = QueueBudget::new(settings.max_queued_bytes);
            let pool = BufferPool::default();
            ((tx, budget.clone(), pool.clone()), (rx, budget, pool))
        })
        .into_iter()
        .enumerate()
        .map(|(me, (to, from))| Self {
            me,
            to: to
                .into_iter()
                .enumerate()
                .map(|(p, end)| {
                    end.map(|end| QueueTo {
                        p,
                        end,
                        chunk_size: settings.chunk_size,
                        stream_window: settings.stream_window,
                    })
                })
                .collect(),
            from: from
                .into_iter()
                .enumerate()
                .map(|(p, end)| end.map(|end| QueueFrom { p, end }))
                .collect(),
            settings: settings.clone(),
        })
        .collect()
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.me
    }

    /// The settings every party of the network shares.
    pub fn settings(&self) -> &NetworkSettings {
        &self.settings
    }

    /// Bytes this party has sent to `p` that `p` has not received yet.
    pub fn queued_to(&self, p: usize) -> usize {
        self.to
            .get(p)
            .and_then(Option::as_ref)
            .map_or(0, |to| to.end.1.queued())
    }

    /// Reserves room for `msg` on the link to `p`, then queues it with `push`,
    /// which returns `false` when the receiving end is gone.
    pub fn send(
        &self,
        p: usize,
        msg: Vec<u8>,
        push: impl FnOnce(&S, Vec<u8>) -> bool,
    ) -> Result<(), TransportError> {
        check_peer(self.me, p, self.settings.parties)?;
        self.to
            .get(p)
            .and_then(Option::as_ref)
            .ok_or(TransportError::Closed { party: p })?
            .send(msg, push)
    }

    /// Queues a part of a streamed message to `p` if the link has room
    /// ([`QueueTo::offer_part`]).
    pub fn offer_part(
        &self,
        p: usize,
        msg: Vec<u8>,
        push: impl FnOnce(&S, Vec<u8>) -> bool,
    ) -> Result<PartOffer, TransportError> {
        check_peer(self.me, p, self.settings.parties)?;
        self.to
            .get(p)
            .and_then(Option::as_ref)
            .ok_or(TransportError::Closed { party: p })?
            .offer_part(msg, push)
    }

    /// An empty buffer for a chunk of up to `capacity` bytes to `p`: one that
    /// `p` recycled if one fits, else a fresh one.
    pub fn chunk_buffer(&self, p: usize, capacity: usize) -> Vec<u8> {
        match self.to.get(p).and_then(Option::as_ref) {
            Some(to) => to.chunk_buffer(capacity),
            None => Vec::with_capacity(capacity),
        }
    }

    /// Hands a buffer received from `p` back to `p`'s sending end.
    pub fn recycle(&self, p: usize, buf: Vec<u8>) {
        if let Some(from) = self.from.get(p).and_then(Option::as_ref) {
            from.recycle(buf);
        }
    }

    /// The receiving end from `p` and its link's budget (release what you take out).
    pub fn receiver(&mut self, p: usize) -> Result<(&mut R, &QueueBudget), TransportError> {
        check_peer(self.me, p, self.settings.parties)?;
        self.from
            .get_mut(p)
            .and_then(Option::as_mut)
            .map(QueueFrom::receiver)
            .ok_or(TransportError::Closed { party: p })
    }

    /// Cuts this party's ends into one sending and one receiving end per
    /// peer, in index order, for a transport's `Split`.
    pub fn into_peers(self) -> (NetworkSettings, Vec<PeerEnds<S, R>>) {
        let peers = self
            .to
            .into_iter()
            .zip(self.from)
            .enumerate()
            .filter_map(|(p, (to, from))| Some((p, to?, from?)))
            .collect();
        (self.settings, peers)
    }
}

/// What [`QueueTo::offer_part`] did with a streamed part.
#[derive(Debug)]
pub enum PartOffer {
    /// The part is queued.
    Queued,
    /// The link is full: wait for `room`, then offer `part` again.
    Full {
        /// The part, handed back.
        part: Vec<u8>,
        /// Fires at the next release on the link, or when its receiver goes.
        room: crate::transport::Room,
    },
}

/// A peer's index with this party's two ends towards it.
pub type PeerEnds<S, R> = (usize, QueueTo<S>, QueueFrom<R>);

/// A party's sending end towards one peer, with its link's budget.
#[derive(Debug)]
pub struct QueueTo<S> {
    p: usize,
    end: (S, QueueBudget, BufferPool),
    /// The network's chunk size: a larger chunk is refused.
    chunk_size: usize,
    /// Bytes a streamed part may find queued before it waits.
    stream_window: usize,
}

impl<S> QueueTo<S> {
    /// Reserves room for `msg`, then queues it with `push`, which returns
    /// `false` when the receiving end is gone. A chunk larger than the chunk
    /// size (and its footer) is refused.
    pub fn send(
        &self,
        msg: Vec<u8>,
        push: impl FnOnce(&S, Vec<u8>) -> bool,
    ) -> Result<(), TransportError> {
        let (tx, budget, _) = &self.end;
        let len = msg.len();
        crate::transport::check_chunk(self.p, len, self.chunk_size)?;
        budget.reserve(self.p, len)?;
        if push(tx, msg) {
            Ok(())
        } else {
            budget.release(len);
            Err(TransportError::Closed { party: self.p })
        }
    }

    /// Queues a part of a streamed message if the link holds less than the
    /// network's [`stream_window`](NetworkSettings::stream_window) with it;
    /// else hands the part back with what to wait for before offering it
    /// again (the sender's transport waits, up to its timeout, so that a
    /// receiver that does not read holds a stream back).
    pub fn offer_part(
        &self,
        msg: Vec<u8>,
        push: impl FnOnce(&S, Vec<u8>) -> bool,
    ) -> Result<PartOffer, TransportError> {
        let (tx, budget, _) = &self.end;
        let len = msg.len();
        crate::transport::check_chunk(self.p, len, self.chunk_size)?;
        match budget.offer_part(self.p, len, self.stream_window)? {
            Offer::Full { room } => Ok(PartOffer::Full { part: msg, room }),
            Offer::Taken if push(tx, msg) => Ok(PartOffer::Queued),
            Offer::Taken => {
                budget.release(len);
                Err(TransportError::Closed { party: self.p })
            }
        }
    }

    /// The error of a streamed part that waited `after` in vain.
    pub fn stalled(&self, after: std::time::Duration) -> TransportError {
        TransportError::Stalled {
            party: self.p,
            after,
            queued: self.end.1.queued(),
        }
    }

    /// An empty buffer for a chunk of up to `capacity` bytes: one the peer
    /// recycled if one fits, else a fresh one.
    pub fn chunk_buffer(&self, capacity: usize) -> Vec<u8> {
        self.end.2.take(capacity)
    }

    /// The peer.
    pub fn peer(&self) -> usize {
        self.p
    }
}

/// A party's receiving end from one peer, with its link's budget.
#[derive(Debug)]
pub struct QueueFrom<R> {
    p: usize,
    end: (R, QueueBudget, BufferPool),
}

impl<R> Drop for QueueFrom<R> {
    /// A sender waiting for room on this link learns at once that nobody
    /// will read it.
    fn drop(&mut self) {
        self.end.1.close();
    }
}

impl<R> QueueFrom<R> {
    /// The receiving end and its budget (release what you take out).
    pub fn receiver(&mut self) -> (&mut R, &QueueBudget) {
        let (rx, budget, _) = &mut self.end;
        (rx, &*budget)
    }

    /// Hands a buffer received from the peer back to the peer's sending end.
    pub fn recycle(&self, buf: Vec<u8>) {
        self.end.2.give(buf);
    }

    /// The peer.
    pub fn peer(&self) -> usize {
        self.p
    }
}

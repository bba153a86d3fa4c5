//! The servers' store of chunks: one numbered queue per directed link
//! (channel-core's exactly-once [`Retained`]), all of them under one byte
//! budget. The relay keeps one per session, a direct-mode endpoint one for its
//! party; both decide the same way what an arriving chunk is and whether it
//! fits.
//!
//! Sequence numbers make retries safe in both directions: a sender that did not
//! see the answer to chunk `k` sends `k` again and the store recognises the
//! duplicate; a relay receiver that lost the answer to "give me `k`" asks
//! again and gets the same chunk, because `k` is only dropped once the
//! receiver asks for `k + 1` ([`take`](LinkStore::take)). A direct-mode
//! endpoint delivers to its own party, whose taking a chunk is the
//! acknowledgement ([`pop`](LinkStore::pop)).
//!
//! Links are created when first used, so a store for `n` parties costs
//! nothing per link that never carries a chunk.

use std::collections::HashMap;

use axum::http::StatusCode;
use bytes::Bytes;
use channel_core::transport::seq::{Arrival, Placement, Reorder, Retained, SeqError};
use channel_core::transport::{QueueBudget, TransportError};

use crate::api_error::ApiError;
use crate::protocol::MAX_AHEAD;

/// One directed link: the chunks accepted in order and not yet acknowledged,
/// and those that arrived ahead of a gap (a sender's requests in flight may
/// overtake each other).
#[derive(Debug)]
struct Link {
    kept: Retained<Bytes>,
    early: Reorder<Bytes>,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            kept: Retained::default(),
            early: Reorder::new(MAX_AHEAD),
        }
    }
}

/// Why a chunk was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// Its number does not fit the link (a gap).
    Seq(SeqError),
    /// A resend of chunk `seq` with other content than the chunk stored under
    /// that number (a restarted sender numbering from 0 again, or a bug).
    Conflict {
        /// The number.
        seq: u64,
    },
    /// It would take the relay as a whole beyond its budget: retry later.
    RelayFull {
        /// Bytes stored over all sessions.
        queued: usize,
        /// The relay-wide budget.
        limit: usize,
    },
    /// It is larger than the store's whole budget: it can never fit.
    NeverFits {
        /// The chunk's size.
        size: usize,
        /// The budget.
        limit: usize,
    },
    /// It would take the store beyond its budget: retry once receivers caught up.
    Full {
        /// Bytes stored and not yet acknowledged.
        queued: usize,
        /// The chunk's size.
        adding: usize,
        /// The budget.
        limit: usize,
    },
}

impl PushError {
    /// The answer to the sender; `holder` names whose store it is ("the
    /// session", "party 2").
    pub(crate) fn answer(self, holder: &str) -> ApiError {
        match self {
            PushError::Seq(e) => ApiError::from(e),
            PushError::Conflict { seq } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "chunk {seq} was stored already with other content: a resend must repeat it \
                     exactly (a sender that restarted must resume from the numbers its join gives)"
                ),
            ),
            PushError::RelayFull { queued, limit } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the relay holds {queued} bytes over all sessions, its bound is {limit}: retry later"
                ),
            )
            .retry_after(1),
            PushError::NeverFits { size, limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a chunk of {size} bytes can never fit {holder}'s bound of {limit} bytes"),
            ),
            PushError::Full {
                queued,
                adding,
                limit,
            } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{holder} holds {queued} bytes not yet taken by their receivers; {adding} more \
                     would exceed its bound of {limit}: retry after the receivers catch up"
                ),
            )
            .retry_after(1),
        }
    }
}

/// Counters of a store, for statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Bytes stored and not yet acknowledged.
    pub(crate) queued: usize,
    /// The most bytes ever stored at once.
    pub(crate) peak: usize,
    /// Chunks accepted (duplicates not counted).
    pub(crate) messages: u64,
    /// Resent chunks recognised as duplicates and not stored again.
    pub(crate) duplicates: u64,
    /// Chunks refused because the budget was reached.
    pub(crate) throttled: u64,
}

/// The chunks of every directed link, keyed by the caller's link index.
#[derive(Debug)]
pub(crate) struct LinkStore {
    links: HashMap<usize, Link>,
    limit: usize,
    /// A budget shared with other stores (the relay's, over all sessions);
    /// what this store holds is counted in it until released or dropped.
    shared: Option<QueueBudget>,
    /// Room that chunks held ahead of a gap must leave free, so that the
    /// chunk filling the gap always fits (else early chunks could take the
    /// whole budget and wait forever for it): the largest chunk.
    reserve: usize,
    counts: Counts,
}

impl Drop for LinkStore {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.release(self.counts.queued);
        }
    }
}

impl LinkStore {
    /// An empty store that holds at most `limit` unacknowledged bytes, and
    /// counts them in `shared` too, if given.
    pub(crate) fn new(limit: usize, shared: Option<QueueBudget>) -> Self {
        Self {
            links: HashMap::new(),
            limit,
            shared,
            reserve: 0,
            counts: Counts::default(),
        }
    }

    /// Chunks held ahead of a gap leave `bytes` (the largest chunk) of the
    /// budget free for the chunk that fills the gap.
    pub(crate) fn with_reserve(mut self, bytes: usize) -> Self {
        self.reserve = bytes;
        self
    }

    /// Takes `bytes` off this store's count and the shared budget's.
    fn release(&mut self, bytes: usize) {
        self.counts.queued = self.counts.queued.saturating_sub(bytes);
        if let Some(shared) = &self.shared {
            shared.release(bytes);
        }
    }

    pub(crate) fn counts(&self) -> Counts {
        self.counts
    }

    /// The number the next chunk in order on `link` must carry.
    pub(crate) fn next(&self, link: usize) -> u64 {
        self.links.get(&link).map_or(0, |l| l.kept.next())
    }

    /// The oldest number still kept on `link` (what its receiver has not acknowledged).
    pub(crate) fn oldest(&self, link: usize) -> u64 {
        self.links.get(&link).map_or(0, |l| l.kept.oldest())
    }

    /// Files chunk `seq` on `link`: a duplicate is acknowledged and not kept
    /// again; the next chunk, or one up to [`MAX_AHEAD`] ahead of it (held
    /// until the gap fills), is kept if it fits the budget; beyond that is a
    /// gap and refused. Chunks count in the budget from their arrival.
    pub(crate) fn push(
        &mut self,
        link: usize,
        seq: u64,
        chunk: Bytes,
    ) -> Result<Arrival, PushError> {
        let placement = match self.links.get(&link) {
            Some(l) => l.early.place(l.kept.next(), seq),
            None => Reorder::<Bytes>::new(MAX_AHEAD).place(0, seq),
        }
        .map_err(PushError::Seq)?;
        if matches!(placement, Placement::Duplicate | Placement::EarlyDuplicate) {
            // A resend must be the chunk it repeats (when it is still kept to compare).
            let held = self
                .links
                .get(&link)
                .and_then(|l| l.kept.get(seq).or_else(|| l.early.get(seq)));
            if let Some(held) = held
                && *held != chunk
            {
                return Err(PushError::Conflict { seq });
            }
            self.counts.duplicates += 1;
            return Ok(Arrival::Duplicate);
        }
        let adding = chunk.len();
        if adding > self.limit {
            return Err(PushError::NeverFits {
                size: adding,
                limit: self.limit,
            });
        }
        let queued = self.counts.queued;
        let reserve = if placement == Placement::Early {
            self.reserve
        } else {
            0
        };
        if queued.saturating_add(adding).saturating_add(reserve) > self.limit {
            self.counts.throttled += 1;
            return Err(PushError::Full {
                queued,
                adding,
                limit: self.limit,
            });
        }
        if let Some(shared) = &self.shared
            && let Err(e) = shared.reserve(0, adding)
        {
            self.counts.throttled += 1;
            let (queued, limit) = match e {
                TransportError::QueueFull { queued, limit, .. } => (queued, limit),
                _ => (shared.queued(), 0),
            };
            return Err(PushError::RelayFull { queued, limit });
        }
        let l = self.links.entry(link).or_default();
        if placement == Placement::Early {
            l.early.hold(seq, chunk);
        } else {
            l.kept.push(chunk);
            // Bounded by the window: at most MAX_AHEAD chunks are held.
            while let Some(unblocked) = l.early.release(l.kept.next()) {
                l.kept.push(unblocked);
            }
        }
        self.counts.queued += adding;
        self.counts.peak = self.counts.peak.max(self.counts.queued);
        self.counts.messages += 1;
        Ok(Arrival::Next)
    }

    /// The receiver asks for chunk `seq` of `link` and acknowledges every
    /// chunk before `ack` (`ack <= seq`; a receiver with one request at a time
    /// acknowledges up to what it asks for, one with several in flight up to
    /// the oldest it has not received); returns chunk `seq` if it has arrived
    /// in order. `seq` may be up to [`MAX_AHEAD`] beyond `ack`, and beyond
    /// the sender's next chunk only when `ack` is below `seq`.
    pub(crate) fn take(
        &mut self,
        link: usize,
        seq: u64,
        ack: u64,
    ) -> Result<Option<Bytes>, SeqError> {
        let (next, oldest) = (self.next(link), self.oldest(link));
        let ack = check_take(next, oldest, seq, ack)?;
        let Some(l) = self.links.get_mut(&link) else {
            return Ok(None);
        };
        let released = l.kept.ack_below(ack)?;
        let chunk = l.kept.get(seq).cloned();
        self.release(released);
        Ok(chunk)
    }

    /// Chunk `seq` of `link`, if it is kept (arrived in order and not yet
    /// acknowledged): what a relay WebSocket delivers.
    pub(crate) fn get(&self, link: usize, seq: u64) -> Option<Bytes> {
        self.links.get(&link)?.kept.get(seq).cloned()
    }

    /// Bytes of the chunks of `link` kept with numbers in `from..to`.
    pub(crate) fn bytes_between(&self, link: usize, from: u64, to: u64) -> usize {
        self.links.get(&link).map_or(0, |l| {
            l.kept
                .iter()
                .filter(|(seq, _)| (from..to).contains(seq))
                .map(|(_, chunk)| chunk.len())
                .sum()
        })
    }

    /// Acknowledges every chunk of `link` below `next` (a WebSocket
    /// receiver's acknowledgement); a number acknowledged before is no
    /// error, one beyond what arrived is.
    pub(crate) fn ack(&mut self, link: usize, next: u64) -> Result<(), SeqError> {
        let below = check_ack(self.next(link), self.oldest(link), next)?;
        let Some(l) = self.links.get_mut(&link) else {
            return Ok(());
        };
        let released = l.kept.ack_below(below)?;
        self.release(released);
        Ok(())
    }

    /// Takes the oldest chunk of `link` out (a local receiver: taking it is
    /// the acknowledgement).
    pub(crate) fn pop(&mut self, link: usize) -> Option<Bytes> {
        let chunk = self.links.get_mut(&link)?.kept.pop_front()?;
        self.release(chunk.len());
        Some(chunk)
    }
}

/// The rule of a long-poll receive on a link whose next chunk in order is
/// `next` and whose oldest kept is `oldest` (see [`LinkStore::take`]): the
/// number below which it acknowledges, or why the request does not fit.
/// Every store of the relay applies it (the in-memory one and the shared one).
pub(crate) fn check_take(next: u64, oldest: u64, seq: u64, ack: u64) -> Result<u64, SeqError> {
    if ack > seq || seq - ack >= MAX_AHEAD || (ack == seq && seq > next) {
        return Err(SeqError::Ahead { next, got: seq });
    }
    if seq < oldest {
        return Err(SeqError::Gone { oldest, got: seq });
    }
    // A request that waited while a later one acknowledged more
    // acknowledges nothing new.
    check_ack(next, oldest, ack.max(oldest))
}

/// The rule of an acknowledgement of every chunk below `below` (see
/// [`LinkStore::ack`]): a number acknowledged before acknowledges nothing
/// new, one beyond what arrived is refused. The number below which chunks go.
pub(crate) fn check_ack(next: u64, oldest: u64, below: u64) -> Result<u64, SeqError> {
    if below > next {
        return Err(SeqError::Ahead { next, got: below });
    }
    Ok(below.max(oldest))
}

/// Where chunk `seq` goes on a link whose next chunk in order is `next` and
/// which holds the chunks `early` ahead of a gap (see [`LinkStore::push`]).
pub(crate) fn place(
    next: u64,
    early: impl IntoIterator<Item = u64>,
    seq: u64,
) -> Result<Placement, SeqError> {
    let mut held = Reorder::new(MAX_AHEAD);
    for s in early {
        held.hold(s, ());
    }
    held.place(next, seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn resends_are_duplicates_gaps_are_refused_and_links_are_apart() {
        let mut store = LinkStore::new(100, None);
        assert_eq!(store.push(3, 0, chunk("a")), Ok(Arrival::Next));
        assert_eq!(store.push(3, 0, chunk("a")), Ok(Arrival::Duplicate));
        assert_eq!(
            store.push(3, 0, chunk("b")),
            Err(PushError::Conflict { seq: 0 }),
            "a resend with other content"
        );
        assert_eq!(
            store.push(3, 1 + MAX_AHEAD, chunk("c")),
            Err(PushError::Seq(SeqError::Gap {
                expected: 1,
                got: 1 + MAX_AHEAD
            }))
        );
        // Another link numbers from 0 on its own.
        assert_eq!(store.push(4, 0, chunk("x")), Ok(Arrival::Next));
        let counts = store.counts();
        assert_eq!(
            (counts.messages, counts.duplicates, counts.queued),
            (2, 1, 2)
        );
    }

    #[test]
    fn chunks_that_overtake_each_other_are_held_counted_and_served_in_order() {
        let mut store = LinkStore::new(100, None);
        assert_eq!(store.push(0, 2, chunk("c")), Ok(Arrival::Next));
        assert_eq!(store.push(0, 1, chunk("b")), Ok(Arrival::Next));
        assert_eq!(store.push(0, 2, chunk("c")), Ok(Arrival::Duplicate));
        assert_eq!(
            store.push(0, 2, chunk("x")),
            Err(PushError::Conflict { seq: 2 })
        );
        // Held, counted, but not in order yet: nothing to serve, nothing to pop.
        assert_eq!((store.next(0), store.counts().queued), (0, 2));
        assert_eq!(store.take(0, 1, 0), Ok(None));
        assert_eq!(store.push(0, 0, chunk("a")), Ok(Arrival::Next));
        assert_eq!(store.next(0), 3);
        // A receiver with requests in flight asks ahead, acknowledging less.
        assert_eq!(store.take(0, 2, 0), Ok(Some(chunk("c"))));
        assert_eq!(store.take(0, 0, 0), Ok(Some(chunk("a"))));
        assert_eq!(store.take(0, 5, 1), Ok(None));
        assert_eq!(store.counts().queued, 2);
        // A poll that waited while a later one acknowledged more is still fine.
        assert_eq!(store.take(0, 3, 0), Ok(None));
        assert_eq!(
            store.take(0, 0, 0),
            Err(SeqError::Gone { oldest: 1, got: 0 })
        );
        assert!(store.take(0, MAX_AHEAD + 1, 1).is_err(), "too far ahead");
        assert!(
            store.take(0, 1, 2).is_err(),
            "acknowledging what it asks for"
        );
        assert_eq!(store.pop(0), Some(chunk("b")));
    }

    #[test]
    fn a_chunk_stays_until_the_next_one_is_asked_for() {
        let mut store = LinkStore::new(100, None);
        store.push(0, 0, chunk("a")).unwrap();
        store.push(0, 1, chunk("bc")).unwrap();
        assert_eq!(store.take(0, 0, 0), Ok(Some(chunk("a"))));
        assert_eq!(store.take(0, 0, 0), Ok(Some(chunk("a"))));
        assert_eq!(store.take(0, 1, 1), Ok(Some(chunk("bc"))));
        assert_eq!(store.counts().queued, 2);
        assert_eq!(store.take(0, 2, 2), Ok(None));
        assert_eq!(store.counts().queued, 0);
        assert_eq!(
            store.take(0, 0, 0),
            Err(SeqError::Gone { oldest: 2, got: 0 })
        );
        assert_eq!(
            store.take(0, 3, 3),
            Err(SeqError::Ahead { next: 2, got: 3 })
        );
        assert_eq!(store.push(0, 1, chunk("bc")), Ok(Arrival::Duplicate));
        assert_eq!(store.push(0, 2, chunk("d")), Ok(Arrival::Next));
        // A link nothing arrived on.
        assert_eq!(store.take(9, 0, 0), Ok(None));
        assert_eq!(
            store.take(9, 1, 1),
            Err(SeqError::Ahead { next: 0, got: 1 })
        );
    }

    #[test]
    fn a_relay_wide_budget_bounds_every_store_and_is_freed_when_one_goes() {
        let relay = QueueBudget::new(Some(5));
        let mut one = LinkStore::new(100, Some(relay.clone()));
        let mut two = LinkStore::new(100, Some(relay.clone()));
        one.push(0, 0, chunk("abcd")).unwrap();
        assert_eq!(
            two.push(0, 0, chunk("ef")),
            Err(PushError::RelayFull {
                queued: 4,
                limit: 5
            })
        );
        assert_eq!(one.take(0, 1, 1), Ok(None));
        assert_eq!(relay.queued(), 0);
        two.push(0, 0, chunk("ef")).unwrap();
        drop(two);
        assert_eq!(relay.queued(), 0, "a dropped store gives its bytes back");
        assert_eq!(
            one.push(0, 1, chunk(&"x".repeat(101))),
            Err(PushError::NeverFits {
                size: 101,
                limit: 100
            })
        );
    }

    #[test]
    fn the_budget_is_shared_by_every_link_and_freed_by_acknowledgements() {
        let mut store = LinkStore::new(5, None);
        store.push(0, 0, chunk("abc")).unwrap();
        assert_eq!(
            store.push(1, 0, chunk("def")),
            Err(PushError::Full {
                queued: 3,
                adding: 3,
                limit: 5
            })
        );
        assert_eq!(store.counts().throttled, 1);
        // A refused chunk is not numbered: the same number is stored later.
        assert_eq!(store.pop(0), Some(chunk("abc")));
        assert_eq!(store.push(1, 0, chunk("def")), Ok(Arrival::Next));
        assert_eq!(store.counts().peak, 3);
        assert_eq!(store.pop(0), None);
        assert_eq!(store.push(0, 0, chunk("abc")), Ok(Arrival::Duplicate));
    }
}

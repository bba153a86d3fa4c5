//! Exactly-once delivery over links that resend: the one place the sequence
//! rule lives, for every transport that numbers its chunks (the HTTP relay and
//! direct mode, the p2p links, and whatever comes next).
//!
//! A sender numbers the chunks of one directed link 0, 1, 2, ... and keeps each
//! one until the receiver acknowledges it, so that it can send it again after a
//! lost answer or a dropped connection. The receiver applies one rule to every
//! number that arrives ([`classify`]):
//!
//! - **lower** than the next one it expects: a resend of a chunk it already has,
//!   a [`Arrival::Duplicate`] to acknowledge again and drop;
//! - **equal**: the [`Arrival::Next`] chunk, to accept;
//! - **higher**: a gap, [`SeqError::Gap`]: the sender skipped numbers, which no
//!   honest sender does, so it is an error and never a silent loss.
//!
//! [`Retained`] is the numbered queue both sides need: a sender's chunks kept
//! until acknowledged, or a server's store of chunks kept until the receiver
//! asks for the next number. Acknowledging means "everything below `seq`":
//! [`Retained::ack_below`].
//!
//! ```
//! use channel_core::transport::seq::{Arrival, Retained, SeqError, classify};
//!
//! // The sender keeps what it sent until it is acknowledged.
//! let mut sent: Retained<Vec<u8>> = Retained::default();
//! assert_eq!(sent.push(b"hello".to_vec()), 0);
//! assert_eq!(sent.push(b"world".to_vec()), 1);
//!
//! // The receiver classifies every number that arrives.
//! let mut next = 0;
//! assert_eq!(classify(next, 0), Ok(Arrival::Next));
//! next += 1;
//! assert_eq!(classify(next, 0), Ok(Arrival::Duplicate)); // a resend: drop it
//! assert_eq!(classify(next, 5), Err(SeqError::Gap { expected: 1, got: 5 }));
//!
//! // It acknowledges everything below 1: the sender may forget chunk 0.
//! assert_eq!(sent.ack_below(1), Ok(5)); // 5 bytes released
//! assert_eq!(sent.iter().map(|(seq, _)| seq).collect::<Vec<_>>(), [1]);
//! ```

use std::collections::{BTreeMap, VecDeque};

/// What an arriving sequence number is, for a receiver that expects `next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The number is below the next one expected: a resend of a chunk already
    /// accepted. Acknowledge it again and drop it.
    Duplicate,
    /// The chunk the receiver waits for: accept it.
    Next,
}

/// A sequence number that does not fit a link's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeqError {
    /// The sender skipped numbers: `got` arrived where `expected` was next.
    #[error("sequence number {got} skips ahead: {expected} is the next expected")]
    Gap {
        /// The next number the receiver expects.
        expected: u64,
        /// The number that arrived.
        got: u64,
    },
    /// An acknowledgement or request for a chunk already acknowledged and dropped.
    #[error("message {got} was already acknowledged; the oldest message kept is {oldest}")]
    Gone {
        /// The oldest number still kept.
        oldest: u64,
        /// The number asked for.
        got: u64,
    },
    /// An acknowledgement or request beyond the next number to be sent.
    #[error("message {got} cannot be asked for: the sender's next message is {next}")]
    Ahead {
        /// The next number the sender will use.
        next: u64,
        /// The number asked for.
        got: u64,
    },
}

/// The sequence rule: what `seq` is for a receiver whose next expected number is `next`.
///
/// ```
/// use channel_core::transport::seq::{Arrival, SeqError, classify};
///
/// assert_eq!(classify(3, 2), Ok(Arrival::Duplicate));
/// assert_eq!(classify(3, 3), Ok(Arrival::Next));
/// assert_eq!(classify(3, 4), Err(SeqError::Gap { expected: 3, got: 4 }));
/// ```
pub fn classify(next: u64, seq: u64) -> Result<Arrival, SeqError> {
    match seq.cmp(&next) {
        std::cmp::Ordering::Less => Ok(Arrival::Duplicate),
        std::cmp::Ordering::Equal => Ok(Arrival::Next),
        std::cmp::Ordering::Greater => Err(SeqError::Gap {
            expected: next,
            got: seq,
        }),
    }
}

/// The numbered chunks `base .. next` of one directed link, kept until they
/// are acknowledged: the unacknowledged sends of a sender, or a server's store
/// of chunks its receiver has not taken yet.
///
/// Numbers are assigned in order by [`push`](Self::push), and only the oldest
/// ones are ever dropped ([`ack_below`](Self::ack_below),
/// [`pop_front`](Self::pop_front)), so the numbers kept are always one run.
#[derive(Debug, Clone)]
pub struct Retained<T> {
    base: u64,
    queue: VecDeque<T>,
}

impl<T> Default for Retained<T> {
    fn default() -> Self {
        Self {
            base: 0,
            queue: VecDeque::new(),
        }
    }
}

impl<T: AsRef<[u8]>> Retained<T> {
    /// An empty store whose next chunk is numbered `next` (a sender resuming
    /// a link whose earlier chunks were acknowledged before).
    ///
    /// ```
    /// use channel_core::transport::seq::Retained;
    ///
    /// let mut kept: Retained<Vec<u8>> = Retained::starting_at(5);
    /// assert_eq!(kept.push(vec![1]), 5);
    /// assert_eq!(kept.oldest(), 5);
    /// ```
    pub fn starting_at(next: u64) -> Self {
        Self {
            base: next,
            queue: VecDeque::new(),
        }
    }

    /// The number the next chunk [`push`](Self::push)ed gets; as a receiver's
    /// store, the number the next new chunk must carry.
    pub fn next(&self) -> u64 {
        self.base + self.queue.len() as u64
    }

    /// The oldest number still kept (equal to [`next`](Self::next) when empty).
    pub fn oldest(&self) -> u64 {
        self.base
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The chunks kept.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// [`classify`] against the next number of this store: what a chunk `seq`
    /// arriving at a store that numbers what it keeps is.
    pub fn classify(&self, seq: u64) -> Result<Arrival, SeqError> {
        classify(self.next(), seq)
    }

    /// Keeps `chunk` under the next number and returns that number.
    pub fn push(&mut self, chunk: T) -> u64 {
        let seq = self.next();
        self.queue.push_back(chunk);
        seq
    }

    /// Drops every chunk numbered below `seq` (they are acknowledged) and
    /// returns their bytes. `seq` must lie in `oldest() ..= next()`: lower
    /// means it was acknowledged before ([`SeqError::Gone`]), higher that it
    /// acknowledges what was never sent ([`SeqError::Ahead`]).
    ///
    /// ```
    /// use channel_core::transport::seq::{Retained, SeqError};
    ///
    /// let mut kept: Retained<&[u8]> = Retained::default();
    /// kept.push(b"ab");
    /// kept.push(b"cde");
    /// assert_eq!(kept.ack_below(1), Ok(2));
    /// assert_eq!(kept.ack_below(1), Ok(0)); // nothing more below 1
    /// assert_eq!(kept.ack_below(0), Err(SeqError::Gone { oldest: 1, got: 0 }));
    /// assert_eq!(kept.ack_below(3), Err(SeqError::Ahead { next: 2, got: 3 }));
    /// ```
    pub fn ack_below(&mut self, seq: u64) -> Result<usize, SeqError> {
        self.ack_below_each(seq, drop)
    }

    /// [`ack_below`](Self::ack_below), handing every acknowledged chunk to
    /// `done` (e.g. to reuse its memory) instead of dropping it.
    ///
    /// ```
    /// use channel_core::transport::seq::Retained;
    ///
    /// let mut kept: Retained<Vec<u8>> = Retained::default();
    /// kept.push(vec![1, 2]);
    /// kept.push(vec![3]);
    /// let mut spent = Vec::new();
    /// assert_eq!(kept.ack_below_each(2, |c| spent.push(c)), Ok(3));
    /// assert_eq!(spent, [vec![1, 2], vec![3]]);
    /// ```
    pub fn ack_below_each(&mut self, seq: u64, mut done: impl FnMut(T)) -> Result<usize, SeqError> {
        if seq < self.base {
            return Err(SeqError::Gone {
                oldest: self.base,
                got: seq,
            });
        }
        if seq > self.next() {
            return Err(SeqError::Ahead {
                next: self.next(),
                got: seq,
            });
        }
        let mut released = 0;
        // Bounded: `seq - base` is at most the number of chunks kept.
        while self.base < seq {
            if let Some(acked) = self.queue.pop_front() {
                released += acked.as_ref().len();
                done(acked);
            }
            self.base += 1;
        }
        Ok(released)
    }

    /// The chunk numbered `seq`, if it is kept.
    pub fn get(&self, seq: u64) -> Option<&T> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.queue.get(index)
    }

    /// Takes the oldest chunk out, for a local receiver whose taking it is
    /// the acknowledgement.
    pub fn pop_front(&mut self) -> Option<T> {
        let chunk = self.queue.pop_front()?;
        self.base += 1;
        Some(chunk)
    }

    /// The chunks kept with their numbers, oldest first (what a sender resends
    /// after a reconnect).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        (self.base..).zip(self.queue.iter())
    }

    /// The bytes of every chunk kept.
    pub fn bytes(&self) -> usize {
        self.queue.iter().map(|c| c.as_ref().len()).sum()
    }
}

/// Where a chunk belongs at a receiver that accepts chunks up to `window`
/// numbers ahead of the next one it expects (senders with several requests
/// in flight, whose requests may overtake each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Below the next expected: a resend of a chunk already accepted.
    Duplicate,
    /// The next expected chunk: accept it, then release what it unblocks.
    Next,
    /// Ahead of the next expected, within the window: hold it until the
    /// chunks before it arrive.
    Early,
    /// Ahead, and held already: a resend of a chunk held early.
    EarlyDuplicate,
}

/// Chunks that arrived ahead of the next expected number, held until the gap
/// before them fills, at most `window` numbers ahead.
///
/// ```
/// use channel_core::transport::seq::{Placement, Reorder, SeqError};
///
/// let mut early: Reorder<&str> = Reorder::new(4);
/// let next = 10;
/// assert_eq!(early.place(next, 12), Ok(Placement::Early));
/// early.hold(12, "c");
/// assert_eq!(early.place(next, 12), Ok(Placement::EarlyDuplicate));
/// assert_eq!(early.place(next, 14), Err(SeqError::Gap { expected: 10, got: 14 }));
/// // 10 and 11 arrive: 12 is released after them.
/// assert_eq!(early.place(next, 10), Ok(Placement::Next));
/// assert_eq!(early.release(11), None);
/// assert_eq!(early.release(12), Some("c"));
/// assert!(early.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct Reorder<T> {
    held: BTreeMap<u64, T>,
    window: u64,
}

impl<T> Reorder<T> {
    /// Holds chunks up to `window - 1` numbers ahead of the next expected
    /// (`window` 1: nothing ahead, the strict rule of [`classify`]).
    pub fn new(window: u64) -> Self {
        Self {
            held: BTreeMap::new(),
            window: window.max(1),
        }
    }

    /// Where chunk `seq` belongs when `next` is the next number expected.
    pub fn place(&self, next: u64, seq: u64) -> Result<Placement, SeqError> {
        match classify(next, seq) {
            Ok(Arrival::Duplicate) => Ok(Placement::Duplicate),
            Ok(Arrival::Next) => Ok(Placement::Next),
            Err(gap) if seq - next >= self.window => Err(gap),
            Err(_) if self.held.contains_key(&seq) => Ok(Placement::EarlyDuplicate),
            Err(_) => Ok(Placement::Early),
        }
    }

    /// Holds chunk `seq` (placed [`Placement::Early`]).
    pub fn hold(&mut self, seq: u64, chunk: T) {
        self.held.insert(seq, chunk);
    }

    /// The chunk held as `seq`, if any.
    pub fn get(&self, seq: u64) -> Option<&T> {
        self.held.get(&seq)
    }

    /// Takes chunk `next` out if it is held: call it for each new next number
    /// after accepting a chunk, until it returns `None`.
    pub fn release(&mut self, next: u64) -> Option<T> {
        self.held.remove(&next)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// The chunks held.
    pub fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_ahead_are_held_within_the_window_and_released_in_order() {
        let mut early: Reorder<u8> = Reorder::new(8);
        let mut accepted = Retained::<Vec<u8>>::default();
        // 3, 1, 2, 0 arrive in that order (and 2 twice); 9 is too far ahead.
        for seq in [3u64, 1, 2, 2, 0] {
            let next = accepted.next();
            match early.place(next, seq).unwrap() {
                Placement::Next => {
                    accepted.push(vec![seq as u8]);
                    while let Some(chunk) = early.release(accepted.next()) {
                        accepted.push(vec![chunk]);
                    }
                }
                Placement::Early => early.hold(seq, seq as u8),
                Placement::EarlyDuplicate | Placement::Duplicate => {}
            }
        }
        let order: Vec<u8> = accepted.iter().map(|(_, c)| c[0]).collect();
        assert_eq!(order, [0, 1, 2, 3]);
        assert!(early.is_empty());
        assert_eq!(
            early.place(4, 12),
            Err(SeqError::Gap {
                expected: 4,
                got: 12
            })
        );
        assert_eq!(early.place(4, 11), Ok(Placement::Early));
        assert_eq!(early.place(4, 3), Ok(Placement::Duplicate));
        assert_eq!(
            Reorder::<u8>::new(1).place(4, 5),
            Err(SeqError::Gap {
                expected: 4,
                got: 5
            })
        );
    }

    #[test]
    fn resends_are_duplicates_and_gaps_are_refused() {
        let mut store: Retained<Vec<u8>> = Retained::default();
        assert_eq!(store.classify(0), Ok(Arrival::Next));
        store.push(b"a".to_vec());
        assert_eq!(store.classify(0), Ok(Arrival::Duplicate));
        assert_eq!(
            store.classify(2),
            Err(SeqError::Gap {
                expected: 1,
                got: 2
            })
        );
        assert_eq!(store.classify(1), Ok(Arrival::Next));
    }

    #[test]
    fn a_chunk_stays_until_a_later_number_is_acknowledged() {
        let mut store: Retained<Vec<u8>> = Retained::default();
        store.push(b"a".to_vec());
        store.push(b"bc".to_vec());
        assert_eq!(store.ack_below(0), Ok(0));
        assert_eq!(store.get(0), Some(&b"a".to_vec()));
        assert_eq!(store.ack_below(1), Ok(1));
        assert_eq!(store.get(0), None);
        assert_eq!(store.get(1), Some(&b"bc".to_vec()));
        assert_eq!(store.ack_below(2), Ok(2));
        assert!(store.is_empty());
        assert_eq!((store.oldest(), store.next()), (2, 2));
        assert_eq!(
            store.ack_below(0),
            Err(SeqError::Gone { oldest: 2, got: 0 })
        );
        assert_eq!(store.ack_below(3), Err(SeqError::Ahead { next: 2, got: 3 }));
        // Numbering goes on where it was.
        assert_eq!(store.classify(1), Ok(Arrival::Duplicate));
        assert_eq!(store.push(b"d".to_vec()), 2);
    }

    #[test]
    fn pop_front_is_a_local_acknowledgement() {
        let mut store: Retained<Vec<u8>> = Retained::default();
        store.push(b"a".to_vec());
        store.push(b"b".to_vec());
        assert_eq!(store.bytes(), 2);
        assert_eq!(store.pop_front(), Some(b"a".to_vec()));
        assert_eq!(store.iter().collect::<Vec<_>>(), [(1, &b"b".to_vec())]);
        assert_eq!(store.pop_front(), Some(b"b".to_vec()));
        assert_eq!(store.pop_front(), None);
        assert_eq!(store.next(), 2);
        assert_eq!(store.classify(0), Ok(Arrival::Duplicate));
    }

    #[test]
    fn far_numbers_never_overflow_or_panic() {
        let mut store: Retained<Vec<u8>> = Retained::default();
        store.push(vec![1]);
        assert_eq!(store.get(u64::MAX), None);
        assert_eq!(
            store.ack_below(u64::MAX),
            Err(SeqError::Ahead {
                next: 1,
                got: u64::MAX
            })
        );
        assert_eq!(
            classify(0, u64::MAX),
            Err(SeqError::Gap {
                expected: 0,
                got: u64::MAX
            })
        );
    }
}

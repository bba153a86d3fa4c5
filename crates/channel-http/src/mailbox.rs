//! One directed link's store on a server: messages numbered by the sender,
//! deduplicated on arrival, kept until the receiver acknowledges them.
//!
//! Sequence numbers make retries safe in both directions: a sender that did not
//! see the answer to message `k` sends `k` again and the mailbox recognises the
//! duplicate; a receiver that lost the answer to "give me `k`" asks again and gets
//! the same message, because `k` is only dropped once the receiver asks for `k + 1`.

use std::collections::VecDeque;

use bytes::Bytes;

/// A sequence number that does not fit the link's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqError {
    /// The sender skipped numbers: `got` arrived where `expected` was next.
    Gap { expected: u64, got: u64 },
    /// The receiver asked for a message it had already acknowledged.
    Gone { oldest: u64, got: u64 },
    /// The receiver asked beyond the next message to be sent.
    Ahead { next: u64, got: u64 },
}

impl std::fmt::Display for SeqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeqError::Gap { expected, got } => {
                write!(
                    f,
                    "sequence number {got} skips ahead: {expected} is the next expected"
                )
            }
            SeqError::Gone { oldest, got } => write!(
                f,
                "message {got} was already acknowledged; the oldest message kept is {oldest}"
            ),
            SeqError::Ahead { next, got } => write!(
                f,
                "message {got} cannot be asked for: the sender's next message is {next}"
            ),
        }
    }
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Stored,
    Duplicate,
}

/// Messages `base .. next` of one directed link.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    base: u64,
    queue: VecDeque<Bytes>,
}

impl Mailbox {
    /// The sequence number the next new message must carry.
    pub(crate) fn next(&self) -> u64 {
        self.base + self.queue.len() as u64
    }

    /// Classifies `seq` from the sender: duplicate, the next one, or a gap.
    /// Call [`store`](Self::store) for the next one once its bytes fit the budget.
    pub(crate) fn check_push(&self, seq: u64) -> Result<Pushed, SeqError> {
        let next = self.next();
        match seq.cmp(&next) {
            std::cmp::Ordering::Less => Ok(Pushed::Duplicate),
            std::cmp::Ordering::Equal => Ok(Pushed::Stored),
            std::cmp::Ordering::Greater => Err(SeqError::Gap {
                expected: next,
                got: seq,
            }),
        }
    }

    /// Appends the next message (after [`check_push`](Self::check_push) said `Stored`).
    pub(crate) fn store(&mut self, body: Bytes) {
        self.queue.push_back(body);
    }

    /// The receiver asks for `seq`: drops every message before it (acknowledged)
    /// and returns message `seq` if it has arrived, plus the bytes released.
    pub(crate) fn ack_and_peek(&mut self, seq: u64) -> Result<(Option<Bytes>, usize), SeqError> {
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
        while self.base < seq {
            if let Some(acked) = self.queue.pop_front() {
                released += acked.len();
            }
            self.base += 1;
        }
        Ok((self.queue.front().cloned(), released))
    }

    /// Takes the oldest message out (a local receiver: delivery is the acknowledgement).
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let msg = self.queue.pop_front()?;
        self.base += 1;
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resends_are_duplicates_and_gaps_are_refused() {
        let mut m = Mailbox::default();
        assert_eq!(m.check_push(0), Ok(Pushed::Stored));
        m.store(Bytes::from_static(b"a"));
        assert_eq!(m.check_push(0), Ok(Pushed::Duplicate));
        assert_eq!(
            m.check_push(2),
            Err(SeqError::Gap {
                expected: 1,
                got: 2
            })
        );
    }

    #[test]
    fn a_message_stays_until_the_next_one_is_asked_for() {
        let mut m = Mailbox::default();
        m.store(Bytes::from_static(b"a"));
        m.store(Bytes::from_static(b"bc"));
        assert_eq!(m.ack_and_peek(0), Ok((Some(Bytes::from_static(b"a")), 0)));
        assert_eq!(m.ack_and_peek(0), Ok((Some(Bytes::from_static(b"a")), 0)));
        assert_eq!(m.ack_and_peek(1), Ok((Some(Bytes::from_static(b"bc")), 1)));
        assert_eq!(m.ack_and_peek(2), Ok((None, 2)));
        assert_eq!(m.ack_and_peek(0), Err(SeqError::Gone { oldest: 2, got: 0 }));
        assert_eq!(m.ack_and_peek(3), Err(SeqError::Ahead { next: 2, got: 3 }));
        assert_eq!(m.check_push(1), Ok(Pushed::Duplicate));
        assert_eq!(m.check_push(2), Ok(Pushed::Stored));
    }

    #[test]
    fn pop_acknowledges_locally() {
        let mut m = Mailbox::default();
        m.store(Bytes::from_static(b"a"));
        assert_eq!(m.pop(), Some(Bytes::from_static(b"a")));
        assert_eq!(m.pop(), None);
        assert_eq!(m.next(), 1);
        assert_eq!(m.check_push(0), Ok(Pushed::Duplicate));
    }
}

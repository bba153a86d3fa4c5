//! Streamed messages on the wire: one logical message sent as **parts**
//! produced over time, whose total size need not be known when it starts.
//!
//! Each part is a frame with a 17-byte footer of its own, told apart from a
//! whole message's chunk by its version byte, `2`:
//!
//! ```text
//! +----------------------+-------------------+--------------------+--------------------+-------------+
//! | payload              | declared: u64 LE  | part_index: u32 LE | flags: u32 LE      | version: 2  |
//! +----------------------+-------------------+--------------------+--------------------+-------------+
//! ```
//!
//! - `declared` is the message's total length if the sender declared one,
//!   else `u64::MAX`; every part repeats it.
//! - `flags`: bit 0, [`LAST`](PartFlags::LAST), marks the final part (which
//!   may be empty); bit 1, [`ABORT`](PartFlags::ABORT), says the sender gave up
//!   (the part is empty, the message ends with an error at the receiver).
//!   Other bits must be zero.
//!
//! Rules the receiver ([`StreamIn`]) checks on every part, before using it:
//! parts arrive as `0, 1, 2, ...`; `declared` never changes; a part other
//! than the last is not empty; the bytes so far never exceed `declared` nor
//! the receiver's limit; the last part brings the total to exactly
//! `declared`. The sender's side of the same rules is [`StreamOut`].
//!
//! Sizes of parts are free (each within the transport's chunk size): a
//! sender cuts them as its data comes. Any violation is a typed
//! [`FrameError`]; no input makes either side panic or allocate.
//!
//! ```
//! use channel_core::frame::stream::{StreamIn, StreamOut};
//!
//! let mut out = StreamOut::new(None);
//! let first = out.seal(b"hello, ".to_vec(), false).unwrap();
//! let last = out.seal(b"parties".to_vec(), true).unwrap();
//!
//! let mut rx = StreamIn::new(u64::MAX);
//! let a = rx.push(first).unwrap();
//! let b = rx.push(last).unwrap();
//! assert_eq!((&a.payload[..], a.last), (&b"hello, "[..], false));
//! assert_eq!((&b.payload[..], b.last), (&b"parties"[..], true));
//! assert_eq!(rx.received(), 14);
//! ```

use super::{FOOTER_LEN, Footer, FrameError, WholeRules, version_of};

/// The version byte of a streamed part.
pub const STREAM_VERSION: u8 = 2;

/// `declared` when the sender did not declare a length.
const UNDECLARED: u64 = u64::MAX;

/// The flags of a streamed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartFlags;

impl PartFlags {
    /// The message's final part.
    pub const LAST: u32 = 1;
    /// The sender aborted the message.
    pub const ABORT: u32 = 2;
}

/// The decoded footer of one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PartFooter {
    declared: u64,
    index: u32,
    flags: u32,
}

impl PartFooter {
    fn write_to(self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.declared.to_le_bytes());
        buf.extend_from_slice(&self.index.to_le_bytes());
        buf.extend_from_slice(&self.flags.to_le_bytes());
        buf.push(STREAM_VERSION);
    }

    /// Splits a part into its footer and payload length.
    fn read(frame: &[u8]) -> Result<(Self, usize), FrameError> {
        let truncated = FrameError::Truncated { len: frame.len() };
        let payload_len = frame
            .len()
            .checked_sub(FOOTER_LEN)
            .ok_or(truncated.clone())?;
        let footer = frame.get(payload_len..).unwrap_or_default();
        let (declared, rest) = footer.split_first_chunk::<8>().ok_or(truncated.clone())?;
        let (index, rest) = rest.split_first_chunk::<4>().ok_or(truncated.clone())?;
        let (flags, rest) = rest.split_first_chunk::<4>().ok_or(truncated.clone())?;
        match rest {
            [STREAM_VERSION] => Ok((
                PartFooter {
                    declared: u64::from_le_bytes(*declared),
                    index: u32::from_le_bytes(*index),
                    flags: u32::from_le_bytes(*flags),
                },
                payload_len,
            )),
            [other] => Err(FrameError::Version(*other)),
            _ => Err(truncated),
        }
    }
}

/// The sender's side of a streamed message: numbers its parts, appends their
/// footers, and refuses what would break the rules (more than declared, a
/// short end, a part after the end).
#[derive(Debug, Clone)]
pub struct StreamOut {
    declared: Option<u64>,
    next: u32,
    sent: u64,
    ended: bool,
}

impl StreamOut {
    /// A message of `declared` bytes in all, or of a length told only by its
    /// last part (`None`).
    pub fn new(declared: Option<u64>) -> Self {
        Self {
            declared: declared.filter(|&d| d != UNDECLARED),
            next: 0,
            sent: 0,
            ended: false,
        }
    }

    /// The declared length, if any.
    pub fn declared(&self) -> Option<u64> {
        self.declared
    }

    /// Payload bytes sealed so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The index the next part gets.
    pub fn next_part(&self) -> usize {
        self.next as usize
    }

    /// Whether the last part (or an abort) has been sealed.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Whether the declared length has been reached: the part that reaches it
    /// must be the last.
    pub fn complete(&self) -> bool {
        self.declared == Some(self.sent)
    }

    /// Appends the next part's footer to `payload` (room for it is
    /// [`FOOTER_LEN`]): the last one if `last`. An empty part can only be
    /// the last; a part that reaches the declared length is made the last.
    pub fn seal(&mut self, mut payload: Vec<u8>, last: bool) -> Result<Vec<u8>, FrameError> {
        if self.ended {
            return Err(FrameError::DeclaredLength {
                declared: self.declared.unwrap_or(self.sent),
                actual: self.sent.saturating_add(payload.len() as u64),
            });
        }
        let sent = self.sent.saturating_add(payload.len() as u64);
        let last = last || self.declared == Some(sent);
        match self.declared {
            Some(declared) if sent > declared || (last && sent != declared) => {
                return Err(FrameError::DeclaredLength {
                    declared,
                    actual: sent,
                });
            }
            _ => {}
        }
        if payload.is_empty() && !last {
            return Err(FrameError::EmptyPart { index: self.next });
        }
        let index = self.next;
        self.next = self.next.checked_add(1).ok_or(FrameError::TooManyChunks {
            size: usize::try_from(sent).unwrap_or(usize::MAX),
            chunk_size: 1,
        })?;
        self.sent = sent;
        self.ended = last;
        PartFooter {
            declared: self.declared.unwrap_or(UNDECLARED),
            index,
            flags: if last { PartFlags::LAST } else { 0 },
        }
        .write_to(&mut payload);
        Ok(payload)
    }

    /// The part that aborts the message (its receiver gets
    /// [`FrameError::Aborted`]), written into `buf` (cleared first).
    pub fn abort(&mut self, mut buf: Vec<u8>) -> Vec<u8> {
        buf.clear();
        self.ended = true;
        PartFooter {
            declared: self.declared.unwrap_or(UNDECLARED),
            index: self.next,
            flags: PartFlags::ABORT,
        }
        .write_to(&mut buf);
        buf
    }
}

/// One part of a message, as [`StreamIn::push`] hands it out: the frame's own
/// buffer, its footer cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The part's bytes.
    pub payload: Vec<u8>,
    /// Whether the message ends with it.
    pub last: bool,
}

/// The receiver's side of a message taken part by part: a streamed message,
/// or a whole message's chunks as its parts.
#[derive(Debug, Clone)]
pub struct StreamIn {
    limit: u64,
    state: InState,
}

#[derive(Debug, Clone)]
enum InState {
    First,
    Streamed {
        declared: Option<u64>,
        next: u32,
        received: u64,
    },
    Whole(WholeRules),
    Done {
        declared: Option<u64>,
        received: u64,
        parts: u32,
    },
}

impl StreamIn {
    /// A receiver that refuses messages of more than `limit` bytes.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            state: InState::First,
        }
    }

    /// The message's length, if its first part declared it (a whole
    /// message always does).
    pub fn declared(&self) -> Option<u64> {
        match &self.state {
            InState::First => None,
            InState::Streamed { declared, .. } | InState::Done { declared, .. } => *declared,
            InState::Whole(rules) => Some(rules.total_len),
        }
    }

    /// Payload bytes received so far.
    pub fn received(&self) -> u64 {
        match &self.state {
            InState::First => 0,
            InState::Streamed { received, .. } | InState::Done { received, .. } => *received,
            InState::Whole(rules) => rules.received as u64,
        }
    }

    /// The index of the part expected next.
    pub fn next_part(&self) -> usize {
        match &self.state {
            InState::First => 0,
            InState::Streamed { next, .. } => *next as usize,
            InState::Whole(rules) => rules.next as usize,
            InState::Done { parts, .. } => *parts as usize,
        }
    }

    /// Whether the last part has arrived.
    pub fn is_done(&self) -> bool {
        matches!(self.state, InState::Done { .. })
    }

    /// Checks the next frame and returns its part.
    pub fn push(&mut self, mut frame: Vec<u8>) -> Result<Part, FrameError> {
        let streamed = version_of(&frame)? == STREAM_VERSION;
        let (payload_len, last) = if streamed {
            let (footer, payload_len) = PartFooter::read(&frame)?;
            (payload_len, self.check_part(footer, payload_len)?)
        } else {
            let (footer, payload_len) = Footer::read(&frame)?;
            (payload_len, self.check_chunk(footer, payload_len)?)
        };
        frame.truncate(payload_len);
        Ok(Part {
            payload: frame,
            last,
        })
    }

    /// The rules of a streamed part; whether it is the last.
    fn check_part(&mut self, footer: PartFooter, payload_len: usize) -> Result<bool, FrameError> {
        let (declared, next, received) = match self.state {
            InState::First => {
                let declared = (footer.declared != UNDECLARED).then_some(footer.declared);
                if let Some(size) = declared.filter(|&d| d > self.limit) {
                    return Err(too_large(size, self.limit));
                }
                (declared, 0, 0)
            }
            InState::Streamed {
                declared,
                next,
                received,
            } => (declared, next, received),
            InState::Whole(rules) => {
                return Err(FrameError::Interrupted {
                    expected: rules.next,
                });
            }
            InState::Done { .. } => return Err(FrameError::Interrupted { expected: 0 }),
        };
        if footer.index != next {
            return Err(FrameError::OutOfOrder {
                expected: next,
                got: footer.index,
            });
        }
        let wire_declared = declared.unwrap_or(UNDECLARED);
        if footer.declared != wire_declared {
            return Err(FrameError::DeclaredLength {
                declared: wire_declared,
                actual: footer.declared,
            });
        }
        if footer.flags & !(PartFlags::LAST | PartFlags::ABORT) != 0 {
            return Err(FrameError::BadFlags {
                flags: footer.flags,
            });
        }
        if footer.flags & PartFlags::ABORT != 0 {
            return Err(FrameError::Aborted { received });
        }
        let last = footer.flags & PartFlags::LAST != 0;
        if payload_len == 0 && !last {
            return Err(FrameError::EmptyPart {
                index: footer.index,
            });
        }
        let total = received.saturating_add(payload_len as u64);
        if total > self.limit {
            return Err(too_large(total, self.limit));
        }
        if let Some(declared) = declared
            && (total > declared || (last && total != declared))
        {
            return Err(FrameError::DeclaredLength {
                declared,
                actual: total,
            });
        }
        self.state = if last {
            InState::Done {
                declared,
                received: total,
                parts: next.saturating_add(1),
            }
        } else {
            InState::Streamed {
                declared,
                next: next.checked_add(1).ok_or(FrameError::TooManyChunks {
                    size: usize::try_from(total).unwrap_or(usize::MAX),
                    chunk_size: payload_len,
                })?,
                received: total,
            }
        };
        Ok(last)
    }

    /// The rules of a whole message's chunk; whether it is the last.
    fn check_chunk(&mut self, footer: Footer, payload_len: usize) -> Result<bool, FrameError> {
        let rules = match &mut self.state {
            InState::First => {
                let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
                self.state = InState::Whole(WholeRules::first(footer, payload_len, limit)?);
                match &mut self.state {
                    InState::Whole(rules) => *rules,
                    _ => return Err(FrameError::Interrupted { expected: 0 }),
                }
            }
            InState::Whole(rules) => {
                rules.later(footer, payload_len)?;
                *rules
            }
            InState::Streamed { next, .. } => {
                return Err(FrameError::Interrupted { expected: *next });
            }
            InState::Done { .. } => return Err(FrameError::Interrupted { expected: 0 }),
        };
        if rules.complete() {
            self.state = InState::Done {
                declared: Some(rules.total_len),
                received: rules.received as u64,
                parts: rules.count,
            };
        }
        Ok(rules.complete())
    }
}

fn too_large(size: u64, limit: u64) -> FrameError {
    FrameError::TooLarge {
        size,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // Tests fail by panicking.
mod tests {
    use super::*;
    use crate::frame::{Reassembler, frames};

    fn part(payload: &[u8], declared: u64, index: u32, flags: u32) -> Vec<u8> {
        let mut f = payload.to_vec();
        PartFooter {
            declared,
            index,
            flags,
        }
        .write_to(&mut f);
        f
    }

    #[test]
    fn parts_of_any_size_arrive_in_order_and_end_with_the_last() {
        let mut out = StreamOut::new(None);
        let mut rx = StreamIn::new(u64::MAX);
        let mut got = Vec::new();
        for (i, piece) in [&b"a"[..], b"bcd", b"efghij"].into_iter().enumerate() {
            let p = rx.push(out.seal(piece.to_vec(), false).unwrap()).unwrap();
            assert!(!p.last && rx.next_part() == i + 1);
            got.extend(p.payload);
        }
        let end = rx.push(out.seal(Vec::new(), true).unwrap()).unwrap();
        assert!(end.last && end.payload.is_empty() && rx.is_done());
        assert_eq!(
            (got, rx.received(), rx.declared()),
            (b"abcdefghij".to_vec(), 10, None)
        );
        assert!(out.ended());
    }

    #[test]
    fn a_declared_length_is_kept_by_both_sides() {
        let mut out = StreamOut::new(Some(5));
        assert!(matches!(
            out.clone().seal(b"123456".to_vec(), false),
            Err(FrameError::DeclaredLength {
                declared: 5,
                actual: 6
            })
        ));
        assert!(matches!(
            out.clone().seal(b"12".to_vec(), true),
            Err(FrameError::DeclaredLength {
                declared: 5,
                actual: 2
            })
        ));
        let first = out.seal(b"12".to_vec(), false).unwrap();
        // The part that reaches the declared length is the last.
        let second = out.seal(b"345".to_vec(), false).unwrap();
        assert!(out.ended() && out.complete());
        let mut rx = StreamIn::new(100);
        assert!(!rx.push(first).unwrap().last);
        assert_eq!(rx.declared(), Some(5));
        assert!(rx.push(second).unwrap().last);

        // A lying sender: more than declared, or a short end.
        let mut rx = StreamIn::new(100);
        rx.push(part(b"12", 5, 0, 0)).unwrap();
        assert!(matches!(
            rx.clone().push(part(b"3456", 5, 1, 0)),
            Err(FrameError::DeclaredLength {
                declared: 5,
                actual: 6
            })
        ));
        assert!(matches!(
            rx.clone().push(part(b"3", 5, 1, PartFlags::LAST)),
            Err(FrameError::DeclaredLength {
                declared: 5,
                actual: 3
            })
        ));
        assert!(matches!(
            rx.push(part(b"3", 6, 1, 0)),
            Err(FrameError::DeclaredLength {
                declared: 5,
                actual: 6
            })
        ));
    }

    #[test]
    fn every_broken_rule_is_a_typed_error() {
        let fresh = StreamIn::new(10);
        assert!(matches!(
            fresh.clone().push(part(b"x", UNDECLARED, 1, 0)),
            Err(FrameError::OutOfOrder {
                expected: 0,
                got: 1
            })
        ));
        assert!(matches!(
            fresh.clone().push(part(b"", UNDECLARED, 0, 0)),
            Err(FrameError::EmptyPart { index: 0 })
        ));
        assert!(matches!(
            fresh.clone().push(part(b"x", UNDECLARED, 0, 4)),
            Err(FrameError::BadFlags { flags: 4 })
        ));
        assert!(matches!(
            fresh.clone().push(part(b"", 11, 0, 0)),
            Err(FrameError::TooLarge { size: 11, .. })
        ));
        assert!(matches!(
            fresh.clone().push(vec![2; 5]),
            Err(FrameError::Truncated { len: 5 })
        ));
        let mut rx = fresh.clone();
        rx.push(part(b"123456", UNDECLARED, 0, 0)).unwrap();
        assert!(matches!(
            rx.clone().push(part(b"12345", UNDECLARED, 1, 0)),
            Err(FrameError::TooLarge { size: 11, .. })
        ));
        assert!(matches!(
            rx.clone().push(part(b"", UNDECLARED, 1, PartFlags::ABORT)),
            Err(FrameError::Aborted { received: 6 })
        ));
        // A whole message's chunk where part 1 was expected.
        let whole = frames(b"ab", 10).unwrap().next().unwrap();
        assert!(matches!(
            rx.push(whole),
            Err(FrameError::Interrupted { expected: 1 })
        ));
    }

    #[test]
    fn an_abort_part_ends_the_stream_with_an_error() {
        let mut out = StreamOut::new(None);
        let mut rx = StreamIn::new(u64::MAX);
        rx.push(out.seal(b"abc".to_vec(), false).unwrap()).unwrap();
        let abort = out.abort(Vec::new());
        assert!(out.ended());
        assert_eq!(abort.len(), FOOTER_LEN);
        assert_eq!(rx.push(abort), Err(FrameError::Aborted { received: 3 }));
    }

    #[test]
    fn a_whole_message_is_taken_chunk_by_chunk_as_parts() {
        let msg: Vec<u8> = (0..25u8).collect();
        let mut rx = StreamIn::new(100);
        let mut got = Vec::new();
        let mut lasts = Vec::new();
        for frame in frames(&msg, 10).unwrap() {
            let p = rx.push(frame).unwrap();
            lasts.push(p.last);
            got.extend(p.payload);
        }
        assert_eq!((got, lasts), (msg, vec![false, false, true]));
        assert_eq!(
            (rx.declared(), rx.received(), rx.is_done()),
            (Some(25), 25, true)
        );
        // The whole message's own limit applies.
        let mut small = StreamIn::new(20);
        assert!(matches!(
            small.push(frames(&[0; 25], 10).unwrap().next().unwrap()),
            Err(FrameError::TooLarge { size: 25, .. })
        ));
    }

    #[test]
    fn the_reassembler_takes_a_streamed_message_whole_within_its_limit() {
        let mut out = StreamOut::new(None);
        let parts = vec![
            out.seal(b"hello".to_vec(), false).unwrap(),
            out.seal(b", ".to_vec(), false).unwrap(),
            out.seal(b"parties".to_vec(), true).unwrap(),
        ];
        let mut rx = Reassembler::new(100);
        let mut done = None;
        for p in parts.clone() {
            done = rx.push(p).unwrap();
        }
        assert_eq!(done.as_deref(), Some(&b"hello, parties"[..]));
        // Beyond its limit: refused at the part that crosses it.
        let mut rx = Reassembler::new(8);
        assert_eq!(rx.push(parts[0].clone()), Ok(None));
        assert_eq!(rx.push(parts[1].clone()), Ok(None));
        assert!(matches!(
            rx.push(parts[2].clone()),
            Err(FrameError::TooLarge { size: 14, limit: 8 })
        ));
        // A whole message's chunk in the middle of a stream, and the reverse.
        let mut rx = Reassembler::new(100);
        rx.push(parts[0].clone()).unwrap();
        assert!(matches!(
            rx.push(frames(b"x", 4).unwrap().next().unwrap()),
            Err(FrameError::Interrupted { expected: 1 })
        ));
        let mut rx = Reassembler::new(100);
        rx.push(frames(b"xxxxxx", 4).unwrap().next().unwrap())
            .unwrap();
        assert!(matches!(
            rx.push(parts[0].clone()),
            Err(FrameError::Interrupted { expected: 1 })
        ));
    }
}

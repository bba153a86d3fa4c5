//! The frame format: how one logical message becomes chunks on the wire, and back.
//!
//! Transports move opaque byte vectors. The helpers ([`send_bytes`](crate::send_bytes),
//! [`send_to`](crate::send_to), ...) split a message into chunks of at most
//! [`Channel::chunk_size`](crate::Channel::chunk_size) payload bytes and append a
//! fixed 17-byte **footer** to each chunk. A footer instead of a header lets the
//! receiver of a single-chunk message strip the framing with a `truncate`, without
//! moving the payload, and lets the sender serialise straight into the final buffer.
//!
//! ```text
//! +----------------------+-------------------+--------------------+--------------------+-------------+
//! | payload (0..=chunk)  | total_len: u64 LE | chunk_index: u32 LE| chunk_count: u32 LE| version: u8 |
//! +----------------------+-------------------+--------------------+--------------------+-------------+
//!                        |<----------------------- footer, FOOTER_LEN = 17 bytes ------------------->|
//! ```
//!
//! Rules the receiver ([`Reassembler`]) checks on every chunk, before it allocates:
//! - the frame is at least [`FOOTER_LEN`] bytes and `version == 1`;
//! - `total_len` is within the receiver's maximum message size;
//! - chunk indices arrive as `0, 1, 2, ...`; `total_len` and `chunk_count` never change
//!   within a message;
//! - the first chunk's payload length `c` fixes the chunk size: an empty message is one
//!   empty chunk, otherwise `0 < c <= total_len` and `chunk_count == ceil(total_len / c)`;
//!   every chunk but the last carries exactly `c` bytes and the last one the rest.
//!
//! Any violation is a typed [`FrameError`]; no input can make the receiver panic or
//! allocate more than the maximum message size.
//!
//! A **streamed message** (a message sent as parts produced over time, whose
//! size need not be known in advance) has frames of its own, told apart by
//! their version byte `2`; [`stream`] describes them. The [`Reassembler`]
//! takes either kind, so a streamed message can be received whole (within the
//! maximum message size), and [`stream::StreamIn`] takes either kind part by
//! part, so a whole message can be received as a stream.

#![deny(clippy::indexing_slicing)]

pub mod stream;

/// Length of the footer appended to every chunk.
pub const FOOTER_LEN: usize = 17;

/// Spare capacity of every chunk the helpers make, beyond its footer: a
/// transport that appends a trailer of its own (`channel-seal`'s 17-byte tag
/// and kind) does so in place instead of reallocating and copying the chunk.
pub const TRAILER_ROOM: usize = 32;

/// The version byte written at the very end of every frame.
pub const FORMAT_VERSION: u8 = 1;

/// Why a received frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame cannot even hold a footer.
    #[error("frame of {len} bytes is shorter than the {FOOTER_LEN}-byte footer")]
    Truncated {
        /// Length of the frame received.
        len: usize,
    },
    /// The version byte is not [`FORMAT_VERSION`].
    #[error("unsupported frame format version {0} (this build speaks version {FORMAT_VERSION})")]
    Version(u8),
    /// The message is larger than the receiver accepts.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size claimed by the frame (or of the message to send).
        size: u64,
        /// The configured maximum message size.
        limit: usize,
    },
    /// A chunk arrived out of sequence.
    #[error("got chunk index {got} where chunk {expected} was expected")]
    OutOfOrder {
        /// The index the receiver waited for.
        expected: u32,
        /// The index in the frame.
        got: u32,
    },
    /// The chunk count does not fit the message length and chunk size.
    #[error("{count} chunks of {chunk_len} bytes cannot make a {total}-byte message")]
    BadCount {
        /// Chunk count claimed by the frame.
        count: u32,
        /// Payload length of the first chunk.
        chunk_len: usize,
        /// Message length claimed by the frame.
        total: u64,
    },
    /// A later chunk disagrees with the first one about the message.
    #[error(
        "chunk claims a {total}-byte message in {count} chunks, \
         but the first chunk claimed {first_total} bytes in {first_count}"
    )]
    Inconsistent {
        /// Length claimed by this chunk.
        total: u64,
        /// Count claimed by this chunk.
        count: u32,
        /// Length claimed by the first chunk.
        first_total: u64,
        /// Count claimed by the first chunk.
        first_count: u32,
    },
    /// A chunk's payload has the wrong length.
    #[error("chunk {index} carries {got} bytes where {expected} were expected")]
    BadChunkLength {
        /// Index of the chunk.
        index: u32,
        /// Payload bytes received.
        got: usize,
        /// Payload bytes the footer rules require.
        expected: usize,
    },
    /// The sender gave up on its streamed message before its end.
    #[error("the sender aborted its streamed message after {received} bytes")]
    Aborted {
        /// Bytes of the message received before the abort.
        received: u64,
    },
    /// A streamed message carries more or fewer bytes than it declared.
    #[error("the streamed message declared {declared} bytes but carries {actual}")]
    DeclaredLength {
        /// The length declared in its first part.
        declared: u64,
        /// The bytes it carries (so far, when more than declared).
        actual: u64,
    },
    /// A part of a streamed message other than its last is empty.
    #[error("part {index} of a streamed message is empty and not its last")]
    EmptyPart {
        /// Index of the part.
        index: u32,
    },
    /// A part of a streamed message has flags this build does not know.
    #[error("a streamed part carries unknown flags {flags:#x}")]
    BadFlags {
        /// The flags received.
        flags: u32,
    },
    /// A new message began where the next chunk or part of the current one
    /// was expected.
    #[error("a new message began where chunk {expected} of the current one was expected")]
    Interrupted {
        /// The chunk or part expected.
        expected: u32,
    },
    /// The message would need more than `u32::MAX` chunks at this chunk size.
    #[error("a {size}-byte message needs more than u32::MAX chunks of {chunk_size} bytes")]
    TooManyChunks {
        /// Message size.
        size: usize,
        /// Chunk size in use.
        chunk_size: usize,
    },
}

/// The decoded footer of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Footer {
    total_len: u64,
    index: u32,
    count: u32,
}

impl Footer {
    fn write_to(self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.total_len.to_le_bytes());
        buf.extend_from_slice(&self.index.to_le_bytes());
        buf.extend_from_slice(&self.count.to_le_bytes());
        buf.push(FORMAT_VERSION);
    }

    /// Splits `frame` into its footer and payload length, checking length and version.
    fn read(frame: &[u8]) -> Result<(Self, usize), FrameError> {
        let payload_len = frame
            .len()
            .checked_sub(FOOTER_LEN)
            .ok_or(FrameError::Truncated { len: frame.len() })?;
        let footer = frame.get(payload_len..).unwrap_or_default();
        let (total, rest) = footer
            .split_first_chunk::<8>()
            .ok_or(FrameError::Truncated { len: frame.len() })?;
        let (index, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(FrameError::Truncated { len: frame.len() })?;
        let (count, rest) = rest
            .split_first_chunk::<4>()
            .ok_or(FrameError::Truncated { len: frame.len() })?;
        match rest {
            [FORMAT_VERSION] => Ok((
                Footer {
                    total_len: u64::from_le_bytes(*total),
                    index: u32::from_le_bytes(*index),
                    count: u32::from_le_bytes(*count),
                },
                payload_len,
            )),
            [other] => Err(FrameError::Version(*other)),
            _ => Err(FrameError::Truncated { len: frame.len() }),
        }
    }
}

/// How many chunks a message of `len` bytes needs at `chunk_size` (an empty message is one chunk).
///
/// ```
/// use channel_core::frame::chunk_count;
///
/// assert_eq!(chunk_count(0, 10).unwrap(), 1);
/// assert_eq!(chunk_count(10, 10).unwrap(), 1);
/// assert_eq!(chunk_count(11, 10).unwrap(), 2);
/// ```
pub fn chunk_count(len: usize, chunk_size: usize) -> Result<u32, FrameError> {
    let chunk_size = chunk_size.max(1);
    let count = len.div_ceil(chunk_size).max(1);
    u32::try_from(count).map_err(|_| FrameError::TooManyChunks {
        size: len,
        chunk_size,
    })
}

/// Splits `payload` into framed chunks of at most `chunk_size` payload bytes each.
///
/// Each yielded frame is a fresh vector with room for exactly its footer. For a
/// message that fits in one chunk and is already owned, prefer [`seal_single`].
///
/// ```
/// use channel_core::frame::{Reassembler, frames};
///
/// let msg = b"hello, parties".to_vec();
/// let mut rx = Reassembler::new(1024);
/// let mut out = None;
/// for frame in frames(&msg, 4).unwrap() {
///     out = rx.push(frame).unwrap();
/// }
/// assert_eq!(out.unwrap(), msg);
/// ```
pub fn frames(payload: &[u8], chunk_size: usize) -> Result<Frames<'_>, FrameError> {
    let chunk_size = chunk_size.max(1);
    let count = chunk_count(payload.len(), chunk_size)?;
    Ok(Frames {
        payload,
        chunk_size,
        next: 0,
        count,
    })
}

/// The iterator of [`frames`]: one freshly allocated frame per chunk.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    payload: &'a [u8],
    chunk_size: usize,
    next: u32,
    count: u32,
}

impl Frames<'_> {
    /// The capacity the next frame needs (its payload, footer and
    /// [`TRAILER_ROOM`]), or `None` when every frame has been made.
    pub fn next_capacity(&self) -> Option<usize> {
        self.next_piece()
            .map(|piece| piece.len() + FOOTER_LEN + TRAILER_ROOM)
    }

    /// Writes the next frame into `buf` (cleared first; reserve
    /// [`next_capacity`](Self::next_capacity) to avoid a reallocation), so a
    /// sender can reuse memory instead of allocating every frame.
    ///
    /// ```
    /// use channel_core::frame::frames;
    ///
    /// let mut frames = frames(b"hello", 3).unwrap();
    /// let buf = Vec::with_capacity(frames.next_capacity().unwrap());
    /// let at = buf.as_ptr();
    /// let first = frames.next_into(buf).unwrap();
    /// assert_eq!((first.as_ptr(), &first[..3]), (at, &b"hel"[..]));
    /// ```
    pub fn next_into(&mut self, mut buf: Vec<u8>) -> Option<Vec<u8>> {
        let piece = self.next_piece()?;
        buf.clear();
        buf.reserve_exact(piece.len() + FOOTER_LEN + TRAILER_ROOM);
        buf.extend_from_slice(piece);
        Footer {
            total_len: self.payload.len() as u64,
            index: self.next,
            count: self.count,
        }
        .write_to(&mut buf);
        self.next += 1;
        Some(buf)
    }

    fn next_piece(&self) -> Option<&[u8]> {
        if self.next >= self.count {
            return None;
        }
        let start = (self.next as usize).saturating_mul(self.chunk_size);
        let end = start
            .saturating_add(self.chunk_size)
            .min(self.payload.len());
        // An empty message is one empty chunk, hence `unwrap_or_default`.
        Some(self.payload.get(start..end).unwrap_or_default())
    }
}

impl Iterator for Frames<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        let capacity = self.next_capacity()?;
        self.next_into(Vec::with_capacity(capacity))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count.saturating_sub(self.next) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Frames<'_> {}

/// Turns an owned payload into a single-chunk frame in place (no copy when the
/// vector has [`FOOTER_LEN`] spare capacity).
pub fn seal_single(mut payload: Vec<u8>) -> Vec<u8> {
    let total_len = payload.len() as u64;
    Footer {
        total_len,
        index: 0,
        count: 1,
    }
    .write_to(&mut payload);
    payload
}

/// The version byte of `frame` (its last byte), or `Truncated` for a frame
/// too short to hold any footer.
fn version_of(frame: &[u8]) -> Result<u8, FrameError> {
    match frame.last() {
        Some(&v) if frame.len() >= FOOTER_LEN => Ok(v),
        _ => Err(FrameError::Truncated { len: frame.len() }),
    }
}

/// The rules of one whole message's chunks, checked as they arrive (what the
/// [`Reassembler`] and [`stream::StreamIn`] share).
#[derive(Debug, Clone, Copy)]
struct WholeRules {
    total_len: u64,
    count: u32,
    chunk_len: usize,
    next: u32,
    received: usize,
}

impl WholeRules {
    /// Checks the first chunk of a message of at most `limit` bytes.
    fn first(footer: Footer, payload_len: usize, limit: usize) -> Result<Self, FrameError> {
        if footer.index != 0 {
            return Err(FrameError::OutOfOrder {
                expected: 0,
                got: footer.index,
            });
        }
        let total_len = usize::try_from(footer.total_len)
            .ok()
            .filter(|&t| t <= limit)
            .ok_or(FrameError::TooLarge {
                size: footer.total_len,
                limit,
            })?;
        let consistent = if total_len == 0 {
            footer.count == 1 && payload_len == 0
        } else {
            payload_len > 0
                && payload_len <= total_len
                && total_len.div_ceil(payload_len) == footer.count as usize
        };
        if !consistent {
            return Err(FrameError::BadCount {
                count: footer.count,
                chunk_len: payload_len,
                total: footer.total_len,
            });
        }
        Ok(Self {
            total_len: footer.total_len,
            count: footer.count,
            chunk_len: payload_len,
            next: 1,
            received: payload_len,
        })
    }

    /// Checks a later chunk.
    fn later(&mut self, footer: Footer, payload_len: usize) -> Result<(), FrameError> {
        if footer.index != self.next {
            return Err(FrameError::OutOfOrder {
                expected: self.next,
                got: footer.index,
            });
        }
        if footer.total_len != self.total_len || footer.count != self.count {
            return Err(FrameError::Inconsistent {
                total: footer.total_len,
                count: footer.count,
                first_total: self.total_len,
                first_count: self.count,
            });
        }
        let expected = if self.next + 1 == self.count {
            // `count - 1` full chunks are in; the first chunk proved that the
            // rest is in `1..=chunk_len` and that `total_len` fits in usize.
            (self.total_len as usize).saturating_sub(self.received)
        } else {
            self.chunk_len
        };
        if payload_len != expected {
            return Err(FrameError::BadChunkLength {
                index: footer.index,
                got: payload_len,
                expected,
            });
        }
        self.next += 1;
        self.received += payload_len;
        Ok(())
    }

    /// Whether every chunk has arrived.
    fn complete(&self) -> bool {
        self.next == self.count
    }
}

/// Rebuilds one message from its frames, checking every footer rule before allocating.
///
/// Feed frames with [`push`](Self::push) until it returns `Some(message)`. After an
/// error the reassembler must be discarded. A streamed message
/// ([`stream`]) is assembled too, as long as it stays within the maximum
/// message size.
#[derive(Debug)]
pub struct Reassembler {
    limit: usize,
    state: State,
    /// Memory to build a multi-chunk message in, given by the caller.
    spare: Vec<u8>,
    /// The last frame whose bytes were copied into the message, for the
    /// caller to give back to its transport ([`take_spent`](Self::take_spent)).
    spent: Option<Vec<u8>>,
}

#[derive(Debug)]
enum State {
    AwaitingFirst,
    Partial {
        rules: WholeRules,
        buf: Vec<u8>,
    },
    Streamed {
        rules: stream::StreamIn,
        buf: Vec<u8>,
    },
}

impl Reassembler {
    /// A reassembler that rejects messages longer than `max_message_size` bytes.
    pub fn new(max_message_size: usize) -> Self {
        Self::with_buffer(max_message_size, Vec::new())
    }

    /// A reassembler that builds a message of several chunks in `buf`'s
    /// memory (cleared, grown if need be) instead of a fresh allocation. A
    /// single-chunk message is the chunk itself; `buf` then stays unused, for
    /// [`take_spare`](Self::take_spare).
    ///
    /// ```
    /// use channel_core::frame::{Reassembler, frames};
    ///
    /// let buf = Vec::with_capacity(64);
    /// let at = buf.as_ptr();
    /// let mut rx = Reassembler::with_buffer(1024, buf);
    /// let mut out = None;
    /// for frame in frames(b"hello, parties", 4).unwrap() {
    ///     out = rx.push(frame).unwrap();
    /// }
    /// let msg = out.unwrap();
    /// assert_eq!((msg.as_ptr(), &msg[..]), (at, &b"hello, parties"[..]));
    /// ```
    pub fn with_buffer(max_message_size: usize, buf: Vec<u8>) -> Self {
        Self {
            limit: max_message_size,
            state: State::AwaitingFirst,
            spare: buf,
            spent: None,
        }
    }

    /// The buffer given to [`with_buffer`](Self::with_buffer) if no message
    /// used it (empty otherwise).
    pub fn take_spare(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.spare)
    }

    /// The frame the last [`push`](Self::push) copied into the message and
    /// no longer needs, if it did: its memory can hold a later chunk (the
    /// helpers hand it to [`Channel::recycle`](crate::Channel::recycle)).
    pub fn take_spent(&mut self) -> Option<Vec<u8>> {
        self.spent.take()
    }

    /// Index of the chunk expected next.
    pub fn next_chunk(&self) -> usize {
        match &self.state {
            State::AwaitingFirst => 0,
            State::Partial { rules, .. } => rules.next as usize,
            State::Streamed { rules, .. } => rules.next_part(),
        }
    }

    /// Number of chunks in the message, once the first chunk has arrived
    /// (`None` for a streamed message, whose parts are not counted ahead).
    pub fn total_chunks(&self) -> Option<usize> {
        match &self.state {
            State::AwaitingFirst | State::Streamed { .. } => None,
            State::Partial { rules, .. } => Some(rules.count as usize),
        }
    }

    /// Adds one frame; returns the whole message once its last chunk has arrived.
    pub fn push(&mut self, mut frame: Vec<u8>) -> Result<Option<Vec<u8>>, FrameError> {
        if let State::Streamed { rules, buf } = &mut self.state {
            let part = rules.push(frame)?;
            // Bounded: the stream rules refuse more than the limit in all.
            buf.extend_from_slice(&part.payload);
            self.spent = Some(part.payload);
            return Ok(if part.last {
                let message = std::mem::take(buf);
                self.state = State::AwaitingFirst;
                Some(message)
            } else {
                None
            });
        }
        if version_of(&frame)? == stream::STREAM_VERSION {
            return self.push_first_part(frame);
        }
        let (footer, payload_len) = Footer::read(&frame)?;
        match &mut self.state {
            State::AwaitingFirst => {
                let rules = WholeRules::first(footer, payload_len, self.limit)?;
                if rules.complete() {
                    frame.truncate(payload_len);
                    return Ok(Some(frame));
                }
                // `total_len <= limit` was checked above, so this allocation is bounded.
                // The caller's buffer, or a fresh one on the receiving thread,
                // rather than growing the first chunk's (allocated by the
                // transport's thread): the allocator then reuses the memory of
                // the previous message instead of faulting in new pages
                // (measured: half the page faults over TCP).
                let mut buf = std::mem::take(&mut self.spare);
                buf.clear();
                buf.reserve_exact(rules.total_len as usize);
                buf.extend_from_slice(frame.get(..payload_len).unwrap_or_default());
                self.spent = Some(frame);
                self.state = State::Partial { rules, buf };
                Ok(None)
            }
            State::Partial { rules, buf } => {
                rules.later(footer, payload_len)?;
                buf.extend_from_slice(frame.get(..payload_len).unwrap_or_default());
                self.spent = Some(frame);
                if rules.complete() {
                    let message = std::mem::take(buf);
                    self.state = State::AwaitingFirst;
                    Ok(Some(message))
                } else {
                    Ok(None)
                }
            }
            State::Streamed { .. } => Err(FrameError::Interrupted { expected: 0 }),
        }
    }

    /// A streamed part where a message's first chunk or a whole message's
    /// next chunk was expected.
    fn push_first_part(&mut self, frame: Vec<u8>) -> Result<Option<Vec<u8>>, FrameError> {
        if let State::Partial { rules, .. } = &self.state {
            return Err(FrameError::Interrupted {
                expected: rules.next,
            });
        }
        let mut rules = stream::StreamIn::new(self.limit as u64);
        let part = rules.push(frame)?;
        if part.last {
            return Ok(Some(part.payload));
        }
        let mut buf = std::mem::take(&mut self.spare);
        buf.clear();
        // Declared lengths were checked against the limit.
        if let Some(declared) = rules.declared() {
            buf.reserve_exact(declared as usize);
        }
        buf.extend_from_slice(&part.payload);
        self.spent = Some(part.payload);
        self.state = State::Streamed { rules, buf };
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize, chunk: usize) -> Vec<u8> {
        let msg: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut rx = Reassembler::new(1 << 20);
        let all: Vec<_> = frames(&msg, chunk).unwrap().collect();
        let last = all.len() - 1;
        for (i, f) in all.into_iter().enumerate() {
            let out = rx.push(f).unwrap();
            assert_eq!(out.is_some(), i == last, "chunk {i}");
            if let Some(m) = out {
                assert_eq!(m, msg);
                return m;
            }
        }
        unreachable!("the last chunk returns the message")
    }

    #[test]
    fn roundtrips_at_chunk_boundaries() {
        for chunk in [1usize, 2, 7, 64] {
            for k in 0..4 {
                for len in [k * chunk, (k * chunk).saturating_sub(1), k * chunk + 1] {
                    assert_eq!(roundtrip(len, chunk).len(), len);
                }
            }
        }
    }

    #[test]
    fn frames_copied_into_the_message_are_handed_back_once() {
        let msg = vec![5u8; 100];
        let mut rx = Reassembler::new(1000);
        let all: Vec<_> = frames(&msg, 40).unwrap().collect();
        let at: Vec<_> = all.iter().map(|f| f.as_ptr()).collect();
        let mut out = None;
        for (i, (f, at)) in all.into_iter().zip(at).enumerate() {
            out = rx.push(f).unwrap();
            let spent = rx.take_spent().expect("every chunk of it is copied");
            assert_eq!(spent.as_ptr(), at, "chunk {i}'s own memory");
            assert_eq!(rx.take_spent(), None, "handed back once");
        }
        assert_eq!(out.unwrap(), msg);
        // A single-chunk message is its frame: nothing is spent.
        let one = frames(b"abc", 40).unwrap().next().unwrap();
        assert_eq!(rx.push(one).unwrap().unwrap(), b"abc");
        assert_eq!(rx.take_spent(), None);
    }

    #[test]
    fn single_chunk_is_sealed_and_opened_in_place() {
        let mut payload = Vec::with_capacity(5 + FOOTER_LEN);
        payload.extend_from_slice(b"12345");
        let ptr = payload.as_ptr();
        let frame = seal_single(payload);
        assert_eq!(frame.as_ptr(), ptr, "sealing must not reallocate");
        let msg = Reassembler::new(100).push(frame).unwrap().unwrap();
        assert_eq!(msg.as_ptr(), ptr, "opening must not copy");
        assert_eq!(msg, b"12345");
    }

    fn frame(payload_len: usize, total: u64, index: u32, count: u32) -> Vec<u8> {
        let mut f = vec![0xAB; payload_len];
        Footer {
            total_len: total,
            index,
            count,
        }
        .write_to(&mut f);
        f
    }

    #[test]
    fn rejects_each_kind_of_bad_frame() {
        let mut rx = Reassembler::new(1000);
        assert_eq!(rx.push(vec![1; 16]), Err(FrameError::Truncated { len: 16 }));
        let mut bad_version = frame(1, 1, 0, 1);
        *bad_version.last_mut().unwrap() = 9;
        assert_eq!(rx.push(bad_version), Err(FrameError::Version(9)));
        assert_eq!(
            rx.push(frame(0, 1 << 60, 0, 1 << 31)),
            Err(FrameError::TooLarge {
                size: 1 << 60,
                limit: 1000
            })
        );
        assert!(matches!(
            rx.push(frame(10, 100, 1, 10)),
            Err(FrameError::OutOfOrder {
                expected: 0,
                got: 1
            })
        ));
        assert!(matches!(
            rx.push(frame(10, 100, 0, 11)),
            Err(FrameError::BadCount { .. })
        ));
        assert!(matches!(
            rx.push(frame(0, 100, 0, u32::MAX)),
            Err(FrameError::BadCount { .. })
        ));
        assert!(matches!(
            rx.push(frame(1, 0, 0, 1)),
            Err(FrameError::BadCount { .. })
        ));

        let mut rx = Reassembler::new(1000);
        assert_eq!(rx.push(frame(10, 25, 0, 3)), Ok(None));
        assert!(matches!(
            rx.push(frame(10, 26, 1, 3)),
            Err(FrameError::Inconsistent { .. })
        ));
        let mut rx = Reassembler::new(1000);
        assert_eq!(rx.push(frame(10, 25, 0, 3)), Ok(None));
        assert_eq!(
            rx.push(frame(9, 25, 1, 3)),
            Err(FrameError::BadChunkLength {
                index: 1,
                got: 9,
                expected: 10
            })
        );
        let mut rx = Reassembler::new(1000);
        assert_eq!(rx.push(frame(10, 25, 0, 3)), Ok(None));
        assert_eq!(rx.push(frame(10, 25, 1, 3)), Ok(None));
        assert_eq!(
            rx.push(frame(10, 25, 2, 3)),
            Err(FrameError::BadChunkLength {
                index: 2,
                got: 10,
                expected: 5
            })
        );
    }

    #[test]
    fn too_many_chunks_is_an_error() {
        assert!(matches!(
            chunk_count(usize::MAX, 1),
            Err(FrameError::TooManyChunks { .. })
        ));
    }
}

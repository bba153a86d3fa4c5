//! What a transport is told about each chunk it sends or receives.
//!
//! The helpers in this crate split one logical message into chunks and call the
//! transport once per chunk. [`SendInfo`] and [`RecvInfo`] tell the transport which
//! protocol phase the chunk belongs to and where it sits in its message, so that a
//! backend can put this into logs, metrics and error messages ("party 2 timed out
//! receiving chunk 3/8 from party 0 in phase `triples`").

use std::fmt;
use std::sync::Arc;

/// Describes one chunk handed to [`Channel::send_bytes_to`](crate::Channel::send_bytes_to).
///
/// ```
/// use channel_core::SendInfo;
///
/// let info = SendInfo::new("input-sharing", 1, 4);
/// assert_eq!(info.phase(), "input-sharing");
/// assert_eq!((info.chunk(), info.total(), info.remaining()), (1, 4, 2));
/// assert_eq!(info.to_string(), "phase 'input-sharing', chunk 2/4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendInfo {
    phase: Arc<str>,
    chunk: usize,
    total: usize,
    streamed: bool,
}

impl SendInfo {
    /// Info for chunk `chunk` (0-based) of a message made of `total` chunks.
    pub fn new(phase: impl Into<Arc<str>>, chunk: usize, total: usize) -> Self {
        Self {
            phase: phase.into(),
            chunk,
            total,
            streamed: false,
        }
    }

    /// Info for part `part` (0-based) of a streamed message, whose parts are
    /// not counted ahead: [`total`](Self::total) says one more follows
    /// unless this is the `last`.
    ///
    /// A transport whose sends never wait (an in-process queue) makes a
    /// streamed part wait for its receiver to read instead, within a window,
    /// so that a message of any size crosses in bounded memory.
    ///
    /// ```
    /// use channel_core::SendInfo;
    ///
    /// let info = SendInfo::stream_part("garbling", 4, false);
    /// assert!(info.is_streamed());
    /// assert_eq!((info.chunk(), info.remaining()), (4, 1));
    /// assert_eq!(info.to_string(), "phase 'garbling', streamed part 5");
    /// ```
    pub fn stream_part(phase: impl Into<Arc<str>>, part: usize, last: bool) -> Self {
        Self {
            phase: phase.into(),
            chunk: part,
            total: part.saturating_add(if last { 1 } else { 2 }),
            streamed: true,
        }
    }

    /// Whether the chunk is a part of a streamed message.
    pub fn is_streamed(&self) -> bool {
        self.streamed
    }

    /// The protocol phase the message belongs to.
    pub fn phase(&self) -> &str {
        &self.phase
    }

    /// The index of this chunk within its message, starting at 0.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// How many chunks the whole message has (at least 1).
    pub fn total(&self) -> usize {
        self.total
    }

    /// How many chunks of this message follow this one.
    pub fn remaining(&self) -> usize {
        self.total.saturating_sub(self.chunk + 1)
    }

    pub(crate) fn phase_arc(&self) -> &Arc<str> {
        &self.phase
    }
}

impl fmt::Display for SendInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.streamed {
            let last = if self.remaining() == 0 { " (last)" } else { "" };
            return write!(
                f,
                "phase '{}', streamed part {}{last}",
                self.phase,
                self.chunk + 1
            );
        }
        write!(
            f,
            "phase '{}', chunk {}/{}",
            self.phase,
            self.chunk + 1,
            self.total
        )
    }
}

/// Describes one chunk requested from [`Channel::recv_bytes_from`](crate::Channel::recv_bytes_from).
///
/// Before the first chunk of a message has arrived the receiver does not know how
/// many chunks will follow, so [`total`](Self::total) is `None` for chunk 0.
///
/// ```
/// use channel_core::RecvInfo;
///
/// let first = RecvInfo::new("open", 0, None);
/// assert_eq!((first.total(), first.remaining()), (None, None));
/// assert_eq!(first.to_string(), "phase 'open', chunk 1/?");
///
/// let later = RecvInfo::new("open", 2, Some(5));
/// assert_eq!(later.remaining(), Some(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecvInfo {
    phase: Arc<str>,
    chunk: usize,
    total: Option<usize>,
}

impl RecvInfo {
    /// Info for chunk `chunk` (0-based); `total` is `None` while it is still unknown.
    pub fn new(phase: impl Into<Arc<str>>, chunk: usize, total: Option<usize>) -> Self {
        Self {
            phase: phase.into(),
            chunk,
            total,
        }
    }

    /// The protocol phase the message belongs to.
    pub fn phase(&self) -> &str {
        &self.phase
    }

    /// The index of the chunk being received, starting at 0.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// How many chunks the message has, once the first chunk has told us.
    pub fn total(&self) -> Option<usize> {
        self.total
    }

    /// How many chunks follow this one, once known.
    pub fn remaining(&self) -> Option<usize> {
        self.total.map(|t| t.saturating_sub(self.chunk + 1))
    }

    pub(crate) fn phase_arc(&self) -> &Arc<str> {
        &self.phase
    }
}

impl fmt::Display for RecvInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.total {
            Some(total) => write!(
                f,
                "phase '{}', chunk {}/{}",
                self.phase,
                self.chunk + 1,
                total
            ),
            None => write!(f, "phase '{}', chunk {}/?", self.phase, self.chunk + 1),
        }
    }
}

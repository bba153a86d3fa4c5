//! The one error type of the message helpers.

use std::sync::Arc;

use crate::frame::FrameError;
use crate::transport::TransportError;

/// An error and the chain of its sources on one line, `outer: inner: innermost`,
/// for logs and messages that must not lose the cause. A source that says the
/// same as the error before it (a wrapper that shows its inner error's text)
/// is written once.
///
/// ```
/// use channel_core::{Error, error_chain, transport::TransportError};
///
/// let e = Error::Recv { party: 2, phase: "open".into(), source: Box::new(TransportError::Closed { party: 2 }) };
/// assert_eq!(error_chain(&e), "receiving from party 2 failed in phase 'open': the connection to party 2 is closed");
/// ```
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut last = out.clone();
    let mut source = e.source();
    // Bounded by the chain, which ends.
    while let Some(s) = source {
        let text = s.to_string();
        if text != last {
            out.push_str(": ");
            out.push_str(&text);
        }
        last = text;
        source = s.source();
    }
    out
}

/// A backend's error, boxed so that [`Error`] does not depend on the transport.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a helper such as [`send_to`](crate::send_to) or
/// [`recv_from`](crate::recv_from).
///
/// Every variant names the peer and the protocol phase, and a transport failure
/// keeps the backend's own error as its [`source`](std::error::Error::source), so a
/// log line or `anyhow`'s `{:#}` shows the whole story:
///
/// ```
/// use channel_core::Error;
///
/// fn explain(e: &Error) -> String {
///     format!("party {:?} / phase {}: {e} ({:?})", e.party(), e.phase(), e.kind())
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed to send a chunk.
    #[error("sending to party {party} failed in phase '{phase}'")]
    Send {
        /// The receiving party.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// The backend's `SendError`.
        #[source]
        source: BoxError,
    },
    /// The transport failed to deliver a chunk.
    #[error("receiving from party {party} failed in phase '{phase}'")]
    Recv {
        /// The sending party.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// The backend's `RecvError`.
        #[source]
        source: BoxError,
    },
    /// The value could not be serialised, or the bytes received do not decode to it.
    #[error("could not encode or decode the message for party {party} in phase '{phase}'")]
    Codec {
        /// The peer.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// bincode's error.
        #[source]
        source: bincode::Error,
    },
    /// The message is larger than the configured maximum (checked before allocating).
    #[error(
        "message of {size} bytes for/from party {party} in phase '{phase}' exceeds the limit of {limit} bytes"
    )]
    TooLarge {
        /// The peer.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// Size of the message (claimed by the peer when receiving).
        size: u64,
        /// The limit in force.
        limit: usize,
    },
    /// A received frame broke the frame format rules.
    #[error("malformed frame from party {party} in phase '{phase}'")]
    Malformed {
        /// The sending party.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// Which rule was broken.
        #[source]
        source: FrameError,
    },
    /// The transport failed outside a message: flushing or closing a channel,
    /// or a backend's error turned into this one with `?` (every backend's
    /// error converts, so `ch.flush().await?` works in a function returning
    /// [`Error`]).
    #[error("the transport failed{}", with_party(*party))]
    Transport {
        /// The peer, if the failure concerns one.
        party: Option<usize>,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// The peer gave up on the streamed message it was sending
    /// ([`StreamSender::abort`](crate::asynchronous::StreamSender::abort)).
    #[error("party {party} aborted its streamed message in phase '{phase}' after {received} bytes")]
    Aborted {
        /// The sending party.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// Bytes of the message received before the abort.
        received: u64,
    },
    /// A streamed message to send ends with more or fewer bytes than it
    /// declared (the receiver is told with an abort).
    #[error(
        "the streamed message to party {party} in phase '{phase}' declared {declared} bytes, \
         but {written} were written"
    )]
    DeclaredLength {
        /// The receiving party.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// The declared length.
        declared: u64,
        /// The bytes written (so far, when more than declared).
        written: u64,
    },
    /// A vector arrived with a different number of elements than the protocol expects.
    #[error("expected {expected} elements from party {party} in phase '{phase}', got {actual}")]
    WrongLength {
        /// The sending party.
        party: usize,
        /// The protocol phase.
        phase: Arc<str>,
        /// The length the caller asked for.
        expected: usize,
        /// The length received.
        actual: usize,
    },
}

fn with_party(party: Option<usize>) -> String {
    party.map_or_else(String::new, |p| format!(" with party {p}"))
}

/// What kind of failure an [`Error`] is, whatever the transport: for code that
/// decides what to do (retry later, give up on a peer, report a bug) without
/// knowing the backend's error type.
///
/// ```
/// use channel_core::{Error, ErrorKind, transport::TransportError};
///
/// let e = Error::Recv {
///     party: 1,
///     phase: "open".into(),
///     source: Box::new(TransportError::timeout(1, std::time::Duration::from_secs(5), &channel_core::RecvInfo::new("open", 0, None))),
/// };
/// assert_eq!(e.kind(), ErrorKind::Timeout);
/// assert!(e.is_timeout() && !e.is_peer_gone());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing arrived from the peer in time.
    Timeout,
    /// The peer is gone: it closed its channel, its connection is lost, or it
    /// has not been heard from for too long.
    PeerGone,
    /// The party index is not a peer (out of range, or the party itself).
    BadParty,
    /// The bytes queued towards the peer reached their bound.
    QueueFull,
    /// A message or chunk is larger than the limit in force.
    TooLarge,
    /// What arrived breaks the format (frame, encoding, length).
    Malformed,
    /// What arrived does not authenticate (altered, replayed, forged).
    Unauthentic,
    /// The peer aborted the streamed message it was sending.
    Aborted,
    /// Anything else (see the error's source).
    Other,
}

impl Error {
    /// The peer this error concerns (`None` only for a [`Transport`](Error::Transport)
    /// failure that concerns no single peer).
    pub fn party(&self) -> Option<usize> {
        match self {
            Error::Send { party, .. }
            | Error::Recv { party, .. }
            | Error::Codec { party, .. }
            | Error::TooLarge { party, .. }
            | Error::Malformed { party, .. }
            | Error::Aborted { party, .. }
            | Error::DeclaredLength { party, .. }
            | Error::WrongLength { party, .. } => Some(*party),
            Error::Transport { party, .. } => *party,
        }
    }

    /// The protocol phase this error happened in (empty for a
    /// [`Transport`](Error::Transport) failure outside a message).
    pub fn phase(&self) -> &str {
        match self {
            Error::Send { phase, .. }
            | Error::Recv { phase, .. }
            | Error::Codec { phase, .. }
            | Error::TooLarge { phase, .. }
            | Error::Malformed { phase, .. }
            | Error::Aborted { phase, .. }
            | Error::DeclaredLength { phase, .. }
            | Error::WrongLength { phase, .. } => phase,
            Error::Transport { .. } => "",
        }
    }

    /// What kind of failure this is, for every backend: read from this error
    /// and from the first [`TransportError`] among its sources.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::Aborted { .. } => ErrorKind::Aborted,
            Error::Malformed { .. }
            | Error::Codec { .. }
            | Error::WrongLength { .. }
            | Error::DeclaredLength { .. } => ErrorKind::Malformed,
            Error::Send { .. } | Error::Recv { .. } | Error::Transport { .. } => {
                transport_kind(self)
            }
        }
    }

    /// Whether nothing arrived in time.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether the peer is gone (closed, lost, or silent for too long).
    pub fn is_peer_gone(&self) -> bool {
        self.kind() == ErrorKind::PeerGone
    }
}

/// The kind of the first [`TransportError`] among `e`'s sources.
fn transport_kind(e: &dyn std::error::Error) -> ErrorKind {
    let mut source = e.source();
    // Bounded by the chain, which ends.
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<TransportError>() {
            return t.kind();
        }
        source = s.source();
    }
    ErrorKind::Other
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport {
            party: e.party(),
            source: Box::new(e),
        }
    }
}

impl Error {
    /// Maps a frame rule violation to the matching variant.
    pub(crate) fn from_frame(party: usize, phase: Arc<str>, e: FrameError) -> Self {
        match e {
            FrameError::TooLarge { size, limit } => Error::TooLarge {
                party,
                phase,
                size,
                limit,
            },
            FrameError::Aborted { received } => Error::Aborted {
                party,
                phase,
                received,
            },
            source => Error::Malformed {
                party,
                phase,
                source,
            },
        }
    }
}

/// Refuses to send a message the configured limit would make the peer reject anyway.
pub(crate) fn check_outgoing_size(
    limit: usize,
    party: usize,
    phase: &Arc<str>,
    size: u64,
) -> Result<(), Error> {
    if size > limit as u64 {
        return Err(Error::TooLarge {
            party,
            phase: phase.clone(),
            size,
            limit,
        });
    }
    Ok(())
}

/// Maps a failure to split an outgoing message into chunks.
pub(crate) fn chunking_error(
    party: usize,
    phase: &Arc<str>,
    chunk_size: usize,
    e: FrameError,
) -> Error {
    match e {
        FrameError::TooManyChunks { size, .. } => Error::TooLarge {
            party,
            phase: phase.clone(),
            size: size as u64,
            limit: chunk_size.saturating_mul(u32::MAX as usize),
        },
        other => Error::from_frame(party, phase.clone(), other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend error that shows its inner TransportError's text and keeps it
    /// as its source, as HttpError and P2pError do.
    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Backend(#[source] TransportError);

    #[test]
    fn the_kind_is_found_beneath_any_backend_and_repeated_text_is_written_once() {
        let gone = TransportError::PeerGone {
            party: 2,
            reason: "silent for 31 s".into(),
        };
        let e = Error::Recv {
            party: 2,
            phase: "open".into(),
            source: Box::new(Backend(gone.clone())),
        };
        assert_eq!(e.kind(), ErrorKind::PeerGone);
        assert!(e.is_peer_gone());
        assert_eq!(
            error_chain(&e),
            "receiving from party 2 failed in phase 'open': party 2 is gone: silent for 31 s"
        );
        let converted: Error = gone.into();
        assert_eq!((converted.party(), converted.phase()), (Some(2), ""));
        assert_eq!(converted.kind(), ErrorKind::PeerGone);
        let opaque = Error::Send {
            party: 1,
            phase: "x".into(),
            source: "an error of no known kind".into(),
        };
        assert_eq!(opaque.kind(), ErrorKind::Other);
        assert_eq!(
            Error::WrongLength {
                party: 0,
                phase: "x".into(),
                expected: 1,
                actual: 2
            }
            .kind(),
            ErrorKind::Malformed
        );
    }
}

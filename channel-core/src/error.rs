//! The one error type of the message helpers.

use std::sync::Arc;

use crate::frame::FrameError;

/// An error and the chain of its sources on one line, `outer: inner: innermost`,
/// for logs and messages that must not lose the cause.
///
/// ```
/// use channel_core::{Error, error_chain, transport::TransportError};
///
/// let e = Error::Recv { party: 2, phase: "open".into(), source: Box::new(TransportError::Closed { party: 2 }) };
/// assert_eq!(error_chain(&e), "receiving from party 2 failed in phase 'open': the connection to party 2 is closed");
/// ```
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
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
///     format!("party {} / phase {}: {e}", e.party(), e.phase())
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

impl Error {
    /// The peer this error concerns.
    pub fn party(&self) -> usize {
        match self {
            Error::Send { party, .. }
            | Error::Recv { party, .. }
            | Error::Codec { party, .. }
            | Error::TooLarge { party, .. }
            | Error::Malformed { party, .. }
            | Error::WrongLength { party, .. } => *party,
        }
    }

    /// The protocol phase this error happened in.
    pub fn phase(&self) -> &str {
        match self {
            Error::Send { phase, .. }
            | Error::Recv { phase, .. }
            | Error::Codec { phase, .. }
            | Error::TooLarge { phase, .. }
            | Error::Malformed { phase, .. }
            | Error::WrongLength { phase, .. } => phase,
        }
    }

    /// Maps a frame rule violation to the matching variant.
    pub(crate) fn from_frame(party: usize, phase: Arc<str>, e: FrameError) -> Self {
        match e {
            FrameError::TooLarge { size, limit } => Error::TooLarge {
                party,
                phase,
                size,
                limit,
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

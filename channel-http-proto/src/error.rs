//! The relay protocol's error type, shared by every client.

use std::time::Duration;

pub use channel_core::transport::TransportError;

/// Why an operation of a relay or direct-mode client (`channel_http::HttpChannel`,
/// `channel_http::DirectChannel`, `channel_wasm::WasmChannel`) failed. Every variant about a message names the peer and what was
/// being done ("sending phase 'x', chunk 2/3").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// A failure every transport has: bad party index, timeout, ...
    // Not `transparent`: the TransportError must be this error's source, so
    // that `channel_core::Error::kind` finds it (error_chain writes the
    // repeated text once).
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The server refused the request with a status that retrying cannot fix.
    #[error("{during} with party {party}: the server answered HTTP {status}: {message}")]
    Refused {
        /// The peer.
        party: usize,
        /// What was being done.
        during: String,
        /// The HTTP status code.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// Retryable failures (connection errors, 429, 502-504) went on for too long.
    #[error(
        "{during} with party {party}: gave up after {attempts} attempts over {waited:?}; last error: {last}"
    )]
    GaveUp {
        /// The peer.
        party: usize,
        /// What was being done.
        during: String,
        /// Requests made.
        attempts: u32,
        /// Time spent.
        waited: Duration,
        /// The last failure seen.
        last: String,
    },
    /// This party joined the session again elsewhere (a newer process holds
    /// its token): this client is replaced and must stop.
    #[error(
        "this party joined the session again elsewhere and this client was replaced: {message}"
    )]
    Replaced {
        /// The server's explanation.
        message: String,
    },
    /// A resend of message `seq` to `party` differs from what the server
    /// stored under that number: this sender lost count (e.g. it restarted
    /// and numbered from 0 again), and nothing it sends can be trusted to arrive.
    #[error(
        "message {seq} to party {party} was stored already with other content: this sender lost count of its messages"
    )]
    ConflictingResend {
        /// The peer.
        party: usize,
        /// The number.
        seq: u64,
    },
    /// An earlier chunk to `party` was not delivered (that failure was
    /// reported then): nothing more is sent to it, because what follows could
    /// not arrive in order.
    #[error(
        "an earlier chunk to party {party} was not delivered ({reason}); nothing more can be sent to it"
    )]
    Undelivered {
        /// The peer.
        party: usize,
        /// Why the earlier chunk was not delivered.
        reason: String,
    },
    /// The server answered something this client does not understand.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// Setting up failed: bad URL, TLS configuration, joining a session, binding.
    #[error("set-up failed: {0}")]
    Setup(String),
    /// Sealing failed: a handshake did not check out, or a chunk from a peer
    /// did not authenticate (see [`SealError`](channel_seal::SealError)).
    #[error(transparent)]
    Seal(#[from] channel_seal::SealError),
}

impl HttpError {
    /// The peer this error concerns, if one.
    pub fn party(&self) -> Option<usize> {
        match self {
            HttpError::Transport(e) => e.party(),
            HttpError::Refused { party, .. }
            | HttpError::GaveUp { party, .. }
            | HttpError::ConflictingResend { party, .. }
            | HttpError::Undelivered { party, .. } => Some(*party),
            HttpError::Seal(e) => e.party(),
            HttpError::Protocol(_) | HttpError::Setup(_) | HttpError::Replaced { .. } => None,
        }
    }
}

/// So that `?` on a channel's own call (`ch.flush().await?`, joining) works in
/// a function returning `channel_core::Error`.
impl From<HttpError> for channel_core::Error {
    fn from(e: HttpError) -> Self {
        channel_core::Error::Transport {
            party: e.party(),
            source: Box::new(e),
        }
    }
}

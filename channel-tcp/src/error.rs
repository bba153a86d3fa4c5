//! The error type of `channel-tcp`.

use std::time::Duration;

pub use channel_core::transport::TransportError;

/// Why a TCP operation failed. Clone, so that a link's failure can be
/// reported to every later call that concerns that peer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TcpError {
    /// A failure every transport has: bad party index, timeout, queue full, closed.
    // Not `transparent`: the TransportError must be this error's source, so
    // that `channel_core::Error::kind` finds it.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// Set-up did not reach every peer in time.
    #[error(
        "not connected to {missing:?} after {after:?} (party {me} of {parties}); last problem: {last}"
    )]
    Connect {
        /// This party.
        me: usize,
        /// Parties in the table.
        parties: usize,
        /// The parties that could not be reached.
        missing: Vec<usize>,
        /// The time allowed.
        after: Duration,
        /// The last dial or handshake error seen, for diagnosis.
        last: String,
    },
    /// The connection to a peer broke and could not be re-established in time.
    #[error("lost party {party}: {reason}")]
    PeerLost {
        /// The peer.
        party: usize,
        /// What happened.
        reason: String,
        /// The same as a transport-independent error
        /// ([`TransportError::PeerGone`]), so that `channel_core::Error::kind`
        /// sees it.
        #[source]
        cause: TransportError,
    },
    /// The peer sent bytes that are not a valid frame; its connection was closed.
    #[error("malformed frame from party {party}: {reason}")]
    Malformed {
        /// The peer.
        party: usize,
        /// Which rule was broken.
        reason: String,
    },
    /// The party table, keys or addresses are not usable.
    #[error("invalid set-up: {0}")]
    Setup(String),
}

impl TcpError {
    /// Party `party` is lost, because of `reason`.
    pub fn lost(party: usize, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        TcpError::PeerLost {
            party,
            cause: TransportError::PeerGone {
                party,
                reason: reason.clone(),
            },
            reason,
        }
    }

    /// The peer this error concerns, if one.
    pub fn party(&self) -> Option<usize> {
        match self {
            TcpError::Transport(e) => e.party(),
            TcpError::PeerLost { party, .. } | TcpError::Malformed { party, .. } => Some(*party),
            TcpError::Connect { .. } | TcpError::Setup(_) => None,
        }
    }
}

impl channel_link::app::LinkError for TcpError {
    fn lost(party: usize, reason: &str) -> Self {
        TcpError::lost(party, reason)
    }
}

/// So that `?` on a channel's own call (`ch.flush().await?`) works in a
/// function returning `channel_core::Error`.
impl From<TcpError> for channel_core::Error {
    fn from(e: TcpError) -> Self {
        channel_core::Error::Transport {
            party: e.party(),
            source: Box::new(e),
        }
    }
}

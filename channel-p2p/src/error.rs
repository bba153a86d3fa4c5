//! The error type of `channel-p2p`.

use std::time::Duration;

pub use channel_core::transport::TransportError;

/// Why a peer-to-peer operation failed. Clone, so that a link's failure can be
/// reported to every later call that concerns that peer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum P2pError {
    /// A failure every transport has: bad party index, timeout, queue full, closed.
    #[error(transparent)]
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
    },
    /// The peer sent bytes that are not a valid frame; its stream was closed.
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

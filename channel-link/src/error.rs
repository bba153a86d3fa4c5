//! The error of a party linked to its peers: what `channel-tcp` and
//! `channel-p2p` report (as `TcpError` and `P2pError`), written once.

use std::time::Duration;

use channel_core::transport::TransportError;

/// Why an operation of a party linked to its peers failed (the error of
/// `channel-tcp` and `channel-p2p`, as `MeshError` and `P2pError`). Clone, so
/// that a link's failure can be reported to every later call that concerns
/// that peer.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MeshError {
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
    /// The peer sent bytes that are not a valid frame; its connection was closed
    /// and it is not trusted again.
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

impl MeshError {
    /// Party `party` is lost, because of `reason`.
    pub fn lost(party: usize, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        MeshError::PeerLost {
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
            MeshError::Transport(e) => e.party(),
            MeshError::PeerLost { party, .. } | MeshError::Malformed { party, .. } => Some(*party),
            MeshError::Connect { .. } | MeshError::Setup(_) => None,
        }
    }
}

impl crate::app::LinkError for MeshError {
    fn lost(party: usize, reason: &str) -> Self {
        MeshError::lost(party, reason)
    }
}

/// So that `?` on a channel's own call (`ch.flush().await?`) works in a
/// function returning `channel_core::Error`.
impl From<MeshError> for channel_core::Error {
    fn from(e: MeshError) -> Self {
        channel_core::Error::Transport {
            party: e.party(),
            source: Box::new(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_peer_is_peer_gone_to_channel_core_and_names_the_party() {
        let e: channel_core::Error = MeshError::lost(3, "cut").into();
        assert!(e.is_peer_gone(), "{e}");
        assert_eq!(e.party(), Some(3));
        assert!(channel_core::error_chain(&e).contains("lost party 3: cut"));
        assert_eq!(MeshError::Setup("x".into()).party(), None);
    }
}

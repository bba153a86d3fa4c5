//! The sealing layer's error type.

use channel_core::BoxError;
use channel_core::transport::TransportError;

/// Why sealing, opening or a handshake failed. Every variant about a peer
/// names it; a transport failure keeps the transport's error as its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The keys, the table or a file is unusable (before anything was sent).
    #[error("sealing cannot start: {0}")]
    Setup(String),
    /// The handshake with `party` failed: it does not hold the key the table
    /// lists for it, or it uses another table or session, or the bytes were
    /// altered on the way.
    #[error("the handshake with party {party} failed: {reason}")]
    Handshake {
        /// The peer.
        party: usize,
        /// What did not check out.
        reason: String,
    },
    /// `party` gave up its handshake with us (its side did not check out, or
    /// it failed with another party): nothing will be exchanged with it.
    #[error(
        "party {party} refused the handshake: it does not accept our key, table or session, or it failed with another party"
    )]
    Refused {
        /// The peer.
        party: usize,
    },
    /// A chunk from `party` does not authenticate: it was altered, replayed,
    /// reordered, dropped, truncated or injected on the way. Nothing of it is
    /// delivered, and nothing more from `party` is.
    #[error(
        "chunk {chunk} from party {party} does not authenticate: it was altered, replayed, reordered, dropped, truncated or injected on the way"
    )]
    Forged {
        /// The peer.
        party: usize,
        /// The number of the chunk that failed (counted from 0 per direction).
        chunk: u64,
        /// The same as a transport-independent error
        /// ([`TransportError::Unauthentic`]), so that
        /// `channel_core::Error::kind` sees it.
        #[source]
        cause: TransportError,
    },
    /// An earlier chunk from `party` failed to authenticate, so its stream
    /// cannot be trusted any more.
    #[error("the stream from party {party} is unusable since: {first}")]
    Broken {
        /// The peer.
        party: usize,
        /// The first failure.
        first: String,
        /// The first failure as a transport-independent error.
        #[source]
        cause: TransportError,
    },
    /// The transport underneath failed.
    #[error("the transport to party {party} failed")]
    Transport {
        /// The peer.
        party: usize,
        /// The transport's error.
        #[source]
        source: BoxError,
    },
}

impl SealError {
    /// Chunk `chunk` from `party` did not authenticate.
    pub fn forged(party: usize, chunk: u64) -> Self {
        SealError::Forged {
            party,
            chunk,
            cause: TransportError::Unauthentic { party, chunk },
        }
    }

    /// The party this error concerns, if one.
    pub fn party(&self) -> Option<usize> {
        match self {
            SealError::Setup(_) => None,
            SealError::Handshake { party, .. }
            | SealError::Refused { party }
            | SealError::Forged { party, .. }
            | SealError::Broken { party, .. }
            | SealError::Transport { party, .. } => Some(*party),
        }
    }

    pub(crate) fn transport(
        party: usize,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        SealError::Transport {
            party,
            source: Box::new(e),
        }
    }

    pub(crate) fn handshake(party: usize, reason: impl std::fmt::Display) -> Self {
        SealError::Handshake {
            party,
            reason: reason.to_string(),
        }
    }

    /// The transport's own error, if this is a transport failure of type `E`.
    ///
    /// ```
    /// use channel_core::transport::TransportError;
    /// use channel_seal::SealError;
    ///
    /// let e = SealError::Transport { party: 1, source: Box::new(TransportError::Closed { party: 1 }) };
    /// assert_eq!(e.transport_error::<TransportError>(), Some(&TransportError::Closed { party: 1 }));
    /// ```
    pub fn transport_error<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            SealError::Transport { source, .. } => source.downcast_ref(),
            _ => None,
        }
    }
}

impl From<SealError> for channel_core::Error {
    fn from(e: SealError) -> Self {
        channel_core::Error::Transport {
            party: e.party(),
            source: Box::new(e),
        }
    }
}

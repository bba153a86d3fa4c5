//! What both forms of the per-peer halves (`api/split.rs`) share.

use crate::Error;
use crate::transport::{TransportError, check_peer};

/// The limits a half keeps from its channel, for the helpers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) chunk_size: usize,
    pub(crate) max_message_size: usize,
}

/// What a half seen as a whole channel answers in the direction it does not
/// have. The helpers never ask it: they are handed the half's own direction.
#[derive(Debug, thiserror::Error)]
#[error("a half of a split channel only works in its own direction")]
pub struct WrongDirection;

/// The error of [`Shared`](crate::asynchronous::Shared) used as a `Channel`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HalfError<E: std::error::Error + 'static> {
    /// The party index is this party's own or out of range.
    #[error("{0}")]
    BadParty(#[source] TransportError),
    /// The transport's half failed.
    #[error("{0}")]
    Transport(#[source] E),
    /// The chunk is larger than the channel's chunk size and frame footer
    /// ([`TransportError::ChunkTooLarge`]).
    #[error("{0}")]
    TooLarge(#[source] TransportError),
}

/// The half in `halves` for peer `p`, or why there is none.
pub(crate) fn half_mut<L, E: std::error::Error + 'static>(
    halves: &mut [Option<L>],
    me: usize,
    p: usize,
) -> Result<&mut L, HalfError<E>> {
    check_peer(me, p, halves.len()).map_err(HalfError::BadParty)?;
    halves
        .get_mut(p)
        .and_then(Option::as_mut)
        .ok_or(HalfError::BadParty(TransportError::Closed { party: p }))
}

/// A bad party index given to a `Shared` method.
pub(crate) fn bad_party(p: usize, e: TransportError) -> Error {
    Error::Transport {
        party: Some(p),
        source: Box::new(e),
    }
}

/// A peer whose half the transport did not hand over (it has no link to it).
pub(crate) fn no_half(p: usize) -> Error {
    bad_party(p, TransportError::Closed { party: p })
}

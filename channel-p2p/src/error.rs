//! The error type of `channel-p2p`.

pub use channel_core::transport::TransportError;

/// Why a peer-to-peer operation failed: channel-link's
/// [`MeshError`](channel_link::error::MeshError), shared with channel-tcp
/// (set-up, a lost or misbehaving peer, or a [`TransportError`] every
/// transport has). Clone, so that a link's failure is reported to every later
/// call that concerns that peer.
pub type P2pError = channel_link::error::MeshError;

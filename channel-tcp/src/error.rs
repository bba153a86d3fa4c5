//! The error type of `channel-tcp`.

pub use channel_core::transport::TransportError;

/// Why a TCP operation failed: channel-link's [`MeshError`](channel_link::error::MeshError),
/// shared with channel-p2p (set-up, a lost or misbehaving peer, or a
/// [`TransportError`] every transport has). Clone, so that a link's failure is
/// reported to every later call that concerns that peer.
pub type TcpError = channel_link::error::MeshError;

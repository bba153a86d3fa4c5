//! Limits and timeouts of a TCP party.

use std::time::Duration;

use channel_core::transport::liveness::KeepAlive;

/// The default chunk size of TCP links: 1 MiB. Smaller than channel-core's
/// default (4 MiB), because a sender's window of a few chunks then stays in
/// the processor's caches and the allocator reuses the buffers; on this
/// workspace's benchmark machine 16 MiB messages cross twice as fast with
/// 1 MiB chunks in an 8 MiB window as with 4 MiB chunks in 32 MiB.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 20;

/// The default window of TCP links (`max_outbound_bytes`): 8 MiB, above the
/// bandwidth-delay product of most paths plus a chunk (a 1 Gbit/s path with a
/// 50 ms round trip needs 6 MiB), and about what Linux lets a TCP socket
/// buffer by default (`net.ipv4.tcp_wmem`).
pub const DEFAULT_MAX_OUTBOUND: usize = 8 << 20;

/// Limits and timeouts of a TCP party; every field has a default.
///
/// ```
/// use std::time::Duration;
/// use channel_tcp::TcpOptions;
///
/// let options = TcpOptions { connect_timeout: Duration::from_secs(60), ..TcpOptions::default() };
/// assert_eq!(options.chunk_size, channel_tcp::DEFAULT_CHUNK_SIZE);
/// ```
#[derive(Debug, Clone)]
pub struct TcpOptions {
    /// How long [`TcpNode::connect`](crate::TcpNode::connect) waits for all peers.
    pub connect_timeout: Duration,
    /// How long a dropped connection may take to come back before the peer is lost.
    pub reconnect_timeout: Duration,
    /// How long a receive waits for a message, and a send for room in the
    /// outbound budget (`max_outbound_bytes`).
    pub recv_timeout: Duration,
    /// Largest chunk payload (the helpers split messages to fit; frames beyond
    /// are refused, so every party must use the same value). 1 MiB by default.
    pub chunk_size: usize,
    /// Bytes sent to one peer and not yet acknowledged, at most (the window
    /// that keeps a fast sender's memory bounded). A send beyond it waits for
    /// acknowledgements, at most `recv_timeout`; a single chunk larger than the
    /// whole budget fails at once with `TransportError::QueueFull`. Keep it above the path's
    /// bandwidth-delay product plus a chunk: raise it for long fast paths
    /// (e.g. 30 MiB for 2 Gbit/s over a 100 ms round trip), together with the
    /// kernel's TCP buffer limits.
    pub max_outbound_bytes: usize,
    /// Bytes received from one peer and not yet read by the application (1 GiB,
    /// one largest message, by default); beyond it the link stops reading and
    /// the peer's sender is held back.
    pub max_inbound_bytes: usize,
    /// The largest message the `channel_core` helpers send or accept.
    pub max_message_size: usize,
    /// Keepalives on quiet connections, and when a silent one counts as dead
    /// (5 s and 20 s by default): a silent connection is dropped and
    /// re-established; a peer unreachable beyond `reconnect_timeout` fails
    /// every call on it with [`TcpError::PeerLost`](crate::TcpError::PeerLost).
    /// So a dead path is reported within `keepalive.timeout + reconnect_timeout`.
    pub keepalive: KeepAlive,
    /// How long an incoming connection may take to complete its TLS handshake.
    pub handshake_timeout: Duration,
    /// Incoming connections in their TLS handshake at once, at most (what a
    /// stranger can make a party hold); beyond it new ones are closed.
    pub max_pending_handshakes: usize,
}

impl Default for TcpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(300),
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_outbound_bytes: DEFAULT_MAX_OUTBOUND,
            max_inbound_bytes: channel_link::app::DEFAULT_MAX_INBOUND,
            max_message_size: channel_core::DEFAULT_MAX_MESSAGE_SIZE,
            keepalive: KeepAlive::DEFAULT,
            handshake_timeout: Duration::from_secs(10),
            max_pending_handshakes: 64,
        }
    }
}

//! Per-peer halves of a [`TcpChannel`]: channel-link's halves over each
//! peer's link.

use std::sync::Arc;

use channel_core::asynchronous::{Peers, Split};
use channel_link::halves::{self, HalfLimits, LinkReceiver, LinkSender};

use crate::{TcpChannel, TcpError};

/// Sends to one peer: a half of [`TcpChannel::split`](Split::split). A send
/// returns once queued within the peer's outbound budget; `flush` waits for
/// the peer's acknowledgements.
pub type TcpSender = LinkSender<TcpError>;

/// Receives from one peer: a half of [`TcpChannel::split`](Split::split).
pub type TcpReceiver = LinkReceiver<TcpError>;

/// One sender and one receiver per peer, usable at the same time. The peer
/// hears this party's goodbye once both halves towards it are dropped.
impl Split for TcpChannel {
    type Sender = TcpSender;
    type Receiver = TcpReceiver;

    fn split(self) -> Peers<TcpSender, TcpReceiver> {
        let me = self.party();
        let (peers, options, accepting) = self.into_parts();
        let limits = HalfLimits {
            chunk_size: options.chunk_size,
            max_message_size: options.max_message_size,
            recv_timeout: options.recv_timeout,
        };
        // The accept loop serves the peers' reconnections while any half lives.
        halves::split(me, peers, limits, Arc::new(accepting))
    }
}

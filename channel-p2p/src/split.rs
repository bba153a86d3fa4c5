//! Per-peer halves of a [`P2pChannel`]: channel-link's halves over each
//! peer's lanes.

use std::sync::Arc;

use channel_core::asynchronous::{Peers, Split};
use channel_link::halves::{self, HalfLimits, LinkReceiver, LinkSender};

use crate::{P2pChannel, P2pError};

/// Sends to one peer: a half of [`P2pChannel::split`](Split::split). A send
/// returns once queued within the peer's outbound budget; `flush` waits for
/// the peer's acknowledgements.
pub type P2pSender = LinkSender<P2pError>;

/// Receives from one peer: a half of [`P2pChannel::split`](Split::split).
pub type P2pReceiver = LinkReceiver<P2pError>;

/// One sender and one receiver per peer, usable at the same time. The peer
/// hears this party's goodbye once both halves towards it are dropped.
impl Split for P2pChannel {
    type Sender = P2pSender;
    type Receiver = P2pReceiver;

    fn split(self) -> Peers<P2pSender, P2pReceiver> {
        let me = self.party();
        let (peers, options, drivers) = self.into_parts();
        let limits = HalfLimits {
            chunk_size: options.chunk_size,
            max_message_size: options.max_message_size,
            recv_timeout: options.recv_timeout,
        };
        // The swarms run while any half holds their command queues.
        halves::split(me, peers, limits, Arc::new(drivers))
    }
}

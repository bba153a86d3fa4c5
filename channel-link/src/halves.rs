//! Per-peer halves of a link transport (`channel-tcp`, `channel-p2p`): each
//! peer's links already run on their own tasks, so a half is that peer's
//! [`PeerSend`] or [`PeerRecv`] behind channel-core's half traits.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use channel_core::asynchronous::{PeerReceiver, PeerSender, Peers};
use channel_core::{RecvInfo, SendInfo};

use crate::app::{LinkError, PeerLinks, PeerRecv, PeerSend};

/// What a transport's halves keep alive while any of them lives (its accept
/// loop, its swarms' command queues).
pub type KeepAlive = Arc<dyn Any + Send + Sync>;

/// The limits a link transport's halves send and receive with.
#[derive(Debug, Clone, Copy)]
pub struct HalfLimits {
    /// The helpers' chunk size (a sent chunk may add the frame footer).
    pub chunk_size: usize,
    /// The largest message the helpers send or accept.
    pub max_message_size: usize,
    /// How long a receive, a send waiting for room, or a flush waits.
    pub recv_timeout: Duration,
}

/// Sends to one peer. A send returns once queued within the peer's outbound
/// budget; `flush` waits for the peer's acknowledgements.
pub struct LinkSender<E> {
    peer: usize,
    links: PeerSend<E>,
    limits: HalfLimits,
    _keep: KeepAlive,
}

/// Receives from one peer.
pub struct LinkReceiver<E> {
    peer: usize,
    links: PeerRecv<E>,
    limits: HalfLimits,
    _keep: KeepAlive,
}

impl<E> std::fmt::Debug for LinkSender<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSender")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<E> std::fmt::Debug for LinkReceiver<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkReceiver")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

/// Party `me`'s halves over each peer's links (`None` where it has none).
/// The peer hears the goodbye once both halves towards it are dropped.
pub fn split<E: LinkError>(
    me: usize,
    peers: Vec<Option<PeerLinks<E>>>,
    limits: HalfLimits,
    keep: KeepAlive,
) -> Peers<LinkSender<E>, LinkReceiver<E>> {
    let parties = peers.len();
    let halves = peers
        .into_iter()
        .enumerate()
        .filter_map(|(peer, links)| Some((peer, links?)))
        .map(|(peer, links)| {
            let (send, recv) = links.into_halves();
            let sender = LinkSender {
                peer,
                links: send,
                limits,
                _keep: keep.clone(),
            };
            let receiver = LinkReceiver {
                peer,
                links: recv,
                limits,
                _keep: keep.clone(),
            };
            (peer, sender, receiver)
        });
    Peers::new(
        me,
        parties,
        limits.chunk_size,
        limits.max_message_size,
        halves,
    )
}

impl<E> PeerSender for LinkSender<E>
where
    E: LinkError + std::error::Error + Send + Sync + 'static,
{
    type Error = E;

    async fn send_chunk(&mut self, msg: Vec<u8>, _info: SendInfo) -> Result<(), E> {
        let limit = self.limits.chunk_size + channel_core::frame::FOOTER_LEN;
        let after = self.limits.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.links
            .send(self.peer, msg, limit, deadline, after)
            .await
    }

    async fn flush(&mut self) -> Result<(), E> {
        let after = self.limits.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.links.flush(self.peer, deadline, after).await
    }

    fn chunk_buffer(&mut self, capacity: usize) -> Vec<u8> {
        self.links.chunk_buffer(capacity)
    }
}

impl<E> PeerReceiver for LinkReceiver<E>
where
    E: LinkError + std::error::Error + Send + Sync + 'static,
{
    type Error = E;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, E> {
        self.links
            .recv(self.peer, self.limits.recv_timeout, &info)
            .await
    }

    fn recycle(&mut self, buf: Vec<u8>) {
        self.links.recycle(buf)
    }
}

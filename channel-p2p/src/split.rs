//! Per-peer halves of a [`P2pChannel`]: each peer's lanes already run on
//! their own tasks, so a half is that peer's sending or receiving part.

use std::sync::Arc;

use channel_core::asynchronous::{PeerReceiver, PeerSender, Peers, Split};
use channel_core::{RecvInfo, SendInfo};
use channel_link::app::{PeerRecv, PeerSend};
use tokio::sync::mpsc;

use crate::swarm::Command;
use crate::{P2pChannel, P2pError, P2pOptions};

/// What keeps the swarms running while any half is alive.
type Drivers = Arc<Vec<mpsc::UnboundedSender<Command>>>;

/// Sends to one peer: a half of [`P2pChannel::split`](Split::split). A send
/// returns once queued within the peer's outbound budget; `flush` waits for
/// the peer's acknowledgements.
#[derive(Debug)]
pub struct P2pSender {
    peer: usize,
    links: PeerSend<P2pError>,
    options: P2pOptions,
    _drivers: Drivers,
}

/// Receives from one peer: a half of [`P2pChannel::split`](Split::split).
#[derive(Debug)]
pub struct P2pReceiver {
    peer: usize,
    links: PeerRecv<P2pError>,
    options: P2pOptions,
    _drivers: Drivers,
}

/// One sender and one receiver per peer, usable at the same time. The peer
/// hears this party's goodbye once both halves towards it are dropped.
impl Split for P2pChannel {
    type Sender = P2pSender;
    type Receiver = P2pReceiver;

    fn split(self) -> Peers<P2pSender, P2pReceiver> {
        let (me, parties) = (self.party(), self.parties());
        let (peers, options, drivers) = self.into_parts();
        let drivers: Drivers = Arc::new(drivers);
        let halves = peers
            .into_iter()
            .enumerate()
            .filter_map(|(peer, links)| Some((peer, links?)))
            .map(|(peer, links)| {
                let (send, recv) = links.into_halves();
                let sender = P2pSender {
                    peer,
                    links: send,
                    options: options.clone(),
                    _drivers: drivers.clone(),
                };
                let receiver = P2pReceiver {
                    peer,
                    links: recv,
                    options: options.clone(),
                    _drivers: drivers.clone(),
                };
                (peer, sender, receiver)
            });
        Peers::new(
            me,
            parties,
            options.chunk_size,
            options.max_message_size,
            halves,
        )
    }
}

impl PeerSender for P2pSender {
    type Error = P2pError;

    async fn send_chunk(&mut self, msg: Vec<u8>, _info: SendInfo) -> Result<(), P2pError> {
        let limit = self.options.chunk_size + channel_core::frame::FOOTER_LEN;
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.links
            .send(self.peer, msg, limit, deadline, after)
            .await
    }

    async fn flush(&mut self) -> Result<(), P2pError> {
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.links.flush(self.peer, deadline, after).await
    }
}

impl PeerReceiver for P2pReceiver {
    type Error = P2pError;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, P2pError> {
        self.links
            .recv(self.peer, self.options.recv_timeout, &info)
            .await
    }
}

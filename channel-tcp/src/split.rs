//! Per-peer halves of a [`TcpChannel`]: each peer's link already runs on its
//! own tasks, so a half is that peer's sending or receiving part.

use std::sync::Arc;

use channel_core::asynchronous::{PeerReceiver, PeerSender, Peers, Split};
use channel_core::{RecvInfo, SendInfo};
use channel_link::app::{PeerRecv, PeerSend};
use tokio::task::JoinHandle;

use crate::{TcpChannel, TcpError, TcpOptions};

/// Sends to one peer: a half of [`TcpChannel::split`](Split::split). A send
/// returns once queued within the peer's outbound budget; `flush` waits for
/// the peer's acknowledgements.
#[derive(Debug)]
pub struct TcpSender {
    peer: usize,
    links: PeerSend<TcpError>,
    options: TcpOptions,
    _accepting: Arc<JoinHandle<()>>,
}

/// Receives from one peer: a half of [`TcpChannel::split`](Split::split).
#[derive(Debug)]
pub struct TcpReceiver {
    peer: usize,
    links: PeerRecv<TcpError>,
    options: TcpOptions,
    _accepting: Arc<JoinHandle<()>>,
}

/// One sender and one receiver per peer, usable at the same time. The peer
/// hears this party's goodbye once both halves towards it are dropped.
impl Split for TcpChannel {
    type Sender = TcpSender;
    type Receiver = TcpReceiver;

    fn split(self) -> Peers<TcpSender, TcpReceiver> {
        let (me, parties) = (self.party(), self.parties());
        let (peers, options, accepting) = self.into_parts();
        let accepting = Arc::new(accepting);
        let halves = peers
            .into_iter()
            .enumerate()
            .filter_map(|(peer, links)| Some((peer, links?)))
            .map(|(peer, links)| {
                let (send, recv) = links.into_halves();
                let sender = TcpSender {
                    peer,
                    links: send,
                    options: options.clone(),
                    _accepting: accepting.clone(),
                };
                let receiver = TcpReceiver {
                    peer,
                    links: recv,
                    options: options.clone(),
                    _accepting: accepting.clone(),
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

impl PeerSender for TcpSender {
    type Error = TcpError;

    async fn send_chunk(&mut self, msg: Vec<u8>, _info: SendInfo) -> Result<(), TcpError> {
        let limit = self.options.chunk_size + channel_core::frame::FOOTER_LEN;
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.links
            .send(self.peer, msg, limit, deadline, after)
            .await
    }

    async fn flush(&mut self) -> Result<(), TcpError> {
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.links.flush(self.peer, deadline, after).await
    }
}

impl PeerReceiver for TcpReceiver {
    type Error = TcpError;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, TcpError> {
        self.links
            .recv(self.peer, self.options.recv_timeout, &info)
            .await
    }
}

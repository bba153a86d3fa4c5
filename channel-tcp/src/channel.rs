//! `TcpChannel`: the application's side of the links to every peer.

use channel_core::transport::{TransportError, check_peer};
use channel_core::{Channel, RecvInfo, SendInfo};
use channel_link::app::PeerLinks;
use tokio::task::JoinHandle;

use crate::{TcpError, TcpOptions};

/// One party connected to all others over TLS, implementing the async
/// [`Channel`]. Built by [`TcpNode::connect`](crate::TcpNode::connect).
///
/// A send returns once the chunk is queued, before the peer has it. Call
/// [`flush`](Self::flush) before the party's work ends: it waits until every
/// peer acknowledged everything sent.
pub struct TcpChannel {
    me: usize,
    peers: Vec<Option<PeerLinks<TcpError>>>,
    options: TcpOptions,
    /// Accepts the peers' reconnections for as long as their links run (the
    /// links finish on their own once the channel is dropped: BYE after
    /// everything is acknowledged).
    _accepting: JoinHandle<()>,
}

impl std::fmt::Debug for TcpChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpChannel")
            .field("party", &self.me)
            .field("parties", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl TcpChannel {
    pub(crate) fn new(
        me: usize,
        peers: Vec<Option<PeerLinks<TcpError>>>,
        options: TcpOptions,
        accepting: JoinHandle<()>,
    ) -> Self {
        Self {
            me,
            peers,
            options,
            _accepting: accepting,
        }
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.me
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.peers.len()
    }

    /// How many times the connection to `party` was re-established after a drop.
    pub fn reconnects(&self, party: usize) -> usize {
        self.peer(party).map(PeerLinks::reconnects).unwrap_or(0)
    }

    /// Waits until every peer has acknowledged every chunk sent so far, at most
    /// [`TcpOptions::recv_timeout`]. Fails with the link's error when a peer is
    /// lost, or with [`TransportError::Timeout`] naming the first peer that
    /// still has unacknowledged data.
    pub async fn flush(&self) -> Result<(), TcpError> {
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        for (party, peer) in self.peers.iter().enumerate() {
            if let Some(peer) = peer {
                peer.flush(party, deadline, after).await?;
            }
        }
        Ok(())
    }

    /// The peers' links, the options and the accepting task, for `split`.
    pub(crate) fn into_parts(
        self,
    ) -> (Vec<Option<PeerLinks<TcpError>>>, TcpOptions, JoinHandle<()>) {
        (self.peers, self.options, self._accepting)
    }

    fn peer(&self, p: usize) -> Result<&PeerLinks<TcpError>, TcpError> {
        check_peer(self.me, p, self.peers.len())?;
        self.peers
            .get(p)
            .and_then(Option::as_ref)
            .ok_or(TcpError::Transport(TransportError::Closed { party: p }))
    }

    fn peer_mut(&mut self, p: usize) -> Result<&mut PeerLinks<TcpError>, TcpError> {
        check_peer(self.me, p, self.peers.len())?;
        self.peers
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or(TcpError::Transport(TransportError::Closed { party: p }))
    }
}

impl Channel for TcpChannel {
    type SendError = TcpError;
    type RecvError = TcpError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        _info: SendInfo,
    ) -> Result<(), TcpError> {
        let limit = self.options.chunk_size + channel_core::frame::FOOTER_LEN;
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.peer_mut(p)?.send(p, msg, limit, deadline, after).await
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, TcpError> {
        let after = self.options.recv_timeout;
        self.peer_mut(p)?.recv(p, after, &info).await
    }

    /// See [`TcpChannel::flush`]: waits until every peer acknowledged everything.
    async fn flush(&mut self) -> Result<(), TcpError> {
        TcpChannel::flush(self).await
    }

    fn chunk_size(&self) -> usize {
        self.options.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.options.max_message_size
    }

    /// The memory of an acknowledged or consumed chunk of `p`'s link when one
    /// fits (see [`Channel::chunk_buffer`]).
    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        match self.peer(p) {
            Ok(links) => links.chunk_buffer(capacity),
            Err(_) => Vec::with_capacity(capacity),
        }
    }

    /// Keeps `buf` for a later chunk of `p`'s link (see [`Channel::recycle`]).
    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        if let Ok(links) = self.peer(p) {
            links.recycle(buf);
        }
    }
}

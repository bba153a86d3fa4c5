//! `P2pChannel`: the application's side of the links to every peer.

use std::sync::atomic::Ordering;
use std::time::Duration;

use channel_core::transport::check_peer;
use channel_core::{Channel, RecvInfo, SendInfo};
use libp2p::PeerId;
use tokio::sync::mpsc;

use crate::link::Shared;
use crate::node::Command;
use crate::{P2pError, TransportError};

/// Limits and timeouts of a peer-to-peer party; every field has a default.
#[derive(Debug, Clone)]
pub struct P2pOptions {
    /// How long [`P2pNode::connect`](crate::P2pNode::connect) waits for all peers.
    pub connect_timeout: Duration,
    /// How long a dropped connection may take to come back before the peer is lost.
    pub reconnect_timeout: Duration,
    /// How long a receive waits for a message.
    pub recv_timeout: Duration,
    /// Largest chunk payload (the helpers split messages to fit; frames beyond are refused).
    pub chunk_size: usize,
    /// Bytes sent to one peer and not yet acknowledged, at most; a send beyond
    /// fails at once with [`TransportError::QueueFull`].
    pub max_outbound_bytes: usize,
    /// Bytes received from one peer and not yet read by the application; beyond
    /// it the link stops reading and the peer's sends queue up on its side.
    pub max_inbound_bytes: usize,
    /// The largest message the `channel_core` helpers send or accept.
    pub max_message_size: usize,
}

impl Default for P2pOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(300),
            chunk_size: channel_core::DEFAULT_CHUNK_SIZE,
            max_outbound_bytes: 1 << 30,
            max_inbound_bytes: 256 << 20,
            max_message_size: channel_core::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// The application's handles on one peer's link.
pub(crate) struct Peer {
    pub(crate) peer_id: PeerId,
    pub(crate) to_link: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) from_link: mpsc::UnboundedReceiver<Vec<u8>>,
    pub(crate) shared: Shared,
}

/// One party connected to all others over libp2p, implementing the async
/// [`Channel`]. Built by [`P2pNode::connect`](crate::P2pNode::connect).
///
/// A send returns once the chunk is queued, before the peer has it. Call
/// [`close`](Self::close) (or [`flush`](Self::flush)) before the party's work
/// ends: it waits until every peer acknowledged everything sent. Merely
/// dropping the channel lets the links finish in the background only for as
/// long as the tokio runtime keeps running; a runtime that shuts down right
/// after (e.g. the end of `#[tokio::main]`) would lose the last sends.
pub struct P2pChannel {
    me: usize,
    peers: Vec<Option<Peer>>,
    options: P2pOptions,
    driver: mpsc::UnboundedSender<Command>,
}

impl std::fmt::Debug for P2pChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pChannel")
            .field("party", &self.me)
            .field("parties", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl P2pChannel {
    pub(crate) fn new(
        me: usize,
        peers: Vec<Option<Peer>>,
        options: P2pOptions,
        driver: mpsc::UnboundedSender<Command>,
    ) -> Self {
        Self {
            me,
            peers,
            options,
            driver,
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

    /// Closes the current connection to `party` (fault injection for tests and
    /// drills): the link re-establishes it and resends what was not acknowledged.
    pub fn disconnect(&self, party: usize) -> Result<(), P2pError> {
        let peer = self.peer(party)?;
        self.driver
            .send(Command::Disconnect(peer.peer_id))
            .map_err(|_| P2pError::PeerLost {
                party,
                reason: "the swarm has stopped".into(),
            })
    }

    /// How many times the stream to `party` was re-established after a drop.
    pub fn reconnects(&self, party: usize) -> usize {
        self.peer(party)
            .map(|peer| {
                peer.shared
                    .sessions
                    .load(Ordering::Acquire)
                    .saturating_sub(1)
            })
            .unwrap_or(0)
    }

    /// Waits until every peer has acknowledged every chunk sent so far, at most
    /// [`P2pOptions::recv_timeout`]. Fails with the link's error when a peer is
    /// lost, or with [`TransportError::Timeout`] naming the first peer that
    /// still has unacknowledged data.
    pub async fn flush(&self) -> Result<(), P2pError> {
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        for (party, peer) in self.peers.iter().enumerate() {
            let Some(peer) = peer else { continue };
            // Bounded by the deadline: each pass waits for progress or gives up.
            loop {
                let progress = peer.shared.progress.notified();
                tokio::pin!(progress);
                // Register before checking, so no acknowledgement slips between.
                progress.as_mut().enable();
                if peer.shared.outbound.queued() == 0 {
                    break;
                }
                if let Some(e) = peer.shared.failure() {
                    return Err(e);
                }
                if tokio::time::timeout_at(deadline, progress).await.is_err() {
                    return Err(TransportError::Timeout {
                        party,
                        after,
                        waiting_for: format!(
                            "acknowledgement of {} bytes sent to it",
                            peer.shared.outbound.queued()
                        ),
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// [`flush`](Self::flush)es, then closes every link (each says goodbye to
    /// its peer in the background). The way to end a party's work.
    pub async fn close(self) -> Result<(), P2pError> {
        self.flush().await
    }

    fn peer(&self, p: usize) -> Result<&Peer, P2pError> {
        check_peer(self.me, p, self.peers.len())?;
        self.peers
            .get(p)
            .and_then(Option::as_ref)
            .ok_or(P2pError::Transport(TransportError::Closed { party: p }))
    }

    fn lost(shared: &Shared, party: usize) -> P2pError {
        shared.failure().unwrap_or(P2pError::PeerLost {
            party,
            reason: "the link ended".into(),
        })
    }
}

impl Channel for P2pChannel {
    type SendError = P2pError;
    type RecvError = P2pError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        _info: SendInfo,
    ) -> Result<(), P2pError> {
        let peer = self.peer(p)?;
        if let Some(e) = peer.shared.failure() {
            return Err(e);
        }
        if msg.len() > self.options.chunk_size + channel_core::frame::FOOTER_LEN {
            return Err(P2pError::Setup(format!(
                "a chunk of {} bytes exceeds the chunk size of {}",
                msg.len(),
                self.options.chunk_size
            )));
        }
        let len = msg.len();
        peer.shared.outbound.reserve(p, len)?;
        peer.to_link.send(msg).map_err(|_| {
            peer.shared.outbound.release(len);
            Self::lost(&peer.shared, p)
        })
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, P2pError> {
        check_peer(self.me, p, self.peers.len())?;
        let after = self.options.recv_timeout;
        let peer = self
            .peers
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or(P2pError::Transport(TransportError::Closed { party: p }))?;
        match tokio::time::timeout(after, peer.from_link.recv()).await {
            Ok(Some(msg)) => {
                peer.shared.inbound.fetch_sub(msg.len(), Ordering::AcqRel);
                peer.shared.inbound_space.notify_one();
                Ok(msg)
            }
            Ok(None) => Err(Self::lost(&peer.shared, p)),
            Err(_) => Err(TransportError::timeout(p, after, &info).into()),
        }
    }

    /// See [`P2pChannel::flush`]: waits until every peer acknowledged everything.
    async fn flush(&mut self) -> Result<(), P2pError> {
        P2pChannel::flush(self).await
    }

    fn chunk_size(&self) -> usize {
        self.options.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.options.max_message_size
    }
}

//! `P2pChannel`: the application's side of the links to every peer.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use channel_core::transport::check_peer;
use channel_core::{Channel, RecvInfo, SendInfo};
use libp2p::PeerId;
use tokio::sync::mpsc;

use crate::shared::Shared;
use crate::swarm::Command;
use crate::{P2pError, TransportError};
use channel_link::app::PeerLinks;

/// The default window of p2p links (`max_outbound_bytes`): 16 MiB, well
/// above the bandwidth-delay product of the WAN paths measured here, and
/// small enough that a streamed message of any size crosses with less than
/// 64 MiB of memory beside it (with 32 MiB it took 69 MiB).
pub const DEFAULT_MAX_OUTBOUND: usize = 16 << 20;

/// Limits and timeouts of a peer-to-peer party; every field has a default.
///
/// ```
/// use std::time::Duration;
/// use channel_p2p::P2pOptions;
///
/// let options = P2pOptions {
///     connect_timeout: Duration::from_secs(60),
///     lanes: 4, // every party must use the same number
///     ..P2pOptions::default()
/// };
/// assert_eq!(options.chunk_size, channel_core::DEFAULT_CHUNK_SIZE);
/// ```
#[derive(Debug, Clone)]
pub struct P2pOptions {
    /// How long [`P2pNode::connect`](crate::P2pNode::connect) waits for all peers.
    pub connect_timeout: Duration,
    /// How long a dropped connection may take to come back before the peer is lost.
    pub reconnect_timeout: Duration,
    /// How long a receive waits for a message, and a send for room in the
    /// outbound budget (`max_outbound_bytes`).
    pub recv_timeout: Duration,
    /// Largest chunk payload (the helpers split messages to fit; frames beyond are refused).
    pub chunk_size: usize,
    /// Bytes sent to one peer and not yet acknowledged, at most (the window
    /// that keeps a fast sender's memory bounded). A send beyond it waits for
    /// acknowledgements, at most `recv_timeout`; a single chunk larger than the
    /// whole budget fails at once with [`TransportError::QueueFull`]. Keep it above the path's
    /// bandwidth-delay product (2 MB for 100 Mbit/s over a 150 ms round trip).
    pub max_outbound_bytes: usize,
    /// Bytes received from one peer and not yet read by the application (1 GiB,
    /// one largest message, by default); beyond it the link stops reading and
    /// the peer's sender is held back.
    pub max_inbound_bytes: usize,
    /// The largest message the `channel_core` helpers send or accept.
    pub max_message_size: usize,
    /// Connections ("lanes") per pair of parties, 1 (the default) to
    /// [`MAX_LANES`](crate::MAX_LANES); every party must use the same number.
    /// Chunks are dealt to the lanes in turn and collected in the same turn, so
    /// order and exactly-once hold. One connection's Noise and Yamux work runs
    /// on one task; more lanes spread it over more cores and TCP windows, for
    /// hosts with cores to spare and long paths (on a 2-core host running both
    /// parties they measure little or no faster; see the crate README). The
    /// accepting party takes every lane on its one listen address: no extra ports.
    pub lanes: usize,
    /// Keepalives on quiet connections, and when a silent one counts as dead
    /// (5 s and 20 s by default). A connection that goes silent (a stalled
    /// path, a NAT that forgot it) is dropped after `keepalive.timeout` and
    /// the link reconnects; if the peer cannot be reached again within
    /// `reconnect_timeout`, every operation on it fails with
    /// [`P2pError::PeerLost`](crate::P2pError::PeerLost) naming the peer. So a
    /// dead path is reported within `keepalive.timeout + reconnect_timeout`
    /// (50 s by default), whatever the receive timeout.
    pub keepalive: channel_core::transport::liveness::KeepAlive,
}

impl Default for P2pOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            reconnect_timeout: Duration::from_secs(30),
            recv_timeout: Duration::from_secs(300),
            chunk_size: channel_core::DEFAULT_CHUNK_SIZE,
            max_outbound_bytes: DEFAULT_MAX_OUTBOUND,
            max_inbound_bytes: channel_link::app::DEFAULT_MAX_INBOUND,
            max_message_size: channel_core::DEFAULT_MAX_MESSAGE_SIZE,
            lanes: DEFAULT_LANES,
            keepalive: channel_core::transport::liveness::KeepAlive::DEFAULT,
        }
    }
}

/// Lanes per pair of parties unless set otherwise.
const DEFAULT_LANES: usize = 1;

pub(crate) use channel_link::app::Lane;

/// What a channel is made of: each peer's links, the options, the swarms' command queues.
pub(crate) type Parts = (
    Vec<Option<PeerLinks<P2pError>>>,
    P2pOptions,
    Vec<mpsc::UnboundedSender<Command>>,
);

/// The application's handles on one peer's lanes.
pub(crate) struct Peer {
    peer_id: PeerId,
    links: PeerLinks<P2pError>,
    /// Open connections to the peer, kept up to date by the swarm drivers.
    connections: Arc<AtomicUsize>,
}

impl Peer {
    pub(crate) fn new(
        peer_id: PeerId,
        shared: Shared,
        lanes: Vec<Lane>,
        connections: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            peer_id,
            links: PeerLinks::new(shared, lanes),
            connections,
        }
    }
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
    /// One per swarm of this party; they keep the swarms running.
    drivers: Vec<mpsc::UnboundedSender<Command>>,
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
        drivers: Vec<mpsc::UnboundedSender<Command>>,
    ) -> Self {
        Self {
            me,
            peers,
            options,
            drivers,
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

    /// Closes the current connections to `party`, every lane (fault injection
    /// for tests and drills): the links re-establish them and resend what was
    /// not acknowledged.
    pub fn disconnect(&self, party: usize) -> Result<(), P2pError> {
        let peer = self.peer(party)?;
        for driver in &self.drivers {
            driver
                .send(Command::Disconnect(peer.peer_id))
                .map_err(|_| P2pError::lost(party, "the swarm has stopped"))?;
        }
        Ok(())
    }

    /// Closes only lane `lane`'s connection to `party` (a drill, like
    /// [`disconnect`](Self::disconnect)): that lane re-establishes it while the
    /// others carry on. Only the lower-numbered party of the two holds each
    /// lane on a connection of its own, so only it can; the other gets
    /// [`P2pError::Setup`].
    pub fn disconnect_lane(&self, party: usize, lane: usize) -> Result<(), P2pError> {
        let peer = self.peer(party)?;
        let lanes = peer.links.lanes();
        if party < self.me {
            return Err(P2pError::Setup(format!(
                "party {party} opens the lanes between us, so only it can cut one"
            )));
        }
        // The opener's lane j lives on its swarm j (see `wiring.rs`).
        let driver = self
            .drivers
            .get(lane)
            .filter(|_| lane < lanes)
            .ok_or_else(|| {
                P2pError::Setup(format!("there is no lane {lane}: {lanes} lane(s) per pair"))
            })?;
        driver
            .send(Command::Disconnect(peer.peer_id))
            .map_err(|_| P2pError::lost(party, "the swarm has stopped"))
    }

    /// How many times a stream to `party` was re-established after a drop,
    /// summed over its lanes.
    pub fn reconnects(&self, party: usize) -> usize {
        self.peer(party)
            .map(|peer| peer.links.reconnects())
            .unwrap_or(0)
    }

    /// How many connections to `party` are open right now: one per lane once
    /// connected (see [`P2pOptions::lanes`]), fewer while one is being
    /// re-established.
    pub fn connections(&self, party: usize) -> usize {
        self.peer(party)
            .map(|peer| peer.connections.load(Ordering::Acquire))
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
            if let Some(peer) = peer {
                peer.links.flush(party, deadline, after).await?;
            }
        }
        Ok(())
    }

    /// [`flush`](Self::flush)es, then closes every link (each says goodbye to
    /// its peer in the background). The way to end a party's work.
    pub async fn close(self) -> Result<(), P2pError> {
        self.flush().await
    }

    /// The peers' links, the options and the swarms' command queues, for `split`.
    pub(crate) fn into_parts(self) -> Parts {
        let links = self
            .peers
            .into_iter()
            .map(|peer| peer.map(|peer| peer.links))
            .collect();
        (links, self.options, self.drivers)
    }

    fn peer(&self, p: usize) -> Result<&Peer, P2pError> {
        check_peer(self.me, p, self.peers.len())?;
        self.peers
            .get(p)
            .and_then(Option::as_ref)
            .ok_or(P2pError::Transport(TransportError::Closed { party: p }))
    }

    fn peer_mut(&mut self, p: usize) -> Result<&mut Peer, P2pError> {
        check_peer(self.me, p, self.peers.len())?;
        self.peers
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or(P2pError::Transport(TransportError::Closed { party: p }))
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
        let limit = self.options.chunk_size + channel_core::frame::FOOTER_LEN;
        let after = self.options.recv_timeout;
        let deadline = tokio::time::Instant::now() + after;
        self.peer_mut(p)?
            .links
            .send(p, msg, limit, deadline, after)
            .await
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, P2pError> {
        let after = self.options.recv_timeout;
        self.peer_mut(p)?.links.recv(p, after, &info).await
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

    /// The memory of an acknowledged or consumed chunk of `p`'s link when one
    /// fits (see [`Channel::chunk_buffer`]).
    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        match self.peer(p) {
            Ok(peer) => peer.links.chunk_buffer(capacity),
            Err(_) => Vec::with_capacity(capacity),
        }
    }

    /// Keeps `buf` for a later chunk of `p`'s link (see [`Channel::recycle`]).
    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        if let Ok(peer) = self.peer(p) {
            peer.links.recycle(buf);
        }
    }
}

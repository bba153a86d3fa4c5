//! One libp2p swarm: TCP + Noise + Yamux, an allow-list of the table's peer
//! ids, libp2p-stream, and the task that drives it.
//!
//! A party has one main swarm (it listens, accepts every lane of the parties
//! numbered below it, and opens lane 0 to the parties above it) and, with more
//! than one lane, one dial-only swarm per further lane. libp2p-stream opens a
//! stream on a random connection to the peer, so pinning each lane to its own
//! connection takes a swarm of its own on the opening side. All of a party's
//! swarms share its key: every connection proves the same peer id.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::io::BufReader;
use libp2p::Transport;
use libp2p::core::upgrade;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, allow_block_list, noise, tcp, yamux};
use tokio::sync::{mpsc, watch};

use crate::{P2pError, PartyKey};

/// Bytes read from the socket at once. libp2p-noise asks for its input 8 KiB at
/// a time, so unbuffered a 16 MiB message costs some 2000 `recv` calls; reading
/// in large gulps raised 16 MiB throughput by roughly a fifth here (see
/// `cargo xtask bench --transports p2p`).
const SOCKET_READ_BUFFER: usize = 256 * 1024;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) streams: libp2p_stream::Behaviour,
}

/// Requests to the task that drives a swarm.
#[derive(Debug)]
pub(crate) enum Command {
    /// Dials the peer at these addresses unless connected or dialing already.
    Dial(PeerId, Vec<Multiaddr>),
    /// Closes every connection to the peer (fault injection; the links reconnect).
    Disconnect(PeerId),
}

/// A swarm with the party's identity, not yet listening or dialing.
pub(crate) fn build(key: &PartyKey) -> Result<Swarm<Behaviour>, P2pError> {
    Ok(libp2p::SwarmBuilder::with_existing_identity(key.0.clone())
        .with_tokio()
        .with_other_transport(|key| {
            let noise = noise::Config::new(key)?;
            let mut yamux = yamux::Config::default();
            yamux.set_max_num_streams(64);
            let tcp = tcp::tokio::Transport::new(tcp::Config::default().nodelay(true));
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                tcp.map(|socket, _| BufReader::with_capacity(SOCKET_READ_BUFFER, socket))
                    .upgrade(upgrade::Version::V1Lazy)
                    .authenticate(noise)
                    .multiplex(yamux),
            )
        })
        .map_err(|e| P2pError::Setup(format!("TCP/Noise/Yamux set-up failed: {e}")))?
        .with_behaviour(|_| Behaviour {
            allowed: allow_block_list::Behaviour::default(),
            streams: libp2p_stream::Behaviour::new(),
        })
        .map_err(|e| P2pError::Setup(format!("behaviour set-up failed: {e}")))?
        // Long computations have quiet phases: never close a connection for idleness.
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(365 * 24 * 3600)))
        .build())
}

/// What a swarm's driver reports about one peer.
#[derive(Default)]
pub(crate) struct PeerEvents {
    /// The watches of the links whose connections live on this swarm, bumped
    /// when the last connection to the peer closes, so that a link notices
    /// even when its stream is never woken (a local close).
    pub(crate) closed: Vec<watch::Sender<u64>>,
    /// Open connections to the peer, over all of the party's swarms.
    pub(crate) connections: Arc<AtomicUsize>,
}

/// Polls the swarm until every holder of a command sender (the channel and the
/// links on this swarm) is gone, then drops it, closing its connections.
pub(crate) async fn drive(
    mut swarm: Swarm<Behaviour>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    peers: HashMap<PeerId, PeerEvents>,
) {
    // Bounded by the lifetime of the channel and its links.
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    tracing::debug!(%peer_id, "connected");
                    if let Some(peer) = peers.get(&peer_id) {
                        peer.connections.fetch_add(1, Ordering::AcqRel);
                    }
                }
                SwarmEvent::ConnectionClosed { peer_id, cause, num_established, .. } => {
                    tracing::debug!(%peer_id, ?cause, num_established, "connection closed");
                    let Some(peer) = peers.get(&peer_id) else { continue };
                    peer.connections.fetch_sub(1, Ordering::AcqRel);
                    if num_established == 0 {
                        for closed in &peer.closed {
                            closed.send_modify(|n| *n += 1);
                        }
                    }
                }
                SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => tracing::debug!(?peer_id, %error, "dial failed"),
                SwarmEvent::IncomingConnectionError { error, .. } => tracing::debug!(%error, "incoming connection refused"),
                _ => {}
            },
            command = commands.recv() => match command {
                Some(Command::Dial(peer, addrs)) => {
                    let opts = DialOpts::peer_id(peer)
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .addresses(addrs)
                        .build();
                    if let Err(e) = swarm.dial(opts) {
                        tracing::debug!(%peer, %e, "dial not started");
                    }
                }
                Some(Command::Disconnect(peer)) => {
                    let _ = swarm.disconnect_peer_id(peer);
                }
                None => return,
            },
        }
    }
}

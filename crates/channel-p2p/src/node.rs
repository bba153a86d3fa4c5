//! The libp2p swarm of one party: TCP + Noise + Yamux, an allow-list of the
//! table's peer ids, and libp2p-stream for one long-lived stream per peer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use futures::StreamExt;
use futures::io::BufReader;
use libp2p::Transport;
use libp2p::core::upgrade;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, allow_block_list, noise, tcp, yamux};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::channel::{P2pChannel, Peer};
use crate::link::{Link, PROTOCOL, Shared};
use crate::{P2pError, P2pOptions, PartyKey, PartyTable};

/// Bytes read from the socket at once. libp2p-noise asks for its input 8 KiB at
/// a time, so unbuffered a 16 MiB message costs some 2000 `recv` calls; reading
/// in large gulps raised 16 MiB throughput by roughly a fifth here (see
/// `cargo xtask bench --transports p2p`).
const SOCKET_READ_BUFFER: usize = 256 * 1024;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    streams: libp2p_stream::Behaviour,
}

/// Requests to the task that drives the swarm.
#[derive(Debug)]
pub(crate) enum Command {
    /// Dials the peer at these addresses unless connected or dialing already.
    Dial(PeerId, Vec<Multiaddr>),
    /// Closes every connection to the peer (fault injection; the links reconnect).
    Disconnect(PeerId),
}

/// A party's libp2p node, listening but not yet connected to its peers.
///
/// Bind first (so the listen address, e.g. a port chosen by the OS, can go into
/// the party table), then [`connect`](Self::connect).
pub struct P2pNode {
    swarm: Swarm<Behaviour>,
    listen_addrs: Vec<Multiaddr>,
}

impl std::fmt::Debug for P2pNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2pNode")
            .field("peer_id", self.swarm.local_peer_id())
            .field("listen_addrs", &self.listen_addrs)
            .finish()
    }
}

impl P2pNode {
    /// Starts listening on `addr` (e.g. `/ip4/127.0.0.1/tcp/0`) with identity `key`.
    pub async fn bind(key: &PartyKey, addr: Multiaddr) -> Result<Self, P2pError> {
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key.0.clone())
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
            .with_swarm_config(|c| {
                c.with_idle_connection_timeout(Duration::from_secs(365 * 24 * 3600))
            })
            .build();
        swarm
            .listen_on(addr.clone())
            .map_err(|e| P2pError::Setup(format!("cannot listen on {addr}: {e}")))?;
        let listen_addrs = tokio::time::timeout(Duration::from_secs(10), async {
            // Bounded by the timeout around it.
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::NewListenAddr { address, .. } => return Ok(vec![address]),
                    SwarmEvent::ListenerError { error, .. } => return Err(error.to_string()),
                    SwarmEvent::ListenerClosed { reason: Err(e), .. } => return Err(e.to_string()),
                    _ => {}
                }
            }
        })
        .await
        .map_err(|_| P2pError::Setup(format!("no listen address on {addr} after 10 s")))?
        .map_err(|e| P2pError::Setup(format!("cannot listen on {addr}: {e}")))?;
        Ok(Self {
            swarm,
            listen_addrs,
        })
    }

    /// The addresses this node listens on (put them in the party table).
    pub fn listen_addrs(&self) -> &[Multiaddr] {
        &self.listen_addrs
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Connects to every other party of `table` as party `me`; returns once all
    /// are connected, or fails after `options.connect_timeout` naming who is missing.
    pub async fn connect(
        mut self,
        me: usize,
        table: PartyTable,
        options: P2pOptions,
    ) -> Result<P2pChannel, P2pError> {
        let parties = table.len();
        let own = table
            .get(me)
            .ok_or_else(|| P2pError::Setup(format!("party {me} is not in a table of {parties}")))?;
        if own.peer_id != self.peer_id() {
            return Err(P2pError::Setup(format!(
                "table entry {me} is {}, but this node's key is {}",
                own.peer_id,
                self.peer_id()
            )));
        }
        let mut seen = HashMap::new();
        for (party, entry) in table.iter().enumerate() {
            if let Some(other) = seen.insert(entry.peer_id, party) {
                return Err(P2pError::Setup(format!(
                    "parties {other} and {party} have the same peer id"
                )));
            }
            if party != me {
                self.swarm.behaviour_mut().allowed.allow_peer(entry.peer_id);
                for addr in &entry.addrs {
                    self.swarm.add_peer_address(entry.peer_id, addr.clone());
                }
            }
        }

        let mut control = self.swarm.behaviour().streams.new_control();
        let mut incoming = control
            .accept(PROTOCOL)
            .map_err(|e| P2pError::Setup(format!("cannot accept streams: {e}")))?;
        let (driver_tx, driver_rx) = mpsc::unbounded_channel();
        // Bumped whenever the last connection to a peer closes, so its link
        // notices even when the stream itself is never woken (a local close).
        let mut closures: HashMap<PeerId, watch::Sender<u64>> = HashMap::new();

        // Route incoming streams to the link of the peer that opened them.
        let mut routes: HashMap<PeerId, mpsc::Sender<libp2p::Stream>> = HashMap::new();
        let mut peers = Vec::with_capacity(parties);
        let mut waiting = Vec::new();
        for (party, entry) in table.iter().enumerate() {
            if party == me {
                peers.push(None);
                continue;
            }
            let (stream_tx, stream_rx) = mpsc::channel(4);
            routes.insert(entry.peer_id, stream_tx);
            let (app_tx, app_rx) = mpsc::unbounded_channel();
            let (to_app, from_link) = mpsc::unbounded_channel();
            let shared = Shared {
                outbound: channel_core::transport::QueueBudget::new(Some(
                    options.max_outbound_bytes,
                )),
                inbound: Arc::new(AtomicUsize::new(0)),
                inbound_space: Arc::new(Notify::new()),
                failure: Arc::default(),
                sessions: Arc::default(),
                progress: Arc::default(),
            };
            let (established_tx, established_rx) = oneshot::channel();
            let (closed_tx, closed_rx) = watch::channel(0u64);
            closures.insert(entry.peer_id, closed_tx);
            let link = Link {
                party,
                peer: entry.peer_id,
                addrs: entry.addrs.clone(),
                opener: me < party,
                control: control.clone(),
                incoming: stream_rx,
                closed: closed_rx,
                app_rx,
                to_app,
                shared: shared.clone(),
                max_payload: options.chunk_size + channel_core::frame::FOOTER_LEN,
                max_inbound: options.max_inbound_bytes,
                connect_timeout: options.connect_timeout,
                reconnect_timeout: options.reconnect_timeout,
                established: Some(established_tx),
                driver: driver_tx.clone(),
            };
            tokio::spawn(link.run());
            waiting.push((party, established_rx));
            peers.push(Some(Peer {
                peer_id: entry.peer_id,
                to_link: app_tx,
                from_link,
                shared,
            }));
        }
        tokio::spawn(async move {
            // Ends when the swarm's stream acceptor is dropped with the swarm.
            while let Some((peer, stream)) = incoming.next().await {
                match routes.get(&peer) {
                    Some(route) => {
                        let _ = route.send(stream).await;
                    }
                    None => tracing::warn!(%peer, "dropped a stream from a peer outside the table"),
                }
            }
        });
        tokio::spawn(drive(self.swarm, driver_rx, closures));

        let mut missing = Vec::new();
        let mut last = String::from("none");
        for (party, established) in waiting {
            match established.await {
                Ok(Ok(())) => {}
                Ok(Err(why)) => {
                    missing.push(party);
                    last = why;
                }
                Err(_) => missing.push(party),
            }
        }
        if !missing.is_empty() {
            return Err(P2pError::Connect {
                me,
                parties,
                missing,
                after: options.connect_timeout,
                last,
            });
        }
        Ok(P2pChannel::new(me, peers, options, driver_tx))
    }
}

/// Polls the swarm until every holder of a command sender (the channel and its
/// links) is gone, then drops it, closing all connections.
async fn drive(
    mut swarm: Swarm<Behaviour>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    closures: HashMap<PeerId, watch::Sender<u64>>,
) {
    // Bounded by the lifetime of the channel and its links.
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { peer_id, .. } => tracing::debug!(%peer_id, "connected"),
                SwarmEvent::ConnectionClosed { peer_id, cause, num_established, .. } => {
                    tracing::debug!(%peer_id, ?cause, num_established, "connection closed");
                    if num_established == 0
                        && let Some(closed) = closures.get(&peer_id)
                    {
                        closed.send_modify(|n| *n += 1);
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

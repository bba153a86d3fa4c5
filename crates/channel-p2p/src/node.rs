//! A party's node: binds its main swarm, then connects every lane to every
//! peer and hands the application a [`P2pChannel`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot, watch};

use crate::channel::{Lane, P2pChannel, Peer};
use crate::link::{Inbound, Link, Shared, protocol};
use crate::swarm::{Behaviour, PeerEvents, build, drive};
use crate::{P2pError, P2pOptions, PartyKey, PartyTable};

/// The most lanes (connections) per pair of parties.
pub const MAX_LANES: usize = 16;

/// A party's libp2p node, listening but not yet connected to its peers.
///
/// Bind first (so the listen address, e.g. a port chosen by the OS, can go into
/// the party table), then [`connect`](Self::connect).
pub struct P2pNode {
    key: PartyKey,
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
        let mut swarm = build(key)?;
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
            key: key.clone(),
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
    ///
    /// Every party must use the same [`P2pOptions::lanes`] (1 to [`MAX_LANES`]).
    pub async fn connect(
        self,
        me: usize,
        table: PartyTable,
        options: P2pOptions,
    ) -> Result<P2pChannel, P2pError> {
        let parties = table.len();
        self.check(me, &table, &options)?;
        let lanes = options.lanes;
        let wire_lanes = u16::try_from(lanes)
            .map_err(|_| P2pError::Setup(format!("{lanes} lanes is too many")))?;

        // Swarm 0 is the main one; swarm j > 0 opens lane j to the parties above us.
        let opens_to_anyone = me + 1 < parties;
        let mut swarms = vec![self.swarm];
        if opens_to_anyone {
            for _ in 1..lanes {
                swarms.push(build(&self.key)?);
            }
        }
        for swarm in &mut swarms {
            for (party, entry) in table.iter().enumerate() {
                if party != me {
                    swarm.behaviour_mut().allowed.allow_peer(entry.peer_id);
                    for addr in &entry.addrs {
                        swarm.add_peer_address(entry.peer_id, addr.clone());
                    }
                }
            }
        }
        let controls: Vec<_> = swarms
            .iter()
            .map(|s| s.behaviour().streams.new_control())
            .collect();
        let mut drivers = Vec::with_capacity(swarms.len());
        let mut driver_rxs = Vec::with_capacity(swarms.len());
        for _ in &swarms {
            let (tx, rx) = mpsc::unbounded_channel();
            drivers.push(tx);
            driver_rxs.push(rx);
        }
        // Per swarm and peer: what its driver reports to the links and the channel.
        let mut events: Vec<HashMap<PeerId, PeerEvents>> =
            swarms.iter().map(|_| HashMap::new()).collect();
        // Per lane and peer: where the main swarm routes incoming streams.
        let mut routes: Vec<HashMap<PeerId, mpsc::Sender<libp2p::Stream>>> =
            (0..lanes).map(|_| HashMap::new()).collect();

        let mut peers = Vec::with_capacity(parties);
        let mut waiting = Vec::new();
        for (party, entry) in table.iter().enumerate() {
            if party == me {
                peers.push(None);
                continue;
            }
            let opener = me < party;
            let shared = Shared::new(options.max_outbound_bytes);
            let connections = Arc::new(AtomicUsize::new(0));
            for swarm_events in &mut events {
                swarm_events.insert(
                    entry.peer_id,
                    PeerEvents {
                        closed: Vec::new(),
                        connections: connections.clone(),
                    },
                );
            }
            let mut ends = Vec::with_capacity(lanes);
            for (lane, lane_routes) in routes.iter_mut().enumerate() {
                // The opener's lane j lives on its swarm j; the acceptor takes all on its main one.
                let swarm = if opener { lane } else { 0 };
                let (stream_tx, stream_rx) = mpsc::channel(4);
                // Only the parties that open to us may deliver streams.
                if !opener {
                    lane_routes.insert(entry.peer_id, stream_tx);
                }
                let (closed_tx, closed_rx) = watch::channel(0u64);
                if let Some(peer_events) = events[swarm].get_mut(&entry.peer_id) {
                    peer_events.closed.push(closed_tx);
                }
                let (app_tx, app_rx) = mpsc::unbounded_channel();
                let (to_app, from_link) = mpsc::unbounded_channel();
                let inbound = Inbound::default();
                let (established_tx, established_rx) = oneshot::channel();
                let link = Link {
                    party,
                    peer: entry.peer_id,
                    addrs: entry.addrs.clone(),
                    lanes: wire_lanes,
                    protocol: protocol(lane)?,
                    opener,
                    control: controls[swarm].clone(),
                    incoming: stream_rx,
                    closed: closed_rx,
                    app_rx,
                    to_app,
                    shared: shared.clone(),
                    peer_lost: shared.lost.subscribe(),
                    inbound: inbound.clone(),
                    max_payload: options.chunk_size + channel_core::frame::FOOTER_LEN,
                    // Each lane gets its share, so a full lane never starves the
                    // one the application reads next.
                    max_inbound: (options.max_inbound_bytes / lanes).max(1),
                    connect_timeout: options.connect_timeout,
                    reconnect_timeout: options.reconnect_timeout,
                    established: Some(established_tx),
                    driver: drivers[swarm].clone(),
                };
                tokio::spawn(link.run());
                waiting.push((party, established_rx));
                ends.push(Lane {
                    to_link: app_tx,
                    from_link,
                    inbound,
                });
            }
            peers.push(Some(Peer::new(entry.peer_id, shared, ends, connections)));
        }

        for (lane, lane_routes) in routes.into_iter().enumerate() {
            let mut incoming = controls[0]
                .clone()
                .accept(protocol(lane)?)
                .map_err(|e| P2pError::Setup(format!("cannot accept streams: {e}")))?;
            tokio::spawn(async move {
                // Ends when the swarm's stream acceptor is dropped with the swarm.
                while let Some((peer, stream)) = incoming.next().await {
                    // Never wait on a link: a peer that floods us with streams
                    // must not hold up the streams of the others.
                    let Some(route) = lane_routes.get(&peer) else {
                        tracing::warn!(%peer, lane, "dropped a stream from a peer that does not open to us");
                        continue;
                    };
                    if route.try_send(stream).is_err() {
                        tracing::warn!(%peer, lane, "dropped a stream its link is not taking");
                    }
                }
            });
        }
        for ((swarm, commands), events) in swarms.into_iter().zip(driver_rxs).zip(events) {
            tokio::spawn(drive(swarm, commands, events));
        }

        let mut missing = Vec::new();
        let mut last = String::from("none");
        for (party, established) in waiting {
            let failed = match established.await {
                Ok(Ok(())) => false,
                Ok(Err(why)) => {
                    last = why;
                    true
                }
                Err(_) => true,
            };
            // A peer's lanes come one after another: list it once.
            if failed && missing.last() != Some(&party) {
                missing.push(party);
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
        Ok(P2pChannel::new(me, peers, options, drivers))
    }

    /// Checks the table (our own entry, no duplicate peer ids) and the options.
    fn check(&self, me: usize, table: &PartyTable, options: &P2pOptions) -> Result<(), P2pError> {
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
        }
        if !(1..=MAX_LANES).contains(&options.lanes) {
            return Err(P2pError::Setup(format!(
                "P2pOptions::lanes is {}; it must be 1 to {MAX_LANES}",
                options.lanes
            )));
        }
        Ok(())
    }
}

//! The wiring of a connecting party: its swarms, one link task per peer and
//! lane, the routes of incoming streams to their links, and the swarm drivers.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use channel_link::task::LinkTask;
use futures::StreamExt;
use libp2p::{PeerId, Swarm};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::compat::FuturesAsyncReadCompatExt;

use crate::channel::{Lane, Peer};
use crate::link::{LaneStreams, Stream, protocol};
use crate::shared::{Inbound, Shared};
use crate::swarm::{Behaviour, Command, PeerEvents, drive};
use crate::{P2pError, P2pOptions, PartyEntry, PartyTable};

/// Whether a link came up, or why not.
pub(crate) type Established = oneshot::Receiver<Result<(), String>>;

/// A party's swarms (0 is the main one) and what their drivers and the stream
/// routes will need, filled in peer by peer before anything runs.
pub(crate) struct Wiring {
    swarms: Vec<Swarm<Behaviour>>,
    controls: Vec<libp2p_stream::Control>,
    drivers: Vec<mpsc::UnboundedSender<Command>>,
    commands: Vec<mpsc::UnboundedReceiver<Command>>,
    /// Per swarm and peer: what its driver reports to the links and the channel.
    events: Vec<HashMap<PeerId, PeerEvents>>,
    /// Per lane and peer: where the main swarm routes incoming streams.
    routes: Vec<HashMap<PeerId, mpsc::Sender<Stream>>>,
}

impl Wiring {
    /// Lets every other party of `table` through the swarms' allow-lists.
    pub(crate) fn new(
        mut swarms: Vec<Swarm<Behaviour>>,
        table: &PartyTable,
        me: usize,
        lanes: usize,
    ) -> Self {
        for swarm in &mut swarms {
            for (party, entry) in table.iter().enumerate() {
                // (No `add_peer_address`: libp2p 0.57 only passes it on to
                // behaviours, and neither of ours keeps addresses; each link
                // dials with its peer's addresses itself.)
                if party != me {
                    swarm.behaviour_mut().allowed.allow_peer(entry.peer_id);
                }
            }
        }
        let controls = swarms
            .iter()
            .map(|s| s.behaviour().streams.new_control())
            .collect();
        let (drivers, commands) = swarms.iter().map(|_| mpsc::unbounded_channel()).unzip();
        Self {
            events: swarms.iter().map(|_| HashMap::new()).collect(),
            routes: (0..lanes).map(|_| HashMap::new()).collect(),
            swarms,
            controls,
            drivers,
            commands,
        }
    }

    /// Spawns the link of every lane to `entry` (party `party`, which we open
    /// to when `opener`); returns the application's side and each link's news.
    pub(crate) fn peer(
        &mut self,
        party: usize,
        entry: &PartyEntry,
        opener: bool,
        options: &P2pOptions,
        wire_lanes: u16,
    ) -> Result<(Peer, Vec<Established>), P2pError> {
        let lanes = self.routes.len();
        let shared = Shared::new(options.max_outbound_bytes);
        let connections = Arc::new(AtomicUsize::new(0));
        for swarm_events in &mut self.events {
            swarm_events.insert(
                entry.peer_id,
                PeerEvents {
                    closed: Vec::new(),
                    connections: connections.clone(),
                },
            );
        }
        let mut ends = Vec::with_capacity(lanes);
        let mut established = Vec::with_capacity(lanes);
        for lane in 0..lanes {
            // The opener's lane j lives on its swarm j; the acceptor takes all on its main one.
            let swarm = if opener { lane } else { 0 };
            let (stream_tx, incoming) = mpsc::channel(4);
            // Only the parties that open to us may deliver streams.
            if !opener && let Some(routes) = self.routes.get_mut(lane) {
                routes.insert(entry.peer_id, stream_tx);
            }
            let (closed_tx, closed) = watch::channel(0u64);
            if let Some(peer_events) = self.events[swarm].get_mut(&entry.peer_id) {
                peer_events.closed.push(closed_tx);
            }
            let (to_link, app_rx) = mpsc::unbounded_channel();
            let (to_app, from_link) = mpsc::unbounded_channel();
            let inbound = Inbound::default();
            let (established_tx, established_rx) = oneshot::channel();
            let link = LinkTask {
                party,
                lanes: wire_lanes,
                connector: LaneStreams {
                    party,
                    peer: entry.peer_id,
                    addrs: entry.addrs.clone(),
                    protocol: protocol(lane)?,
                    opener,
                    control: self.controls[swarm].clone(),
                    incoming,
                    closed,
                    peer_lost: shared.lost(),
                    shared: shared.clone(),
                    driver: self.drivers[swarm].clone(),
                },
                app_rx,
                to_app,
                inbound: inbound.clone(),
                // Each lane gets its share, so a full lane never starves the
                // one the application reads next.
                max_inbound: (options.max_inbound_bytes / lanes).max(1),
                shared: shared.clone(),
                max_payload: options.chunk_size + channel_core::frame::FOOTER_LEN,
                keepalive: options.keepalive,
                connect_timeout: options.connect_timeout,
                reconnect_timeout: options.reconnect_timeout,
                established: Some(established_tx),
            };
            tokio::spawn(link.run());
            established.push(established_rx);
            ends.push(Lane {
                to_link,
                from_link,
                inbound,
            });
        }
        Ok((
            Peer::new(entry.peer_id, shared, ends, connections),
            established,
        ))
    }

    /// Starts routing incoming streams and driving the swarms; returns the
    /// drivers' command senders (they keep the swarms running).
    pub(crate) fn start(self) -> Result<Vec<mpsc::UnboundedSender<Command>>, P2pError> {
        let main = self
            .controls
            .first()
            .ok_or_else(|| P2pError::Setup("no swarm to accept streams on".into()))?;
        for (lane, routes) in self.routes.into_iter().enumerate() {
            let mut incoming = main
                .clone()
                .accept(protocol(lane)?)
                .map_err(|e| P2pError::Setup(format!("cannot accept streams: {e}")))?;
            tokio::spawn(async move {
                // Ends when the swarm's stream acceptor is dropped with the swarm.
                while let Some((peer, stream)) = incoming.next().await {
                    // Never wait on a link: a peer that floods us with streams
                    // must not hold up the streams of the others.
                    let Some(route) = routes.get(&peer) else {
                        tracing::warn!(%peer, lane, "dropped a stream from a peer that does not open to us");
                        continue;
                    };
                    if route.try_send(stream.compat()).is_err() {
                        tracing::warn!(%peer, lane, "dropped a stream its link is not taking");
                    }
                }
            });
        }
        for ((swarm, commands), events) in
            self.swarms.into_iter().zip(self.commands).zip(self.events)
        {
            tokio::spawn(drive(swarm, commands, events));
        }
        Ok(self.drivers)
    }
}

//! A party's node: binds its main swarm, then connects every lane to every
//! peer and hands the application a [`P2pChannel`].

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm};

use crate::channel::P2pChannel;
use crate::swarm::{Behaviour, build};
use crate::wiring::Wiring;
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
        let mut swarms = vec![self.swarm];
        if me + 1 < parties {
            for _ in 1..lanes {
                swarms.push(build(&self.key)?);
            }
        }
        let mut wiring = Wiring::new(swarms, &table, me, lanes);
        let mut peers = Vec::with_capacity(parties);
        let mut waiting = Vec::new();
        for (party, entry) in table.iter().enumerate() {
            if party == me {
                peers.push(None);
                continue;
            }
            let (peer, established) =
                wiring.peer(party, entry, me < party, &options, wire_lanes)?;
            peers.push(Some(peer));
            waiting.extend(established.into_iter().map(|e| (party, e)));
        }
        let drivers = wiring.start()?;

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
        options
            .keepalive
            .check()
            .map_err(|e| P2pError::Setup(format!("P2pOptions::keepalive: {e}")))?;
        Ok(())
    }
}

//! Authenticated, encrypted peer-to-peer MPC parties on libp2p, implementing
//! `channel-core`'s async [`Channel`](channel_core::Channel).
//!
//! Each party has an ed25519 identity ([`PartyKey`]); the [`PartyTable`] maps each
//! party index to a peer id and addresses. Connections are TCP + Noise + Yamux;
//! a chunk is accepted as "from party i" only when it arrives over a
//! Noise-authenticated connection from party i's peer id, and connections from
//! any other peer are refused (an allow-list). Each pair of parties shares one
//! long-lived stream per lane ([`P2pOptions::lanes`] connections per pair, 1 by
//! default); nothing is gossiped or broadcast.
//!
//! ```
//! use channel_p2p::{P2pNode, P2pOptions, PartyEntry, PartyKey};
//! use channel_core::{recv_from, send_to};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Three parties on this machine, each with a generated key.
//! let keys: Vec<PartyKey> = (0..3).map(|_| PartyKey::generate()).collect();
//! let mut nodes = Vec::new();
//! for key in &keys {
//!     nodes.push(P2pNode::bind(key, "/ip4/127.0.0.1/tcp/0".parse()?).await?);
//! }
//! let table: Vec<PartyEntry> = nodes
//!     .iter()
//!     .map(|n| PartyEntry { peer_id: n.peer_id(), addrs: n.listen_addrs().to_vec() })
//!     .collect();
//!
//! // Every party connects; `connect` returns once all peers are reachable.
//! let mut tasks = Vec::new();
//! for (me, node) in nodes.into_iter().enumerate() {
//!     let table = table.clone();
//!     tasks.push(tokio::spawn(async move {
//!         let mut ch = node.connect(me, table, P2pOptions::default()).await?;
//!         let next = (me + 1) % 3;
//!         let prev = (me + 2) % 3;
//!         send_to(&mut ch, next, "ring", &(me as u64)).await?;
//!         let got: u64 = recv_from(&mut ch, prev, "ring").await?;
//!         assert_eq!(got, prev as u64);
//!         // Wait until the peers have everything we sent, then close.
//!         ch.close().await?;
//!         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!     }));
//! }
//! for task in tasks {
//!     task.await?.map_err(|e| e.to_string())?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - **Sends wait for the peer's link, never its application**: a chunk goes to
//!   the link's queue, bounded by [`P2pOptions::max_outbound_bytes`] (bytes sent
//!   and not yet acknowledged; a send beyond it waits for acknowledgements, at
//!   most `recv_timeout`), and the peer's link drains incoming data into its own
//!   queue (bounded by `max_inbound_bytes`, beyond which it stops reading and
//!   the sender is held back).
//! - **Exactly once, in order, across reconnects**: chunks carry sequence numbers
//!   and are kept until acknowledged; when a connection drops, the link re-dials
//!   (the lower-numbered party dials) within `reconnect_timeout` and resends what
//!   was not acknowledged. Otherwise calls for that peer fail with
//!   [`P2pError::PeerLost`].
//! - **Closing**: a send returns once queued; [`P2pChannel::close`] (or
//!   [`P2pChannel::flush`], also reachable as the generic `Channel::flush` that
//!   engines call) waits until every peer acknowledged everything sent.
//!   Call it before the party's work (and its runtime) ends, or the last sends
//!   may never leave.
//! - **Goodbye**: dropping or closing a channel says goodbye once everything it
//!   sent is acknowledged; the peers' receives from it then fail at once (after
//!   everything it sent) with `P2pError::PeerLost` ("it closed its channel"),
//!   and so do their sends to it.
//! - **Bounded input**: a frame's length is checked before allocating; a
//!   malformed frame ends that peer's links with [`P2pError::Malformed`].
//! - **Lanes**: with [`P2pOptions::lanes`] above 1, chunk n travels on
//!   connection n mod lanes, each with its own numbering and reconnects, and
//!   is collected in the same turn, so the guarantees above hold unchanged.
//! - **No idle cut-offs**: libp2p's idle-connection timeout is disabled, so
//!   quiet phases of a long computation do not close connections.

mod channel;
mod error;
mod keys;
mod link;
pub mod local;
mod node;
mod shared;
mod split;
mod swarm;
mod table;
mod wiring;

pub use channel::{DEFAULT_MAX_OUTBOUND, P2pChannel, P2pOptions};
pub use error::{P2pError, TransportError};
pub use keys::PartyKey;
pub use libp2p::{Multiaddr, PeerId};
pub use node::{MAX_LANES, P2pNode};
pub use split::{P2pReceiver, P2pSender};
pub use table::{PartyEntry, PartyTable};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! The party table: who is party `i` (a peer id) and where to find it.

use libp2p::{Multiaddr, PeerId};

/// One party: the peer id its key must prove, and addresses to dial it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyEntry {
    /// The party's identity; a connection is accepted as this party only when
    /// the Noise handshake proves this peer id.
    pub peer_id: PeerId,
    /// Where the party listens, e.g. `/ip4/10.0.0.2/tcp/7000`.
    pub addrs: Vec<Multiaddr>,
}

/// Every party of the computation, indexed by party number.
pub type PartyTable = Vec<PartyEntry>;

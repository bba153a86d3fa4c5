//! Parties on this machine: nodes on 127.0.0.1 with fresh keys and ports the
//! OS picks, connected to each other. For tests, examples, demos and
//! benchmarks, so that "n parties on loopback" is written once.
//!
//! ```
//! use channel_core::{recv_from, send_to};
//! use channel_p2p::{P2pOptions, local};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut parties = local::network(2, &P2pOptions::default()).await?;
//! send_to(&mut parties[0], 1, "hello", &7u32).await?;
//! let got: u32 = recv_from(&mut parties[1], 0, "hello").await?;
//! assert_eq!(got, 7);
//! for party in parties {
//!     party.close().await?;
//! }
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;

use libp2p::multiaddr::Protocol;

use crate::{Multiaddr, P2pChannel, P2pError, P2pNode, P2pOptions, PartyEntry, PartyKey};

/// `n` nodes on 127.0.0.1, each with a fresh key, and their party table.
pub async fn nodes(n: usize) -> Result<(Vec<P2pNode>, Vec<PartyEntry>), P2pError> {
    let addr: crate::Multiaddr = "/ip4/127.0.0.1/tcp/0"
        .parse()
        .map_err(|e| P2pError::Setup(format!("loopback address: {e}")))?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        nodes.push(P2pNode::bind(&PartyKey::generate(), addr.clone()).await?);
    }
    let table = nodes
        .iter()
        .map(|node| PartyEntry {
            peer_id: node.peer_id(),
            addrs: node.listen_addrs().to_vec(),
        })
        .collect();
    Ok((nodes, table))
}

/// `n` parties on 127.0.0.1, connected to each other (all connecting at once,
/// as real parties would); party `i` at index `i`.
pub async fn network(n: usize, options: &P2pOptions) -> Result<Vec<P2pChannel>, P2pError> {
    let (nodes, table) = nodes(n).await?;
    connect_all(nodes, table, options).await
}

/// [`network`] with peers dialing party `i` where `route(i, addr)` says
/// instead of at its listen address `addr` (a proxy in front of it, such as
/// channel-sim's link emulator, to put the party on a WAN).
///
/// ```
/// use channel_p2p::{P2pOptions, local};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), channel_p2p::P2pError> {
/// let mut routed = Vec::new();
/// let parties = local::network_routed(2, &P2pOptions::default(),
///     async |party, addr| { routed.push(party); Ok(addr) }).await?;
/// assert_eq!((parties.len(), routed), (2, vec![0, 1]));
/// # Ok(())
/// # }
/// ```
pub async fn network_routed(
    n: usize,
    options: &P2pOptions,
    mut route: impl AsyncFnMut(usize, SocketAddr) -> std::io::Result<SocketAddr>,
) -> Result<Vec<P2pChannel>, P2pError> {
    let (nodes, mut table) = nodes(n).await?;
    for (party, entry) in table.iter_mut().enumerate() {
        let listening =
            entry.addrs.iter().find_map(socket_addr).ok_or_else(|| {
                P2pError::Setup(format!("party {party} has no TCP listen address"))
            })?;
        let via = route(party, listening)
            .await
            .map_err(|e| P2pError::Setup(format!("cannot route party {party}: {e}")))?;
        entry.addrs = vec![multiaddr(via)];
    }
    connect_all(nodes, table, options).await
}

/// The TCP address in `addr`, if it is `/ip4|ip6/…/tcp/…`.
fn socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut parts = addr.iter();
    let ip = match parts.next()? {
        Protocol::Ip4(ip) => std::net::IpAddr::V4(ip),
        Protocol::Ip6(ip) => std::net::IpAddr::V6(ip),
        _ => return None,
    };
    match parts.next()? {
        Protocol::Tcp(port) => Some(SocketAddr::new(ip, port)),
        _ => None,
    }
}

fn multiaddr(addr: SocketAddr) -> Multiaddr {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    Multiaddr::empty().with(ip).with(Protocol::Tcp(addr.port()))
}

async fn connect_all(
    nodes: Vec<P2pNode>,
    table: Vec<PartyEntry>,
    options: &P2pOptions,
) -> Result<Vec<P2pChannel>, P2pError> {
    let connecting = nodes
        .into_iter()
        .enumerate()
        .map(|(me, node)| node.connect(me, table.clone(), options.clone()));
    futures::future::join_all(connecting)
        .await
        .into_iter()
        .collect()
}

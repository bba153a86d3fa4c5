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

use crate::{P2pChannel, P2pError, P2pNode, P2pOptions, PartyEntry, PartyKey};

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
    let connecting = nodes
        .into_iter()
        .enumerate()
        .map(|(me, node)| node.connect(me, table.clone(), options.clone()));
    futures::future::join_all(connecting)
        .await
        .into_iter()
        .collect()
}

//! `n` parties on 127.0.0.1 with fresh keys, for tests, examples and the
//! bench: the set-up a deployment does across machines, in one call.
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut parties = channel_tcp::local::network(3, &channel_tcp::TcpOptions::default()).await?;
//! channel_core::send_to(&mut parties[0], 2, "hello", &7u32).await?;
//! let got: u32 = channel_core::recv_from(&mut parties[2], 0, "hello").await?;
//! assert_eq!(got, 7);
//! # Ok(())
//! # }
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use crate::{PartyEntry, PartyKey, TcpChannel, TcpError, TcpNode, TcpOptions};

/// Binds `n` nodes with fresh keys on 127.0.0.1 and connects them all.
pub async fn network(n: usize, options: &TcpOptions) -> Result<Vec<TcpChannel>, TcpError> {
    network_routed(n, options, async |_, listening| Ok(listening)).await
}

/// [`network`], with every party's address in the table replaced by what
/// `route(party, listening)` gives (e.g. a link emulator in front of it), so
/// that every connection to that party takes that path.
pub async fn network_routed(
    n: usize,
    options: &TcpOptions,
    mut route: impl AsyncFnMut(usize, SocketAddr) -> std::io::Result<SocketAddr>,
) -> Result<Vec<TcpChannel>, TcpError> {
    let mut nodes = Vec::with_capacity(n);
    let mut table = Vec::with_capacity(n);
    for party in 0..n {
        let node = TcpNode::bind(
            PartyKey::generate()?,
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        )
        .await?;
        let addr = route(party, node.local_addr())
            .await
            .map_err(|e| TcpError::Setup(format!("cannot route party {party}: {e}")))?;
        table.push(PartyEntry {
            public: node.public(),
            addr,
        });
        nodes.push(node);
    }
    connect(nodes, table, options).await
}

async fn connect(
    nodes: Vec<TcpNode>,
    table: Vec<PartyEntry>,
    options: &TcpOptions,
) -> Result<Vec<TcpChannel>, TcpError> {
    let connecting = nodes
        .into_iter()
        .enumerate()
        .map(|(me, node)| node.connect(me, table.clone(), options.clone()));
    futures::future::join_all(connecting)
        .await
        .into_iter()
        .collect()
}

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
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        nodes.push(TcpNode::bind(PartyKey::generate()?, addr).await?);
    }
    let table: Vec<PartyEntry> = nodes
        .iter()
        .map(|node| PartyEntry {
            public: node.public(),
            addr: node.local_addr(),
        })
        .collect();
    let connecting = nodes
        .into_iter()
        .enumerate()
        .map(|(me, node)| node.connect(me, table.clone(), options.clone()));
    futures::future::join_all(connecting)
        .await
        .into_iter()
        .collect()
}

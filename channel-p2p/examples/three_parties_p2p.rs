//! Three parties on one machine, each with a generated key saved to a file, run
//! the secure sum over libp2p.
//!
//! `cargo run -p channel-p2p --example three_parties_p2p`

use channel_core::reference::secure_sum;
use channel_p2p::{P2pNode, P2pOptions, PartyEntry, PartyKey};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("p2p-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // Each party generates its key once and keeps it in a file (hex, mode 0600).
    let mut nodes = Vec::new();
    for party in 0..3 {
        let path = dir.join(format!("party{party}.key"));
        PartyKey::generate().write_file(&path)?;
        let key = PartyKey::read_file(&path)?;
        let node = P2pNode::bind(&key, "/ip4/127.0.0.1/tcp/0".parse()?).await?;
        println!(
            "party {party}: {} on {:?}",
            node.peer_id(),
            node.listen_addrs()
        );
        nodes.push(node);
    }
    // The party table everyone agrees on: peer ids and addresses.
    let table: Vec<PartyEntry> = nodes
        .iter()
        .map(|n| PartyEntry {
            peer_id: n.peer_id(),
            addrs: n.listen_addrs().to_vec(),
        })
        .collect();

    let inputs = [17u64, 25, 1000];
    let mut tasks = Vec::new();
    for (me, node) in nodes.into_iter().enumerate() {
        let table = table.clone();
        tasks.push(tokio::spawn(async move {
            let mut ch = node.connect(me, table, P2pOptions::default()).await?;
            let mut r = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(me as u64 + 1);
            let sum = secure_sum(&mut ch, me, 3, inputs[me], move || {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                r
            })
            .await?;
            // Waits until the peers acknowledged everything this party sent.
            ch.close().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((me, sum))
        }));
    }
    for task in tasks {
        let (me, sum) = task.await?.map_err(|e| e.to_string())?;
        println!("party {me}: input {:>4}, secure sum {sum}", inputs[me]);
        if sum != inputs.iter().sum::<u64>() {
            return Err(format!("party {me} computed a wrong sum").into());
        }
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

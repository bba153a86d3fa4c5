//! Three parties run the secure sum through a relay that can read none of it:
//! the flow of an application that coordinates a sealed session.
//!
//! 1. Each party makes its key and keeps it (here: in a file only it can read);
//!    it gives the coordinator its public key.
//! 2. The coordinator creates the session on the relay and hands each party its
//!    invitation (relay, session, token, index, the table of public keys), here
//!    as a file; in an application, over any channel that keeps the token secret.
//! 3. Each party joins with its invitation and its own key and runs the protocol.
//!
//! `cargo run -p channel-http --example relay_three_parties`
//! (or start `channel-relay` yourself and pass its URL as the first argument).

use channel_core::reference::secure_sum;
use channel_core::{Channel, Metered};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel, local};
use channel_seal::{Invitation, PartyKey};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, relay) = match std::env::args().nth(1) {
        Some(url) => (url, None),
        None => {
            // A relay in this process, on a free port of 127.0.0.1.
            let (relay, url) = local::start_relay(RelayConfig::default()).await?;
            println!("relay listening on {url}");
            (url, Some(relay))
        }
    };
    let dir = std::env::temp_dir().join(format!("relay-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    // 1. Each party's key, made by the party; only the public key leaves it.
    let mut public_keys = Vec::new();
    for party in 0..3 {
        let key = PartyKey::generate()?;
        key.write_file(&dir.join(format!("party{party}.key")))?;
        println!("party {party}: public key {}", key.public().fingerprint());
        public_keys.push(key.public());
    }

    // 2. The coordinator invites the three public keys.
    let opts = ClientOptions::default();
    let invitations = HttpChannel::invite(&url, &public_keys, None, &opts).await?;
    for invitation in &invitations {
        invitation.write_file(&dir.join(format!("party{}.invitation", invitation.party)))?;
    }
    println!("session {} with 3 parties", invitations[0].session);

    // 3. Each party joins with what it holds: its key file and its invitation.
    let inputs = [17u64, 25, 1000];
    let mut tasks = Vec::new();
    for party in 0..3 {
        let key = PartyKey::read_file(&dir.join(format!("party{party}.key")))?;
        let invitation = Invitation::read_file(&dir.join(format!("party{party}.invitation")))?;
        let opts = opts.clone();
        tasks.push(tokio::spawn(async move {
            // Returns once every party has joined and proved its key.
            let channel = HttpChannel::join(&invitation, &key, &opts).await?;
            let me = channel.party();
            let mut ch = Metered::new(channel);
            let mut r = 0x1234_5678 + me as u64;
            let sum = secure_sum(&mut ch, me, 3, inputs[me], move || {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                r
            })
            .await?;
            // A party's work ends with everything it sent stored by the relay.
            ch.flush().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
                me,
                sum,
                ch.stats().total().bytes_sent,
            ))
        }));
    }
    for task in tasks {
        let (me, sum, bytes) = task.await?.map_err(|e| e.to_string())?;
        println!(
            "party {me}: input {:>4}, secure sum {sum} ({bytes} bytes sent, sealed)",
            inputs[me]
        );
        if sum != inputs.iter().sum::<u64>() {
            return Err(format!("party {me} computed a wrong sum").into());
        }
    }
    if let Some(relay) = relay {
        relay.shutdown();
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

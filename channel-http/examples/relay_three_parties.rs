//! A relay on 127.0.0.1 and three parties that join it and run the secure sum.
//!
//! `cargo run -p channel-http --example relay_three_parties`
//! (or start `channel-relay` yourself and pass its URL as the first argument).

use channel_core::Metered;
use channel_core::reference::secure_sum;
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel, local};

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

    let opts = ClientOptions::default();
    let session = HttpChannel::create_session(&url, 3, None, &opts).await?;
    println!("session {} with 3 parties", session.session);
    let inputs = [17u64, 25, 1000];
    let mut tasks = Vec::new();
    for token in &session.tokens {
        let channel = HttpChannel::join(&url, &session.session, token, &opts).await?;
        tasks.push(tokio::spawn(async move {
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
            Ok::<_, channel_core::Error>((me, sum, ch.stats().total().bytes_sent))
        }));
    }
    for task in tasks {
        let (me, sum, bytes) = task.await??;
        println!(
            "party {me}: input {:>4}, secure sum {sum} ({bytes} bytes sent)",
            inputs[me]
        );
        if sum != inputs.iter().sum::<u64>() {
            return Err(format!("party {me} computed a wrong sum").into());
        }
    }
    if let Some(relay) = relay {
        relay.shutdown();
    }
    Ok(())
}

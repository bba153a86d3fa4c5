//! Three parties on tokio tasks run the reference secure-sum protocol.
//!
//! `cargo run -p channel-tokio --example secure_sum_tokio`

use std::hash::{BuildHasher, RandomState};

use channel_core::reference::secure_sum;
use channel_core::{Error, Metered};
use channel_tokio::TokioChannel;

/// Random u64s from the standard library's per-process random hash keys. Good
/// enough for a demo; a real deployment draws shares from a CSPRNG (e.g. `rand`).
fn randomness() -> impl FnMut() -> u64 {
    let keys = RandomState::new();
    let mut counter = 0u64;
    move || {
        counter += 1;
        keys.hash_one(counter)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inputs = [17u64, 25, 1000];
    let mut tasks = Vec::new();
    for (me, channel) in TokioChannel::network(inputs.len()).into_iter().enumerate() {
        let input = inputs[me];
        tasks.push(tokio::spawn(async move {
            let mut ch = Metered::new(channel);
            let sum = secure_sum(&mut ch, me, inputs.len(), input, randomness()).await?;
            Ok::<_, Error>((me, sum, ch.stats().total()))
        }));
    }
    let expected: u64 = inputs.iter().sum();
    for task in tasks {
        let (me, sum, traffic) = task.await??;
        println!(
            "party {me}: input {:>4}, secure sum {sum} ({} messages, {} bytes sent)",
            inputs[me], traffic.messages_sent, traffic.bytes_sent
        );
        if sum != expected {
            return Err(format!("party {me} computed {sum}, expected {expected}").into());
        }
    }
    println!("all parties agree: {expected}");
    Ok(())
}

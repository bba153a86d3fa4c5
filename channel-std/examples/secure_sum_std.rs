//! Three parties on std threads run the reference secure-sum protocol.
//!
//! `cargo run -p channel-std --example secure_sum_std`

use std::hash::{BuildHasher, RandomState};

use channel_core::Metered;
use channel_core::blocking::reference::secure_sum;
use channel_std::StdChannel;

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inputs = [17u64, 25, 1000];
    let threads: Vec<_> = StdChannel::network(inputs.len())
        .into_iter()
        .enumerate()
        .map(|(me, channel)| {
            std::thread::spawn(move || {
                let mut ch = Metered::new(channel);
                let sum = secure_sum(&mut ch, me, inputs.len(), inputs[me], randomness())?;
                Ok::<_, channel_core::Error>((me, sum, ch.stats().total()))
            })
        })
        .collect();
    let expected: u64 = inputs.iter().sum();
    for thread in threads {
        let (me, sum, traffic) = thread.join().map_err(|_| "a party's thread panicked")??;
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

//! How long the reference secure sum and a 16 MiB ring exchange take among 5
//! parties on three WANs, simulated in virtual time.
//!
//! ```text
//! cargo run -p channel-sim --example wan_estimate
//! ```

use std::time::Instant;

use channel_core::reference::secure_sum;
use channel_core::{recv_bytes, send_bytes};
use channel_sim::{LinkProfile, SimNetwork, SimReport};

const PARTIES: usize = 5;
const RING_MESSAGE: usize = 16 << 20;

async fn sum_on(profile: LinkProfile) -> Result<SimReport, channel_core::Error> {
    let (sums, report) = SimNetwork::new(PARTIES, profile)
        .run(|mut ch| async move {
            let me = ch.party();
            let mut seed = 0x5EED_u64 + me as u64;
            let random = move || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                seed
            };
            secure_sum(&mut ch, me, PARTIES, me as u64 * 1000, random).await
        })
        .await;
    let expected: u64 = (0..PARTIES as u64).map(|p| p * 1000).sum();
    for sum in sums {
        assert_eq!(sum?, expected, "the secure sum is wrong");
    }
    Ok(report)
}

/// Each party sends 16 MiB to the next and receives 16 MiB from the previous.
async fn ring_on(profile: LinkProfile) -> Result<SimReport, channel_core::Error> {
    let (results, report) = SimNetwork::new(PARTIES, profile)
        .run(|mut ch| async move {
            let me = ch.party();
            let next = (me + 1) % PARTIES;
            let previous = (me + PARTIES - 1) % PARTIES;
            send_bytes(&mut ch, next, "ring", &vec![me as u8; RING_MESSAGE]).await?;
            let got = recv_bytes(&mut ch, previous, "ring").await?;
            assert!(got.len() == RING_MESSAGE && got.iter().all(|&b| b == previous as u8));
            Ok::<(), channel_core::Error>(())
        })
        .await;
    for result in results {
        result?;
    }
    Ok(report)
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), channel_core::Error> {
    println!("{PARTIES} parties, every link with the profile, simulated in virtual time\n");
    println!("| profile | link | protocol | simulated time | rounds | bytes moved | CPU time |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for (name, profile) in LinkProfile::PRESETS {
        for protocol in ["secure sum", "16 MiB ring"] {
            let cpu = Instant::now();
            let report = match protocol {
                "secure sum" => sum_on(profile).await?,
                _ => ring_on(profile).await?,
            };
            println!(
                "| {name} | {profile} | {protocol} | {:.1?} | {} | {} | {:.0?} |",
                report.elapsed,
                report.rounds,
                size(report.total().bytes),
                cpu.elapsed()
            );
        }
    }
    Ok(())
}

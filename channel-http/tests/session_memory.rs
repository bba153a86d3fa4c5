//! Creating sessions costs memory in proportion to their parties, not to its
//! square: 200 sessions of 256 parties (before anyone joins) stay well below
//! 64 MiB. (Its own test binary, so that the resident memory it reads is its own.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel};

/// The process's resident memory in bytes.
fn resident() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_large_sessions_cost_memory_in_proportion_to_their_parties() {
    let (relay, url) = common::start_relay(RelayConfig {
        create_per_second: 10_000,
        ..RelayConfig::default()
    })
    .await;
    let opts = ClientOptions::default();
    // Warm up the client and server paths first.
    HttpChannel::create_session(&url, 256, None, &opts)
        .await
        .unwrap();
    let before = resident();
    // Bounded: 200 requests.
    for _ in 0..200 {
        HttpChannel::create_session(&url, 256, None, &opts)
            .await
            .unwrap();
    }
    let grown = resident().saturating_sub(before);
    assert_eq!(relay.session_count().await, 201);
    assert!(
        grown < 64 << 20,
        "200 sessions of 256 parties took {} MiB",
        grown >> 20
    );
    relay.shutdown();
}

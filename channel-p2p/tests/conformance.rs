//! channel-core's full conformance kit over libp2p, 2, 3 and 5 parties, 64 MiB included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_p2p::P2pOptions;

async fn kit(n: usize) {
    common::run_kit(n, &P2pOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_parties() {
    kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parties() {
    kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_parties() {
    kit(5).await;
}

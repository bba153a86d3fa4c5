//! channel-core's full conformance kit over the relay and over direct mode, for
//! 2, 3 and 5 parties (64 MiB message included), on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_core::testkit::Kit;
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, DirectOptions};

async fn relay_kit(n: usize) {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions::default();
    let report = Kit::new(n)
        .run_async(async |n| common::relay_parties(&url, n, &opts).await)
        .await
        .unwrap_or_else(|failure| panic!("relay: {failure}"));
    println!("relay: {report}");
    relay.shutdown();
}

async fn direct_kit(n: usize) {
    let opts = DirectOptions::default();
    let report = Kit::new(n)
        .run_async(async |n| common::direct_parties(n, &opts).await)
        .await
        .unwrap_or_else(|failure| panic!("direct: {failure}"));
    println!("direct: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_two_parties() {
    relay_kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_three_parties() {
    relay_kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_five_parties() {
    relay_kit(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_two_parties() {
    direct_kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_three_parties() {
    direct_kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_five_parties() {
    direct_kit(5).await;
}

//! channel-core's full conformance kit over the relay (its WebSocket and its
//! long-poll routes) and over direct mode, for 2, 3 and 5 parties (64 MiB
//! message included), on 127.0.0.1; and again over each party's per-peer
//! halves with the split checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_core::testkit::{Check, Kit};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, DirectOptions, RelayTransport};

async fn relay_kit(n: usize, transport: RelayTransport) {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions {
        transport,
        ..ClientOptions::default()
    };
    let report = Kit::new(n)
        .run_async(async |n| {
            let parties = common::relay_parties(&url, n, &opts).await?;
            // The kit runs over the transport asked for, not a fallback.
            for party in &parties {
                assert_eq!(party.transport(), transport);
            }
            Ok(parties)
        })
        .await
        .unwrap_or_else(|failure| panic!("relay over {transport:?}: {failure}"));
    println!("relay over {transport:?}: {report}");
    relay.shutdown();
}

/// The whole kit over each party's per-peer halves (shared), then the
/// checks of the halves themselves.
async fn relay_split_kit(n: usize, transport: RelayTransport) {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions {
        transport,
        ..ClientOptions::default()
    };
    let report = Kit::new(n)
        .run_split_async(async |n| {
            let parties = common::relay_parties(&url, n, &opts).await?;
            for party in &parties {
                assert_eq!(party.transport(), transport);
            }
            Ok(parties)
        })
        .await
        .unwrap_or_else(|failure| panic!("relay split over {transport:?}: {failure}"));
    println!("relay split over {transport:?}: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
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
async fn relay_websocket_two_parties() {
    relay_kit(2, RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_websocket_three_parties() {
    relay_kit(3, RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_websocket_five_parties() {
    relay_kit(5, RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_long_poll_two_parties() {
    relay_kit(2, RelayTransport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_long_poll_three_parties() {
    relay_kit(3, RelayTransport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_long_poll_five_parties() {
    relay_kit(5, RelayTransport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_websocket_split_two_parties() {
    relay_split_kit(2, RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_websocket_split_three_parties() {
    relay_split_kit(3, RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_websocket_split_five_parties() {
    relay_split_kit(5, RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_long_poll_split_two_parties() {
    relay_split_kit(2, RelayTransport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_long_poll_split_three_parties() {
    relay_split_kit(3, RelayTransport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_long_poll_split_five_parties() {
    relay_split_kit(5, RelayTransport::LongPoll).await;
}

async fn direct_split_kit(n: usize) {
    let opts = DirectOptions::default();
    let report = Kit::new(n)
        .run_split_async(async |n| common::direct_parties(n, &opts).await)
        .await
        .unwrap_or_else(|failure| panic!("direct split: {failure}"));
    println!("direct split: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_split_two_parties() {
    direct_split_kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_split_three_parties() {
    direct_split_kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_split_five_parties() {
    direct_split_kit(5).await;
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

/// Sub-channels over the relay (both ways) and direct mode: the kit on one
/// sub-channel, then the sub-channel checks.
async fn relay_mux_kit(n: usize, transport: RelayTransport) {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions {
        transport,
        ..ClientOptions::default()
    };
    let report = Kit::new(n)
        .run_mux_async(async |n| common::relay_parties(&url, n, &opts).await)
        .await
        .unwrap_or_else(|failure| panic!("relay sub-channels over {transport:?}: {failure}"));
    println!("relay sub-channels over {transport:?}: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::MUX.len());
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_websocket_sub_channels_three_parties() {
    relay_mux_kit(3, RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_long_poll_sub_channels_three_parties() {
    relay_mux_kit(3, RelayTransport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_sub_channels_three_parties() {
    let opts = DirectOptions::default();
    let report = Kit::new(3)
        .run_mux_async(async |n| common::direct_parties(n, &opts).await)
        .await
        .unwrap_or_else(|failure| panic!("direct sub-channels: {failure}"));
    println!("direct sub-channels: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::MUX.len());
}

//! Streamed messages over the relay (WebSocket and long-polls) and direct
//! mode: a receiver that does not read holds a stream back within what the
//! relay's session budget (or the endpoint's queue) and the clients' windows
//! hold, and then everything arrives (the kit's `stream-hold` check).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_core::testkit::{Check, Kit};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, DirectOptions, RelayTransport};

/// The relay's budget for the session in these tests.
const SESSION_BYTES: usize = 16 << 20;
/// What the clients hold beside the relay's budget: the sender's chunks not
/// yet stored (the WebSocket's 8 MiB window, or 4 requests of 1 MiB), and
/// the chunks delivered to the receiver's client and not yet taken (the same
/// window, or 4 polls ahead), with room for a chunk's framing.
const CLIENTS: usize = (2 * channel_http_proto::socket::DEFAULT_WINDOW) + (2 << 20);

async fn relay_hold(transport: RelayTransport) {
    let config = RelayConfig {
        max_session_bytes: SESSION_BYTES,
        ..RelayConfig::default()
    };
    let (relay, url) = common::start_relay(config).await;
    let opts = ClientOptions {
        transport,
        ..ClientOptions::default()
    };
    let report = Kit::new(2)
        .with_checks(&[Check::StreamHold])
        .with_stream_hold(SESSION_BYTES + CLIENTS)
        .run_async(async |n| common::relay_parties(&url, n, &opts).await)
        .await
        .unwrap_or_else(|failure| panic!("relay over {transport:?}: {failure}"));
    println!("relay over {transport:?}: {report}");
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_to_a_receiver_that_does_not_read_is_held_back_over_the_websocket() {
    relay_hold(RelayTransport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_to_a_receiver_that_does_not_read_is_held_back_over_long_polls() {
    relay_hold(RelayTransport::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_to_a_receiver_that_does_not_read_is_held_back_in_direct_mode() {
    let opts = DirectOptions {
        max_queued_bytes: SESSION_BYTES,
        ..DirectOptions::default()
    };
    let report = Kit::new(2)
        .with_checks(&[Check::StreamHold])
        .with_stream_hold(SESSION_BYTES + CLIENTS)
        .run_async(async |n| common::direct_parties(n, &opts).await)
        .await
        .unwrap_or_else(|failure| panic!("direct mode: {failure}"));
    println!("direct mode: {report}");
}

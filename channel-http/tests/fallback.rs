//! A relay behind a proxy that refuses the WebSocket upgrade (as some
//! corporate proxies do): parties that may choose (`RelayTransport::Auto`,
//! the default) fall back to the HTTP long-poll routes and compute; a party
//! that insists on the WebSocket gets a typed error, not a hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::Duration;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use channel_http::relay::{Relay, RelayConfig};
use channel_http::{ClientOptions, RelayTransport, RetryPolicy};

/// What the proxy does with an upgrade: refuses it.
async fn refuse_upgrades(request: Request, next: Next) -> Response {
    if request.headers().contains_key(header::UPGRADE) {
        return (StatusCode::FORBIDDEN, "this proxy does not pass WebSockets").into_response();
    }
    next.run(request).await
}

/// The relay's routes behind the refusing proxy, on 127.0.0.1.
async fn relay_behind_proxy() -> (Relay, String) {
    let relay = Relay::new(RelayConfig::default());
    let router = relay.router().layer(middleware::from_fn(refuse_upgrades));
    let (listener, url) = channel_http::local::listener().await.unwrap();
    tokio::spawn(channel_http::serve(
        listener,
        router,
        relay.shutdown_signal(),
    ));
    (relay, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_that_may_choose_fall_back_to_long_polls_and_compute() {
    let (relay, url) = relay_behind_proxy().await;
    common::secure_sum_of_three(&url, &ClientOptions::default(), RelayTransport::LongPoll).await;
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_insists_on_the_websocket_gets_a_typed_error() {
    let (relay, url) = relay_behind_proxy().await;
    let opts = ClientOptions {
        transport: RelayTransport::WebSocket,
        retry: RetryPolicy {
            give_up_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        ..ClientOptions::default()
    };
    let joined = tokio::time::timeout(
        Duration::from_secs(30),
        common::relay_parties(&url, 2, &opts),
    )
    .await
    .expect("a refused upgrade must end the join, not hang it");
    let Err(e) = joined else {
        panic!("no WebSocket can be opened through this proxy, yet the parties joined");
    };
    let text = channel_core::error_chain(&*e);
    assert!(text.contains("403"), "{text}");
    relay.shutdown();
}

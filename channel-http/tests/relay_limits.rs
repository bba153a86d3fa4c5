//! The relay's own bounds: a relay-wide cap on stored bytes, sessions nobody
//! joined expiring, session creation rate-limited. On 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::Duration;

use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel};
use reqwest::StatusCode;

async fn create(url: &str, parties: usize) -> channel_http::protocol::SessionCreated {
    HttpChannel::create_session(url, parties, None, &ClientOptions::default())
        .await
        .unwrap()
}

async fn post(url: &str, session: &str, token: &str, seq: u64, bytes: usize) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/sessions/{session}/to/1?seq={seq}"))
        .bearer_auth(token)
        .body(vec![7u8; bytes])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_wide_cap_holds_over_sessions_and_frees_what_is_taken() {
    const CHUNK: usize = 400 * 1024;
    // Each session could hold 1 MiB, but all of them together only 1 MiB too.
    let (relay, url) = common::start_relay(RelayConfig {
        max_body: CHUNK,
        max_session_bytes: 1 << 20,
        max_total_bytes: 1 << 20,
        ..RelayConfig::default()
    })
    .await;
    let (a, b) = (create(&url, 2).await, create(&url, 2).await);
    assert_eq!(
        post(&url, &a.session, &a.tokens[0], 0, CHUNK)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post(&url, &b.session, &b.tokens[0], 0, CHUNK)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        post(&url, &b.session, &b.tokens[0], 1, CHUNK / 4)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // A third full chunk would pass the relay-wide bound: 503, retry later, JSON.
    let full = post(&url, &a.session, &a.tokens[0], 1, CHUNK).await;
    assert_eq!(full.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(full.headers().contains_key("retry-after"));
    let body: serde_json::Value = full.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("over all sessions"),
        "{body}"
    );
    assert_eq!(relay.stored_bytes().await, 2 * CHUNK + CHUNK / 4);

    // Session a's receiver takes and acknowledges its chunk: room again.
    let client = reqwest::Client::new();
    let take = |seq: u64| {
        client
            .get(format!(
                "{url}/v1/sessions/{}/from/0?seq={seq}&wait_ms=0",
                a.session
            ))
            .bearer_auth(&a.tokens[1])
            .send()
    };
    assert_eq!(take(0).await.unwrap().status(), StatusCode::OK);
    assert_eq!(take(1).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        post(&url, &a.session, &a.tokens[0], 1, CHUNK)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // Deleting a session gives its bytes back.
    let deleted = client
        .delete(format!("{url}/v1/sessions/{}", b.session))
        .bearer_auth(&b.tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(relay.stored_bytes().await, CHUNK);
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_nobody_joined_expire_quickly() {
    let (relay, url) = common::start_relay(RelayConfig {
        unjoined_ttl: Duration::from_millis(1500),
        ..RelayConfig::default()
    })
    .await;
    let abandoned = create(&url, 2).await;
    let used = create(&url, 2).await;
    let opts = ClientOptions::default();
    let _joined = HttpChannel::join_plaintext_insecure(&url, &used.session, &used.tokens[0], &opts)
        .await
        .unwrap();
    assert_eq!(relay.session_count().await, 2);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    // (The relay sweeps at most once a second, on requests.)
    assert_eq!(relay.session_count().await, 1);
    assert!(relay.session_stats(&abandoned.session).await.is_none());
    assert!(relay.session_stats(&used.session).await.is_some());
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_creation_is_rate_limited() {
    let (relay, url) = common::start_relay(RelayConfig {
        create_per_second: 2,
        ..RelayConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    // A burst of twice the rate passes, the next is refused with Retry-After.
    for _ in 0..5 {
        let answer = client
            .post(format!("{url}/v1/sessions"))
            .json(&serde_json::json!({"parties": 2}))
            .send()
            .await
            .unwrap();
        statuses.push(answer.status());
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(answer.headers().contains_key("retry-after"));
            let body: serde_json::Value = answer.json().await.unwrap();
            assert!(
                body["error"].as_str().unwrap().contains("per second"),
                "{body}"
            );
        }
    }
    assert_eq!(&statuses[..4], &[StatusCode::CREATED; 4]);
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(relay.session_count().await, 4);
    relay.shutdown();
}

//! The relay's `GET /metrics`: what traffic, retries and refusals do to its
//! counters, the gauges read at scrape time, and the operator token in front
//! of it. On 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::Duration;

use channel_core::{recv_bytes, send_bytes};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel, RelayTransport, local};
use common::metric;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_retries_and_refusals_show_in_the_metrics() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = |transport| ClientOptions {
        transport,
        recv_timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    };
    // Party 0 on the WebSocket, party 1 on long-polls, in one session.
    let (keys, table) = local::keys(2).unwrap();
    let invitations = HttpChannel::invite(&url, &table, None, &ClientOptions::default())
        .await
        .unwrap();
    let (over_socket, over_polls) = (
        opts(RelayTransport::WebSocket),
        opts(RelayTransport::LongPoll),
    );
    let (a, b) = tokio::join!(
        HttpChannel::join(&invitations[0], &keys[0], &over_socket),
        HttpChannel::join(&invitations[1], &keys[1], &over_polls),
    );
    let (mut a, mut b) = (a.unwrap(), b.unwrap());
    for round in 0..3 {
        let phase = format!("round-{round}");
        send_bytes(&mut a, 1, &phase, &[7u8; 10_000]).await.unwrap();
        assert_eq!(recv_bytes(&mut b, 0, &phase).await.unwrap().len(), 10_000);
        send_bytes(&mut b, 0, &phase, &[9u8; 10_000]).await.unwrap();
        assert_eq!(recv_bytes(&mut a, 1, &phase).await.unwrap().len(), 10_000);
    }
    assert_eq!(metric(&url, "relay_sessions").await, 1.0);
    assert_eq!(metric(&url, "relay_sessions_created_total").await, 1.0);
    let connected = metric(&url, "relay_parties_connected").await;
    assert!(
        (1.0..=2.0).contains(&connected),
        "{connected} parties connected"
    );
    for route in ["socket", "http"] {
        let chunks = metric(
            &url,
            &format!("relay_chunks_stored_total{{route=\"{route}\"}}"),
        )
        .await;
        let bytes = metric(
            &url,
            &format!("relay_stored_bytes_total{{route=\"{route}\"}}"),
        )
        .await;
        let out = metric(
            &url,
            &format!("relay_delivered_bytes_total{{route=\"{route}\"}}"),
        )
        .await;
        assert!(chunks >= 3.0, "{route}: {chunks} chunks stored");
        assert!(bytes >= 30_000.0, "{route}: {bytes} bytes stored");
        assert!(out >= 30_000.0, "{route}: {out} bytes delivered");
    }
    let stores = metric(
        &url,
        "relay_store_operation_seconds_count{operation=\"push\"}",
    )
    .await;
    assert!(stores >= 6.0, "{stores} pushes timed");

    // A chunk sent twice (a retry) is stored once and counted as a duplicate.
    let t = HttpChannel::create_session(&url, 2, None, &ClientOptions::default())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let stored_before = metric(&url, "relay_chunks_stored_total{route=\"http\"}").await;
    for _ in 0..2 {
        let answer = client
            .post(format!("{url}/v1/sessions/{}/to/1?seq=0", t.session))
            .bearer_auth(&t.tokens[0])
            .body(vec![1u8; 100])
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
    }
    assert_eq!(metric(&url, "relay_duplicates_total").await, 1.0);
    assert_eq!(
        metric(&url, "relay_chunks_stored_total{route=\"http\"}").await,
        stored_before + 1.0
    );

    // Refusals, by status: a malformed session id, a wrong token.
    let bad_id = client
        .get(format!("{url}/v1/sessions/nope"))
        .bearer_auth("x");
    assert_eq!(bad_id.send().await.unwrap().status(), 400);
    let stranger = client
        .get(format!("{url}/v1/sessions/{}", t.session))
        .bearer_auth("not-a-token");
    assert_eq!(stranger.send().await.unwrap().status(), 403);
    assert_eq!(
        metric(&url, "relay_refused_total{status=\"400\"}").await,
        1.0
    );
    assert_eq!(
        metric(&url, "relay_refused_total{status=\"403\"}").await,
        1.0
    );
    assert_eq!(
        metric(&url, "relay_held_bytes").await,
        relay.stored_bytes().await as f64
    );
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_operator_token_the_metrics_need_it() {
    let (relay, url) = common::start_relay(RelayConfig {
        operator_token: Some("op-secret".into()),
        ..RelayConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let none = client.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let wrong = client
        .get(format!("{url}/metrics"))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let right = client
        .get(format!("{url}/metrics"))
        .bearer_auth("op-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let kind = right.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = right.text().await.unwrap();
    assert!(text.contains("# TYPE relay_sessions gauge"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    relay.shutdown();
}

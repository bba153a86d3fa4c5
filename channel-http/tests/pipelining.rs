//! Requests in flight: sends that overtake each other are held by the relay
//! and delivered in order, a party keeps several sends and polls going on a
//! long path, and a failed send is reported and breaks its link.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::{Duration, Instant};

use channel_core::{Channel, recv_bytes, send_bytes};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel, RelayTransport, local};
use channel_sim::{Link, LinkProfile, LinkProxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_that_overtake_each_other_are_delivered_once_in_order() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let s = HttpChannel::create_session(&url, 2, None, &ClientOptions::default())
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let post = |seq: u64, body: &'static [u8]| {
        client
            .post(format!("{url}/v1/sessions/{}/to/1?seq={seq}", s.session))
            .bearer_auth(&s.tokens[0])
            .body(body)
            .send()
    };
    // 2 and 1 arrive before 0 (and 2 twice).
    for (seq, body) in [(2, &b"c"[..]), (1, b"b"), (2, b"c"), (0, b"a")] {
        assert_eq!(post(seq, body).await.unwrap().status(), 204, "seq {seq}");
    }
    let get = |seq: u64, ack: u64| {
        client
            .get(format!(
                "{url}/v1/sessions/{}/from/0?seq={seq}&ack={ack}&wait_ms=0",
                s.session
            ))
            .bearer_auth(&s.tokens[1])
            .send()
    };
    // A receiver with polls in flight asks ahead, acknowledging only what it has.
    assert_eq!(get(2, 0).await.unwrap().bytes().await.unwrap(), &b"c"[..]);
    assert_eq!(get(0, 0).await.unwrap().bytes().await.unwrap(), &b"a"[..]);
    assert_eq!(get(1, 1).await.unwrap().bytes().await.unwrap(), &b"b"[..]);
    let stats = relay.session_stats(&s.session).await.unwrap();
    assert_eq!((stats.messages, stats.duplicates), (3, 1));
    assert_eq!(stats.queued_bytes, 2, "0 is acknowledged, 1 and 2 are not");
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_and_receives_keep_requests_in_flight_on_a_long_path() {
    // 50 ms each way between each party and the relay: a request's round trip is 100 ms.
    let link = Link::symmetric(LinkProfile::latency(Duration::from_millis(50)));
    let mut proxies = Vec::new();
    let net = local::relay_network_routed(
        2,
        RelayConfig::default(),
        &ClientOptions::default(),
        async |_, addr| {
            let proxy = LinkProxy::start(addr, link).await?;
            let via = proxy.addr();
            proxies.push(proxy);
            Ok(via)
        },
    )
    .await
    .unwrap();
    let mut it = net.parties.into_iter();
    let (mut a, mut b) = (it.next().unwrap(), it.next().unwrap());
    // Warm: connections are open and polls are waiting.
    send_bytes(&mut a, 1, "warm", b"x").await.unwrap();
    recv_bytes(&mut b, 0, "warm").await.unwrap();
    let started = Instant::now();
    for i in 0..12u8 {
        send_bytes(&mut a, 1, "many", &[i; 100]).await.unwrap();
    }
    let sent = started.elapsed();
    for i in 0..12u8 {
        assert_eq!(recv_bytes(&mut b, 0, "many").await.unwrap(), [i; 100]);
    }
    a.flush().await.unwrap();
    let all = started.elapsed();
    // One request at a time would take 12 round trips (1.2 s) to send and as
    // many to receive; with requests in flight, a few.
    assert!(sent < Duration::from_millis(600), "sending took {sent:?}");
    assert!(all < Duration::from_millis(1200), "everything took {all:?}");
    net.relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_is_reported_by_flush_and_later_sends_to_that_peer_fail_at_once() {
    for transport in [RelayTransport::LongPoll, RelayTransport::WebSocket] {
        a_failed_send_is_reported(transport).await;
    }
}

async fn a_failed_send_is_reported(transport: RelayTransport) {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions {
        transport,
        ..ClientOptions::default()
    };
    let s = HttpChannel::create_session(&url, 2, None, &opts)
        .await
        .unwrap();
    let mut a = HttpChannel::join_plaintext_insecure(&url, &s.session, &s.tokens[0], &opts)
        .await
        .unwrap();
    // The session is deleted under the party: its next chunk is refused (404).
    let deleted = reqwest::Client::new()
        .delete(format!("{url}/v1/sessions/{}", s.session))
        .bearer_auth(&s.tokens[1])
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // The send is under way when it returns; the flush reports the refusal.
    send_bytes(&mut a, 1, "x", b"lost").await.unwrap();
    let err = a.flush().await.unwrap_err();
    assert_eq!(err.party(), Some(1), "{transport:?}: {err}");
    assert!(err.to_string().contains("404"), "{transport:?}: {err}");
    // Nothing more goes to that peer: what follows could not arrive in order.
    let started = Instant::now();
    let err = send_bytes(&mut a, 1, "y", b"more").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        channel_core::error_chain(&err).contains("not delivered"),
        "{err}"
    );
    relay.shutdown();
}

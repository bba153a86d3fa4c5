//! Parties that restart, processes that hold the same token, resends that
//! differ, and peers that die: nothing is lost silently, the one replaced is
//! told, and a dead peer is named well before the receive timeout. On 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::{Duration, Instant};

use channel_core::{Channel, Error, ErrorKind, recv_from, send_to};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel, HttpError, RelayTransport, local};
use channel_seal::SealError;
use reqwest::StatusCode;

fn opts() -> ClientOptions {
    ClientOptions {
        recv_timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_party_resumes_and_every_message_arrives_once() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let s = HttpChannel::create_session(&url, 2, None, &opts())
        .await
        .unwrap();
    let options = opts();
    let join = |party: usize| {
        HttpChannel::join_plaintext_insecure(&url, &s.session, &s.tokens[party], &options)
    };
    let (mut sender, mut receiver) = (join(0).await.unwrap(), join(1).await.unwrap());
    send_to(&mut sender, 1, "m", &111u32).await.unwrap();
    send_to(&mut sender, 1, "m", &222u32).await.unwrap();
    let first: u32 = recv_from(&mut receiver, 0, "m").await.unwrap();
    // The sender's process dies (no goodbye: a drop would close its channel)
    // and a new one joins with its token.
    common::crash(sender);
    let mut restarted = join(0).await.unwrap();
    send_to(&mut restarted, 1, "m", &333u32).await.unwrap();
    send_to(&mut restarted, 1, "m", &444u32).await.unwrap();
    let mut got = vec![first];
    for _ in 0..3 {
        got.push(recv_from::<_, u32>(&mut receiver, 0, "m").await.unwrap());
    }
    assert_eq!(got, [111, 222, 333, 444]);
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_processes_holding_one_token_the_older_is_told_it_was_replaced() {
    for transport in [RelayTransport::LongPoll, RelayTransport::WebSocket] {
        older_is_told(transport).await;
    }
}

async fn older_is_told(transport: RelayTransport) {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let s = HttpChannel::create_session(&url, 2, None, &opts())
        .await
        .unwrap();
    let options = ClientOptions {
        transport,
        ..opts()
    };
    let join = |party: usize| {
        HttpChannel::join_plaintext_insecure(&url, &s.session, &s.tokens[party], &options)
    };
    let mut older = join(0).await.unwrap();
    let mut newer = join(0).await.unwrap();
    let mut peer = join(1).await.unwrap();
    match transport {
        RelayTransport::WebSocket => {
            // The relay closes the older one's socket when the newer joins:
            // its send fails (or, if the close is still on its way, its
            // flush), and so does every later send.
            let err: Error = match send_to(&mut older, 1, "m", &1u8).await {
                Err(e) => e,
                Ok(()) => older.flush().await.unwrap_err().into(),
            };
            let chain = channel_core::error_chain(&err);
            assert!(chain.contains("was replaced"), "{chain}");
            let err = send_to(&mut older, 1, "m", &9u8).await.unwrap_err();
            let chain = channel_core::error_chain(&err);
            assert!(chain.contains("was replaced"), "{chain}");
        }
        _ => {
            // The send is under way when it returns; its refusal comes with the flush.
            send_to(&mut older, 1, "m", &1u8).await.unwrap();
            let err = older.flush().await.unwrap_err();
            assert!(matches!(err, HttpError::Replaced { .. }), "{err:?}");
            // From then on the link is broken: nothing more is sent.
            let err = send_to(&mut older, 1, "m", &9u8).await.unwrap_err();
            let chain = channel_core::error_chain(&err);
            assert!(chain.contains("not delivered"), "{chain}");
        }
    }
    let err = recv_from::<_, u8>(&mut older, 1, "m").await.unwrap_err();
    assert!(err.to_string().contains("receiving"), "{err}");
    // The newer one works, and nothing of the older arrived.
    send_to(&mut newer, 1, "m", &2u8).await.unwrap();
    assert_eq!(recv_from::<_, u8>(&mut peer, 0, "m").await.unwrap(), 2);
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_with_other_content_is_refused_with_its_own_status() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let s = HttpChannel::create_session(&url, 2, None, &opts())
        .await
        .unwrap();
    let post = |body: &'static [u8]| {
        reqwest::Client::new()
            .post(format!("{url}/v1/sessions/{}/to/1?seq=0", s.session))
            .bearer_auth(&s.tokens[0])
            .body(body)
            .send()
    };
    assert_eq!(
        post(b"first").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let same = post(b"first").await.unwrap();
    assert_eq!(same.status(), StatusCode::NO_CONTENT);
    assert_eq!(same.headers()["x-duplicate"], "true");
    let other = post(b"other").await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = other.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("other content"),
        "{body}"
    );
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_party_that_restarts_is_refused_and_its_peers_learn_it_at_once() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let (keys, public) = local::keys(2).unwrap();
    let invitations = HttpChannel::invite(&url, &public, None, &opts())
        .await
        .unwrap();
    let mut parties = local::join_all(&invitations, &keys, &opts()).await.unwrap();
    let mut peer = parties.pop().unwrap();
    let mut first = parties.pop().unwrap();
    send_to(&mut first, 1, "m", &7u8).await.unwrap();
    assert_eq!(recv_from::<_, u8>(&mut peer, 0, "m").await.unwrap(), 7);
    // Its process dies: no goodbye.
    common::crash(first);
    let started = Instant::now();
    match HttpChannel::join(&invitations[0], &keys[0], &opts()).await {
        Err(HttpError::Setup(m)) => assert!(m.contains("cannot resume"), "{m}"),
        other => panic!("a restarted sealed party joined: {other:?}"),
    }
    let err = recv_from::<_, u8>(&mut peer, 0, "m").await.unwrap_err();
    let Error::Recv { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(
            source.downcast_ref::<HttpError>(),
            Some(HttpError::Seal(SealError::Refused { party: 0 }))
        ),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_peer_is_named_well_before_the_timeout_and_a_quiet_one_is_not() {
    let (relay, url) = common::start_relay(RelayConfig {
        max_wait: Duration::from_secs(1),
        peer_gone_after: Duration::from_secs(6),
        ..RelayConfig::default()
    })
    .await;
    let mut parties = local::join_session(&url, 3, &opts()).await.unwrap();
    let killed = parties.pop().unwrap();
    let mut quiet = parties.pop().unwrap();
    let mut waiting = parties.pop().unwrap();
    // Party 1 says nothing for longer than the bound, but its heartbeat runs.
    let slow = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(9)).await;
        send_to(&mut quiet, 0, "late", &5u8).await.unwrap();
        quiet
    });
    // Party 2's process dies: its heartbeat stops with it, and it says no goodbye.
    common::crash(killed);
    let started = Instant::now();
    let err = recv_from::<_, u8>(&mut waiting, 2, "open")
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::PeerGone, "{err:?}");
    assert_eq!(err.party(), Some(2));
    assert!(err.to_string().contains("party 2"), "{err}");
    assert!(
        took < Duration::from_secs(15),
        "took {took:?}, the receive timeout is 60 s"
    );
    // The quiet party was never reported gone: its message arrives.
    assert_eq!(
        recv_from::<_, u8>(&mut waiting, 1, "late").await.unwrap(),
        5
    );
    slow.await.unwrap();
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_waits_for_a_relay_that_restarts() {
    // A relay that is not up yet: the client retries its set-up.
    let (listener, url) = local::listener().await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let joining = {
        let url = url.clone();
        tokio::spawn(async move { HttpChannel::create_session(&url, 2, None, &opts()).await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let relay = channel_http::relay::Relay::new(RelayConfig::default());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(channel_http::serve(
        listener,
        relay.router(),
        relay.shutdown_signal(),
    ));
    let created = tokio::time::timeout(Duration::from_secs(20), joining)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(created.tokens.len(), 2);
    relay.shutdown();
}

/// Two plaintext direct-mode parties on 127.0.0.1 and their tables.
async fn direct_pair() -> (
    Vec<channel_http::DirectConfig>,
    Vec<tokio::net::TcpListener>,
) {
    let (mut listeners, mut urls) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let (listener, url) = local::listener().await.unwrap();
        listeners.push(listener);
        urls.push(url);
    }
    let (_, public) = local::keys(2).unwrap();
    (
        channel_http::DirectConfig::generate(&urls, &public).unwrap(),
        listeners,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_direct_party_resumes_and_a_replaced_one_is_told() {
    use channel_http::{DirectChannel, DirectOptions};
    let (tables, mut listeners) = direct_pair().await;
    let one = listeners.pop().unwrap();
    let zero = listeners.pop().unwrap();
    let addr = zero.local_addr().unwrap();
    let options = DirectOptions::default();
    let (zero, one) = tokio::join!(
        DirectChannel::start_plaintext_insecure(zero, tables[0].clone(), options.clone()),
        DirectChannel::start_plaintext_insecure(one, tables[1].clone(), options.clone()),
    );
    let (mut zero, mut one) = (zero.unwrap(), one.unwrap());
    send_to(&mut zero, 1, "m", &1u8).await.unwrap();
    send_to(&mut zero, 1, "m", &2u8).await.unwrap();
    // Party 0 restarts on the same address (its process died, no goodbye):
    // it resumes its numbering.
    common::crash(zero);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let again = tokio::net::TcpListener::bind(addr).await.unwrap();
    let mut restarted =
        DirectChannel::start_plaintext_insecure(again, tables[0].clone(), options.clone())
            .await
            .unwrap();
    send_to(&mut restarted, 1, "m", &3u8).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(recv_from::<_, u8>(&mut one, 0, "m").await.unwrap());
    }
    assert_eq!(got, [1, 2, 3]);
    // A second process of party 0 (elsewhere) joins: the first is replaced.
    let (elsewhere, _) = local::listener().await.unwrap();
    let mut newer = DirectChannel::start_plaintext_insecure(elsewhere, tables[0].clone(), options)
        .await
        .unwrap();
    send_to(&mut restarted, 1, "m", &4u8).await.unwrap();
    let err = restarted.flush().await.unwrap_err();
    assert!(matches!(err, HttpError::Replaced { .. }), "{err:?}");
    send_to(&mut newer, 1, "m", &5u8).await.unwrap();
    assert_eq!(recv_from::<_, u8>(&mut one, 0, "m").await.unwrap(), 5);
}

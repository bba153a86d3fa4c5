//! Relay processes on one Redis: parties of one session spread over two
//! `channel-relay` processes, one of them killed (SIGKILL) in the middle of
//! 64 MiB transfers and started again; everything arrives once and in order.
//!
//! These need a Redis (`local::STORE_VARIABLE`, which `cargo xtask test-all`
//! sets in its "relay on Redis" step, where they run with
//! `--include-ignored`); without it they fail, saying so. On 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::Duration;

use channel_core::testkit::pattern;
use channel_core::{recv_bytes, send_bytes};
use channel_http::{ClientOptions, HttpChannel, RelayTransport, local};

fn redis_url() -> String {
    std::env::var(local::STORE_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "set {} to a Redis URL (cargo xtask test-all starts one)",
            local::STORE_VARIABLE
        )
    })
}

/// A `channel-relay` process on `listen` keeping its sessions in `namespace`.
async fn relay_process(listen: &str, namespace: &str) -> (common::Running, String) {
    let url = redis_url();
    let args = [
        "--listen",
        listen,
        "--store",
        url.as_str(),
        "--store-namespace",
        namespace,
        "--peer-gone-secs",
        "60",
    ];
    common::start(&args, &[]).await
}

const BIG: usize = 64 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Redis: runs in `cargo xtask test-all` (step \"relay on Redis\")"]
async fn two_relays_on_one_redis_serve_one_session_and_a_killed_one_loses_nothing() {
    let namespace = format!("two-relays-{}", std::process::id());
    let (mut a, a_url) = relay_process("127.0.0.1:0", &namespace).await;
    let (_b, b_url) = relay_process("127.0.0.1:0", &namespace).await;
    assert_ne!(a_url, b_url);

    // Created through relay A; party 0 is served by A (WebSocket), party 1
    // by B (long-polls).
    let opts = |transport| ClientOptions {
        transport,
        recv_timeout: Duration::from_secs(120),
        ..ClientOptions::default()
    };
    let (over_socket, over_polls) = (
        opts(RelayTransport::WebSocket),
        opts(RelayTransport::LongPoll),
    );
    let (keys, table) = local::keys(2).unwrap();
    let mut invitations = HttpChannel::invite(&a_url, &table, None, &over_socket)
        .await
        .unwrap();
    invitations[1].relay = b_url.clone();
    let (zero, one) = tokio::join!(
        HttpChannel::join(&invitations[0], &keys[0], &over_socket),
        HttpChannel::join(&invitations[1], &keys[1], &over_polls),
    );
    let (mut zero, mut one) = (zero.unwrap(), one.unwrap());

    // Each sends a small message, 64 MiB, and a small one again, and takes
    // the other's, while relay A is killed and started again on its address.
    let messages = |from: u64| {
        vec![
            pattern(from, 100),
            pattern(10 + from, BIG),
            pattern(20 + from, 100),
        ]
    };
    let side = async |ch: &mut HttpChannel, me: u64, peer: usize| {
        let (mine, theirs) = (messages(me), messages(1 - me));
        for m in &mine {
            send_bytes(&mut *ch, peer, "m", m).await.unwrap();
        }
        for (i, expected) in theirs.iter().enumerate() {
            let got = recv_bytes(&mut *ch, peer, "m").await.unwrap();
            assert!(got == *expected, "party {me}: message {i} differs");
        }
        channel_core::Channel::flush(&mut *ch).await.unwrap();
    };
    let a_addr = a_url.trim_start_matches("http://").to_string();
    let (session, token) = (invitations[0].session.clone(), invitations[0].token.clone());
    let restart = async {
        // Killed while chunks are in flight (held in the store, seen through B).
        let stats = format!("{b_url}/v1/sessions/{session}/stats");
        let mut held = 0;
        for _ in 0..2000 {
            let answer = reqwest::Client::new()
                .get(&stats)
                .bearer_auth(&token)
                .send()
                .await;
            let json: serde_json::Value = answer.unwrap().json().await.unwrap();
            held = json["queued_bytes"].as_u64().unwrap();
            if held > (1 << 20) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(held > (1 << 20), "the transfer never had chunks in flight");
        // SIGKILL: no goodbye, nothing flushed; the sessions are in Redis.
        a.0.kill().unwrap();
        a.0.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        relay_process(&a_addr, &namespace).await
    };
    let ((), (), (again, again_url)) = tokio::time::timeout(Duration::from_secs(180), async {
        tokio::join!(side(&mut zero, 0, 1), side(&mut one, 1, 0), restart)
    })
    .await
    .expect("the computation did not finish within 180 s");
    assert_eq!(again_url, a_url);

    // And the session goes on, through both processes.
    send_bytes(&mut zero, 1, "after", b"still here")
        .await
        .unwrap();
    assert_eq!(
        recv_bytes(&mut one, 0, "after").await.unwrap(),
        b"still here"
    );
    drop(again);

    // Redis holds digests of the tokens, never the tokens.
    let tokens: Vec<String> = invitations.iter().map(|i| i.token.clone()).collect();
    assert_no_token_in_redis(&namespace, &tokens).await;
}

/// Reads every key of `namespace` and every field and value of its hashes.
async fn assert_no_token_in_redis(namespace: &str, tokens: &[String]) {
    use redis::AsyncCommands;
    let client = redis::Client::open(redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = con.keys(format!("{namespace}:*")).await.unwrap();
    assert!(!keys.is_empty(), "nothing of {namespace} in Redis");
    let mut seen = Vec::<u8>::new();
    for key in &keys {
        seen.extend_from_slice(key.as_bytes());
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut con)
            .await
            .unwrap();
        if kind == "hash" {
            let all: Vec<Vec<u8>> = con.hgetall(key).await.unwrap();
            for part in all {
                seen.extend_from_slice(&part);
            }
        }
    }
    for token in tokens {
        let found = seen.windows(token.len()).any(|w| w == token.as_bytes());
        assert!(!found, "a token is stored in Redis");
    }
}

/// A TCP proxy on 127.0.0.1 that sends each new connection to the next of
/// `backends` in turn (a load balancer without stickiness); counts per backend.
async fn round_robin(
    backends: Vec<String>,
) -> (String, std::sync::Arc<Vec<std::sync::atomic::AtomicU64>>) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let counts = std::sync::Arc::new(
        backends
            .iter()
            .map(|_| AtomicU64::new(0))
            .collect::<Vec<_>>(),
    );
    let counted = counts.clone();
    tokio::spawn(async move {
        // Bounded by the test: the runtime ends with it.
        for turn in 0usize.. {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let i = turn % backends.len();
            counted[i].fetch_add(1, Ordering::Relaxed);
            let backend = backends[i].trim_start_matches("http://").to_string();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (url, counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Redis: runs in `cargo xtask test-all` (step \"relay on Redis\")"]
async fn behind_a_load_balancer_every_request_may_reach_another_process() {
    use std::sync::atomic::Ordering;
    let namespace = format!("balanced-{}", std::process::id());
    let (_a, a_url) = relay_process("127.0.0.1:0", &namespace).await;
    let (_b, b_url) = relay_process("127.0.0.1:0", &namespace).await;
    let (balanced, counts) = round_robin(vec![a_url, b_url]).await;
    // Three parties, all through the balancer: two on long-polls (a request
    // per chunk, several connections), one on the WebSocket.
    let opts = |transport| ClientOptions {
        transport,
        recv_timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    };
    let (polls, socket) = (
        opts(RelayTransport::LongPoll),
        opts(RelayTransport::WebSocket),
    );
    let (keys, table) = local::keys(3).unwrap();
    let invitations = HttpChannel::invite(&balanced, &table, None, &polls)
        .await
        .unwrap();
    let (p0, p1, p2) = tokio::join!(
        HttpChannel::join(&invitations[0], &keys[0], &polls),
        HttpChannel::join(&invitations[1], &keys[1], &polls),
        HttpChannel::join(&invitations[2], &keys[2], &socket),
    );
    let mut parties = [p0.unwrap(), p1.unwrap(), p2.unwrap()];
    let inputs = [11u64, 22, 33];
    let sums = tokio::time::timeout(Duration::from_secs(120), async {
        let [a, b, c] = &mut parties;
        // Fixed "randomness": the sum is what is checked here, not secrecy.
        tokio::join!(
            channel_core::reference::secure_sum(a, 0, 3, inputs[0], || 7),
            channel_core::reference::secure_sum(b, 1, 3, inputs[1], || 8),
            channel_core::reference::secure_sum(c, 2, 3, inputs[2], || 9),
        )
    })
    .await
    .expect("the sum did not finish within 120 s");
    for sum in [sums.0, sums.1, sums.2] {
        assert_eq!(sum.unwrap(), 66);
    }
    let served: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    assert!(
        served.iter().all(|&n| n >= 1),
        "connections per process: {served:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Redis: runs in `cargo xtask test-all` (step \"relay on Redis\")"]
async fn a_deleted_session_leaves_nothing_in_redis() {
    use redis::AsyncCommands;
    let namespace = format!("deleted-{}", std::process::id());
    let store = channel_http::relay::RelayStore::Redis {
        url: redis_url(),
        namespace: namespace.clone(),
    };
    let (relay, url) = local::start_relay_on(channel_http::relay::RelayConfig::default(), &store)
        .await
        .unwrap();
    let opts = ClientOptions::default();
    let (keys, table) = local::keys(3).unwrap();
    let invitations = HttpChannel::invite(&url, &table, None, &opts)
        .await
        .unwrap();
    let mut parties = local::join_all(&invitations, &keys, &opts).await.unwrap();
    // Chunks on two links, one of them left unacknowledged.
    send_bytes(&mut parties[0], 1, "m", &[1u8; 5000])
        .await
        .unwrap();
    send_bytes(&mut parties[2], 1, "m", &[2u8; 5000])
        .await
        .unwrap();
    assert_eq!(
        recv_bytes(&mut parties[1], 0, "m").await.unwrap().len(),
        5000
    );
    channel_core::Channel::flush(&mut parties[2]).await.unwrap();
    assert!(relay.stored_bytes().await > 0);
    let deleted = reqwest::Client::new()
        .delete(format!("{url}/v1/sessions/{}", invitations[0].session))
        .bearer_auth(&invitations[0].token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let client = redis::Client::open(redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let left: Vec<String> = con
        .keys(format!("{namespace}:{{{}}}*", invitations[0].session))
        .await
        .unwrap();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(relay.stored_bytes().await, 0);
    relay.shutdown();
}

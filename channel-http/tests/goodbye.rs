//! A party that closes or drops its channel says goodbye (to the relay, or to
//! every peer's endpoint in direct mode): its
//! peers' receives from it end at once with a typed error naming it (after
//! everything it sent), their sends to it are refused, and the other parties
//! carry on. On 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::{Duration, Instant};

use channel_core::testkit::pattern;
use channel_core::{recv_bytes, send_bytes};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, local};

fn options() -> ClientOptions {
    // Far beyond the test's bound: only the goodbye can end the wait in time.
    ClientOptions {
        recv_timeout: Duration::from_secs(120),
        ..ClientOptions::default()
    }
}

async fn after_goodbye(drop_it: bool) {
    let net = local::relay_network(3, RelayConfig::default(), &options())
        .await
        .unwrap();
    let mut parties = net.parties;
    let mut two = parties.pop().unwrap();
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    // More than one chunk, so that sends are still in flight when it leaves.
    for i in 0..3u64 {
        send_bytes(&mut one, 0, "last", &pattern(i, 3 << 20))
            .await
            .unwrap();
    }
    let started = Instant::now();
    if drop_it {
        drop(one);
    } else {
        one.close().await.unwrap();
    }
    for i in 0..3u64 {
        let got = recv_bytes(&mut zero, 1, "last").await.unwrap();
        assert_eq!(got, pattern(i, 3 << 20), "message {i}");
    }
    let e = recv_bytes(&mut zero, 1, "more").await.unwrap_err();
    let chain = channel_core::error_chain(&e);
    assert!(e.is_peer_gone(), "{chain}");
    assert!(
        chain.contains("party 1") && chain.contains("closed its channel"),
        "{chain}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // Sends to it are refused (at the latest when flushed).
    let refused = match send_bytes(&mut zero, 1, "after", b"x").await {
        Err(e) => e,
        Ok(()) => channel_core::Channel::flush(&mut zero)
            .await
            .map_err(channel_core::Error::from)
            .unwrap_err(),
    };
    assert!(
        channel_core::error_chain(&refused).contains("closed its channel"),
        "{}",
        channel_core::error_chain(&refused)
    );
    // Parties 0 and 2 carry on.
    send_bytes(&mut two, 0, "on", b"carry on").await.unwrap();
    assert_eq!(recv_bytes(&mut zero, 2, "on").await.unwrap(), b"carry on");
    net.relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_closes_its_channel_is_reported_at_once() {
    after_goodbye(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_drops_its_channel_is_reported_at_once() {
    after_goodbye(true).await;
}

async fn direct_after_goodbye(drop_it: bool) {
    let options = channel_http::DirectOptions {
        client: options(),
        ..channel_http::DirectOptions::default()
    };
    let mut parties = local::direct_network(3, &options).await.unwrap();
    let mut two = parties.pop().unwrap();
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    for i in 0..3u64 {
        send_bytes(&mut one, 0, "last", &pattern(i, 3 << 20))
            .await
            .unwrap();
    }
    let started = Instant::now();
    if drop_it {
        drop(one);
    } else {
        one.close().await.unwrap();
    }
    for i in 0..3u64 {
        let got = recv_bytes(&mut zero, 1, "last").await.unwrap();
        assert_eq!(got, pattern(i, 3 << 20), "message {i}");
    }
    let e = recv_bytes(&mut zero, 1, "more").await.unwrap_err();
    let chain = channel_core::error_chain(&e);
    assert!(e.is_peer_gone(), "{chain}");
    assert!(
        chain.contains("party 1") && chain.contains("closed its channel"),
        "{chain}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let e = send_bytes(&mut zero, 1, "after", b"x").await.unwrap_err();
    assert!(e.is_peer_gone(), "{}", channel_core::error_chain(&e));
    send_bytes(&mut two, 0, "on", b"carry on").await.unwrap();
    assert_eq!(recv_bytes(&mut zero, 2, "on").await.unwrap(), b"carry on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_party_that_closes_its_channel_is_reported_at_once() {
    direct_after_goodbye(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_party_that_drops_its_channel_is_reported_at_once() {
    direct_after_goodbye(true).await;
}

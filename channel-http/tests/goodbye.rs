//! A party that closes or drops its channel says goodbye (to the relay, or to
//! every peer's endpoint in direct mode): its
//! peers' receives from it end at once with a typed error naming it (after
//! everything it sent), their sends to it are refused, and the other parties
//! carry on. On 127.0.0.1; every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::{Duration, Instant};

use channel_core::testkit::pattern;
use channel_core::{Channel, recv_bytes, send_bytes};
use channel_http::relay::RelayConfig;
use channel_http::{
    ClientOptions, DirectChannel, DirectOptions, HttpChannel, RelayTransport, local,
};

fn options() -> ClientOptions {
    // Far beyond the test's bound: only the goodbye can end the wait in time.
    ClientOptions {
        recv_timeout: Duration::from_secs(120),
        ..ClientOptions::default()
    }
}

/// Where a send to a party that said goodbye is refused.
enum Refused {
    /// At once (direct mode: the goodbye reached this party's own endpoint).
    AtSend,
    /// At the send, or at the latest when flushed (the relay refuses the
    /// request a send started).
    AtSendOrFlush,
}

/// Party 1 of `parties` sends three messages, then `leaves`; party 0 gets
/// them, then a typed error naming party 1, well before its receive timeout.
async fn reported_at_once<C: Channel>(
    mut parties: Vec<C>,
    leave: impl AsyncFnOnce(C),
    refused: Refused,
) where
    channel_core::Error: From<C::SendError>,
{
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
    leave(one).await;
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
    match refused {
        Refused::AtSend => {
            let e = send_bytes(&mut zero, 1, "after", b"x").await.unwrap_err();
            assert!(e.is_peer_gone(), "{}", channel_core::error_chain(&e));
        }
        Refused::AtSendOrFlush => {
            let refused = match send_bytes(&mut zero, 1, "after", b"x").await {
                Err(e) => e,
                Ok(()) => channel_core::Error::from(zero.flush().await.unwrap_err()),
            };
            assert!(
                channel_core::error_chain(&refused).contains("closed its channel"),
                "{}",
                channel_core::error_chain(&refused)
            );
        }
    }
    // Parties 0 and 2 carry on.
    send_bytes(&mut two, 0, "on", b"carry on").await.unwrap();
    assert_eq!(recv_bytes(&mut zero, 2, "on").await.unwrap(), b"carry on");
}

/// Over each of the relay's ways (the WebSocket, then the HTTP routes).
async fn relay(leave: impl AsyncFn(HttpChannel)) {
    for way in [RelayTransport::WebSocket, RelayTransport::LongPoll] {
        let options = ClientOptions {
            transport: way,
            ..options()
        };
        let net = local::relay_network(3, RelayConfig::default(), &options)
            .await
            .unwrap();
        assert_eq!(net.parties[0].transport(), way);
        reported_at_once(net.parties, &leave, Refused::AtSendOrFlush).await;
        net.relay.shutdown();
    }
}

async fn direct(leave: impl AsyncFnOnce(DirectChannel)) {
    let options = DirectOptions {
        client: options(),
        ..DirectOptions::default()
    };
    let parties = local::direct_network(3, &options).await.unwrap();
    reported_at_once(parties, leave, Refused::AtSend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_closes_its_channel_is_reported_at_once() {
    relay(async |one| one.close().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_drops_its_channel_is_reported_at_once() {
    relay(async |one| drop(one)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_party_that_closes_its_channel_is_reported_at_once() {
    direct(async |one| one.close().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_party_that_drops_its_channel_is_reported_at_once() {
    direct(async |one| drop(one)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_drops_its_split_halves_is_reported_at_once() {
    use channel_core::asynchronous::Split;
    relay(async |one| drop(one.split())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_party_that_drops_its_split_halves_is_reported_at_once() {
    use channel_core::asynchronous::Split;
    direct(async |one| drop(one.split())).await;
}

/// While one half of a split party lives, the party is still there: a peer
/// it no longer sends to can still send to it; the goodbye goes with the
/// last half.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_goodbye_of_a_split_party_waits_for_its_last_half() {
    use channel_core::asynchronous::Split;
    for way in [RelayTransport::WebSocket, RelayTransport::LongPoll] {
        let options = ClientOptions {
            transport: way,
            ..options()
        };
        let net = local::relay_network(2, RelayConfig::default(), &options)
            .await
            .unwrap();
        let mut parties = net.parties;
        let one = parties.pop().unwrap();
        let mut zero = parties.pop().unwrap();
        let peers = one.split();
        let (mut senders, mut receivers) = (peers.senders, peers.receivers);
        let (mut to_zero, mut from_zero) = (senders.remove(0), receivers.remove(0));
        to_zero.send_bytes("before", b"last words").await.unwrap();
        to_zero.flush().await.unwrap();
        drop(to_zero);
        assert_eq!(
            recv_bytes(&mut zero, 1, "before").await.unwrap(),
            b"last words"
        );
        send_bytes(&mut zero, 1, "after", b"still heard")
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), from_zero.recv_bytes("after"))
            .await
            .expect("receiving after the sender half was dropped")
            .unwrap();
        assert_eq!(got, b"still heard", "{way:?}");

        let started = Instant::now();
        drop(from_zero);
        let e = tokio::time::timeout(Duration::from_secs(20), recv_bytes(&mut zero, 1, "gone"))
            .await
            .expect("the goodbye arrives well before the receive timeout")
            .unwrap_err();
        let chain = channel_core::error_chain(&e);
        assert!(
            e.is_peer_gone() && chain.contains("closed its channel"),
            "{way:?}: {chain}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        net.relay.shutdown();
    }
}

//! Per-peer halves over TLS on 127.0.0.1: a peer hears this party's goodbye
//! only once both halves towards it are gone, and then at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::Duration;

use channel_core::asynchronous::Split;
use channel_core::{recv_bytes, send_bytes};
use channel_tcp::{TcpOptions, local};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_sender_half_leaves_receiving_open_and_both_halves_say_goodbye() {
    let options = TcpOptions::default();
    let mut parties = local::network(2, &options).await.unwrap();
    let mut one = parties.pop().unwrap();
    let zero = parties.pop().unwrap();
    let peers = zero.split();
    let (mut senders, mut receivers) = (peers.senders, peers.receivers);
    let (to_one, mut from_one) = (senders.remove(0), receivers.remove(0));

    let mut to_one = to_one;
    to_one.send_bytes("before", b"last words").await.unwrap();
    to_one.flush().await.unwrap();
    drop(to_one);
    // Party 1 still sends to party 0, and party 0 still receives.
    assert_eq!(
        recv_bytes(&mut one, 0, "before").await.unwrap(),
        b"last words"
    );
    send_bytes(&mut one, 0, "after", b"still heard")
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), from_one.recv_bytes("after"))
        .await
        .expect("receiving after the sender half was dropped")
        .unwrap();
    assert_eq!(got, b"still heard");

    // Both halves gone: party 1's next receive fails at once, naming the goodbye.
    drop(from_one);
    let err = tokio::time::timeout(Duration::from_secs(10), recv_bytes(&mut one, 0, "gone"))
        .await
        .expect("the goodbye arrives well before the receive timeout")
        .unwrap_err();
    assert!(err.is_peer_gone(), "{err}");
    assert!(
        channel_core::error_chain(&err).contains("closed its channel"),
        "{err}"
    );
}

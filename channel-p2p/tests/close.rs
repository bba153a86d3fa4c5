//! `close`/`flush`: a party that ends right after its last send loses nothing,
//! a receiver that does not read holds back the rest (the inbound bound),
//! and waiting on a dead peer is a typed error, on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use channel_core::testkit::pattern;
use channel_core::{recv_bytes, send_bytes};
use channel_p2p::{P2pError, P2pNode, P2pOptions, PartyEntry, PartyKey};

const MESSAGES: usize = 4;
const SIZE: usize = 6 << 20;

/// Party 1 runs on its own single-threaded runtime that ends as soon as its
/// work does, like a `#[tokio::main(flavor = "current_thread")]` program: the
/// sends still in its queues when the runtime stops would be lost without `close`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_delivers_everything_before_a_short_lived_runtime_ends() {
    let (entry_tx, entry_rx) = mpsc::channel::<PartyEntry>();
    let (table_tx, table_rx) = mpsc::channel::<Vec<PartyEntry>>();
    let sender = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let node = P2pNode::bind(
                &PartyKey::generate(),
                "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            )
            .await
            .unwrap();
            entry_tx
                .send(PartyEntry {
                    peer_id: node.peer_id(),
                    addrs: node.listen_addrs().to_vec(),
                })
                .unwrap();
            let table = table_rx.recv_timeout(Duration::from_secs(30)).unwrap();
            let mut ch = node.connect(1, table, P2pOptions::default()).await.unwrap();
            for i in 0..MESSAGES {
                send_bytes(&mut ch, 0, "data", &pattern(i as u64, SIZE))
                    .await
                    .unwrap();
            }
            ch.close().await.unwrap();
        });
        // The runtime and every task of party 1 end here.
    });

    let zero = P2pNode::bind(
        &PartyKey::generate(),
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    )
    .await
    .unwrap();
    let one = tokio::task::spawn_blocking(move || entry_rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .unwrap();
    let table = vec![
        PartyEntry {
            peer_id: zero.peer_id(),
            addrs: zero.listen_addrs().to_vec(),
        },
        one,
    ];
    table_tx.send(table.clone()).unwrap();
    let options = P2pOptions {
        recv_timeout: Duration::from_secs(30),
        ..P2pOptions::default()
    };
    let mut ch = zero.connect(0, table, options).await.unwrap();
    for i in 0..MESSAGES {
        let got = recv_bytes(&mut ch, 1, "data").await.unwrap();
        assert_eq!(got, pattern(i as u64, SIZE), "message {i}");
    }
    tokio::task::spawn_blocking(move || sender.join())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_towards_a_dead_peer_is_a_typed_error() {
    let options = P2pOptions {
        connect_timeout: Duration::from_secs(10),
        reconnect_timeout: Duration::from_secs(2),
        // Room for the whole message, so that the send returns and the
        // flush is what meets the dead peer.
        max_outbound_bytes: 64 << 20,
        ..P2pOptions::default()
    };
    // Party 1 lives in its own runtime, so that it can die abruptly.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (mut nodes, table) = common::nodes(2).await.unwrap();
    let one_node = nodes.pop().unwrap();
    let zero_node = nodes.pop().unwrap();
    let one = doomed.spawn(one_node.connect(1, table.clone(), options.clone()));
    let mut zero = zero_node.connect(0, table, options).await.unwrap();
    let one = one.await.unwrap().unwrap();
    doomed.shutdown_background();
    std::mem::forget(one); // its runtime is gone; dropping it would only wake dead tasks

    // Big enough that it cannot all be acknowledged before the peer is gone.
    send_bytes(&mut zero, 1, "data", &pattern(7, 32 << 20))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let flushed = tokio::time::timeout(Duration::from_secs(30), zero.flush())
        .await
        .expect("flush must give up within the reconnect timeout, not hang");
    match flushed {
        Err(P2pError::PeerLost { party: 1, .. }) => {}
        other => panic!("expected PeerLost for party 1, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// A receiver that does not read takes in at most `max_inbound_bytes`; the rest
/// stays unacknowledged on the sender's side (so `flush` cannot finish) until the
/// receiver reads, and then everything arrives once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_does_not_read_holds_back_the_rest() {
    let options = P2pOptions {
        chunk_size: 256 << 10,
        max_inbound_bytes: 1 << 20,
        recv_timeout: Duration::from_secs(1),
        ..P2pOptions::default()
    };
    let mut parties = common::parties(2, &options).await.unwrap();
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    const CHUNKS: usize = 32; // 8 MiB: far beyond the bound plus Yamux's and TCP's buffers
    for i in 0..CHUNKS {
        send_bytes(&mut zero, 1, "data", &pattern(i as u64, 200 << 10))
            .await
            .unwrap();
    }
    match zero.flush().await {
        Err(P2pError::Transport(channel_p2p::TransportError::Timeout { party: 1, .. })) => {}
        other => panic!("flush must wait for the reader, got {other:?}"),
    }
    for i in 0..CHUNKS {
        let got = recv_bytes(&mut one, 0, "data").await.unwrap();
        assert_eq!(got, pattern(i as u64, 200 << 10), "message {i}");
    }
    zero.flush().await.unwrap();
}

/// A party that drops its channel says goodbye on every lane: its peers'
/// pending and later receives fail at once with a typed error naming it (after
/// everything it sent), and their sends to it fail too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_drops_its_channel_is_reported_at_once_not_at_the_timeout() {
    let options = P2pOptions {
        recv_timeout: Duration::from_secs(120),
        lanes: 2,
        ..P2pOptions::default()
    };
    let mut parties = common::parties(2, &options).await.unwrap();
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    for i in 0..3u64 {
        send_bytes(&mut one, 0, "last", &pattern(i, 1000))
            .await
            .unwrap();
    }
    let started = std::time::Instant::now();
    drop(one);
    for i in 0..3u64 {
        let got = recv_bytes(&mut zero, 1, "last").await.unwrap();
        assert_eq!(got, pattern(i, 1000), "message {i}");
    }
    let e = recv_bytes(&mut zero, 1, "more").await.unwrap_err();
    let chain = channel_core::error_chain(&e);
    assert!(e.is_peer_gone(), "{chain}");
    assert!(
        chain.contains("party 1") && chain.contains("closed its channel"),
        "{chain}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let e = send_bytes(&mut zero, 1, "after", b"x").await.unwrap_err();
    assert!(e.is_peer_gone(), "{e}");
}

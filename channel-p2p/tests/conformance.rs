//! channel-core's full conformance kit over libp2p, 2, 3 and 5 parties, 64 MiB included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_p2p::P2pOptions;

async fn kit(n: usize) {
    common::run_kit(n, &P2pOptions::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_parties() {
    kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parties() {
    kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_parties() {
    kit(5).await;
}

/// An engine that hands the transport chunks of its own must learn at once
/// that one is too large, as a typed error naming the peer and the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_chunk_is_a_typed_error() {
    use channel_core::{Channel, SendInfo};
    use channel_p2p::{P2pError, TransportError};

    let options = P2pOptions {
        chunk_size: 1024,
        ..P2pOptions::default()
    };
    let mut parties = common::parties(2, &options).await.unwrap();
    let limit = 1024 + channel_core::frame::FOOTER_LEN;
    let err = parties[0]
        .send_bytes_to(1, vec![0; limit + 1], SendInfo::new("big", 0, 1))
        .await
        .unwrap_err();
    match err {
        P2pError::Transport(TransportError::ChunkTooLarge {
            party: 1,
            size,
            limit: l,
        }) => assert_eq!((size, l), (limit + 1, limit)),
        other => panic!("expected ChunkTooLarge, got {other:?}"),
    }
    // The helpers cut the same bytes into chunks that fit.
    channel_core::send_bytes(&mut parties[0], 1, "big", &vec![7; 10_000])
        .await
        .unwrap();
    let got = channel_core::recv_bytes(&mut parties[1], 0, "big")
        .await
        .unwrap();
    assert_eq!(got, vec![7; 10_000]);
    for party in parties {
        party.close().await.unwrap();
    }
}

/// The kit over `Split`: the whole kit through `Shared`, then the split
/// checks (every send and receive of a party in flight at once).
async fn split_kit(n: usize) {
    use channel_core::testkit::{Check, Kit};
    let options = P2pOptions::default();
    let report = Kit::new(n)
        .run_split_async(async |n| common::parties(n, &options).await)
        .await
        .unwrap_or_else(|failure| panic!("p2p split: {failure}"));
    println!("p2p split: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_two_parties() {
    split_kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_three_parties() {
    split_kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_five_parties() {
    split_kit(5).await;
}

/// Sub-channels over libp2p: the kit on one sub-channel, then the sub-channel checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_channels_three_parties() {
    use channel_core::testkit::{Check, Kit};
    let options = P2pOptions::default();
    let report = Kit::new(3)
        .run_mux_async(async |n| common::parties(n, &options).await)
        .await
        .unwrap_or_else(|failure| panic!("p2p sub-channels: {failure}"));
    println!("p2p sub-channels: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::MUX.len());
}

//! Several connections ("lanes") per pair of parties, on 127.0.0.1: the kit
//! passes, each lane is its own TCP connection, and mismatched or out-of-range
//! lane counts are clear errors. (A bad frame on one lane: `hostile.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::{Duration, Instant};

use channel_p2p::{MAX_LANES, P2pError, P2pOptions};

fn lanes(n: usize) -> P2pOptions {
    P2pOptions {
        lanes: n,
        ..P2pOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_passes_with_three_lanes_between_three_parties() {
    common::run_kit(3, &lanes(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lane_is_a_connection_of_its_own() {
    for n in [1, 3] {
        let mut parties = common::parties(2, &lanes(n)).await.unwrap();
        let one = parties.pop().unwrap();
        let zero = parties.pop().unwrap();
        // Both ends see one libp2p connection (one TCP connection) per lane.
        assert_eq!(
            common::settles_at(n, || zero.connections(1)).await,
            n,
            "party 0, {n} lane(s)"
        );
        assert_eq!(
            common::settles_at(n, || one.connections(0)).await,
            n,
            "party 1, {n} lane(s)"
        );
        zero.close().await.unwrap();
        one.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_with_different_lane_counts_get_a_clear_error() {
    let (nodes, table) = common::nodes(2).await.unwrap();
    let mut nodes = nodes.into_iter();
    let (zero, one) = (nodes.next().unwrap(), nodes.next().unwrap());
    let options = |n| P2pOptions {
        connect_timeout: Duration::from_secs(20),
        ..lanes(n)
    };
    let started = Instant::now();
    let (zero, one) = tokio::join!(
        zero.connect(0, table.clone(), options(2)),
        one.connect(1, table, options(1)),
    );
    for result in [zero, one] {
        match result {
            Err(P2pError::Connect { missing, last, .. }) => {
                assert_eq!(missing.len(), 1);
                assert!(last.contains("same P2pOptions::lanes"), "{last}");
            }
            other => panic!("expected a Connect error naming the lanes, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the mismatch took {:?} to show, as if it were a timeout",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lane_counts_out_of_range_are_refused() {
    for n in [0, MAX_LANES + 1] {
        let (mut nodes, table) = common::nodes(1).await.unwrap();
        let node = nodes.pop().unwrap();
        match node.connect(0, table, lanes(n)).await {
            Err(P2pError::Setup(why)) => assert!(why.contains("lanes"), "{why}"),
            other => panic!("{n} lanes must be refused, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_opener_can_cut_a_single_lane_and_only_an_existing_one() {
    let mut parties = common::parties(2, &lanes(3)).await.unwrap();
    let b = parties.pop().unwrap();
    let a = parties.pop().unwrap();
    assert!(matches!(b.disconnect_lane(0, 1), Err(P2pError::Setup(why)) if why.contains("opens")));
    assert!(
        matches!(a.disconnect_lane(1, 3), Err(P2pError::Setup(why)) if why.contains("no lane 3"))
    );
    a.close().await.unwrap();
    b.close().await.unwrap();
}

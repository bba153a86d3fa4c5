//! channel-std passes channel-core's full conformance kit (blocking form).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::testkit::{Check, Kit};
use channel_std::StdChannel;

fn kit(n: usize) {
    let report = Kit::new(n)
        .run_blocking(|n| Ok(StdChannel::network(n)))
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

#[test]
fn two_parties() {
    kit(2);
}

#[test]
fn three_parties() {
    kit(3);
}

#[test]
fn five_parties() {
    kit(5);
}

#[test]
fn five_parties_with_small_chunks_and_a_queue_bound() {
    let report = Kit::new(5)
        .run_blocking(|n| {
            Ok(StdChannel::builder(n)
                .chunk_size(64 * 1024)
                .max_queued_bytes(200 << 20)
                .build())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

/// The kit over `Split`: every check through `Shared`, then the split checks
/// (a thread per half).
fn split_kit(n: usize) {
    let report = Kit::new(n)
        .run_split_blocking(|n| Ok(StdChannel::network(n)))
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

#[test]
fn split_two_parties() {
    split_kit(2);
}

#[test]
fn split_three_parties() {
    split_kit(3);
}

#[test]
fn split_five_parties() {
    split_kit(5);
}

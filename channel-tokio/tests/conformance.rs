//! channel-tokio passes channel-core's full conformance kit (async form).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::testkit::{Check, Kit};
use channel_tokio::TokioChannel;

async fn kit(n: usize) {
    let report = Kit::new(n)
        .run_async(async |n| Ok(TokioChannel::network(n)))
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

#[tokio::test]
async fn two_parties() {
    kit(2).await;
}

#[tokio::test]
async fn three_parties() {
    kit(3).await;
}

#[tokio::test]
async fn five_parties() {
    kit(5).await;
}

#[tokio::test]
async fn five_parties_with_small_chunks_and_a_queue_bound() {
    // A bound larger than one party's traffic in any check never trips, but every
    // send goes through the accounting.
    let report = Kit::new(5)
        .run_async(async |n| {
            Ok(TokioChannel::builder(n)
                .chunk_size(64 * 1024)
                .max_queued_bytes(200 << 20)
                .build())
        })
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

/// The kit over `Split`: every check through `Shared`, then the split checks
/// (all sends and receives of a party in flight at once).
async fn split_kit(n: usize) {
    let report = Kit::new(n)
        .run_split_async(async |n| Ok(TokioChannel::network(n)))
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

#[tokio::test]
async fn split_two_parties() {
    split_kit(2).await;
}

#[tokio::test]
async fn split_three_parties() {
    split_kit(3).await;
}

#[tokio::test]
async fn split_five_parties() {
    split_kit(5).await;
}

/// The blocking split kit through `OnRuntime`, each party on a current-thread
/// runtime of its own: the adapter's driving thread keeps each runtime (its
/// timers) going while the halves' threads make their calls.
#[test]
fn split_blocking_on_current_thread_runtimes() {
    use channel_core::blocking::OnRuntime;
    let report = Kit::new(3)
        .run_split_blocking(|n| {
            TokioChannel::network(n)
                .into_iter()
                .map(|ch| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    Ok(OnRuntime::new(ch, runtime)?)
                })
                .collect::<Result<Vec<_>, channel_core::BoxError>>()
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

/// The kit over sub-channels: every check on one sub-channel of each party's
/// `Mux`, then the sub-channel checks.
async fn mux_kit(n: usize) {
    let report = Kit::new(n)
        .run_mux_async(async |n| Ok(TokioChannel::network(n)))
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::MUX.len());
}

#[tokio::test]
async fn sub_channels_two_parties() {
    mux_kit(2).await;
}

#[tokio::test]
async fn sub_channels_three_parties() {
    mux_kit(3).await;
}

#[tokio::test]
async fn sub_channels_five_parties() {
    mux_kit(5).await;
}

//! channel-core's full conformance kit over TLS on 127.0.0.1: 2, 3 and 5
//! parties, 64 MiB included, in the async form and, through
//! `channel_core::blocking::OnRuntime`, the blocking one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::BoxError;
use channel_core::blocking::OnRuntime;
use channel_core::testkit::{Check, Kit};
use channel_tcp::{TcpOptions, local};

async fn kit(n: usize) {
    kit_with(Kit::new(n)).await;
}

async fn kit_with(kit: Kit) {
    let options = TcpOptions::default();
    let report = kit
        .run_async(async |n| Ok(local::network(n, &options).await?))
        .await
        .unwrap_or_else(|failure| panic!("tcp: {failure}"));
    println!("tcp: {report}");
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

/// "Everyone sends, then everyone receives" with messages beyond the sender's
/// window (`max_outbound_bytes`, 32 MiB): the receiving links take them in
/// unread, so nobody waits on an application that is itself sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parties_all_to_all_beyond_the_window() {
    kit_with(Kit::new(3).with_all_to_all_message(48 << 20)).await;
}

fn blocking_kit(n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = TcpOptions::default();
    let report = Kit::new(n)
        .run_blocking(|n| {
            let parties = runtime.block_on(local::network(n, &options))?;
            parties
                .into_iter()
                .map(|ch| Ok(OnRuntime::on_handle(ch, runtime.handle().clone())?))
                .collect::<Result<Vec<_>, BoxError>>()
        })
        .unwrap_or_else(|failure| panic!("tcp, blocking: {failure}"));
    println!("tcp, blocking: {report}");
}

#[test]
fn three_parties_blocking() {
    blocking_kit(3);
}

#[test]
fn five_parties_blocking() {
    blocking_kit(5);
}

/// The kit over `Split`: the whole kit through `Shared`, then the split
/// checks (every send and receive of a party in flight at once).
async fn split_kit(n: usize) {
    let options = TcpOptions::default();
    let report = Kit::new(n)
        .run_split_async(async |n| Ok(local::network(n, &options).await?))
        .await
        .unwrap_or_else(|failure| panic!("tcp split: {failure}"));
    println!("tcp split: {report}");
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

/// Blocking engines with a thread per peer and direction over TLS: the
/// blocking split kit through `OnRuntime`'s halves on a multi-thread runtime.
fn blocking_split_kit(n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = TcpOptions::default();
    let report = Kit::new(n)
        .run_split_blocking(|n| {
            let parties = runtime.block_on(local::network(n, &options))?;
            parties
                .into_iter()
                .map(|ch| Ok(OnRuntime::on_handle(ch, runtime.handle().clone())?))
                .collect::<Result<Vec<_>, BoxError>>()
        })
        .unwrap_or_else(|failure| panic!("tcp split, blocking: {failure}"));
    println!("tcp split, blocking: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

#[test]
fn split_three_parties_blocking() {
    blocking_split_kit(3);
}

#[test]
fn split_five_parties_blocking() {
    blocking_split_kit(5);
}

/// Sub-channels over TLS: the kit on one sub-channel, then the sub-channel checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_channels_three_parties() {
    let options = TcpOptions::default();
    let report = Kit::new(3)
        .run_mux_async(async |n| Ok(local::network(n, &options).await?))
        .await
        .unwrap_or_else(|failure| panic!("tcp sub-channels: {failure}"));
    println!("tcp sub-channels: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::MUX.len());
}

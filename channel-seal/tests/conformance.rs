//! Sealing over the in-process transports passes channel-core's full
//! conformance kit, in both forms (64 MiB messages included).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::testkit::{Check, Kit};
use channel_seal::{PartyKey, PublicKey};

fn keys(n: usize) -> (Vec<PartyKey>, Vec<PublicKey>) {
    let keys: Vec<PartyKey> = (0..n).map(|_| PartyKey::generate().unwrap()).collect();
    let table = keys.iter().map(PartyKey::public).collect();
    (keys, table)
}

async fn sealed_tokio(
    n: usize,
) -> Result<Vec<channel_seal::Sealed<channel_tokio::TokioChannel>>, channel_core::BoxError> {
    let (keys, table) = keys(n);
    let establishing = channel_tokio::TokioChannel::network(n)
        .into_iter()
        .zip(keys)
        .enumerate()
        .map(|(me, (ch, key))| {
            let table = table.clone();
            async move { channel_seal::Sealed::establish(ch, me, &key, &table, b"kit").await }
        });
    // All handshakes at once: each party's run waits for the others.
    let mut out = Vec::with_capacity(n);
    for sealed in futures::future::join_all(establishing).await {
        out.push(sealed?);
    }
    Ok(out)
}

fn sealed_std(
    n: usize,
) -> Result<Vec<channel_seal::blocking::Sealed<channel_std::StdChannel>>, channel_core::BoxError> {
    let (keys, table) = keys(n);
    std::thread::scope(|s| {
        let threads: Vec<_> = channel_std::StdChannel::network(n)
            .into_iter()
            .zip(keys)
            .enumerate()
            .map(|(me, (ch, key))| {
                let table = &table;
                s.spawn(move || {
                    channel_seal::blocking::Sealed::establish(ch, me, &key, table, b"kit")
                })
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for thread in threads {
            out.push(thread.join().map_err(|_| "a handshake thread panicked")??);
        }
        Ok(out)
    })
}

async fn async_kit(n: usize) {
    let report = Kit::new(n)
        .run_async(async |n| sealed_tokio(n).await)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

fn blocking_kit(n: usize) {
    let report = Kit::new(n)
        .run_blocking(sealed_std)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_two_parties() {
    async_kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_three_parties() {
    async_kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_five_parties() {
    async_kit(5).await;
}

#[test]
fn blocking_two_parties() {
    blocking_kit(2);
}

#[test]
fn blocking_three_parties() {
    blocking_kit(3);
}

#[test]
fn blocking_five_parties() {
    blocking_kit(5);
}

/// Sealed halves over split channels: the whole kit through `Shared`, then
/// the split checks, in both forms.
async fn async_split_kit(n: usize) {
    let report = Kit::new(n)
        .run_split_async(async |n| sealed_tokio(n).await)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

fn blocking_split_kit(n: usize) {
    let report = Kit::new(n)
        .run_split_blocking(sealed_std)
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_split_two_parties() {
    async_split_kit(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_split_three_parties() {
    async_split_kit(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_split_five_parties() {
    async_split_kit(5).await;
}

#[test]
fn blocking_split_two_parties() {
    blocking_split_kit(2);
}

#[test]
fn blocking_split_three_parties() {
    blocking_split_kit(3);
}

#[test]
fn blocking_split_five_parties() {
    blocking_split_kit(5);
}

/// Sub-channels over sealed channels: the kit on one sub-channel, then the
/// sub-channel checks.
#[tokio::test]
async fn sub_channels_three_parties() {
    let report = Kit::new(3)
        .run_mux_async(async |n| sealed_tokio(n).await)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    assert_eq!(
        report.passed.len(),
        channel_core::testkit::Check::ALL.len() + channel_core::testkit::Check::MUX.len()
    );
}

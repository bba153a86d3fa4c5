//! A blocking engine over libp2p: channel-core's conformance kit in its
//! blocking form, each party a `P2pChannel` behind
//! `channel_core::blocking::OnRuntime`, on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_core::BoxError;
use channel_core::blocking::OnRuntime;
use channel_core::testkit::Kit;
use channel_p2p::P2pOptions;

fn kit(n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = P2pOptions::default();
    let report = Kit::new(n)
        .run_blocking(|n| {
            let parties = runtime.block_on(common::parties(n, &options))?;
            parties
                .into_iter()
                .map(|ch| Ok(OnRuntime::on_handle(ch, runtime.handle().clone())?))
                .collect::<Result<Vec<_>, BoxError>>()
        })
        .unwrap_or_else(|failure| panic!("p2p, blocking: {failure}"));
    println!("p2p, blocking: {report}");
}

#[test]
fn two_parties_blocking() {
    kit(2);
}

#[test]
fn three_parties_blocking() {
    kit(3);
}

/// A blocking engine with a thread per peer and direction: the blocking split
/// kit through `OnRuntime`'s halves.
#[test]
fn three_parties_blocking_split() {
    use channel_core::testkit::Check;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = P2pOptions::default();
    let report = Kit::new(3)
        .run_split_blocking(|n| {
            let parties = runtime.block_on(common::parties(n, &options))?;
            parties
                .into_iter()
                .map(|ch| Ok(OnRuntime::on_handle(ch, runtime.handle().clone())?))
                .collect::<Result<Vec<_>, BoxError>>()
        })
        .unwrap_or_else(|failure| panic!("p2p split, blocking: {failure}"));
    println!("p2p split, blocking: {report}");
    assert_eq!(report.passed.len(), Check::ALL.len() + Check::SPLIT.len());
}

//! Blocking engines over the relay and direct mode: channel-core's conformance
//! kit in its blocking form, each party an `HttpChannel` or `DirectChannel`
//! behind `channel_core::blocking::OnRuntime`, on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_core::BoxError;
use channel_core::blocking::OnRuntime;
use channel_core::testkit::Kit;
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, DirectOptions};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every party on the runtime, behind the blocking adapter.
fn blocking<C>(
    runtime: &tokio::runtime::Runtime,
    parties: Vec<C>,
) -> Result<Vec<OnRuntime<C>>, BoxError>
where
    C: channel_core::Channel + Send + 'static,
{
    parties
        .into_iter()
        .map(|ch| Ok(OnRuntime::on_handle(ch, runtime.handle().clone())?))
        .collect()
}

fn relay_kit(n: usize) {
    let runtime = runtime();
    let (relay, url) = runtime.block_on(common::start_relay(RelayConfig::default()));
    let opts = ClientOptions::default();
    let report = Kit::new(n)
        .run_blocking(|n| {
            let parties = runtime.block_on(common::relay_parties(&url, n, &opts))?;
            blocking(&runtime, parties)
        })
        .unwrap_or_else(|failure| panic!("relay, blocking: {failure}"));
    println!("relay, blocking: {report}");
    relay.shutdown();
}

fn direct_kit(n: usize) {
    let runtime = runtime();
    let opts = DirectOptions::default();
    let report = Kit::new(n)
        .run_blocking(|n| {
            let parties = runtime.block_on(common::direct_parties(n, &opts))?;
            blocking(&runtime, parties)
        })
        .unwrap_or_else(|failure| panic!("direct, blocking: {failure}"));
    println!("direct, blocking: {report}");
}

#[test]
fn relay_two_parties_blocking() {
    relay_kit(2);
}

#[test]
fn relay_three_parties_blocking() {
    relay_kit(3);
}

#[test]
fn direct_three_parties_blocking() {
    direct_kit(3);
}

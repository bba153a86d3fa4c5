//! Parties on 127.0.0.1 with fresh keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use channel_core::BoxError;
use channel_p2p::{P2pChannel, P2pNode, P2pOptions, PartyEntry, local};

/// Binds `n` nodes on 127.0.0.1 and returns them with their table.
pub async fn nodes(n: usize) -> Result<(Vec<P2pNode>, Vec<PartyEntry>), BoxError> {
    Ok(local::nodes(n).await?)
}

/// `n` connected parties (all connecting concurrently, as real parties would).
pub async fn parties(n: usize, options: &P2pOptions) -> Result<Vec<P2pChannel>, BoxError> {
    Ok(local::network(n, options).await?)
}

/// Waits (at most 5 s) until `count()` is `want`; returns the last count.
pub async fn settles_at(want: usize, count: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    // Bounded by the deadline.
    while count() != want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    count()
}

/// channel-core's full conformance kit on `n` parties with `options`; panics
/// with the kit's report on a failure.
pub async fn run_kit(n: usize, options: &P2pOptions) {
    let report = channel_core::testkit::Kit::new(n)
        .run_async(async |n| parties(n, options).await)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

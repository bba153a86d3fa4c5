//! Streamed messages over libp2p: a receiver that does not read holds a
//! stream back within the sender's window and what the receiving link takes
//! in unread (the kit's `stream-hold` check).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_core::testkit::{Check, Kit};
use channel_p2p::P2pOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_to_a_receiver_that_does_not_read_is_held_back() {
    let options = P2pOptions {
        max_outbound_bytes: 4 << 20,
        max_inbound_bytes: 8 << 20,
        ..P2pOptions::default()
    };
    // The bytes the receiving link took in, those in flight, and a chunk
    // with its framing.
    let hold = options.max_outbound_bytes + options.max_inbound_bytes + options.chunk_size + 4096;
    let report = Kit::new(2)
        .with_checks(&[Check::StreamHold])
        .with_stream_hold(hold)
        .run_async(async |n| Ok(common::parties(n, &options).await?))
        .await
        .unwrap_or_else(|failure| panic!("p2p: {failure}"));
    println!("p2p: {report}");
}

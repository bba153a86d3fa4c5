//! Streamed messages over TLS links: a receiver that does not read holds a
//! stream back within the sender's window and what the receiving link takes
//! in unread (the kit's `stream-hold` check), in both forms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::BoxError;
use channel_core::blocking::OnRuntime;
use channel_core::testkit::{Check, Kit};
use channel_tcp::{TcpOptions, local};

/// A 4 MiB window and an 8 MiB bound on what a link takes in unread.
fn options() -> TcpOptions {
    TcpOptions {
        max_outbound_bytes: 4 << 20,
        max_inbound_bytes: 8 << 20,
        ..TcpOptions::default()
    }
}

/// What the sender can get through to a receiver that does not read: the
/// bytes the receiving link took in, those in flight, and a chunk with its
/// framing.
fn hold(options: &TcpOptions) -> usize {
    options.max_outbound_bytes + options.max_inbound_bytes + options.chunk_size + 4096
}

fn kit(options: &TcpOptions) -> Kit {
    Kit::new(2)
        .with_checks(&[Check::StreamHold])
        .with_stream_hold(hold(options))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_to_a_receiver_that_does_not_read_is_held_back() {
    let options = options();
    let report = kit(&options)
        .run_async(async |n| Ok(local::network(n, &options).await?))
        .await
        .unwrap_or_else(|failure| panic!("tcp: {failure}"));
    println!("tcp: {report}");
}

#[test]
fn a_blocking_stream_to_a_receiver_that_does_not_read_is_held_back() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let options = options();
    let report = kit(&options)
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

//! Streamed messages over in-process queues: a receiver that does not read
//! holds the sender back within the stream window, a receiver that never
//! reads is a typed error after the timeout, not a hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::Duration;

use channel_core::testkit::{Check, Kit};
use channel_core::transport::DEFAULT_STREAM_WINDOW;
use channel_core::{ErrorKind, recv_stream, send_stream};
use channel_tokio::TokioChannel;

#[tokio::test]
async fn a_receiver_that_does_not_read_holds_a_stream_within_the_window() {
    for window in [DEFAULT_STREAM_WINDOW, 1 << 20] {
        let report = Kit::new(2)
            .with_checks(&[Check::StreamHold])
            // A part may go when nothing is queued, so the bound is a window
            // or one part (1 MiB and its footer), whichever is larger.
            .with_stream_hold(window.max((1 << 20) + 17))
            .run_async(async |n| Ok(TokioChannel::builder(n).stream_window(window).build()))
            .await
            .unwrap_or_else(|failure| panic!("window {window}: {failure}"));
        println!("{report}");
    }
}

#[tokio::test]
async fn the_hold_check_catches_a_stream_that_is_not_held_back() {
    // A window larger than the check's stream lets the whole stream through.
    let failure = Kit::new(2)
        .with_checks(&[Check::StreamHold])
        .with_stream_hold(4 << 20)
        .run_async(async |n| Ok(TokioChannel::builder(n).stream_window(1 << 30).build()))
        .await
        .expect_err("a stream that is never held back must fail the check");
    assert!(failure.to_string().contains("read nothing"), "{failure}");
}

#[tokio::test]
async fn a_receiver_that_never_reads_stalls_the_sender_with_a_typed_error() {
    let mut parties = TokioChannel::builder(2)
        .recv_timeout(Duration::from_millis(300))
        .stream_window(1 << 20)
        .build();
    let _reader = parties.pop().unwrap();
    let mut writer = parties.pop().unwrap();
    let mut tx = send_stream(&mut writer, 1, "stalled", None);
    let mut outcome = Ok(());
    // Bounded: the window holds at most a few parts.
    for _ in 0..64 {
        outcome = tx.write(&[7; 256 << 10]).await;
        if outcome.is_err() {
            break;
        }
    }
    let e = outcome.expect_err("a stream into a queue nobody reads must stall");
    assert_eq!((e.kind(), e.party()), (ErrorKind::Timeout, Some(1)), "{e}");
    assert!(
        channel_core::error_chain(&e).contains("took nothing in"),
        "{e}"
    );
    tx.abort().await.unwrap();
}

#[tokio::test]
async fn a_receiver_that_goes_away_frees_a_waiting_sender_at_once() {
    let mut parties = TokioChannel::builder(2).stream_window(1 << 20).build();
    let reader = parties.pop().unwrap();
    let mut writer = parties.pop().unwrap();
    let sending = tokio::spawn(async move {
        let mut tx = send_stream(&mut writer, 1, "gone", None);
        for _ in 0..64 {
            tx.write(&[7; 256 << 10]).await?;
        }
        tx.finish().await.map(drop)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!sending.is_finished(), "the sender went beyond the window");
    drop(reader);
    let e = tokio::time::timeout(Duration::from_secs(10), sending)
        .await
        .expect("the sender still waits for a receiver that is gone")
        .unwrap()
        .expect_err("a stream to a receiver that is gone cannot finish");
    assert_eq!((e.kind(), e.party()), (ErrorKind::PeerGone, Some(1)), "{e}");
}

#[tokio::test]
async fn a_stream_reaches_the_receiver_in_parts_of_the_senders_size() {
    let mut parties = TokioChannel::network(2);
    let mut b = parties.pop().unwrap();
    let mut a = parties.pop().unwrap();
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let sent = data.clone();
    let sender = tokio::spawn(async move {
        let mut tx =
            send_stream(&mut a, 1, "parts", Some(sent.len() as u64)).with_part_size(100_000);
        tx.write(&sent).await?;
        tx.finish().await
    });
    let mut rx = recv_stream(&mut b, 0, "parts").await.unwrap();
    assert_eq!(rx.declared_len(), Some(data.len() as u64));
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    while let Some(part) = rx.next_part().await.unwrap() {
        sizes.push(part.len());
        got.extend_from_slice(&part);
    }
    assert_eq!(sender.await.unwrap().unwrap(), data.len() as u64);
    assert_eq!(got, data);
    assert_eq!(sizes, vec![100_000; 10]);
}

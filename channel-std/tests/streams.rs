//! Streamed messages in the blocking form over in-process queues: a stream
//! is a `std::io::Write` and `Read` (bincode serialises into it and out of
//! it), a sender dropped unfinished aborts, a receiver that does not read
//! holds the sender back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::io::{Read, Write};
use std::time::Duration;

use channel_core::ErrorKind;
use channel_core::blocking::{recv_from, recv_stream, send_stream, send_to};
use channel_core::testkit::{Check, Kit};
use channel_core::transport::DEFAULT_STREAM_WINDOW;
use channel_std::StdChannel;

#[test]
fn a_receiver_that_does_not_read_holds_a_stream_within_the_window() {
    let report = Kit::new(2)
        .with_checks(&[Check::StreamHold])
        .with_stream_hold(DEFAULT_STREAM_WINDOW)
        .run_blocking(|n| Ok(StdChannel::network(n)))
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

#[test]
fn bincode_serialises_into_a_stream_and_out_of_one() {
    let mut parties = StdChannel::network(2);
    let mut b = parties.pop().unwrap();
    let mut a = parties.pop().unwrap();
    let values: Vec<(u64, String)> = (0..20_000).map(|i| (i, format!("value {i}"))).collect();
    let sent = values.clone();
    let sender = std::thread::spawn(move || {
        let mut tx = send_stream(&mut a, 1, "bincode", None).with_part_size(4096);
        bincode::serialize_into(&mut tx, &sent).unwrap();
        tx.flush().unwrap();
        tx.finish().unwrap()
    });
    let mut rx = recv_stream(&mut b, 0, "bincode").unwrap();
    let got: Vec<(u64, String)> = bincode::deserialize_from(&mut rx).unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        rx.read_to_end(&mut rest).unwrap(),
        0,
        "bytes after the value"
    );
    assert!(rx.is_done());
    let written = sender.join().unwrap();
    assert_eq!(got, values);
    assert_eq!(written, bincode::serialized_size(&values).unwrap());
}

#[test]
fn a_sender_dropped_unfinished_aborts_and_the_channel_goes_on() {
    let mut parties = StdChannel::network(2);
    let mut b = parties.pop().unwrap();
    let mut a = parties.pop().unwrap();
    {
        let mut tx = send_stream(&mut a, 1, "dropped", None).with_part_size(10);
        tx.write_all(&[1; 25]).unwrap();
        // Dropped here, as when the producer fails with `?`.
    }
    send_to(&mut a, 1, "after", &7u64).unwrap();

    let mut rx = recv_stream(&mut b, 0, "dropped").unwrap();
    let mut outcome = Ok(Some(Vec::new()));
    for _ in 0..10 {
        outcome = rx.next_part();
        if !matches!(outcome, Ok(Some(_))) {
            break;
        }
    }
    let e = outcome.expect_err("a dropped stream must end in an error");
    assert_eq!(
        (e.kind(), e.party(), e.phase()),
        (ErrorKind::Aborted, Some(0), "dropped")
    );
    assert!(e.to_string().contains("after 20 bytes"), "{e}");
    drop(rx);
    let after: u64 = recv_from(&mut b, 0, "after").unwrap();
    assert_eq!(after, 7);
}

#[test]
fn io_errors_keep_the_kind_of_the_failure() {
    let mut parties = StdChannel::builder(2)
        .recv_timeout(Duration::from_millis(200))
        .build();
    let mut b = parties.pop().unwrap();
    let _a = parties.pop().unwrap();
    let e = recv_stream(&mut b, 0, "nothing").expect_err("nothing was sent");
    assert_eq!(e.kind(), ErrorKind::Timeout);
    let mut parties = StdChannel::builder(2)
        .recv_timeout(Duration::from_millis(200))
        .stream_window(1 << 16)
        .build();
    let _b = parties.pop().unwrap();
    let mut a = parties.pop().unwrap();
    let mut tx = send_stream(&mut a, 1, "stalled", None).with_part_size(1 << 16);
    let e = tx
        .write_all(&vec![0; 1 << 20])
        .expect_err("nobody reads beyond the window");
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
}

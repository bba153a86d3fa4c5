//! Sub-channels in the blocking form over channel-std, a thread per
//! sub-channel: a receive waiting on one sub-channel does not hold up the
//! other, whose exchange its messages depend on; each sub-channel keeps its
//! own order; the bounds give typed errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::Duration;

use channel_core::blocking::{Mux, Split, recv_bytes, send_bytes};
use channel_core::{ErrorKind, MuxError, MuxLimits};
use channel_std::{StdChannel, StdReceiver, StdSender};

/// Receives wait at most this long: a stall fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(60);

fn parties(n: usize, limits: MuxLimits) -> Vec<Mux<StdSender, StdReceiver>> {
    StdChannel::builder(n)
        .recv_timeout(LIMIT)
        .chunk_size(1000)
        .build()
        .into_iter()
        .map(|c| Mux::new(c.split(), limits))
        .collect()
}

#[test]
fn a_waiting_sub_channel_does_not_hold_up_another() {
    let n = 3;
    std::thread::scope(|s| {
        for mux in parties(n, MuxLimits::default()) {
            s.spawn(move || {
                let me = mux.party();
                let one = mux.open(1).unwrap().split();
                let (mut senders, receivers) = (one.senders, one.receivers);
                let mut two = mux.open(2).unwrap();
                // Sub-channel 1 waits first, on a thread of its own, for what
                // the peers send only after their exchange on sub-channel 2.
                let waiting = std::thread::spawn(move || {
                    for mut rx in receivers {
                        for k in 0..5u64 {
                            let got: (usize, u64) = rx.recv("one").unwrap();
                            assert_eq!(got, (rx.peer(), k), "sub-channel 1 at party {me}");
                        }
                    }
                });
                let peers: Vec<usize> = (0..n).filter(|&p| p != me).collect();
                for &p in &peers {
                    for k in 0..5u8 {
                        // Three chunks each.
                        send_bytes(&mut two, p, "two", &vec![k; 2500]).unwrap();
                    }
                }
                for &p in &peers {
                    for k in 0..5u8 {
                        assert_eq!(recv_bytes(&mut two, p, "two").unwrap(), vec![k; 2500]);
                    }
                }
                for tx in &mut senders {
                    for k in 0..5u64 {
                        tx.send("one", &(me, k)).unwrap();
                    }
                }
                waiting.join().unwrap();
            });
        }
    });
}

#[test]
fn the_bounds_give_typed_errors() {
    let limits = MuxLimits {
        max_open: 2,
        max_unread_bytes: 1000,
    };
    let mut net = parties(2, limits);
    let (one, zero) = (net.pop().unwrap(), net.pop().unwrap());
    let first = zero.open(1).unwrap();
    assert_eq!(zero.open(1).err(), Some(MuxError::AlreadyOpen { id: 1 }));
    let _second = zero.open(2).unwrap();
    assert_eq!(
        zero.open(3).err(),
        Some(MuxError::TooManyOpen { id: 3, max: 2 })
    );
    drop(first);
    let mut reading = zero.open(1).unwrap();

    // Party 1 sends 2 × 600 bytes on sub-channel 7, which party 0 never
    // opens, then one message on sub-channel 1.
    let (mut unread, mut wanted) = (one.open(7).unwrap(), one.open(1).unwrap());
    for k in 0..2u8 {
        send_bytes(&mut unread, 0, "unread", &[k; 600]).unwrap();
    }
    send_bytes(&mut wanted, 0, "wanted", b"hi").unwrap();
    let e = recv_bytes(&mut reading, 1, "wanted").unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::QueueFull,
        "{}",
        channel_core::error_chain(&e)
    );
    assert!(
        channel_core::error_chain(&e).contains("sub-channel 7"),
        "{}",
        channel_core::error_chain(&e)
    );
}

//! Timeouts, closed peers, the queue bound and bad party indices, each with the
//! exact typed error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::Duration;

use channel_core::blocking::{Channel, recv_bytes, send_bytes};
use channel_core::{Error, Metered, RecvInfo, SendInfo};
use channel_std::{StdChannel, TransportError};

fn pair(builder: channel_std::Builder) -> (StdChannel, StdChannel) {
    let mut parties = builder.build().into_iter();
    (parties.next().unwrap(), parties.next().unwrap())
}

#[test]
fn a_silent_peer_times_out_with_peer_and_phase() {
    let (mut a, _b) = pair(StdChannel::builder(2).recv_timeout(Duration::from_millis(50)));
    let err = recv_bytes(&mut a, 1, "triples").unwrap_err();
    let Error::Recv {
        party: 1, source, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        source.downcast_ref::<TransportError>(),
        Some(&TransportError::Timeout {
            party: 1,
            after: Duration::from_millis(50),
            waiting_for: "phase 'triples', chunk 1/?".into()
        })
    );
    assert!(err.is_timeout());
}

#[test]
fn a_dropped_peer_is_closed_at_once_after_its_queued_messages() {
    let (mut a, mut b) = pair(StdChannel::builder(2));
    send_bytes(&mut b, 0, "last words", b"bye").unwrap();
    drop(b);
    // What was sent before the drop is still delivered...
    assert_eq!(recv_bytes(&mut a, 1, "last words").unwrap(), b"bye");
    // ...then the default 5-minute timeout does not matter: closed is immediate.
    let started = std::time::Instant::now();
    let err = a
        .recv_bytes_from(1, RecvInfo::new("x", 0, None))
        .unwrap_err();
    assert_eq!(err, TransportError::Closed { party: 1 });
    assert!(started.elapsed() < Duration::from_secs(5));
    let err = a
        .send_bytes_to(1, vec![1], SendInfo::new("x", 0, 1))
        .unwrap_err();
    assert_eq!(err, TransportError::Closed { party: 1 });
}

#[test]
fn the_queue_bound_fails_fast_and_frees_up_on_receive() {
    let (mut a, mut b) = pair(StdChannel::builder(2).max_queued_bytes(1000));
    a.send_bytes_to(1, vec![0; 600], SendInfo::new("flood", 0, 1))
        .unwrap();
    assert_eq!(a.queued_to(1), 600);
    let err = a
        .send_bytes_to(1, vec![0; 600], SendInfo::new("flood", 0, 1))
        .unwrap_err();
    assert_eq!(
        err,
        TransportError::QueueFull {
            party: 1,
            queued: 600,
            adding: 600,
            limit: 1000
        }
    );
    b.recv_bytes_from(0, RecvInfo::new("flood", 0, None))
        .unwrap();
    assert_eq!(a.queued_to(1), 0);
    a.send_bytes_to(1, vec![0; 600], SendInfo::new("flood", 0, 1))
        .unwrap();
}

#[test]
fn bad_party_indices_are_errors() {
    let (mut a, _b) = pair(StdChannel::builder(2));
    let info = || SendInfo::new("p", 0, 1);
    assert_eq!(
        a.send_bytes_to(2, vec![], info()),
        Err(TransportError::NoSuchParty {
            party: 2,
            parties: 2
        })
    );
    assert_eq!(
        a.send_bytes_to(0, vec![], info()),
        Err(TransportError::ToSelf { party: 0 })
    );
    assert_eq!(
        a.recv_bytes_from(usize::MAX, RecvInfo::new("p", 0, None)),
        Err(TransportError::NoSuchParty {
            party: usize::MAX,
            parties: 2
        })
    );
}

#[test]
fn metered_counts_traffic() {
    let (a, mut b) = pair(StdChannel::builder(2));
    let mut a = Metered::new(a);
    send_bytes(&mut a, 1, "x", &[1; 10]).unwrap();
    recv_bytes(&mut b, 0, "x").unwrap();
    assert_eq!(a.stats().party(1).messages_sent, 1);
    assert_eq!(
        a.stats().phase("x").bytes_sent,
        10 + channel_core::frame::FOOTER_LEN as u64
    );
}

#[test]
fn parties_run_on_their_own_threads() {
    let threads: Vec<_> = StdChannel::network(4)
        .into_iter()
        .enumerate()
        .map(|(me, mut ch)| {
            std::thread::spawn(move || {
                let mut x = 0u64;
                channel_core::blocking::reference::secure_sum(
                    &mut ch,
                    me,
                    4,
                    me as u64 * 10,
                    || {
                        x += 7;
                        x
                    },
                )
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().unwrap(), 60);
    }
}

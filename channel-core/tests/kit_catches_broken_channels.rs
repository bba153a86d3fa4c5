//! The conformance kit must fail for broken transports, with a report that says
//! which check, which party and what it was waiting for. Each test here builds a
//! transport with one specific defect and asserts the kit's verdict.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.
#![cfg(feature = "testkit")]

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use channel_core::blocking::Channel;
use channel_core::testkit::{Check, Failure, Kit};
use channel_core::transport::{TransportError, check_chunk, check_peer};
use channel_core::{RecvInfo, SendInfo};

#[derive(Clone, Copy, PartialEq)]
enum Defect {
    None,
    /// Sends wait until the peer reads (the Polytune deadlock).
    Rendezvous,
    /// The 5th chunk sent to each peer is lost.
    LoseFifth,
    /// Every chunk's last byte (the frame format version) is flipped.
    Corrupt,
    /// Bad party indices are silently accepted.
    AcceptBadParty,
    /// Bad party indices panic (index out of bounds).
    PanicOnBadParty,
    /// `flush` reports a failure (as a queueing transport whose peer is gone would).
    FailingFlush,
    /// A chunk larger than the chunk size is carried instead of refused.
    AcceptOversized,
    /// A chunk larger than the chunk size is refused, with an untyped error.
    UntypedOversized,
}

struct Faulty {
    me: usize,
    defect: Defect,
    to: Vec<SyncSender<Vec<u8>>>,
    from: Vec<Receiver<Vec<u8>>>,
    sent: Vec<usize>,
}

fn network(n: usize, defect: Defect) -> Vec<Faulty> {
    // A bound of 0 makes std's channel a rendezvous; otherwise room for any test.
    let bound = if defect == Defect::Rendezvous {
        0
    } else {
        1 << 20
    };
    let mut to: Vec<Vec<SyncSender<Vec<u8>>>> = (0..n).map(|_| Vec::new()).collect();
    let mut from: Vec<Vec<Receiver<Vec<u8>>>> = (0..n).map(|_| Vec::new()).collect();
    for sender in to.iter_mut() {
        for receiver in from.iter_mut() {
            let (tx, rx) = sync_channel(bound);
            sender.push(tx);
            receiver.push(rx);
        }
    }
    to.into_iter()
        .zip(from)
        .enumerate()
        .map(|(me, (to, from))| Faulty {
            me,
            defect,
            to,
            from,
            sent: vec![0; n],
        })
        .collect()
}

impl Faulty {
    fn check(&self, p: usize) -> Result<bool, TransportError> {
        match self.defect {
            Defect::AcceptBadParty if p >= self.to.len() || p == self.me => Ok(false),
            Defect::PanicOnBadParty => Ok(true),
            _ => check_peer(self.me, p, self.to.len()).map(|()| true),
        }
    }
}

impl Channel for Faulty {
    type SendError = TransportError;
    type RecvError = TransportError;

    fn send_bytes_to(
        &mut self,
        p: usize,
        mut msg: Vec<u8>,
        _: SendInfo,
    ) -> Result<(), TransportError> {
        if !self.check(p)? {
            return Ok(());
        }
        match self.defect {
            Defect::AcceptOversized => {}
            Defect::UntypedOversized if check_chunk(p, msg.len(), self.chunk_size()).is_err() => {
                return Err(TransportError::Closed { party: p });
            }
            _ => check_chunk(p, msg.len(), self.chunk_size())?,
        }
        self.sent[p] += 1;
        if self.defect == Defect::LoseFifth && self.sent[p] == 5 {
            return Ok(());
        }
        if self.defect == Defect::Corrupt
            && let Some(b) = msg.last_mut()
        {
            *b ^= 0xFF;
        }
        match self.to[p].try_send(msg) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(msg)) => self.to[p]
                .send(msg)
                .map_err(|_| TransportError::Closed { party: p }),
            Err(TrySendError::Disconnected(_)) => Err(TransportError::Closed { party: p }),
        }
    }

    fn recv_bytes_from(&mut self, p: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
        if !self.check(p)? {
            return Ok(Vec::new());
        }
        self.from[p]
            .recv()
            .map_err(|_| TransportError::Closed { party: p })
    }

    fn flush(&mut self) -> Result<(), TransportError> {
        if self.defect == Defect::FailingFlush {
            let peer = (self.me + 1) % self.to.len();
            return Err(TransportError::Closed { party: peer });
        }
        Ok(())
    }
}

fn run(defect: Defect, checks: &[Check], timeout: Duration) -> Result<(), Failure> {
    Kit::new(3)
        .with_checks(checks)
        .with_timeout(timeout)
        .with_big_message(1 << 20)
        .with_all_to_all_message(1 << 20)
        .run_blocking(|n| Ok(network(n, defect)))
        .map(|_| ())
}

#[test]
fn a_sound_transport_passes() {
    run(Defect::None, &Check::ALL, Duration::from_secs(60)).unwrap();
}

#[test]
fn rendezvous_sends_stall_all_to_all_and_the_report_names_who_waits() {
    let failure = run(
        Defect::Rendezvous,
        &[Check::AllToAll],
        Duration::from_secs(2),
    )
    .unwrap_err();
    let Failure::Stalled { check, waiting, .. } = &failure else {
        panic!("expected a stall, got {failure}");
    };
    assert_eq!(*check, Check::AllToAll);
    assert_eq!(waiting.len(), 3, "{failure}");
    let text = failure.to_string();
    assert!(text.contains("sending to party"), "{text}");
    assert!(text.contains("phase 'all-to-all'"), "{text}");
}

#[test]
fn a_failing_flush_fails_the_check_it_ends() {
    let failure = run(
        Defect::FailingFlush,
        &[Check::Pairwise],
        Duration::from_secs(10),
    )
    .unwrap_err();
    assert!(
        matches!(
            failure,
            Failure::Failed {
                check: Check::Pairwise,
                ..
            }
        ),
        "{failure}"
    );
    assert!(failure.to_string().contains("flush"), "{failure}");
}

#[test]
fn a_lost_message_fails_fifo() {
    let failure = run(Defect::LoseFifth, &[Check::Fifo], Duration::from_secs(10)).unwrap_err();
    let text = failure.to_string();
    assert!(
        matches!(
            failure,
            Failure::Failed {
                check: Check::Fifo,
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("message 4 from party"), "{text}");
}

#[test]
fn corruption_is_caught_as_a_typed_error() {
    let failure = run(Defect::Corrupt, &[Check::Pairwise], Duration::from_secs(10)).unwrap_err();
    let text = failure.to_string();
    assert!(
        matches!(
            failure,
            Failure::Failed {
                check: Check::Pairwise,
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("malformed frame from party"), "{text}");
    assert!(
        text.contains("unsupported frame format version 254"),
        "{text}"
    );
}

#[test]
fn accepting_bad_party_indices_fails_bad_party() {
    let failure = run(
        Defect::AcceptBadParty,
        &[Check::BadParty],
        Duration::from_secs(10),
    )
    .unwrap_err();
    let text = failure.to_string();
    assert!(
        matches!(
            failure,
            Failure::Failed {
                check: Check::BadParty,
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("succeeded"), "{text}");
}

#[test]
fn carrying_or_vaguely_refusing_an_oversized_chunk_fails_oversized_chunk() {
    for (defect, said) in [
        (Defect::AcceptOversized, "was accepted"),
        (Defect::UntypedOversized, "not TooLarge"),
    ] {
        let failure = run(defect, &[Check::OversizedChunk], Duration::from_secs(10)).unwrap_err();
        let text = failure.to_string();
        assert!(
            matches!(
                failure,
                Failure::Failed {
                    check: Check::OversizedChunk,
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains(said), "{text}");
    }
}

#[test]
fn a_panicking_transport_is_reported_not_hung() {
    let failure = run(
        Defect::PanicOnBadParty,
        &[Check::BadParty],
        Duration::from_secs(10),
    )
    .unwrap_err();
    let text = failure.to_string();
    assert!(text.contains("panicked"), "{text}");
}

#[test]
fn a_factory_with_the_wrong_count_is_a_setup_failure() {
    let failure = Kit::new(3)
        .with_checks(&[Check::Pairwise])
        .run_blocking(|_| Ok(network(2, Defect::None)))
        .unwrap_err();
    assert!(matches!(failure, Failure::Setup { .. }), "{failure}");
}

/// An async transport whose receive never completes: the async kit must time out
/// and say who waited for what, without any runtime.
struct Silent;

impl channel_core::Channel for Silent {
    type SendError = TransportError;
    type RecvError = TransportError;

    async fn send_bytes_to(
        &mut self,
        _: usize,
        _: Vec<u8>,
        _: SendInfo,
    ) -> Result<(), TransportError> {
        Ok(())
    }

    async fn recv_bytes_from(&mut self, _: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
        futures::future::pending().await
    }
}

#[test]
fn the_async_kit_reports_a_stall() {
    let kit = Kit::new(2)
        .with_checks(&[Check::SecureSum])
        .with_timeout(Duration::from_millis(300));
    let failure =
        futures::executor::block_on(kit.run_async(async |n| Ok((0..n).map(|_| Silent).collect())))
            .unwrap_err();
    let text = failure.to_string();
    assert!(
        matches!(
            failure,
            Failure::Stalled {
                check: Check::SecureSum,
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "party 0: still receiving from party 1 (phase 'secure-sum/share', chunk 1/?)"
        ),
        "{text}"
    );
    assert!(
        text.contains("party 1: still receiving from party 0"),
        "{text}"
    );
}

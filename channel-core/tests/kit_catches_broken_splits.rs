//! The split checks of the kit must fail for split channels that are not
//! concurrent or not per peer: a split whose halves share one lock over the
//! whole channel (a receive holding it while a send is needed), and a split
//! that hands its halves out of order. Blocking and async forms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.
#![cfg(feature = "testkit")]

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_core::DEFAULT_CHUNK_SIZE;
use channel_core::testkit::{Check, Failure, Kit};
use channel_core::transport::{TransportError, check_chunk, check_peer};
use channel_core::{RecvInfo, SendInfo};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Defect {
    None,
    /// Every half locks the whole party, also while it waits for a chunk.
    OneLock,
    /// The receivers are handed out in reverse peer order.
    Reversed,
}

/// One party's queue ends, by peer.
struct Ends {
    to: Vec<Option<Sender<Vec<u8>>>>,
    from: Vec<Option<Receiver<Vec<u8>>>>,
}

impl Ends {
    fn send(&self, p: usize, msg: Vec<u8>) -> Result<(), TransportError> {
        let tx = self.to[p]
            .as_ref()
            .ok_or(TransportError::Closed { party: p })?;
        tx.send(msg)
            .map_err(|_| TransportError::Closed { party: p })
    }

    fn recv(&self, p: usize, info: &RecvInfo) -> Result<Vec<u8>, TransportError> {
        let rx = self.from[p]
            .as_ref()
            .ok_or(TransportError::Closed { party: p })?;
        let after = Duration::from_secs(20);
        rx.recv_timeout(after).map_err(|e| match e {
            RecvTimeoutError::Timeout => TransportError::timeout(p, after, info),
            RecvTimeoutError::Disconnected => TransportError::Closed { party: p },
        })
    }
}

struct Party {
    me: usize,
    n: usize,
    defect: Defect,
    ends: Ends,
}

fn network(n: usize, defect: Defect) -> Vec<Party> {
    let mut to: Vec<Vec<Option<Sender<Vec<u8>>>>> = (0..n).map(|_| Vec::new()).collect();
    let mut from: Vec<Vec<Option<Receiver<Vec<u8>>>>> = (0..n).map(|_| Vec::new()).collect();
    for (a, sender) in to.iter_mut().enumerate() {
        for (b, receiver) in from.iter_mut().enumerate() {
            let (tx, rx) = channel();
            sender.push((a != b).then_some(tx));
            receiver.push((a != b).then_some(rx));
        }
    }
    // `from[b][a]` is what b receives from a.
    to.into_iter()
        .zip(from)
        .enumerate()
        .map(|(me, (to, from))| Party {
            me,
            n,
            defect,
            ends: Ends { to, from },
        })
        .collect()
}

mod blocking_form {
    use super::*;
    use channel_core::blocking::{Channel, PeerReceiver, PeerSender, Peers, Split};

    impl Channel for Party {
        type SendError = TransportError;
        type RecvError = TransportError;

        fn send_bytes_to(
            &mut self,
            p: usize,
            msg: Vec<u8>,
            _: SendInfo,
        ) -> Result<(), TransportError> {
            check_peer(self.me, p, self.n)?;
            check_chunk(p, msg.len(), DEFAULT_CHUNK_SIZE)?;
            self.ends.send(p, msg)
        }

        fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, TransportError> {
            check_peer(self.me, p, self.n)?;
            self.ends.recv(p, &info)
        }
    }

    /// A half: its peer, and the party's ends behind one lock.
    pub(super) struct Half {
        p: usize,
        ends: Arc<Mutex<Ends>>,
    }

    impl PeerSender for Half {
        type Error = TransportError;

        fn send_chunk(&mut self, msg: Vec<u8>, _: SendInfo) -> Result<(), TransportError> {
            self.ends.lock().unwrap().send(self.p, msg)
        }
    }

    impl PeerReceiver for Half {
        type Error = TransportError;

        fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, TransportError> {
            // The defect of `OneLock`: the lock is held while waiting.
            self.ends.lock().unwrap().recv(self.p, &info)
        }
    }

    /// Sound halves own their queue end; `OneLock` halves share all of them.
    pub(super) fn split(party: Party) -> Peers<Half, Half> {
        let Party {
            me,
            n,
            defect,
            ends,
        } = party;
        let whole = Arc::new(Mutex::new(ends));
        let alone = |p: usize, sending: bool| {
            let mut all = whole.lock().unwrap();
            let mut to: Vec<_> = (0..n).map(|_| None).collect();
            let mut from: Vec<_> = (0..n).map(|_| None).collect();
            if sending {
                to[p] = all.to[p].take();
            } else {
                from[p] = all.from[p].take();
            }
            Arc::new(Mutex::new(Ends { to, from }))
        };
        let peers: Vec<usize> = (0..n).filter(|&p| p != me).collect();
        let mut halves: Vec<(usize, Half, Half)> = peers
            .iter()
            .map(|&p| {
                let (s, r) = if defect == Defect::OneLock {
                    (whole.clone(), whole.clone())
                } else {
                    (alone(p, true), alone(p, false))
                };
                (p, Half { p, ends: s }, Half { p, ends: r })
            })
            .collect();
        if defect == Defect::Reversed {
            let mut receivers: Vec<Half> = halves
                .iter()
                .map(|(_, _, r)| Half {
                    p: r.p,
                    ends: r.ends.clone(),
                })
                .collect();
            receivers.reverse();
            for ((_, _, r), swapped) in halves.iter_mut().zip(receivers) {
                *r = swapped;
            }
        }
        Peers::new(me, n, 1 << 16, 1 << 30, halves)
    }

    impl Split for Party {
        type Sender = Half;
        type Receiver = Half;

        fn split(self) -> Peers<Half, Half> {
            split(self)
        }
    }
}

fn run_blocking(defect: Defect, n: usize) -> Result<(), Failure> {
    let kit = Kit::new(n);
    // The defects are for the split checks: the rest of the kit (over
    // `Shared`) runs for the sound split only.
    let kit = if defect == Defect::None {
        kit
    } else {
        kit.with_checks(&[])
    };
    kit.with_big_message(1 << 20)
        .with_all_to_all_message(1 << 16)
        .with_timeout(Duration::from_secs(3))
        .run_split_blocking(|n| Ok(network(n, defect)))
        .map(drop)
}

#[test]
fn a_sound_split_passes_in_the_blocking_form() {
    for n in [2, 3] {
        run_blocking(Defect::None, n).unwrap_or_else(|f| panic!("{f}"));
    }
}

#[test]
fn halves_behind_one_lock_stall_concurrent_peers() {
    match run_blocking(Defect::OneLock, 3) {
        Err(Failure::Stalled { check, waiting, .. }) => {
            assert_eq!(check, Check::ConcurrentPeers);
            assert!(!waiting.is_empty(), "the report names who waits");
        }
        other => panic!("expected a stall of concurrent-peers, got {other:?}"),
    }
}

#[test]
fn receivers_out_of_order_fail_a_split_check() {
    // With 3 parties each has 2 peers, so reversing swaps them: the messages
    // of one peer are read as if from the other.
    match run_blocking(Defect::Reversed, 3) {
        Err(Failure::Failed {
            check, failures, ..
        }) => {
            assert_eq!(check, Check::ConcurrentPeers);
            assert!(
                failures
                    .iter()
                    .any(|f| f.error.contains("message 0 from party")),
                "{failures:?}"
            );
        }
        other => panic!("expected a failed split check, got {other:?}"),
    }
}

/// The same defect in the async form: halves behind one async lock, held
/// while a receive waits.
mod async_form {
    use super::*;
    use channel_core::asynchronous::{Channel, PeerReceiver, PeerSender, Peers, Split};
    use futures::StreamExt;
    use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
    use futures::lock::Mutex as AsyncMutex;

    type Queues = (
        Vec<Option<UnboundedSender<Vec<u8>>>>,
        Vec<Option<UnboundedReceiver<Vec<u8>>>>,
    );

    pub(super) struct AsyncParty {
        me: usize,
        n: usize,
        one_lock: bool,
        ends: Queues,
    }

    pub(super) fn network(n: usize, one_lock: bool) -> Vec<AsyncParty> {
        let mut parties: Vec<AsyncParty> = (0..n)
            .map(|me| AsyncParty {
                me,
                n,
                one_lock,
                ends: (
                    (0..n).map(|_| None).collect(),
                    (0..n).map(|_| None).collect(),
                ),
            })
            .collect();
        for a in 0..n {
            for b in (0..n).filter(|&b| b != a) {
                let (tx, rx) = unbounded();
                parties[a].ends.0[b] = Some(tx);
                parties[b].ends.1[a] = Some(rx);
            }
        }
        parties
    }

    async fn send(ends: &mut Queues, p: usize, msg: Vec<u8>) -> Result<(), TransportError> {
        let tx = ends.0[p]
            .as_ref()
            .ok_or(TransportError::Closed { party: p })?;
        tx.unbounded_send(msg)
            .map_err(|_| TransportError::Closed { party: p })
    }

    async fn recv(ends: &mut Queues, p: usize) -> Result<Vec<u8>, TransportError> {
        let rx = ends.1[p]
            .as_mut()
            .ok_or(TransportError::Closed { party: p })?;
        rx.next().await.ok_or(TransportError::Closed { party: p })
    }

    impl Channel for AsyncParty {
        type SendError = TransportError;
        type RecvError = TransportError;

        async fn send_bytes_to(
            &mut self,
            p: usize,
            msg: Vec<u8>,
            _: SendInfo,
        ) -> Result<(), TransportError> {
            check_peer(self.me, p, self.n)?;
            check_chunk(p, msg.len(), DEFAULT_CHUNK_SIZE)?;
            send(&mut self.ends, p, msg).await
        }

        async fn recv_bytes_from(
            &mut self,
            p: usize,
            _: RecvInfo,
        ) -> Result<Vec<u8>, TransportError> {
            check_peer(self.me, p, self.n)?;
            recv(&mut self.ends, p).await
        }
    }

    pub(super) struct AsyncHalf {
        p: usize,
        ends: Arc<AsyncMutex<Queues>>,
    }

    impl PeerSender for AsyncHalf {
        type Error = TransportError;

        async fn send_chunk(&mut self, msg: Vec<u8>, _: SendInfo) -> Result<(), TransportError> {
            send(&mut *self.ends.lock().await, self.p, msg).await
        }
    }

    impl PeerReceiver for AsyncHalf {
        type Error = TransportError;

        async fn recv_chunk(&mut self, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
            // The defect of one lock: it is held while waiting.
            recv(&mut *self.ends.lock().await, self.p).await
        }
    }

    impl Split for AsyncParty {
        type Sender = AsyncHalf;
        type Receiver = AsyncHalf;

        fn split(self) -> Peers<AsyncHalf, AsyncHalf> {
            let AsyncParty {
                me,
                n,
                one_lock,
                ends,
            } = self;
            let peers: Vec<usize> = (0..n).filter(|&p| p != me).collect();
            let whole = Arc::new(AsyncMutex::new(ends));
            let alone = |p: usize, sending: bool| -> Arc<AsyncMutex<Queues>> {
                let mut all = whole.try_lock().expect("nobody else holds it yet");
                let mut own: Queues = (
                    (0..n).map(|_| None).collect(),
                    (0..n).map(|_| None).collect(),
                );
                if sending {
                    own.0[p] = all.0[p].take();
                } else {
                    own.1[p] = all.1[p].take();
                }
                Arc::new(AsyncMutex::new(own))
            };
            let halves: Vec<_> = peers
                .iter()
                .map(|&p| {
                    let (s, r) = if one_lock {
                        (whole.clone(), whole.clone())
                    } else {
                        (alone(p, true), alone(p, false))
                    };
                    (p, AsyncHalf { p, ends: s }, AsyncHalf { p, ends: r })
                })
                .collect();
            Peers::new(me, n, 1 << 16, 1 << 30, halves)
        }
    }
}

fn run_async(one_lock: bool, n: usize) -> Result<(), Failure> {
    let kit = Kit::new(n);
    let kit = if one_lock { kit.with_checks(&[]) } else { kit };
    futures::executor::block_on(
        kit.with_big_message(1 << 20)
            .with_all_to_all_message(1 << 16)
            .with_timeout(Duration::from_secs(3))
            .run_split_async(async |n| Ok(async_form::network(n, one_lock))),
    )
    .map(drop)
}

#[test]
fn a_sound_split_passes_in_the_async_form() {
    for n in [2, 3] {
        run_async(false, n).unwrap_or_else(|f| panic!("{f}"));
    }
}

#[test]
fn async_halves_behind_one_lock_stall_concurrent_peers() {
    match run_async(true, 3) {
        Err(Failure::Stalled { check, waiting, .. }) => {
            assert_eq!(check, Check::ConcurrentPeers);
            assert!(!waiting.is_empty(), "the report names who waits");
        }
        other => panic!("expected a stall of concurrent-peers, got {other:?}"),
    }
}

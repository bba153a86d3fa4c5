//! The kit against split channels, blocking form: the whole kit over
//! [`Shared`], then the checks of [`Check::SPLIT`], each party on its own
//! thread and each of its halves on a thread of its own.

use std::thread;
use std::time::Instant;

use super::split_plan::{self, Tagged};
use super::{Board, Check, Failure, Kit, Plan, Report};
use crate::BoxError;
use crate::blocking::{FromPeer, PeerReceiver, PeerSender, Peers, Shared, Split, ToPeer};

type Outcome = Result<(), String>;

impl Kit {
    /// Runs the kit against split channels from `factory`, blocking form:
    /// every selected check over [`Shared`], then [`Check::SPLIT`] with a
    /// thread per half. Halves must be `Send`.
    pub fn run_split_blocking<C, F>(&self, mut factory: F) -> Result<Report, Failure>
    where
        C: Split + Send + 'static,
        C::Sender: Send + 'static,
        C::Receiver: Send + 'static,
        F: FnMut(usize) -> Result<Vec<C>, BoxError>,
    {
        let mut report = self.run_blocking(|n| {
            let channels = factory(n)?;
            Ok(channels
                .into_iter()
                .map(|c| c.split().into_shared())
                .collect::<Vec<_>>())
        })?;
        for check in Check::SPLIT {
            let channels = factory(self.parties).map_err(|e| Failure::Setup {
                check,
                error: super::describe(&*e),
            })?;
            self.check_setup(check, channels.len())?;
            let started = Instant::now();
            self.on_threads(check, channels, |channel: C, plan, board| {
                split_party(channel.split(), plan, board)
            })?;
            report.passed.push((check, started.elapsed()));
        }
        Ok(report)
    }
}

fn split_party<S, R>(peers: Peers<S, R>, plan: Plan, board: &Board) -> Outcome
where
    S: PeerSender + Send,
    R: PeerReceiver + Send,
{
    board.set(plan.me, format!("running {} on its halves", plan.check));
    if peers.senders.len() != plan.n - 1 || peers.receivers.len() != plan.n - 1 {
        return Err(format!(
            "split into {} senders and {} receivers; {} peers expected",
            peers.senders.len(),
            peers.receivers.len(),
            plan.n - 1
        ));
    }
    match plan.check {
        Check::ConcurrentPeers => concurrent_peers(peers, plan),
        Check::TryJoinPeers => try_join_peers(peers, plan),
        Check::SharedChannel => shared_channel(peers.into_shared(), plan),
        Check::ConcurrentStreams => concurrent_streams(peers, plan),
        other => Err(format!("'{other}' is not a split check")),
    }
}

/// The outcomes of scoped threads, the first failure first.
fn all(outcomes: Vec<thread::Result<Outcome>>) -> Outcome {
    for outcome in outcomes {
        match outcome {
            Ok(result) => result?,
            Err(_) => return Err("a thread of the party panicked".into()),
        }
    }
    Ok(())
}

/// Receives from every peer while sending to every peer, a thread per half.
fn concurrent_peers<S, R>(mut peers: Peers<S, R>, plan: Plan) -> Outcome
where
    S: PeerSender + Send,
    R: PeerReceiver + Send,
{
    let me = plan.me;
    thread::scope(|s| {
        let mut threads = Vec::new();
        for rx in peers.receivers.iter_mut() {
            threads.push(s.spawn(move || receive_all(rx, plan)));
        }
        for tx in peers.senders.iter_mut() {
            threads.push(s.spawn(move || {
                let chunk = tx.chunk_size();
                for k in 0..split_plan::MESSAGES {
                    let msg = split_plan::message(plan, me, k, chunk);
                    tx.send_bytes_owned("concurrent", msg).map_err(|e| {
                        format!(
                            "sending message {k} to party {}: {}",
                            tx.peer(),
                            super::describe(&e)
                        )
                    })?;
                }
                tx.flush().map_err(|e| {
                    format!("flushing to party {}: {}", tx.peer(), super::describe(&e))
                })
            }));
        }
        all(threads.into_iter().map(|t| t.join()).collect())
    })
}

/// Streams to every peer while receiving a stream from every peer, a thread
/// per half.
fn concurrent_streams<S, R>(mut peers: Peers<S, R>, plan: Plan) -> Outcome
where
    S: PeerSender + Send,
    R: PeerReceiver + Send,
{
    use crate::blocking::kit_stream::{stream_from_peer, stream_to_peer};
    thread::scope(|s| {
        let mut threads = Vec::new();
        for rx in peers.receivers.iter_mut() {
            threads.push(s.spawn(move || stream_from_peer(rx, plan)));
        }
        for tx in peers.senders.iter_mut() {
            threads.push(s.spawn(move || stream_to_peer(tx, plan)));
        }
        all(threads.into_iter().map(|t| t.join()).collect())
    })
}

fn receive_all<R: PeerReceiver>(rx: &mut FromPeer<R>, plan: Plan) -> Outcome {
    let from = rx.peer();
    let chunk = rx.chunk_size();
    for k in 0..split_plan::MESSAGES {
        let got = rx.recv_bytes("concurrent").map_err(|e| {
            format!(
                "receiving message {k} from party {from}: {}",
                super::describe(&e)
            )
        })?;
        split_plan::expect(plan, from, k, chunk, &got)?;
    }
    Ok(())
}

/// Ping-pong with every peer at once, a thread per pair: the lower index serves.
fn try_join_peers<S, R>(mut peers: Peers<S, R>, plan: Plan) -> Outcome
where
    S: PeerSender + Send,
    R: PeerReceiver + Send,
{
    let me = plan.me;
    thread::scope(|s| {
        let threads: Vec<_> = peers
            .senders
            .iter_mut()
            .zip(peers.receivers.iter_mut())
            .map(|(tx, rx)| s.spawn(move || ping_pong(tx, rx, me)))
            .collect();
        all(threads.into_iter().map(|t| t.join()).collect())
    })
}

fn ping_pong<S: PeerSender, R: PeerReceiver>(
    tx: &mut ToPeer<S>,
    rx: &mut FromPeer<R>,
    me: usize,
) -> Outcome {
    let p = tx.peer();
    if rx.peer() != p {
        return Err(format!(
            "halves out of order: sender to {p}, receiver from {}",
            rx.peer()
        ));
    }
    let fail = |what: &str, round: u64, e: crate::Error| {
        format!(
            "{what} round {round} with party {p}: {}",
            super::describe(&e)
        )
    };
    for round in 0..split_plan::ROUNDS {
        if me < p {
            let ball = split_plan::ball(me, p, round);
            tx.send("ping", &ball)
                .map_err(|e| fail("serving", round, e))?;
            let back: Vec<u64> = rx.recv("pong").map_err(|e| fail("awaiting", round, e))?;
            split_plan::expect_returned(p, round, &ball, &back)?;
        } else {
            let ball: Vec<u64> = rx.recv("ping").map_err(|e| fail("awaiting", round, e))?;
            split_plan::expect_ball(p, me, round, &ball)?;
            let back = split_plan::returned(&ball);
            tx.send("pong", &back)
                .map_err(|e| fail("returning", round, e))?;
        }
    }
    tx.flush()
        .map_err(|e| fail("flushing after", split_plan::ROUNDS, e))
}

/// Two sending threads per peer through `&Shared`, and a receiving thread per peer.
fn shared_channel<S, R>(shared: Shared<S, R>, plan: Plan) -> Outcome
where
    S: PeerSender + Send,
    R: PeerReceiver + Send,
{
    for p in [plan.me, plan.n] {
        split_plan::expect_bad_party("sending to", p, shared.send_to(p, "bad", &0u8).err())?;
        split_plan::expect_bad_party("receiving from", p, shared.recv_bytes(p, "bad").err())?;
    }
    let shared = &shared;
    let chunk = shared.chunk_size();
    thread::scope(|s| {
        let mut threads = Vec::new();
        for p in plan.peers() {
            for tag in 0..split_plan::SENDERS {
                threads.push(s.spawn(move || {
                    for k in 0..split_plan::MESSAGES {
                        let msg = Tagged::new(tag, k, split_plan::message(plan, plan.me, k, chunk));
                        shared
                            .send_bytes_owned(p, "shared", msg.encode())
                            .map_err(|e| {
                                format!(
                                    "sender {tag}, message {k} to party {p}: {}",
                                    super::describe(&e)
                                )
                            })?;
                    }
                    Ok(())
                }));
            }
            threads.push(s.spawn(move || {
                let mut order = split_plan::SharedOrder::new(p);
                for i in 0..split_plan::SENDERS * split_plan::MESSAGES {
                    let msg = shared.recv_bytes(p, "shared").map_err(|e| {
                        format!("message {i} from party {p}: {}", super::describe(&e))
                    })?;
                    order.take(plan, chunk, Tagged::decode(p, msg)?)?;
                }
                Ok(())
            }));
        }
        all(threads.into_iter().map(|t| t.join()).collect())
    })?;
    shared
        .flush_all()
        .map_err(|e| format!("flush after the check: {}", super::describe(&e)))
}

//! The kit against split channels, async form: the whole kit over
//! [`Shared`], then the checks of [`Check::SPLIT`], all parties interleaved in
//! one task and each party's halves under one `join`.

use futures::future::{try_join, try_join_all};

use super::split_plan::{self, Tagged};
use super::{Board, Check, Failure, Kit, Plan, Report};
use crate::BoxError;
use crate::asynchronous::{FromPeer, PeerReceiver, PeerSender, Peers, Shared, Split, ToPeer};

type Outcome = Result<(), String>;

impl Kit {
    /// Runs the kit against split channels from `factory`, async form: every
    /// selected check over [`Shared`] (the halves behind `&self`, seen as one
    /// channel), then [`Check::SPLIT`] on the halves themselves.
    ///
    /// Step 4 of this crate's `examples/custom_channel.rs` implements `Split`
    /// for a small transport and runs this (`cargo xtask test-all` runs it).
    pub async fn run_split_async<C, F>(&self, mut factory: F) -> Result<Report, Failure>
    where
        C: Split,
        F: AsyncFnMut(usize) -> Result<Vec<C>, BoxError>,
    {
        let mut report = self
            .run_async(async |n| {
                let channels = factory(n).await?;
                Ok(channels
                    .into_iter()
                    .map(|c| c.split().into_shared())
                    .collect::<Vec<_>>())
            })
            .await?;
        self.extra_checks(
            &Check::SPLIT,
            &mut factory,
            &mut report,
            async |channel: C, plan, board| split_party(channel.split(), plan, &board).await,
        )
        .await?;
        Ok(report)
    }
}

async fn split_party<S: PeerSender, R: PeerReceiver>(
    peers: Peers<S, R>,
    plan: Plan,
    board: &Board,
) -> Outcome {
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
        Check::ConcurrentPeers => concurrent_peers(peers, plan).await,
        Check::TryJoinPeers => try_join_peers(peers, plan).await,
        Check::SharedChannel => shared_channel(peers.into_shared(), plan).await,
        Check::ConcurrentStreams => concurrent_streams(peers, plan).await,
        other => Err(format!("'{other}' is not a split check")),
    }
}

/// Receives from every peer while sending to every peer, receives first.
async fn concurrent_peers<S: PeerSender, R: PeerReceiver>(
    mut peers: Peers<S, R>,
    plan: Plan,
) -> Outcome {
    let me = plan.me;
    let receives = try_join_all(peers.receivers.iter_mut().map(|rx| receive_all(rx, plan)));
    let sends = try_join_all(peers.senders.iter_mut().map(|tx| async move {
        let chunk = tx.chunk_size();
        for k in 0..split_plan::MESSAGES {
            let msg = split_plan::message(plan, me, k, chunk);
            tx.send_bytes_owned("concurrent", msg).await.map_err(|e| {
                format!(
                    "sending message {k} to party {}: {}",
                    tx.peer(),
                    super::describe(&e)
                )
            })?;
        }
        tx.flush()
            .await
            .map_err(|e| format!("flushing to party {}: {}", tx.peer(), super::describe(&e)))
    }));
    try_join(receives, sends).await.map(drop)
}

/// Streams to every peer while receiving a stream from every peer.
async fn concurrent_streams<S: PeerSender, R: PeerReceiver>(
    mut peers: Peers<S, R>,
    plan: Plan,
) -> Outcome {
    use crate::asynchronous::kit_stream::{stream_from_peer, stream_to_peer};
    let receives = try_join_all(
        peers
            .receivers
            .iter_mut()
            .map(|rx| stream_from_peer(rx, plan)),
    );
    let sends = try_join_all(peers.senders.iter_mut().map(|tx| stream_to_peer(tx, plan)));
    try_join(receives, sends).await.map(drop)
}

async fn receive_all<R: PeerReceiver>(rx: &mut FromPeer<R>, plan: Plan) -> Outcome {
    let from = rx.peer();
    let chunk = rx.chunk_size();
    for k in 0..split_plan::MESSAGES {
        let got = rx.recv_bytes("concurrent").await.map_err(|e| {
            format!(
                "receiving message {k} from party {from}: {}",
                super::describe(&e)
            )
        })?;
        split_plan::expect(plan, from, k, chunk, &got)?;
    }
    Ok(())
}

/// Ping-pong with every peer at once: the lower index serves.
async fn try_join_peers<S: PeerSender, R: PeerReceiver>(
    mut peers: Peers<S, R>,
    plan: Plan,
) -> Outcome {
    let me = plan.me;
    let pairs = peers.senders.iter_mut().zip(peers.receivers.iter_mut());
    try_join_all(pairs.map(|(tx, rx)| ping_pong(tx, rx, me)))
        .await
        .map(drop)
}

async fn ping_pong<S: PeerSender, R: PeerReceiver>(
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
                .await
                .map_err(|e| fail("serving", round, e))?;
            let back: Vec<u64> = rx
                .recv("pong")
                .await
                .map_err(|e| fail("awaiting", round, e))?;
            split_plan::expect_returned(p, round, &ball, &back)?;
        } else {
            let ball: Vec<u64> = rx
                .recv("ping")
                .await
                .map_err(|e| fail("awaiting", round, e))?;
            split_plan::expect_ball(p, me, round, &ball)?;
            let back = split_plan::returned(&ball);
            tx.send("pong", &back)
                .await
                .map_err(|e| fail("returning", round, e))?;
        }
    }
    tx.flush()
        .await
        .map_err(|e| fail("flushing after", split_plan::ROUNDS, e))
}

/// Two senders per peer at once through `&Shared`, and a receiver per peer.
async fn shared_channel<S: PeerSender, R: PeerReceiver>(
    shared: Shared<S, R>,
    plan: Plan,
) -> Outcome {
    for p in [plan.me, plan.n] {
        split_plan::expect_bad_party("sending to", p, shared.send_to(p, "bad", &0u8).await.err())?;
        split_plan::expect_bad_party("receiving from", p, shared.recv_bytes(p, "bad").await.err())?;
    }
    let shared = &shared;
    let chunk = shared.chunk_size();
    let sends = try_join_all(plan.peers().flat_map(|p| {
        (0..split_plan::SENDERS).map(move |tag| async move {
            for k in 0..split_plan::MESSAGES {
                let msg = Tagged::new(tag, k, split_plan::message(plan, plan.me, k, chunk));
                shared
                    .send_bytes_owned(p, "shared", msg.encode())
                    .await
                    .map_err(|e| {
                        format!(
                            "sender {tag}, message {k} to party {p}: {}",
                            super::describe(&e)
                        )
                    })?;
            }
            Ok::<_, String>(())
        })
    }));
    let receives = try_join_all(plan.peers().map(|p| async move {
        let mut order = split_plan::SharedOrder::new(p);
        for i in 0..split_plan::SENDERS * split_plan::MESSAGES {
            let msg = shared
                .recv_bytes(p, "shared")
                .await
                .map_err(|e| format!("message {i} from party {p}: {}", super::describe(&e)))?;
            order.take(plan, chunk, Tagged::decode(p, msg)?)?;
        }
        Ok::<_, String>(())
    }));
    try_join(receives, sends).await?;
    shared
        .flush_all()
        .await
        .map_err(|e| format!("flush after the check: {}", super::describe(&e)))
}

//! The kit against sub-channels, async form: the whole kit over one
//! sub-channel of each party's [`Mux`], then the checks of [`Check::MUX`], all
//! parties interleaved in one task.

use futures::future::{try_join, try_join_all};

use super::split_plan;
use super::{Check, Failure, Kit, Plan, Report};
use crate::asynchronous::{FromPeer, Mux, PeerReceiver, PeerSender, Split, SubChannel};
use crate::{BoxError, ErrorKind, MuxError, MuxLimits, recv_bytes, send_bytes_owned};

type Outcome = Result<(), String>;

/// The sub-channel the whole kit runs over (not 0, so that a transport that
/// ignores the number is caught by the checks of [`Check::MUX`]).
pub(crate) const KIT_SUB_CHANNEL: u32 = 5;

impl Kit {
    /// Runs the kit against sub-channels over split channels from `factory`,
    /// async form: every selected check over sub-channel 5 of each party's
    /// [`Mux`], then [`Check::MUX`].
    pub async fn run_mux_async<C, F>(&self, mut factory: F) -> Result<Report, Failure>
    where
        C: Split,
        F: AsyncFnMut(usize) -> Result<Vec<C>, BoxError>,
    {
        let mut report = self
            .run_async(async |n| {
                factory(n)
                    .await?
                    .into_iter()
                    .map(|c| {
                        Mux::new(c.split(), MuxLimits::default())
                            .open(KIT_SUB_CHANNEL)
                            .map_err(BoxError::from)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        self.extra_checks(
            &Check::MUX,
            &mut factory,
            &mut report,
            async |channel: C, plan, board| {
                board.set(plan.me, format!("running {} on sub-channels", plan.check));
                match plan.check {
                    Check::SubChannelsAtOnce => at_once(channel, plan).await,
                    Check::SubChannelLimits => limits(channel, plan).await,
                    other => Err(format!("'{other}' is not a sub-channel check")),
                }
            },
        )
        .await?;
        Ok(report)
    }
}

/// On sub-channel 1 every party first waits for every peer, whose messages on
/// it come only after a whole exchange on sub-channel 2: a mux whose waiting
/// receive holds up the other sub-channel stalls here. Messages of up to
/// three chunks, several per peer, FIFO per sub-channel.
async fn at_once<C: Split>(channel: C, plan: Plan) -> Outcome {
    let mux = Mux::new(channel.split(), MuxLimits::default());
    let (one, two) = (open(&mux, 1)?, open(&mux, 2)?);
    let one = one.split();
    let (mut senders, mut receivers) = (one.senders, one.receivers);
    let mut two = two;
    let me = plan.me;
    let chunk = crate::Channel::chunk_size(&two);
    let waiting = try_join_all(receivers.iter_mut().map(|rx| receive_all(rx, plan, 0)));
    let rest = async {
        for p in plan.peers() {
            for k in 0..split_plan::MESSAGES {
                let msg = split_plan::message(plan, me, k + OFFSET, chunk);
                send_bytes_owned(&mut two, p, "sub-2", msg)
                    .await
                    .map_err(|e| {
                        format!(
                            "sub-channel 2, message {k} to party {p}: {}",
                            super::describe(&e)
                        )
                    })?;
            }
        }
        for p in plan.peers() {
            for k in 0..split_plan::MESSAGES {
                let got = recv_bytes(&mut two, p, "sub-2").await.map_err(|e| {
                    format!(
                        "sub-channel 2, message {k} from party {p}: {}",
                        super::describe(&e)
                    )
                })?;
                split_plan::expect(plan, p, k + OFFSET, chunk, &got)
                    .map_err(|e| format!("sub-channel 2: {e}"))?;
            }
        }
        for tx in &mut senders {
            for k in 0..split_plan::MESSAGES {
                let msg = split_plan::message(plan, me, k, chunk);
                tx.send_bytes_owned("sub-1", msg).await.map_err(|e| {
                    format!(
                        "sub-channel 1, message {k} to party {}: {}",
                        tx.peer(),
                        super::describe(&e)
                    )
                })?;
            }
            tx.flush().await.map_err(|e| super::describe(&e))?;
        }
        Ok::<_, String>(())
    };
    try_join(waiting, rest).await.map(drop)
}

/// Messages on sub-channel 2 are those of sub-channel 1 shifted by this, so a
/// message delivered to the wrong sub-channel does not match.
const OFFSET: usize = 1000;

async fn receive_all<R: PeerReceiver>(rx: &mut FromPeer<R>, plan: Plan, offset: usize) -> Outcome {
    let from = rx.peer();
    let chunk = rx.chunk_size();
    for k in 0..split_plan::MESSAGES {
        let got = rx.recv_bytes("sub-1").await.map_err(|e| {
            format!(
                "sub-channel 1, message {k} from party {from}: {}",
                super::describe(&e)
            )
        })?;
        split_plan::expect(plan, from, k + offset, chunk, &got)
            .map_err(|e| format!("sub-channel 1: {e}"))?;
    }
    Ok(())
}

/// Opening is bounded and unique; a reopened number works; chunks a peer
/// sends on a sub-channel that does not read are held within the bound, and
/// beyond it the receive fails with an error of kind `QueueFull`.
async fn limits<C: Split>(channel: C, plan: Plan) -> Outcome {
    let bound = 1000;
    let mux = Mux::new(
        channel.split(),
        MuxLimits {
            max_open: 2,
            max_unread_bytes: bound,
        },
    );
    let first = open(&mux, 1)?;
    expect_refused(mux.open(1).err(), MuxError::AlreadyOpen { id: 1 })?;
    let second = open(&mux, 2)?;
    expect_refused(mux.open(3).err(), MuxError::TooManyOpen { id: 3, max: 2 })?;
    drop(first);
    let mut reopened = open(&mux, 1)?;
    drop(second);
    let (next, prev) = (plan.next(), plan.prev());
    send_bytes_owned(&mut reopened, next, "reopened", vec![plan.me as u8; 10])
        .await
        .map_err(|e| format!("sending on a reopened sub-channel: {}", super::describe(&e)))?;
    let got = recv_bytes(&mut reopened, prev, "reopened")
        .await
        .map_err(|e| {
            format!(
                "receiving on a reopened sub-channel: {}",
                super::describe(&e)
            )
        })?;
    if got != vec![prev as u8; 10] {
        return Err(format!(
            "on the reopened sub-channel party {prev} sent {got:?}"
        ));
    }
    // Two messages of 600 bytes on sub-channel 2, which nobody here reads:
    // reading sub-channel 1 must hold the first (within 1000 bytes) and fail
    // at the second.
    let mut unread = open(&mux, 2)?;
    for k in 0..2u8 {
        send_bytes_owned(&mut unread, next, "unread", vec![k; 600])
            .await
            .map_err(|e| format!("sending on sub-channel 2: {}", super::describe(&e)))?;
    }
    crate::Channel::flush(&mut unread)
        .await
        .map_err(|e| super::describe(&e))?;
    match recv_bytes(&mut reopened, prev, "past the bound").await {
        Ok(got) => Err(format!(
            "reading sub-channel 1 past {} unread bytes of sub-channel 2 gave a message of {} bytes",
            bound,
            got.len()
        )),
        Err(e) if e.kind() == ErrorKind::QueueFull => Ok(()),
        Err(e) => Err(format!(
            "past the unread bound the error is of kind {:?}, not QueueFull: {}",
            e.kind(),
            super::describe(&e)
        )),
    }
}

fn open<S: PeerSender, R: PeerReceiver>(
    mux: &Mux<S, R>,
    id: u32,
) -> Result<SubChannel<S, R>, String> {
    mux.open(id)
        .map_err(|e| format!("opening sub-channel {id}: {e}"))
}

fn expect_refused(got: Option<MuxError>, want: MuxError) -> Outcome {
    match got {
        Some(e) if e == want => Ok(()),
        Some(e) => Err(format!("expected '{want}', got '{e}'")),
        None => Err(format!("expected '{want}', the sub-channel opened")),
    }
}

// Shared source of the conformance checks, one party's side of each
// (see api/channel.rs for how a shared file is compiled into both forms).

use super::form;
use super::reference::secure_sum;
use super::{Channel, recv_bytes, recv_bytes_into, recv_from, recv_vec_from, send_bytes, send_to};
use crate::testkit::{Check, Plan, Probe, Record, describe, difference, pattern, splitmix64};
use crate::{Error, Limited, RecvInfo, SendInfo};

/// A party's verdict: what went wrong, in words.
type Outcome = Result<(), String>;

/// Chunk size forced by [`Check::ChunkBoundaries`] to exercise multi-chunk messages cheaply.
const SMALL_CHUNK: usize = 1000;

#[form(AFIT)]
impl<C: Channel> Channel for Probe<C> {
    type SendError = C::SendError;
    type RecvError = C::RecvError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        self.board
            .set(self.me, format!("sending to party {p} ({info})"));
        let len = msg.len();
        let result = self.inner.send_bytes_to(p, msg, info).await;
        if result.is_ok() {
            self.board.add_sent(self.me, len);
        }
        self.board.set(self.me, "running".into());
        result
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError> {
        self.board
            .set(self.me, format!("receiving from party {p} ({info})"));
        let result = self.inner.recv_bytes_from(p, info).await;
        self.board.set(self.me, "running".into());
        result
    }

    async fn flush(&mut self) -> Result<(), Self::SendError> {
        self.inner.flush().await
    }

    fn chunk_size(&self) -> usize {
        self.inner.chunk_size()
    }

    fn max_message_size(&self) -> usize {
        self.inner.max_message_size()
    }

    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        self.inner.chunk_buffer(p, capacity)
    }

    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        self.inner.recycle(p, buf)
    }
}

/// Plays party `plan.me`'s side of `plan.check`.
#[form(AFIT)]
pub(crate) async fn run_party<C: Channel>(ch: &mut Probe<C>, plan: Plan) -> Outcome {
    let outcome = match plan.check {
        Check::StreamHold => {
            let board = ch.board.clone();
            super::kit_stream::stream_hold(ch, plan, &board).await
        }
        _ => run_check(ch, plan).await,
    };
    // Every check ends the way a party's work should: everything sent delivered.
    let flushed = ch.flush().await;
    outcome?;
    flushed.map_err(|e| format!("flush after the check: {}", crate::error_chain(&e)))
}

#[form(AFIT)]
async fn run_check<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    match plan.check {
        Check::Pairwise => pairwise(ch, plan).await,
        Check::Fifo => fifo(ch, plan).await,
        Check::TinyMessages => tiny_messages(ch, plan).await,
        Check::ChunkBoundaries => chunk_boundaries(ch, plan).await,
        Check::BigMessage => big_message(ch, plan).await,
        Check::AllToAll => all_to_all(ch, plan).await,
        Check::InterleavedPhases => interleaved_phases(ch, plan).await,
        Check::TypedStructs => typed_structs(ch, plan).await,
        Check::BadParty => bad_party(ch, plan).await,
        Check::OversizedChunk => oversized_chunk(ch, plan).await,
        Check::ReusedBuffers => reused_buffers(ch, plan).await,
        Check::SecureSum => reference_sum(ch, plan).await,
        Check::StreamedMessages => super::kit_stream::streamed_messages(ch, plan).await,
        Check::StreamedBig => super::kit_stream::streamed_big(ch, plan).await,
        Check::StreamHold => Err("check 'stream-hold' runs through run_party".into()),
        Check::SubChannelsAtOnce | Check::SubChannelLimits => Err(format!(
            "check '{}' needs sub-channels: run it with Kit::run_mux_async",
            plan.check
        )),
        Check::ConcurrentPeers
        | Check::TryJoinPeers
        | Check::SharedChannel
        | Check::ConcurrentStreams => Err(format!(
            "check '{}' needs a split channel: run it with Kit::run_split_async or run_split_blocking",
            plan.check
        )),
    }
}

pub(crate) fn fail(e: Error) -> String {
    describe(&e)
}

pub(crate) fn expect_bytes(from: usize, what: &str, got: &[u8], want: &[u8]) -> Outcome {
    match difference(got, want) {
        None => Ok(()),
        Some(diff) => Err(format!("{what} from party {from}: {diff}")),
    }
}

#[form(AFIT)]
async fn pairwise<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    for p in plan.peers() {
        send_to(ch, p, "pairwise", &(plan.me as u64, p as u64))
            .await
            .map_err(fail)?;
    }
    for p in plan.peers() {
        let got: (u64, u64) = recv_from(ch, p, "pairwise").await.map_err(fail)?;
        if got != (p as u64, plan.me as u64) {
            return Err(format!(
                "party {p} sent {got:?}, expected ({p}, {})",
                plan.me
            ));
        }
    }
    Ok(())
}

#[form(AFIT)]
async fn fifo<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (next, prev) = (plan.next(), plan.prev());
    for i in 0..plan.fifo_messages as u64 {
        send_to(ch, next, "fifo", &(plan.me as u64, i))
            .await
            .map_err(fail)?;
    }
    for i in 0..plan.fifo_messages as u64 {
        let got: (u64, u64) = recv_from(ch, prev, "fifo").await.map_err(fail)?;
        if got != (prev as u64, i) {
            return Err(format!(
                "message {i} from party {prev} was {got:?}: lost, duplicated or reordered"
            ));
        }
    }
    Ok(())
}

#[form(AFIT)]
async fn tiny_messages<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (next, prev) = (plan.next(), plan.prev());
    let one = [plan.me as u8];
    let raw_err = |e: C::SendError| describe(&e);
    ch.send_bytes_to(next, Vec::new(), SendInfo::new("tiny/raw", 0, 1))
        .await
        .map_err(raw_err)?;
    ch.send_bytes_to(next, one.to_vec(), SendInfo::new("tiny/raw", 0, 1))
        .await
        .map_err(raw_err)?;
    send_bytes(ch, next, "tiny/helper", &[])
        .await
        .map_err(fail)?;
    send_bytes(ch, next, "tiny/helper", &one)
        .await
        .map_err(fail)?;
    send_to(ch, next, "tiny/typed", &()).await.map_err(fail)?;
    send_to(ch, next, "tiny/typed", &Vec::<u8>::new())
        .await
        .map_err(fail)?;

    let want_one = [prev as u8];
    let recv_err = |e: C::RecvError| describe(&e);
    let got = ch
        .recv_bytes_from(prev, RecvInfo::new("tiny/raw", 0, None))
        .await
        .map_err(recv_err)?;
    expect_bytes(prev, "empty raw chunk", &got, &[])?;
    let got = ch
        .recv_bytes_from(prev, RecvInfo::new("tiny/raw", 0, None))
        .await
        .map_err(recv_err)?;
    expect_bytes(prev, "1-byte raw chunk", &got, &want_one)?;
    let got = recv_bytes(ch, prev, "tiny/helper").await.map_err(fail)?;
    expect_bytes(prev, "empty message", &got, &[])?;
    let got = recv_bytes(ch, prev, "tiny/helper").await.map_err(fail)?;
    expect_bytes(prev, "1-byte message", &got, &want_one)?;
    recv_from::<_, ()>(ch, prev, "tiny/typed")
        .await
        .map_err(fail)?;
    let got: Vec<u8> = recv_from(ch, prev, "tiny/typed").await.map_err(fail)?;
    expect_bytes(prev, "empty vector", &got, &[])
}

/// The message sizes around multiples of `chunk`: `k·chunk−1`, `k·chunk`, `k·chunk+1`.
fn boundary_sizes(chunk: usize, ks: std::ops::RangeInclusive<usize>) -> Vec<usize> {
    ks.flat_map(|k| {
        let at = k.saturating_mul(chunk);
        [at.saturating_sub(1), at, at.saturating_add(1)]
    })
    .collect()
}

#[form(AFIT)]
async fn chunk_boundaries<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (next, prev) = (plan.next(), plan.prev());
    let native: Vec<usize> = boundary_sizes(ch.chunk_size(), 1..=2)
        .into_iter()
        .filter(|&s| s <= plan.big_message.max(SMALL_CHUNK * 4))
        .collect();
    let small = boundary_sizes(SMALL_CHUNK, 1..=3);

    let mut forced = Limited::new(&mut *ch).with_chunk_size(SMALL_CHUNK);
    for (i, &size) in small.iter().enumerate() {
        let msg = pattern(plan.seed(plan.me, i), size);
        send_bytes(&mut forced, next, "chunks/small", &msg)
            .await
            .map_err(fail)?;
    }
    for (i, &size) in small.iter().enumerate() {
        let got = recv_bytes(&mut forced, prev, "chunks/small")
            .await
            .map_err(fail)?;
        let what = format!("{size}-byte message in {SMALL_CHUNK}-byte chunks");
        expect_bytes(prev, &what, &got, &pattern(plan.seed(prev, i), size))?;
    }

    for (i, &size) in native.iter().enumerate() {
        let msg = pattern(plan.seed(plan.me, 100 + i), size);
        send_bytes(ch, next, "chunks/native", &msg)
            .await
            .map_err(fail)?;
    }
    for (i, &size) in native.iter().enumerate() {
        let got = recv_bytes(ch, prev, "chunks/native").await.map_err(fail)?;
        let what = format!("{size}-byte message in native chunks");
        expect_bytes(prev, &what, &got, &pattern(plan.seed(prev, 100 + i), size))?;
    }
    Ok(())
}

#[form(AFIT)]
async fn big_message<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let peer = match plan.me {
        0 => 1,
        1 => 0,
        _ => return Ok(()),
    };
    let msg = pattern(plan.seed(plan.me, 0), plan.big_message);
    send_bytes(ch, peer, "big", &msg).await.map_err(fail)?;
    drop(msg);
    let got = recv_bytes(ch, peer, "big").await.map_err(fail)?;
    let want = pattern(plan.seed(peer, 0), plan.big_message);
    expect_bytes(peer, "big message", &got, &want)
}

#[form(AFIT)]
async fn all_to_all<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    for p in plan.peers() {
        let msg = pattern(plan.seed(plan.me, p), plan.all_to_all_message);
        send_bytes(ch, p, "all-to-all", &msg).await.map_err(fail)?;
    }
    for p in plan.peers() {
        let got = recv_bytes(ch, p, "all-to-all").await.map_err(fail)?;
        let want = pattern(plan.seed(p, plan.me), plan.all_to_all_message);
        expect_bytes(p, "all-to-all message", &got, &want)?;
    }
    Ok(())
}

#[form(AFIT)]
async fn interleaved_phases<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    const ROUNDS: u64 = 4;
    const RAW_LEN: usize = 3000;
    for round in 0..ROUNDS {
        let (alpha, beta) = (format!("alpha/{round}"), format!("beta/{round}"));
        for p in plan.peers() {
            send_to(ch, p, &alpha, &(plan.me as u64, round))
                .await
                .map_err(fail)?;
            let raw = pattern(plan.seed(plan.me, p) ^ round, RAW_LEN);
            send_bytes(ch, p, &beta, &raw).await.map_err(fail)?;
        }
        // Receive in the reverse order of sending, so peers are served out of step.
        for p in plan.peers().rev() {
            let got: (u64, u64) = recv_from(ch, p, &alpha).await.map_err(fail)?;
            if got != (p as u64, round) {
                return Err(format!("phase {alpha}: party {p} sent {got:?}"));
            }
            let raw = recv_bytes(ch, p, &beta).await.map_err(fail)?;
            let want = pattern(plan.seed(p, plan.me) ^ round, RAW_LEN);
            expect_bytes(p, &beta, &raw, &want)?;
        }
    }
    Ok(())
}

#[form(AFIT)]
async fn typed_structs<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    const RECORDS: usize = 100;
    let (next, prev) = (plan.next(), plan.prev());
    send_to(ch, next, "typed", &Record::many(plan.me, RECORDS))
        .await
        .map_err(fail)?;
    send_to(ch, next, "typed/wrong-length", &vec![1u32, 2, 3])
        .await
        .map_err(fail)?;
    send_to(ch, next, "typed/wrong-type", &7u8)
        .await
        .map_err(fail)?;

    let got: Vec<Record> = recv_vec_from(ch, prev, "typed", RECORDS)
        .await
        .map_err(fail)?;
    if got != Record::many(prev, RECORDS) {
        return Err(format!("records from party {prev} differ from those sent"));
    }
    match recv_vec_from::<_, u32>(ch, prev, "typed/wrong-length", 4).await {
        Err(Error::WrongLength {
            expected: 4,
            actual: 3,
            ..
        }) => {}
        other => return Err(format!("3 elements where 4 were expected gave {other:?}")),
    }
    match recv_from::<_, u64>(ch, prev, "typed/wrong-type").await {
        Err(Error::Codec { .. }) => Ok(()),
        other => Err(format!("a u8 decoded as u64 gave {other:?}")),
    }
}

#[form(AFIT)]
async fn bad_party<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (me, n) = (plan.me, plan.n);
    for p in [n, n + 1, usize::MAX, me] {
        let info = SendInfo::new("bad-party", 0, 1);
        if ch.send_bytes_to(p, vec![1, 2, 3], info).await.is_ok() {
            return Err(format!("send_bytes_to({p}) succeeded; party {me} of {n}"));
        }
        if send_to(ch, p, "bad-party", &1u8).await.is_ok() {
            return Err(format!("send_to({p}) succeeded; party {me} of {n}"));
        }
        let info = RecvInfo::new("bad-party", 0, None);
        if ch.recv_bytes_from(p, info).await.is_ok() {
            return Err(format!("recv_bytes_from({p}) succeeded; party {me} of {n}"));
        }
    }
    // The channel must still work after refusing bad requests.
    let (next, prev) = (plan.next(), plan.prev());
    send_to(ch, next, "bad-party/after", &(me as u64))
        .await
        .map_err(fail)?;
    let got: u64 = recv_from(ch, prev, "bad-party/after").await.map_err(fail)?;
    if got != prev as u64 {
        return Err(format!("after bad requests party {prev} sent {got}"));
    }
    Ok(())
}

/// The sizes [`Check::ReusedBuffers`] receives into one buffer, in order.
const REUSED_SIZES: [usize; 5] = [3 << 20, 10, 0, (1 << 20) + 1, 100];

#[form(AFIT)]
async fn reused_buffers<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (next, prev) = (plan.next(), plan.prev());
    let message = |from: usize, i: usize, size: usize| pattern(plan.seed(from, 300 + i), size);
    let small = [SMALL_CHUNK * 2 + 1, SMALL_CHUNK * 3];
    for (i, &size) in REUSED_SIZES.iter().enumerate() {
        send_bytes(ch, next, "reuse", &message(plan.me, i, size))
            .await
            .map_err(fail)?;
        send_to(ch, next, "reuse/typed", &(i as u64))
            .await
            .map_err(fail)?;
    }
    // In small chunks the buffer is where the message is assembled.
    let mut forced = Limited::new(&mut *ch).with_chunk_size(SMALL_CHUNK);
    for (i, &size) in small.iter().enumerate() {
        send_bytes(
            &mut forced,
            next,
            "reuse/small",
            &message(plan.me, 10 + i, size),
        )
        .await
        .map_err(fail)?;
    }

    // Stale contents must not show through what arrives.
    let mut buf = vec![0xEE; 1234];
    for (i, &size) in REUSED_SIZES.iter().enumerate() {
        recv_bytes_into(ch, prev, "reuse", &mut buf)
            .await
            .map_err(fail)?;
        let what = format!("message {i} ({size} bytes) received into a reused buffer");
        expect_bytes(prev, &what, &buf, &message(prev, i, size))?;
        let got: u64 = recv_from(ch, prev, "reuse/typed").await.map_err(fail)?;
        if got != i as u64 {
            return Err(format!(
                "after message {i} into a reused buffer, party {prev}'s typed value was {got}"
            ));
        }
    }
    let mut forced = Limited::new(&mut *ch).with_chunk_size(SMALL_CHUNK);
    for (i, &size) in small.iter().enumerate() {
        recv_bytes_into(&mut forced, prev, "reuse/small", &mut buf)
            .await
            .map_err(fail)?;
        let what = format!("{size}-byte message in {SMALL_CHUNK}-byte chunks into a reused buffer");
        expect_bytes(prev, &what, &buf, &message(prev, 10 + i, size))?;
    }
    Ok(())
}

#[form(AFIT)]
async fn oversized_chunk<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (me, next, prev) = (plan.me, plan.next(), plan.prev());
    let size = ch.chunk_size() + crate::frame::FOOTER_LEN + 1;
    let info = SendInfo::new("oversized", 0, 1);
    // Zeroed, so that the pages of a chunk as large as a whole message (the
    // chunk size of in-process transports) are never touched if it is refused.
    match ch.send_bytes_to(next, vec![0; size], info).await {
        Ok(()) => {
            return Err(format!(
                "a chunk of {size} bytes (chunk size {} + footer + 1) to party {next} was accepted",
                ch.chunk_size()
            ));
        }
        Err(e) => {
            let e = Error::Transport {
                party: Some(next),
                source: Box::new(e),
            };
            if e.kind() != crate::ErrorKind::TooLarge {
                return Err(format!(
                    "an oversized chunk gave an error of kind {:?}, not TooLarge: {}",
                    e.kind(),
                    crate::error_chain(&e)
                ));
            }
        }
    }
    // Nothing of it arrived, and the channel still works.
    send_to(ch, next, "oversized/after", &(me as u64))
        .await
        .map_err(fail)?;
    let got: u64 = recv_from(ch, prev, "oversized/after").await.map_err(fail)?;
    if got != prev as u64 {
        return Err(format!("after the oversized chunk party {prev} sent {got}"));
    }
    Ok(())
}

#[form(AFIT)]
async fn reference_sum<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let input = |party: usize| splitmix64(&mut (party as u64 + 1000));
    let expected = (0..plan.n).fold(0u64, |acc, p| acc.wrapping_add(input(p)));
    let mut rng = plan.seed(plan.me, 0);
    let sum = secure_sum(ch, plan.me, plan.n, input(plan.me), || splitmix64(&mut rng))
        .await
        .map_err(fail)?;
    if sum == expected {
        Ok(())
    } else {
        Err(format!("secure sum gave {sum}, expected {expected}"))
    }
}

// Shared source of the conformance checks of streamed messages, one party's
// side of each (see api/channel.rs for how a shared file is compiled into
// both forms).

use std::time::Duration;

use super::form;
use super::kit_party::{expect_bytes, fail};
use super::{
    Channel, FromPeer, PeerReceiver, PeerSender, ToPeer, recv_bytes, recv_from, recv_iter,
    recv_stream, send_bytes, send_iter, send_stream, send_to,
};
use crate::testkit::{Board, PatternStream, Plan, Probe, Record, describe, pattern};
use crate::{Error, ErrorKind};

/// A party's verdict: what went wrong, in words.
type Outcome = Result<(), String>;

/// The streams of [`Check::StreamedMessages`](crate::testkit::Check): several
/// parts each, all of them together (about 4 MiB) within every transport's
/// window, since every party sends them all before it receives (a stream
/// beyond the window waits for its receiver to read).
const UNEVEN_LEN: usize = (2 << 20) + 12_345;
const DECLARED_LEN: usize = (1 << 20) + 7;
const WHOLE_LEN: usize = (1 << 20) + 5;
const RECORDS: usize = 1000;
const NUMBERS: u32 = 10_000;

/// An error of kind `Aborted` naming `from` and `phase`, or what came instead.
fn expect_aborted<T: std::fmt::Debug>(from: usize, phase: &str, got: Result<T, Error>) -> Outcome {
    match got {
        Err(e)
            if e.kind() == ErrorKind::Aborted && e.party() == Some(from) && e.phase() == phase =>
        {
            Ok(())
        }
        Err(e) => Err(format!(
            "the {phase} stream from party {from} failed with an error of kind {:?}, \
             not an abort naming party {from} and the phase: {}",
            e.kind(),
            describe(&e)
        )),
        Ok(v) => Err(format!(
            "the {phase} stream from party {from} gave {v:?} where an abort was expected"
        )),
    }
}

/// [`Check::StreamedMessages`](crate::testkit::Check): every kind of
/// stream to the next party, between ordinary messages.
#[form(AFIT)]
pub(crate) async fn streamed_messages<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    send_streams(ch, plan).await?;
    receive_streams(ch, plan).await
}

#[form(AFIT)]
async fn send_streams<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (me, next) = (plan.me, plan.next());
    send_to(ch, next, "stream/before", &(me as u64))
        .await
        .map_err(fail)?;

    // Uneven writes in small parts.
    let data = pattern(plan.seed(me, 1), UNEVEN_LEN);
    let mut tx = send_stream(ch, next, "stream/uneven", None).with_part_size(64 << 10);
    let (mut at, mut step) = (0, 1);
    // Bounded: each pass moves at least one byte.
    while at < data.len() {
        let end = (at + step).min(data.len());
        tx.write(data.get(at..end).unwrap_or_default())
            .await
            .map_err(fail)?;
        at = end;
        step = (step * 3 + 1) % 200_000 + 1;
    }
    let sent = tx.finish().await.map_err(fail)?;
    if sent != UNEVEN_LEN as u64 {
        return Err(format!(
            "finish said {sent} bytes; {UNEVEN_LEN} were written"
        ));
    }

    // Ordinary messages to the other peers between streams.
    for q in plan.peers().filter(|&q| q != next) {
        send_to(ch, q, "stream/others", &(me as u64, q as u64))
            .await
            .map_err(fail)?;
    }

    // A declared stream of owned buffers, received whole.
    let data = pattern(plan.seed(me, 2), DECLARED_LEN);
    let mut tx = send_stream(ch, next, "stream/declared", Some(DECLARED_LEN as u64));
    for piece in data.chunks(300_001) {
        tx.write_owned(piece.to_vec()).await.map_err(fail)?;
    }
    tx.finish().await.map_err(fail)?;

    // Typed sequences: taken item by item, and whole.
    send_iter(ch, next, "stream/items", Record::many(me, RECORDS))
        .await
        .map_err(fail)?;
    send_iter(
        ch,
        next,
        "stream/numbers",
        (0..NUMBERS).map(|i| i ^ me as u32),
    )
    .await
    .map_err(fail)?;

    // An empty stream, and a whole message that is received as a stream.
    send_stream(ch, next, "stream/empty", None)
        .finish()
        .await
        .map_err(fail)?;
    send_bytes(
        ch,
        next,
        "stream/whole",
        &pattern(plan.seed(me, 3), WHOLE_LEN),
    )
    .await
    .map_err(fail)?;

    // Aborted after some parts.
    let mut tx = send_stream(ch, next, "stream/aborted", None).with_part_size(1000);
    tx.write(&pattern(plan.seed(me, 4), 2500))
        .await
        .map_err(fail)?;
    tx.abort().await.map_err(fail)?;

    // Misdeclared: more than declared is refused before it is sent, and
    // finishing short aborts.
    let mut tx = send_stream(ch, next, "stream/misdeclared", Some(10));
    tx.write(&[1; 4]).await.map_err(fail)?;
    match tx.write(&[2; 7]).await {
        Err(Error::DeclaredLength {
            declared: 10,
            written: 11,
            ..
        }) => {}
        other => return Err(format!("writing 11 of 10 declared bytes gave {other:?}")),
    }
    match tx.finish().await {
        Err(Error::DeclaredLength {
            declared: 10,
            written: 4,
            ..
        }) => {}
        other => {
            return Err(format!(
                "finishing after 4 of 10 declared bytes gave {other:?}"
            ));
        }
    }

    send_to(ch, next, "stream/after", &(me as u64))
        .await
        .map_err(fail)
}

#[form(AFIT)]
async fn receive_streams<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let (me, prev) = (plan.me, plan.prev());
    let got: u64 = recv_from(ch, prev, "stream/before").await.map_err(fail)?;
    if got != prev as u64 {
        return Err(format!("before the streams party {prev} sent {got}"));
    }

    let mut rx = recv_stream(ch, prev, "stream/uneven").await.map_err(fail)?;
    if rx.declared_len().is_some() {
        return Err(format!(
            "an undeclared stream from party {prev} has a declared length {:?}",
            rx.declared_len()
        ));
    }
    let mut want = PatternStream::new(plan.seed(prev, 1), UNEVEN_LEN);
    let mut parts = 0;
    // Bounded by the stream, which ends.
    while let Some(part) = rx.next_part().await.map_err(fail)? {
        if part.is_empty() {
            return Err(format!("part {parts} from party {prev} is empty"));
        }
        want.expect(
            &part,
            &format!("part {parts} of the uneven stream from party {prev}"),
        )?;
        rx.recycle(part);
        parts += 1;
    }
    if want.left() > 0 || parts < 2 || !rx.is_done() {
        return Err(format!(
            "the uneven stream from party {prev} ended {} bytes short, after {parts} parts",
            want.left()
        ));
    }
    drop(rx);

    for q in plan.peers().filter(|&q| q != prev) {
        let got: (u64, u64) = recv_from(ch, q, "stream/others").await.map_err(fail)?;
        if got != (q as u64, me as u64) {
            return Err(format!("between the streams party {q} sent {got:?}"));
        }
    }

    let got = recv_bytes(ch, prev, "stream/declared")
        .await
        .map_err(fail)?;
    let what = "declared stream received whole";
    expect_bytes(prev, what, &got, &pattern(plan.seed(prev, 2), DECLARED_LEN))?;

    let mut items = recv_iter::<_, Record>(ch, prev, "stream/items")
        .await
        .map_err(fail)?;
    if items.remaining() != RECORDS as u64 {
        return Err(format!(
            "a sequence of {RECORDS} records from party {prev} announced {}",
            items.remaining()
        ));
    }
    let mut records = Vec::new();
    // Bounded by the announced count.
    while let Some(record) = items.next_item().await.map_err(fail)? {
        records.push(record);
    }
    if records != Record::many(prev, RECORDS) {
        return Err(format!(
            "records streamed by party {prev} differ from those sent"
        ));
    }
    drop(items);
    let numbers: Vec<u32> = recv_from(ch, prev, "stream/numbers").await.map_err(fail)?;
    if !numbers
        .iter()
        .copied()
        .eq((0..NUMBERS).map(|i| i ^ prev as u32))
    {
        return Err(format!(
            "numbers streamed by party {prev} and received whole differ from those sent"
        ));
    }

    let mut rx = recv_stream(ch, prev, "stream/empty").await.map_err(fail)?;
    if let Some(part) = rx.next_part().await.map_err(fail)? {
        return Err(format!(
            "an empty stream from party {prev} gave a part of {} bytes",
            part.len()
        ));
    }
    drop(rx);

    let mut rx = recv_stream(ch, prev, "stream/whole").await.map_err(fail)?;
    if rx.declared_len() != Some(WHOLE_LEN as u64) {
        return Err(format!(
            "a whole message of {WHOLE_LEN} bytes from party {prev} received as a stream declares {:?}",
            rx.declared_len()
        ));
    }
    let mut want = PatternStream::new(plan.seed(prev, 3), WHOLE_LEN);
    let mut buf = vec![0; 10_000];
    // Bounded by the message, which ends.
    loop {
        let n = rx.read(&mut buf).await.map_err(fail)?;
        if n == 0 {
            break;
        }
        want.expect(
            buf.get(..n).unwrap_or_default(),
            "a whole message read as a stream",
        )?;
    }
    if want.left() > 0 {
        return Err(format!(
            "a whole message from party {prev} read as a stream ended {} bytes short",
            want.left()
        ));
    }
    drop(rx);

    let mut rx = recv_stream(ch, prev, "stream/aborted")
        .await
        .map_err(fail)?;
    let mut outcome = Ok(None);
    // Bounded: the abort follows three parts.
    for _ in 0..10 {
        outcome = rx.next_part().await;
        if !matches!(outcome, Ok(Some(_))) {
            break;
        }
    }
    expect_aborted(prev, "stream/aborted", outcome)?;
    drop(rx);
    expect_aborted(
        prev,
        "stream/misdeclared",
        recv_stream(ch, prev, "stream/misdeclared").await.map(drop),
    )?;

    let got: u64 = recv_from(ch, prev, "stream/after").await.map_err(fail)?;
    if got != prev as u64 {
        return Err(format!("after the streams party {prev} sent {got}"));
    }
    Ok(())
}

/// Writes `len` bytes of the pattern of `seed` as one stream, in writes of
/// 64 KiB, never holding it whole.
#[form(AFIT)]
async fn stream_pattern<C: Channel>(
    ch: &mut C,
    to: usize,
    phase: &str,
    seed: u64,
    len: usize,
) -> Outcome {
    let mut source = PatternStream::new(seed, len);
    let mut tx = send_stream(ch, to, phase, Some(len as u64));
    // Bounded by `len`.
    while source.left() > 0 {
        tx.write(&source.take(64 << 10)).await.map_err(fail)?;
    }
    tx.finish().await.map_err(fail).map(drop)
}

/// Receives a stream of `len` bytes of the pattern of `seed`, checking each
/// part as it comes.
#[form(AFIT)]
async fn expect_pattern<C: Channel>(
    ch: &mut C,
    from: usize,
    phase: &str,
    seed: u64,
    len: usize,
) -> Outcome {
    let mut rx = recv_stream(ch, from, phase).await.map_err(fail)?;
    let mut want = PatternStream::new(seed, len);
    let what = format!("the {phase} stream from party {from}");
    // Bounded by the stream, which ends.
    while let Some(part) = rx.next_part().await.map_err(fail)? {
        want.expect(&part, &what)?;
        rx.recycle(part);
    }
    if want.left() > 0 {
        return Err(format!("{what} ended {} bytes short", want.left()));
    }
    Ok(())
}

/// [`Check::StreamedBig`](crate::testkit::Check): parties 0 and 1 stream the
/// big message to each other, one after the other.
#[form(AFIT)]
pub(crate) async fn streamed_big<C: Channel>(ch: &mut C, plan: Plan) -> Outcome {
    let len = plan.big_message;
    match plan.me {
        0 => {
            stream_pattern(ch, 1, "stream/big", plan.seed(0, 0), len).await?;
            expect_pattern(ch, 1, "stream/big", plan.seed(1, 0), len).await
        }
        1 => {
            expect_pattern(ch, 0, "stream/big", plan.seed(0, 0), len).await?;
            stream_pattern(ch, 0, "stream/big", plan.seed(1, 0), len).await
        }
        _ => Ok(()),
    }
}

/// [`Check::StreamHold`](crate::testkit::Check): party 1 reads nothing
/// until party 0's sends stop getting through.
#[form(AFIT)]
pub(crate) async fn stream_hold<C: Channel>(
    ch: &mut Probe<C>,
    plan: Plan,
    board: &Board,
) -> Outcome {
    let Some(hold) = plan.stream_hold else {
        return Err("check 'stream-hold' needs the bound: Kit::with_stream_hold".into());
    };
    let len = (hold.saturating_mul(3)).max(16 << 20) + (1 << 20);
    match plan.me {
        0 => stream_pattern(ch, 1, "stream/hold", plan.seed(0, 0), len).await,
        1 => {
            let held = until_still(board, 0).await;
            if held as usize > hold {
                return Err(format!(
                    "party 0's transport accepted {held} bytes of a {len}-byte stream to party 1, \
                     which read nothing; the bound is {hold}"
                ));
            }
            if held == 0 {
                return Err("party 0 got nothing through: no stream started".into());
            }
            expect_pattern(ch, 0, "stream/hold", plan.seed(0, 0), len).await
        }
        _ => Ok(()),
    }
}

/// Waits until what `party`'s transport accepted stays the same for half a
/// second (at most 60 s), and returns it.
#[form(AFIT)]
async fn until_still(board: &Board, party: usize) -> u64 {
    const STEP: Duration = Duration::from_millis(20);
    let mut last = board.sent(party);
    let mut still = 0;
    // Bounded: 3000 steps of 20 ms.
    for _ in 0..3000 {
        super::kit_sleep(STEP).await;
        let now = board.sent(party);
        if now == last && now > 0 {
            still += 1;
            if still >= 25 {
                break;
            }
        } else {
            still = 0;
            last = now;
        }
    }
    last
}

/// The stream of [`Check::ConcurrentStreams`](crate::testkit::Check) from
/// `from` to `to`: more than an in-process window.
fn concurrent_len(plan: Plan) -> usize {
    plan.all_to_all_message + (1 << 20)
}

/// [`Check::ConcurrentStreams`](crate::testkit::Check), one sending half:
/// an ordinary message, a stream, an ordinary message.
#[form(AFIT)]
pub(crate) async fn stream_to_peer<S: PeerSender>(tx: &mut ToPeer<S>, plan: Plan) -> Outcome {
    let (me, to) = (plan.me, tx.peer());
    let fail = |what: &str, e: Error| format!("{what} to party {to}: {}", describe(&e));
    tx.send("streams/before", &(me as u64))
        .await
        .map_err(|e| fail("sending before the stream", e))?;
    let mut source = PatternStream::new(plan.seed(me, to), concurrent_len(plan));
    let mut stream = tx.send_stream("streams", None);
    // Bounded by the stream's length.
    while source.left() > 0 {
        stream
            .write(&source.take(256 << 10))
            .await
            .map_err(|e| fail("streaming", e))?;
    }
    stream
        .finish()
        .await
        .map_err(|e| fail("finishing the stream", e))?;
    tx.send("streams/after", &(me as u64 + 1000))
        .await
        .map_err(|e| fail("sending after the stream", e))?;
    tx.flush().await.map_err(|e| fail("flushing", e))
}

/// [`Check::ConcurrentStreams`](crate::testkit::Check), one receiving half.
#[form(AFIT)]
pub(crate) async fn stream_from_peer<R: PeerReceiver>(rx: &mut FromPeer<R>, plan: Plan) -> Outcome {
    let (me, from) = (plan.me, rx.peer());
    let fail = |what: &str, e: Error| format!("{what} from party {from}: {}", describe(&e));
    let before: u64 = rx
        .recv("streams/before")
        .await
        .map_err(|e| fail("receiving before the stream", e))?;
    let mut stream = rx
        .recv_stream("streams")
        .await
        .map_err(|e| fail("starting the stream", e))?;
    let len = concurrent_len(plan);
    let mut want = PatternStream::new(plan.seed(from, me), len);
    let what = format!("the stream from party {from}");
    // Bounded by the stream, which ends.
    while let Some(part) = stream.next_part().await.map_err(|e| fail("streaming", e))? {
        want.expect(&part, &what)?;
        stream.recycle(part);
    }
    if want.left() > 0 {
        return Err(format!("{what} ended {} bytes short", want.left()));
    }
    drop(stream);
    let after: u64 = rx
        .recv("streams/after")
        .await
        .map_err(|e| fail("receiving after the stream", e))?;
    if (before, after) != (from as u64, from as u64 + 1000) {
        return Err(format!(
            "around its stream party {from} sent {before} and {after}"
        ));
    }
    Ok(())
}

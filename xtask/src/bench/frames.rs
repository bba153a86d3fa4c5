//! Length-prefixed frames straight on a byte stream, written from one buffer
//! and read into one reused buffer: how the bench measures the references that
//! have no `Channel` (raw TCP at the socket's limit, stock libp2p).

use std::future::Future;
use std::io;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::report::Row;
use super::{Settings, latency_of, mib_per_s, reps, round_trips, runs, summarize};
use crate::raw_tcp::{MAX_FRAME, TcpChannel, checked_len, len_prefix};

/// A byte stream that carries frames (a `u32` length, then the bytes).
pub trait FrameStream: Send + 'static {
    /// Writes one frame from `msg` and flushes.
    fn write_frame(&mut self, msg: &[u8]) -> impl Future<Output = io::Result<()>> + Send;
    /// Reads one frame of at most `max` bytes into `buf`, reusing its allocation.
    fn read_frame_into(
        &mut self,
        buf: &mut Vec<u8>,
        max: usize,
    ) -> impl Future<Output = io::Result<()>> + Send;
}

impl FrameStream for TcpChannel {
    async fn write_frame(&mut self, msg: &[u8]) -> io::Result<()> {
        self.write.write_all(&len_prefix(msg)?).await?;
        self.write.write_all(msg).await
    }

    async fn read_frame_into(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<()> {
        let mut word = [0u8; 4];
        self.read.read_exact(&mut word).await?;
        buf.resize(checked_len(word, max.min(MAX_FRAME))?, 0);
        self.read.read_exact(buf).await.map(drop)
    }
}

/// `reps` frames of `msg`, then waits for the receiver's one-byte answer.
async fn source<S: FrameStream>(a: &mut S, msg: &[u8], reps: usize) -> io::Result<()> {
    for _ in 0..reps {
        a.write_frame(msg).await?;
    }
    a.read_frame_into(&mut Vec::new(), 1).await
}

/// Every frame into `buf` (sized to the frames), reused; then a one-byte answer.
async fn sink<S: FrameStream>(b: &mut S, buf: &mut Vec<u8>, reps: usize) -> io::Result<()> {
    let size = buf.len();
    for _ in 0..reps {
        b.read_frame_into(buf, size).await?;
        if buf.len() != size {
            return Err(io::Error::other("a frame of the wrong size"));
        }
    }
    b.write_frame(&[1]).await
}

/// One row: throughput at every size, then 100-byte and 16 MiB ping-pongs. Each side runs
/// on its own task, like the transports' rows.
pub async fn row<S: FrameStream>(
    name: &'static str,
    mut a: S,
    mut b: S,
    s: &Settings,
) -> Result<Row, String> {
    let failed = |e: io::Error| format!("{name}: {e}");
    let task_failed = |e: tokio::task::JoinError| format!("a party's task failed: {e}");
    let mut row = Row::new(name);
    for &size in &s.sizes {
        let reps = reps(s, size);
        // Both buffers exist (their pages touched) before the clock starts.
        let msg = vec![0xA5u8; size];
        let mut buf = vec![0x5Au8; size];
        let mut rates = Vec::new();
        for _ in 0..runs(s) {
            let receiver = tokio::spawn(async move {
                let received = sink(&mut b, &mut buf, reps).await;
                (b, buf, received)
            });
            let started = Instant::now();
            let sent = source(&mut a, &msg, reps).await;
            let took = started.elapsed();
            let (back, back_buf, received) = receiver.await.map_err(task_failed)?;
            (b, buf) = (back, back_buf);
            sent.and(received).map_err(failed)?;
            rates.push(mib_per_s(size, reps, took));
        }
        row.throughput.push((size, summarize(rates, s)));
    }
    for (size, rounds) in round_trips(s) {
        let ponger = tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut ponged = Ok(());
            for _ in 0..rounds {
                ponged = b.read_frame_into(&mut buf, size).await;
                if ponged.is_ok() {
                    ponged = b.write_frame(&buf).await;
                }
                if ponged.is_err() {
                    break;
                }
            }
            (b, ponged)
        });
        let (ping, mut buf) = (vec![1u8; size], Vec::new());
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            a.write_frame(&ping).await.map_err(failed)?;
            a.read_frame_into(&mut buf, size).await.map_err(failed)?;
            times.push(t.elapsed());
        }
        let (back, ponged) = ponger.await.map_err(task_failed)?;
        b = back;
        ponged.map_err(failed)?;
        row.set_round_trips(size, latency_of(times));
    }
    Ok(row)
}

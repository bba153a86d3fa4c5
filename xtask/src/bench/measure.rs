//! The two measurements, for async and for blocking channels: one-way throughput
//! of a stream of messages, and the round-trip time of ping-pongs (100 bytes
//! for latency, 16 MiB for the time a large message takes there and back).

use std::time::{Duration, Instant};

use channel_core::{
    Channel, Error, recv_bytes, recv_bytes_into, recv_stream, send_bytes, send_stream,
};

/// The size of a streamed message's writes in the bench.
pub const STREAM_WRITE: usize = 1 << 20;

/// Size of a latency probe.
pub const PING: usize = 100;
/// Size of the large round trip.
pub const BIG_PING: usize = 16 << 20;

fn wrong(len: usize, want: usize) -> Error {
    Error::WrongLength {
        party: 0,
        phase: "bench".into(),
        expected: want,
        actual: len,
    }
}

/// Sender side of a throughput point: `reps` copies of `msg` to party 1, then
/// waits for its acknowledgement of the last one.
pub async fn stream_out<C: Channel>(a: &mut C, msg: &[u8], reps: usize) -> Result<(), Error> {
    for _ in 0..reps {
        send_bytes(a, 1, "bench", msg).await?;
    }
    recv_bytes(a, 1, "ack").await.map(drop)
}

/// Receiver side of a throughput point: every message into `got`, one buffer
/// kept for the whole measurement, as the memcpy baseline copies into one
/// reused buffer and raw TCP reads into one.
pub async fn stream_in<C: Channel>(
    b: &mut C,
    got: &mut Vec<u8>,
    size: usize,
    reps: usize,
) -> Result<(), Error> {
    for _ in 0..reps {
        recv_bytes_into(b, 0, "bench", got).await?;
        if got.len() != size {
            return Err(wrong(got.len(), size));
        }
    }
    send_bytes(b, 0, "ack", &[1]).await
}

/// Sender side of a streamed throughput point: `reps` copies of `msg` to
/// party 1, each as a stream of writes of [`STREAM_WRITE`].
pub async fn stream_out_streamed<C: Channel>(
    a: &mut C,
    msg: &[u8],
    reps: usize,
) -> Result<(), Error> {
    for _ in 0..reps {
        let mut tx = send_stream(a, 1, "bench", Some(msg.len() as u64));
        for piece in msg.chunks(STREAM_WRITE) {
            tx.write(piece).await?;
        }
        tx.finish().await?;
    }
    recv_bytes(a, 1, "ack").await.map(drop)
}

/// Receiver side of a streamed throughput point: each message part by part,
/// every part handed back to the transport.
pub async fn stream_in_streamed<C: Channel>(
    b: &mut C,
    size: usize,
    reps: usize,
) -> Result<(), Error> {
    for _ in 0..reps {
        let mut rx = recv_stream(b, 0, "bench").await?;
        let mut got = 0;
        while let Some(part) = rx.next_part().await? {
            got += part.len();
            rx.recycle(part);
        }
        if got != size {
            return Err(wrong(got, size));
        }
    }
    send_bytes(b, 0, "ack", &[1]).await
}

/// `rounds` ping-pongs of `size` bytes with party 1; returns each round-trip time.
pub async fn pinger<C: Channel>(
    a: &mut C,
    rounds: usize,
    size: usize,
) -> Result<Vec<Duration>, Error> {
    let ping = vec![1u8; size];
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        send_bytes(a, 1, "ping", &ping).await?;
        recv_bytes(a, 1, "pong").await?;
        times.push(t.elapsed());
    }
    Ok(times)
}

/// The other side of [`pinger`].
pub async fn ponger<C: Channel>(b: &mut C, rounds: usize) -> Result<(), Error> {
    for _ in 0..rounds {
        let got = recv_bytes(b, 0, "ping").await?;
        send_bytes(b, 0, "pong", &got).await?;
    }
    Ok(())
}

/// The blocking twins, each party on its own thread. Their errors are text:
/// a party's failure with its causes, or that its thread panicked.
pub mod blocking {
    use std::time::{Duration, Instant};

    use channel_core::blocking::{Channel, recv_bytes, recv_bytes_into, send_bytes};
    use channel_core::{Error, error_chain};

    use super::wrong;

    /// The other party's result, or what happened to its thread.
    fn join<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T, Error>>) -> Result<T, String> {
        match handle.join() {
            Ok(result) => result.map_err(|e| error_chain(&e)),
            Err(_) => Err("party 1's thread panicked".into()),
        }
    }

    /// `reps` messages from `a` to `b`, received into `got` (see [`super::stream_in`]).
    pub fn throughput<C: Channel + Send>(
        a: &mut C,
        b: &mut C,
        got: &mut Vec<u8>,
        size: usize,
        reps: usize,
    ) -> Result<Duration, String> {
        let msg = vec![0xA5u8; size];
        let started = Instant::now();
        std::thread::scope(|s| {
            let receiver = s.spawn(|| {
                for _ in 0..reps {
                    recv_bytes_into(b, 0, "bench", got)?;
                    if got.len() != size {
                        return Err(wrong(got.len(), size));
                    }
                }
                send_bytes(b, 0, "ack", &[1])
            });
            let sent = (0..reps)
                .try_for_each(|_| send_bytes(a, 1, "bench", &msg))
                .and_then(|()| recv_bytes(a, 1, "ack").map(drop))
                .map_err(|e| error_chain(&e));
            // The other side's failure explains ours (it stopped reading), so it comes first.
            join(receiver).and(sent)
        })?;
        Ok(started.elapsed())
    }

    /// `reps` messages of `size` from `a` to `b`, each as a stream (see
    /// [`super::stream_out_streamed`]).
    pub fn throughput_streamed<C: Channel + Send>(
        a: &mut C,
        b: &mut C,
        size: usize,
        reps: usize,
    ) -> Result<Duration, String> {
        use channel_core::blocking::{recv_stream, send_stream};
        let msg = vec![0xA5u8; size];
        let started = Instant::now();
        std::thread::scope(|s| {
            let receiver = s.spawn(|| {
                for _ in 0..reps {
                    let mut rx = recv_stream(b, 0, "bench")?;
                    let mut got = 0;
                    while let Some(part) = rx.next_part()? {
                        got += part.len();
                        rx.recycle(part);
                    }
                    if got != size {
                        return Err(wrong(got, size));
                    }
                }
                send_bytes(b, 0, "ack", &[1])
            });
            let sent = (0..reps)
                .try_for_each(|_| {
                    let mut tx = send_stream(&mut *a, 1, "bench", Some(size as u64));
                    msg.chunks(super::STREAM_WRITE)
                        .try_for_each(|piece| tx.write(piece))?;
                    tx.finish().map(drop)
                })
                .and_then(|()| recv_bytes(a, 1, "ack").map(drop))
                .map_err(|e| error_chain(&e));
            join(receiver).and(sent)
        })?;
        Ok(started.elapsed())
    }

    pub fn latency<C: Channel + Send>(
        a: &mut C,
        b: &mut C,
        rounds: usize,
        size: usize,
    ) -> Result<Vec<Duration>, String> {
        let ping = vec![1u8; size];
        std::thread::scope(|s| {
            let ponger = s.spawn(|| {
                for _ in 0..rounds {
                    let got = recv_bytes(b, 0, "ping")?;
                    send_bytes(b, 0, "pong", &got)?;
                }
                Ok(())
            });
            let mut times = Vec::with_capacity(rounds);
            let pinged = (0..rounds)
                .try_for_each(|_| {
                    let t = Instant::now();
                    send_bytes(a, 1, "ping", &ping)?;
                    recv_bytes(a, 1, "pong")?;
                    times.push(t.elapsed());
                    Ok::<(), Error>(())
                })
                .map_err(|e| error_chain(&e));
            join(ponger).and(pinged).map(|()| times)
        })
    }

    #[cfg(test)]
    mod tests {
        use super::join;

        #[test]
        fn a_panicking_party_is_reported_as_such() {
            let got = std::thread::scope(|s| {
                #[allow(clippy::panic)]
                let handle = s.spawn(|| -> Result<(), channel_core::Error> { panic!("boom") });
                join(handle)
            });
            assert_eq!(got, Err("party 1's thread panicked".to_string()));
        }
    }
}

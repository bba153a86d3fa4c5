//! The two measurements, for async and for blocking channels: one-way throughput
//! of a stream of messages, and the round-trip time of 100-byte ping-pongs.

use std::time::{Duration, Instant};

use channel_core::{Channel, Error, recv_bytes, send_bytes};

/// Size of a latency probe.
pub const PING: usize = 100;

fn wrong(len: usize, want: usize) -> Error {
    Error::WrongLength {
        party: 0,
        phase: "bench".into(),
        expected: want,
        actual: len,
    }
}

/// Party `a` streams `reps` messages of `size` bytes to `b`, which acknowledges
/// the last one; returns the time from the first send to the acknowledgement.
pub async fn throughput<C: Channel>(
    a: &mut C,
    b: &mut C,
    size: usize,
    reps: usize,
) -> Result<Duration, Error> {
    let msg = vec![0xA5u8; size];
    let started = Instant::now();
    let sender = async {
        for _ in 0..reps {
            send_bytes(a, 1, "bench", &msg).await?;
        }
        recv_bytes(a, 1, "ack").await.map(drop)
    };
    let receiver = async {
        for _ in 0..reps {
            let got = recv_bytes(b, 0, "bench").await?;
            if got.len() != size {
                return Err(wrong(got.len(), size));
            }
        }
        send_bytes(b, 0, "ack", &[1]).await
    };
    futures_join(sender, receiver).await?;
    Ok(started.elapsed())
}

/// `rounds` ping-pongs of [`PING`] bytes; returns each round-trip time.
pub async fn latency<C: Channel>(
    a: &mut C,
    b: &mut C,
    rounds: usize,
) -> Result<Vec<Duration>, Error> {
    let ping = vec![1u8; PING];
    let mut times = Vec::with_capacity(rounds);
    let pinger = async {
        for _ in 0..rounds {
            let t = Instant::now();
            send_bytes(a, 1, "ping", &ping).await?;
            recv_bytes(a, 1, "pong").await?;
            times.push(t.elapsed());
        }
        Ok(())
    };
    let ponger = async {
        for _ in 0..rounds {
            let got = recv_bytes(b, 0, "ping").await?;
            send_bytes(b, 0, "pong", &got).await?;
        }
        Ok(())
    };
    futures_join(pinger, ponger).await?;
    Ok(times)
}

/// Runs both futures to completion in the current task; the first error wins.
async fn futures_join(
    x: impl Future<Output = Result<(), Error>>,
    y: impl Future<Output = Result<(), Error>>,
) -> Result<(), Error> {
    let (x, y) = tokio::join!(x, y);
    x.and(y)
}

/// The blocking twins, each party on its own thread.
pub mod blocking {
    use std::time::{Duration, Instant};

    use channel_core::Error;
    use channel_core::blocking::{Channel, recv_bytes, send_bytes};

    use super::{PING, wrong};

    fn join<T>(handle: std::thread::ScopedJoinHandle<'_, Result<T, Error>>) -> Result<T, Error> {
        handle.join().unwrap_or_else(|_| {
            Err(Error::WrongLength {
                party: 1,
                phase: "bench: a party's thread panicked".into(),
                expected: 0,
                actual: 0,
            })
        })
    }

    pub fn throughput<C: Channel + Send>(
        a: &mut C,
        b: &mut C,
        size: usize,
        reps: usize,
    ) -> Result<Duration, Error> {
        let msg = vec![0xA5u8; size];
        let started = Instant::now();
        std::thread::scope(|s| {
            let receiver = s.spawn(|| {
                for _ in 0..reps {
                    let got = recv_bytes(b, 0, "bench")?;
                    if got.len() != size {
                        return Err(wrong(got.len(), size));
                    }
                }
                send_bytes(b, 0, "ack", &[1])
            });
            for _ in 0..reps {
                send_bytes(a, 1, "bench", &msg)?;
            }
            recv_bytes(a, 1, "ack")?;
            join(receiver)
        })?;
        Ok(started.elapsed())
    }

    pub fn latency<C: Channel + Send>(
        a: &mut C,
        b: &mut C,
        rounds: usize,
    ) -> Result<Vec<Duration>, Error> {
        let ping = vec![1u8; PING];
        std::thread::scope(|s| {
            let ponger = s.spawn(|| {
                for _ in 0..rounds {
                    let got = recv_bytes(b, 0, "ping")?;
                    send_bytes(b, 0, "pong", &got)?;
                }
                Ok(())
            });
            let mut times = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t = Instant::now();
                send_bytes(a, 1, "ping", &ping)?;
                recv_bytes(a, 1, "pong")?;
                times.push(t.elapsed());
            }
            join(ponger)?;
            Ok(times)
        })
    }
}

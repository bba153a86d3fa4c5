//! Peak memory while one big message crosses a transport. Each measurement runs
//! in a fresh process (`xtask bench-memory <transport> <bytes>`), because a
//! process's high-water mark can only grow.

use channel_core::{Channel, Error, error_chain, recv_bytes, recv_stream, send_bytes, send_stream};

use crate::transports::{Transport, two, with_local_parties};

/// Spawns the probe for `transport` and returns the peak extra resident memory
/// in bytes (`None` for the memcpy baseline, which moves no message, and for
/// stock libp2p, four-lane p2p and forwarded raw TCP, which are only
/// throughput and latency references, and the relay on Redis, whose chunks
/// another process holds).
pub fn measure(transport: Transport, bytes: usize) -> Result<Option<u64>, String> {
    measure_as(transport, bytes, Shape::Whole)
}

/// How the probe moves its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One whole message, held by the sender and the receiver.
    Whole,
    /// One streamed message, produced and consumed a part at a time.
    Streamed,
}

/// The probe's peak extra resident memory for `bytes` moved as `shape`
/// (see [`measure`]).
pub fn measure_as(transport: Transport, bytes: usize, shape: Shape) -> Result<Option<u64>, String> {
    probe_figures(transport, bytes, shape).map(|f| f.map(|f| f.parties))
}

/// What a probe measured.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// The parties' peak extra resident memory.
    pub parties: u64,
    /// The peak resident memory of a relay in a process of its own.
    pub relay: Option<u64>,
}

/// The probe's figures for `bytes` moved as `shape` (see [`measure`]).
pub fn probe_figures(
    transport: Transport,
    bytes: usize,
    shape: Shape,
) -> Result<Option<Figures>, String> {
    if matches!(
        transport,
        Transport::Memcpy
            | Transport::Libp2pStock
            | Transport::P2p4Lanes
            | Transport::RawTcpForwarded
            | Transport::HttpRelayRedis
    ) {
        return Ok(None);
    }
    let bytes = bytes.to_string();
    let mut args = vec!["bench-memory", transport.name(), &bytes];
    if shape == Shape::Streamed {
        args.push("--streamed");
    }
    let text = super::isolated::run_self(&args)
        .map_err(|e| format!("memory probe for {transport} failed: {e}"))?;
    let figure = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let parties = figure("peak_extra_bytes=")
        .ok_or_else(|| format!("memory probe for {transport} printed no figure: {text}"))?;
    Ok(Some(Figures {
        parties,
        relay: figure("relay_peak_bytes="),
    }))
}

/// A field of `/proc/self/status` in bytes (Linux reports kB).
fn status_bytes(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}

/// The probe's body: moves one message of `bytes` from party 0 to party 1.
pub fn probe(transport: Transport, bytes: usize, shape: Shape) -> Result<(), String> {
    let err = |e: Error| error_chain(&e);
    match transport {
        Transport::Std => {
            let (a, b) = two(channel_std::StdChannel::network(2))?;
            return blocking_probe_any(a, b, bytes, shape);
        }
        Transport::TcpBlocking => {
            let rt = super::runtime()?;
            let (a, b) = two(crate::transports::tcp_blocking(2, &rt)?)?;
            return blocking_probe_any(a, b, bytes, shape);
        }
        Transport::HttpRelay | Transport::HttpRelayWs if shape == Shape::Streamed => {
            return relay_stream_probe(transport, bytes);
        }
        _ => {}
    }
    super::runtime()?.block_on(async {
        with_local_parties!(transport, 2, |parties| {
            let (mut a, mut b) = two(parties)?;
            let before = match shape {
                Shape::Whole => transfer(&mut a, &mut b, bytes).await,
                Shape::Streamed => stream_transfer(&mut a, &mut b, bytes).await,
            };
            report(before.map_err(err)?)
        })
    })
}

fn blocking_probe_any<C: channel_core::blocking::Channel + Send>(
    a: C,
    b: C,
    bytes: usize,
    shape: Shape,
) -> Result<(), String> {
    match shape {
        Shape::Whole => blocking_probe(a, b, bytes),
        Shape::Streamed => blocking_stream_probe(a, b, bytes),
    }
}

/// The size of the sender's writes in a streamed probe.
const WRITE: usize = 1 << 20;

/// Streams `bytes` from party 0 to party 1, both at once, neither holding
/// more than a write; returns the resident memory before it.
async fn stream_transfer<C: Channel>(a: &mut C, b: &mut C, bytes: usize) -> Result<u64, Error> {
    let before = status_bytes("VmRSS:").unwrap_or(0);
    let block = vec![0xA5u8; WRITE];
    let send = async {
        let mut tx = send_stream(a, 1, "mem", Some(bytes as u64));
        let mut left = bytes;
        // Bounded by `bytes`.
        while left > 0 {
            let n = left.min(WRITE);
            tx.write(block.get(..n).unwrap_or_default()).await?;
            left -= n;
        }
        tx.finish().await
    };
    let receive = async {
        let mut rx = recv_stream(b, 0, "mem").await?;
        let mut got = 0u64;
        // Bounded by the stream, which ends.
        while let Some(part) = rx.next_part().await? {
            got += part.len() as u64;
            rx.recycle(part);
        }
        Ok::<u64, Error>(got)
    };
    let (sent, got) = tokio::join!(send, receive);
    sent?;
    let got = got?;
    if got != bytes as u64 {
        return Err(Error::WrongLength {
            party: 0,
            phase: "mem".into(),
            expected: bytes,
            actual: got as usize,
        });
    }
    Ok(before)
}

/// A streamed message through a relay in a process of its own: the probe's
/// figure is the two parties' memory, and the relay's peak, which its
/// session budget bounds, is printed beside it.
fn relay_stream_probe(transport: Transport, bytes: usize) -> Result<(), String> {
    let relay = crate::relay_load::RelayProcess::start("memory")?;
    let err = |e: Error| error_chain(&e);
    super::runtime()?.block_on(async {
        let parties = channel_http::local::join_session(&relay.url, 2, &transport.relay_options())
            .await
            .map_err(|e| error_chain(&e))?;
        let (mut a, mut b) = two(parties)?;
        let before = stream_transfer(&mut a, &mut b, bytes).await.map_err(err)?;
        report(before)?;
        if let Some(peak) = relay.peak_memory() {
            println!("relay_peak_bytes={peak}");
        }
        Ok(())
    })
}

/// [`stream_transfer`] over a blocking pair, each party on its own thread.
fn blocking_stream_probe<C: channel_core::blocking::Channel + Send>(
    mut a: C,
    mut b: C,
    bytes: usize,
) -> Result<(), String> {
    use channel_core::blocking::{recv_stream, send_stream};
    let err = |e: Error| error_chain(&e);
    let before = status_bytes("VmRSS:")?;
    let block = vec![0xA5u8; WRITE];
    let got = std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            let mut rx = recv_stream(&mut b, 0, "mem")?;
            let mut got = 0u64;
            // Bounded by the stream, which ends.
            while let Some(part) = rx.next_part()? {
                got += part.len() as u64;
                rx.recycle(part);
            }
            Ok::<u64, Error>(got)
        });
        let mut tx = send_stream(&mut a, 1, "mem", Some(bytes as u64));
        let mut left = bytes;
        let mut sent = Ok(());
        // Bounded by `bytes`.
        while left > 0 && sent.is_ok() {
            let n = left.min(WRITE);
            sent = tx.write(block.get(..n).unwrap_or_default());
            left -= n;
        }
        let sent = sent.and_then(|()| tx.finish().map(drop));
        let got = receiver
            .join()
            .map_err(|_| "the receiving thread panicked".to_string())?
            .map_err(err)?;
        sent.map_err(err)?;
        Ok::<u64, String>(got)
    })?;
    check(got as usize, bytes)?;
    report(before)
}

/// The probe over a blocking pair: party 1 receives only once the whole
/// message was handed over (the transport buffers it).
fn blocking_probe<C: channel_core::blocking::Channel>(
    mut a: C,
    mut b: C,
    bytes: usize,
) -> Result<(), String> {
    let err = |e: Error| error_chain(&e);
    let before = status_bytes("VmRSS:")?;
    let msg = vec![0xA5u8; bytes];
    channel_core::blocking::send_bytes(&mut a, 1, "mem", &msg).map_err(err)?;
    drop(msg);
    let got = channel_core::blocking::recv_bytes(&mut b, 0, "mem").map_err(err)?;
    check(got.len(), bytes)?;
    report(before)
}

/// Sends then receives one message; returns the resident memory before it.
async fn transfer<C: Channel>(a: &mut C, b: &mut C, bytes: usize) -> Result<u64, Error> {
    let before = status_bytes("VmRSS:").unwrap_or(0);
    let msg = vec![0xA5u8; bytes];
    let (sent, got) = tokio::join!(send_bytes(a, 1, "mem", &msg), recv_bytes(b, 0, "mem"));
    sent?;
    let got = got?;
    if got.len() != bytes {
        return Err(Error::WrongLength {
            party: 0,
            phase: "mem".into(),
            expected: bytes,
            actual: got.len(),
        });
    }
    Ok(before)
}

fn check(got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("received {got} bytes, sent {want}"))
    }
}

fn report(before: u64) -> Result<(), String> {
    let peak = status_bytes("VmHWM:")?;
    println!("peak_extra_bytes={}", peak.saturating_sub(before));
    Ok(())
}

/// The most a streamed message may add to the probe's resident memory,
/// whatever its size (issue 20: below 64 MiB on each side; here both
/// parties share the process, and a relay runs in a process of its own).
pub const STREAM_MEMORY_BOUND: u64 = 64 << 20;

/// `cargo xtask stream-memory`: one streamed message over every native
/// transport, each in a fresh process; fails when one reaches the bound.
pub fn stream_memory(options: &crate::flags::StreamMemory) -> Result<(), String> {
    let transports = options.transports.clone().unwrap_or_else(|| {
        Transport::ALL
            .into_iter()
            .filter(|t| t.streams_natively())
            .collect()
    });
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "stream-memory: one streamed message of {:.0} MiB per transport, each in a fresh process",
        mib(options.size as u64)
    );
    let mut over = Vec::new();
    for transport in transports {
        let started = std::time::Instant::now();
        let figures = probe_figures(transport, options.size, Shape::Streamed)?
            .ok_or_else(|| format!("{transport} has no memory probe"))?;
        let peak = figures.parties;
        let verdict = if peak < STREAM_MEMORY_BOUND {
            "ok"
        } else {
            "OVER"
        };
        let relay = figures.relay.map_or(String::new(), |r| {
            format!("  (the relay's own process: {:.1} MiB at its peak)", mib(r))
        });
        println!(
            "  {:<14} peak extra {:>7.1} MiB  ({:.1} s)  {verdict}{relay}",
            transport.name(),
            mib(peak),
            started.elapsed().as_secs_f64()
        );
        if peak >= STREAM_MEMORY_BOUND {
            over.push(format!("{transport}: {:.1} MiB", mib(peak)));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "a streamed message took {} MiB or more of memory over: {}",
            STREAM_MEMORY_BOUND >> 20,
            over.join(", ")
        ))
    }
}

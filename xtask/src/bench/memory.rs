//! Peak memory while one big message crosses a transport. Each measurement runs
//! in a fresh process (`xtask bench-memory <transport> <bytes>`), because a
//! process's high-water mark can only grow.

use channel_core::{Channel, Error, error_chain, recv_bytes, send_bytes};

use crate::transports::{Transport, two, with_local_parties};

/// Spawns the probe for `transport` and returns the peak extra resident memory
/// in bytes (`None` for the memcpy baseline, which moves no message, and for
/// stock libp2p, four-lane p2p and forwarded raw TCP, which are only
/// throughput and latency references, and the relay on Redis, whose chunks
/// another process holds).
pub fn measure(transport: Transport, bytes: usize) -> Result<Option<u64>, String> {
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
    let text = super::isolated::run_self(&["bench-memory", transport.name(), &bytes])
        .map_err(|e| format!("memory probe for {transport} failed: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("peak_extra_bytes="))
        .and_then(|v| v.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| format!("memory probe for {transport} printed no figure: {text}"))
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
pub fn probe(transport: Transport, bytes: usize) -> Result<(), String> {
    let err = |e: Error| error_chain(&e);
    match transport {
        Transport::Std => {
            let (a, b) = two(channel_std::StdChannel::network(2))?;
            return blocking_probe(a, b, bytes);
        }
        Transport::TcpBlocking => {
            let rt = super::runtime()?;
            let (a, b) = two(crate::transports::tcp_blocking(2, &rt)?)?;
            return blocking_probe(a, b, bytes);
        }
        _ => {}
    }
    super::runtime()?.block_on(async {
        with_local_parties!(transport, 2, |parties| {
            let (mut a, mut b) = two(parties)?;
            report(transfer(&mut a, &mut b, bytes).await.map_err(err)?)
        })
    })
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

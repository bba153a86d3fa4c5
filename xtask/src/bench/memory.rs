//! Peak memory while one big message crosses a transport. Each measurement runs
//! in a fresh process (`xtask bench-memory <transport> <bytes>`), because a
//! process's high-water mark can only grow.

use channel_core::{Channel, Error, recv_bytes, send_bytes};

/// Spawns the probe for `transport` and returns the peak extra resident memory
/// in bytes (`None` for the memcpy baseline, which moves no message, and for
/// stock libp2p and four-lane p2p, which are only throughput and latency references).
pub fn measure(transport: &str, bytes: usize) -> Result<Option<u64>, String> {
    if matches!(transport, "memcpy" | "libp2p-stock" | "p2p-4-lanes") {
        return Ok(None);
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find xtask's binary: {e}"))?;
    let out = std::process::Command::new(exe)
        .args(["bench-memory", transport, &bytes.to_string()])
        .output()
        .map_err(|e| format!("cannot run the memory probe: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "memory probe for {transport} failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
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
pub fn probe(args: &[String]) -> Result<(), String> {
    let (Some(transport), Some(bytes)) = (args.first(), args.get(1)) else {
        return Err("usage: bench-memory <transport> <bytes>".into());
    };
    let bytes: usize = bytes
        .parse()
        .map_err(|_| format!("'{bytes}' is not a size"))?;
    let runtime = super::runtime()?;
    let err = |e: Error| crate::demo::describe(&e);
    runtime.block_on(async {
        match transport.as_str() {
            "raw-tcp" => {
                let (mut a, mut b) = super::tcp::pair().await.map_err(|e| e.to_string())?;
                report(transfer(&mut a, &mut b, bytes).await.map_err(err)?)
            }
            "tokio" => {
                let mut it = channel_tokio::TokioChannel::network(2).into_iter();
                let (Some(mut a), Some(mut b)) = (it.next(), it.next()) else {
                    return Err("no parties".into());
                };
                report(transfer(&mut a, &mut b, bytes).await.map_err(err)?)
            }
            "std" => {
                let mut it = channel_std::StdChannel::network(2).into_iter();
                let (Some(mut a), Some(mut b)) = (it.next(), it.next()) else {
                    return Err("no parties".into());
                };
                let before = status_bytes("VmRSS:")?;
                let msg = vec![0xA5u8; bytes];
                channel_core::blocking::send_bytes(&mut a, 1, "mem", &msg).map_err(err)?;
                drop(msg);
                let got = channel_core::blocking::recv_bytes(&mut b, 0, "mem").map_err(err)?;
                check(got.len(), bytes)?;
                report(before)
            }
            "http-relay" => {
                let (relay, mut parties) = crate::demo::relay_parties(2).await?;
                let (Some(mut b), Some(mut a)) = (parties.pop(), parties.pop()) else {
                    return Err("no parties".into());
                };
                let before = transfer(&mut a, &mut b, bytes).await.map_err(err)?;
                relay.shutdown();
                report(before)
            }
            "http-direct" => {
                let mut parties = crate::demo::direct_parties(2).await?;
                let (Some(mut b), Some(mut a)) = (parties.pop(), parties.pop()) else {
                    return Err("no parties".into());
                };
                report(transfer(&mut a, &mut b, bytes).await.map_err(err)?)
            }
            "p2p" => {
                let mut parties =
                    crate::demo::p2p_parties(2, channel_p2p::P2pOptions::default()).await?;
                let (Some(mut b), Some(mut a)) = (parties.pop(), parties.pop()) else {
                    return Err("no parties".into());
                };
                report(transfer(&mut a, &mut b, bytes).await.map_err(err)?)
            }
            other => Err(format!("unknown transport '{other}'")),
        }
    })
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

//! `cargo xtask bench`: throughput, 100-byte round trips and 16 MiB round trips
//! of every transport against two baselines measured in the same run (memcpy
//! in-process, raw TCP for sockets), plus peak memory for one big message.
//! Writes `target/bench/report.md` and `target/bench/throughput.svg`.
//!
//! Without `--quick` the measurements run in a release build (xtask re-invokes
//! itself through `cargo run --release`); `--quick` is a small smoke run in the
//! current build, used by `test-all` so the bench cannot rot.

mod frames;
mod libp2p_stock;
mod measure;
mod memory;
mod report;
mod tcp;

use std::time::{Duration, Instant};

use channel_core::Error;

pub use memory::probe as memory_probe;
use report::{Latency, Row};

/// What to measure and how much.
#[derive(Debug, Clone)]
pub struct Settings {
    pub quick: bool,
    pub sizes: Vec<usize>,
    /// Bytes streamed per throughput point (reps = this / size, within bounds).
    pub bytes_per_point: usize,
    pub rounds: usize,
    /// Round trips of a [`measure::BIG_PING`] message.
    pub big_rounds: usize,
    pub memory_message: usize,
    pub transports: Vec<String>,
    /// Measured runs per throughput point (the median is reported), after one
    /// unreported warm-up run when `warm_up`.
    pub samples: usize,
    pub warm_up: bool,
}

/// Every transport the bench knows, baselines first.
pub const TRANSPORTS: &[&str] = &[
    "memcpy",
    "raw-tcp",
    "tokio",
    "std",
    "http-relay",
    "http-direct",
    "p2p",
    "p2p-4-lanes",
    "libp2p-stock",
];

pub fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    let mut in_release = false;
    let mut transports: Vec<String> = TRANSPORTS.iter().map(|t| t.to_string()).collect();
    let mut sizes: Option<Vec<usize>> = None;
    let mut memory = true;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--quick" => quick = true,
            "--in-release" => in_release = true,
            "--transports" => {
                let list = args.next().ok_or("--transports needs a value")?;
                transports = list.split(',').map(str::to_string).collect();
                for t in &transports {
                    if !TRANSPORTS.contains(&t.as_str()) {
                        return Err(format!(
                            "unknown transport '{t}'; known: {}",
                            TRANSPORTS.join(", ")
                        ));
                    }
                }
                // The baselines are what the ratios are measured against.
                for baseline in ["raw-tcp", "memcpy"] {
                    if !transports.iter().any(|t| t == baseline) {
                        transports.insert(0, baseline.to_string());
                    }
                }
            }
            "--sizes" => {
                let list = args.next().ok_or("--sizes needs a value")?;
                sizes = Some(parse_sizes(list)?);
            }
            "--no-memory" => memory = false,
            other => {
                return Err(format!(
                    "unknown bench option '{other}' (see `cargo xtask help`)"
                ));
            }
        }
    }
    if !quick && !in_release && cfg!(debug_assertions) {
        // Re-run this very command from a release build.
        println!("bench: building and running in release mode (cargo run --release)");
        let mut forwarded = vec![
            "run",
            "--release",
            "--quiet",
            "-p",
            "xtask",
            "--",
            "bench",
            "--in-release",
        ];
        let list = transports.join(",");
        forwarded.extend(["--transports", list.as_str()]);
        let size_list = sizes
            .as_ref()
            .map(|s| s.iter().map(usize::to_string).collect::<Vec<_>>().join(","));
        if let Some(list) = &size_list {
            forwarded.extend(["--sizes", list.as_str()]);
        }
        if !memory {
            forwarded.push("--no-memory");
        }
        let status = crate::run::cargo(&forwarded)
            .status()
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err("the release bench failed".into())
        };
    }
    let mut settings = if quick {
        Settings {
            quick,
            sizes: vec![1 << 10, 64 << 10, 4 << 20],
            bytes_per_point: 8 << 20,
            rounds: 100,
            big_rounds: 2,
            memory_message: 32 << 20,
            transports,
            samples: 1,
            warm_up: false,
        }
    } else {
        Settings {
            quick,
            sizes: vec![1 << 10, 16 << 10, 256 << 10, 4 << 20, 16 << 20, 64 << 20],
            bytes_per_point: 128 << 20,
            rounds: 2000,
            big_rounds: 20,
            memory_message: 256 << 20,
            transports,
            samples: 3,
            warm_up: true,
        }
    };
    if let Some(sizes) = sizes {
        settings.sizes = sizes;
    }
    if !memory {
        settings.memory_message = 0;
    }
    measure_all(&settings)
}

fn measure_all(settings: &Settings) -> Result<(), String> {
    let profile = if cfg!(debug_assertions) {
        "debug (opt-level 1)"
    } else {
        "release"
    };
    println!(
        "bench: {} transports, sizes {:?}, {} ping-pongs, {} build{}",
        settings.transports.len(),
        settings.sizes,
        settings.rounds,
        profile,
        if settings.quick { ", quick" } else { "" }
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    for name in &settings.transports {
        print!("  {name:<12} ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let t = Instant::now();
        let mut row = bench_one(name, settings).map_err(|e| format!("{name}: {e}"))?;
        if settings.memory_message > 0 {
            row.peak_memory = memory::measure(name, settings.memory_message)?;
        }
        println!("done in {:.1?}", t.elapsed());
        rows.push(row);
    }
    let text = report::render(&rows, settings, profile);
    println!("\n{text}");
    let dir = crate::run::root().join("target").join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(dir.join("report.md"), &text)
        .map_err(|e| format!("cannot write the report: {e}"))?;
    report::plot(&rows, &dir.join("throughput.svg"))?;
    println!(
        "bench: wrote {} and {} in {:.1?}",
        dir.join("report.md").display(),
        dir.join("throughput.svg").display(),
        started.elapsed()
    );
    Ok(())
}

/// Parses `1024,16K,4M` (suffixes K and M are binary: KiB, MiB).
fn parse_sizes(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(|item| {
            let item = item.trim();
            let (digits, unit) = match item.strip_suffix(['K', 'k']) {
                Some(d) => (d, 1 << 10),
                None => match item.strip_suffix(['M', 'm']) {
                    Some(d) => (d, 1 << 20),
                    None => (item, 1),
                },
            };
            digits
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .filter(|n| (1..=1 << 30).contains(n))
                .ok_or_else(|| {
                    format!("bad size '{item}' in --sizes (e.g. 1024,16K,4M; 1 byte to 1 GiB)")
                })
        })
        .collect()
}

/// The ping-pong series of every row: (message size, rounds).
fn round_trips(settings: &Settings) -> [(usize, usize); 2] {
    [
        (measure::PING, settings.rounds),
        (measure::BIG_PING, settings.big_rounds),
    ]
}

/// Runs per throughput point, the warm-up included.
fn runs(settings: &Settings) -> usize {
    settings.samples.max(1) + usize::from(settings.warm_up)
}

/// The reported rate of a point: the median of its runs, the warm-up dropped.
fn summarize(mut rates: Vec<f64>, settings: &Settings) -> f64 {
    if settings.warm_up && rates.len() > 1 {
        rates.remove(0);
    }
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(0.0)
}

/// How many messages of `size` make one throughput point.
fn reps(settings: &Settings, size: usize) -> usize {
    (settings.bytes_per_point / size.max(1)).clamp(3, if settings.quick { 200 } else { 5000 })
}

fn mib_per_s(size: usize, reps: usize, took: Duration) -> f64 {
    (size * reps) as f64 / (1 << 20) as f64 / took.as_secs_f64().max(1e-9)
}

fn latency_of(mut times: Vec<Duration>) -> Option<Latency> {
    times.sort();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    Some(Latency {
        median: at(0.5)?,
        p99: at(0.99)?,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))
}

/// Measures one async pair: every size, then the ping-pongs. Each party runs on
/// its own task of the two-thread runtime, as real parties would. A macro, not a
/// generic function: `tokio::spawn` needs `Send` futures, which the compiler
/// proves only for concrete channel types.
macro_rules! measure_pair {
    ($a:expr, $b:expr, $name:expr, $s:expr) => {{
        let (mut a, mut b) = ($a, $b);
        let settings: &Settings = $s;
        let fail = |e: Error| crate::demo::describe(&e);
        let mut row = Row::new($name);
        for &size in &settings.sizes {
            let reps = reps(settings, size);
            let msg = vec![0xA5u8; size];
            let mut rates = Vec::new();
            for _ in 0..runs(settings) {
                let receiver = tokio::spawn(async move {
                    let received = measure::stream_in(&mut b, size, reps).await;
                    (b, received)
                });
                let started = Instant::now();
                let sent = measure::stream_out(&mut a, &msg, reps).await;
                let took = started.elapsed();
                let (back, received) = receiver
                    .await
                    .map_err(|e| format!("a party's task failed: {e}"))?;
                b = back;
                sent.and(received).map_err(fail)?;
                rates.push(mib_per_s(size, reps, took));
            }
            row.throughput.push((size, summarize(rates, settings)));
        }
        for (size, rounds) in round_trips(settings) {
            let ponger = tokio::spawn(async move {
                let ponged = measure::ponger(&mut b, rounds).await;
                (b, ponged)
            });
            let times = measure::pinger(&mut a, rounds, size).await.map_err(fail)?;
            let (back, ponged) = ponger
                .await
                .map_err(|e| format!("a party's task failed: {e}"))?;
            b = back;
            ponged.map_err(fail)?;
            row.set_round_trips(size, latency_of(times));
        }
        Ok::<Row, String>(row)
    }};
}

fn bench_one(name: &str, s: &Settings) -> Result<Row, String> {
    let err = |e: Error| crate::demo::describe(&e);
    match name {
        "memcpy" => Ok(memcpy_row(s)),
        "std" => {
            let mut it = channel_std::StdChannel::network(2).into_iter();
            let (Some(mut a), Some(mut b)) = (it.next(), it.next()) else {
                return Err("no parties".into());
            };
            let mut row = Row::new("std");
            for &size in &s.sizes {
                let reps = reps(s, size);
                let mut rates = Vec::new();
                for _ in 0..runs(s) {
                    let took =
                        measure::blocking::throughput(&mut a, &mut b, size, reps).map_err(err)?;
                    rates.push(mib_per_s(size, reps, took));
                }
                row.throughput.push((size, summarize(rates, s)));
            }
            for (size, rounds) in round_trips(s) {
                let times =
                    measure::blocking::latency(&mut a, &mut b, rounds, size).map_err(err)?;
                row.set_round_trips(size, latency_of(times));
            }
            Ok(row)
        }
        "raw-tcp" => runtime()?.block_on(async {
            let (a, b) = tcp::pair().await.map_err(|e| e.to_string())?;
            frames::row("raw-tcp", a, b, s).await
        }),
        "tokio" => runtime()?.block_on(async {
            let mut it = channel_tokio::TokioChannel::network(2).into_iter();
            let (Some(a), Some(b)) = (it.next(), it.next()) else {
                return Err("no parties".into());
            };
            measure_pair!(a, b, "tokio", s)
        }),
        "http-relay" => runtime()?.block_on(async {
            let (relay, mut parties) = crate::demo::relay_parties(2).await?;
            let (Some(b), Some(a)) = (parties.pop(), parties.pop()) else {
                return Err("no parties".into());
            };
            let row = measure_pair!(a, b, "http-relay", s);
            relay.shutdown();
            row
        }),
        "http-direct" => runtime()?.block_on(async {
            let mut parties = crate::demo::direct_parties(2).await?;
            let (Some(b), Some(a)) = (parties.pop(), parties.pop()) else {
                return Err("no parties".into());
            };
            measure_pair!(a, b, "http-direct", s)
        }),
        "p2p" | "p2p-4-lanes" => runtime()?.block_on(async {
            let mut options = channel_p2p::P2pOptions::default();
            let name = if name == "p2p" {
                "p2p"
            } else {
                // Four connections per pair, to show what lanes bring here.
                options.lanes = 4;
                "p2p-4-lanes"
            };
            let mut parties = crate::demo::p2p_parties(2, options).await?;
            let (Some(b), Some(a)) = (parties.pop(), parties.pop()) else {
                return Err("no parties".into());
            };
            measure_pair!(a, b, name, s)
        }),
        "libp2p-stock" => runtime()?.block_on(async {
            let (a, b) = libp2p_stock::pair().await?;
            frames::row("libp2p-stock", a, b, s).await
        }),
        other => Err(format!("unknown transport '{other}'")),
    }
}

/// The in-process limit: copying the message once.
fn memcpy_row(s: &Settings) -> Row {
    let mut row = Row::new("memcpy");
    for &size in &s.sizes {
        let reps = reps(s, size);
        let src = vec![0xA5u8; size];
        let mut dst = vec![0u8; size];
        let mut rates = Vec::new();
        for _ in 0..runs(s) {
            let started = Instant::now();
            for _ in 0..reps {
                dst.copy_from_slice(std::hint::black_box(&src));
                std::hint::black_box(&mut dst);
            }
            rates.push(mib_per_s(size, reps, started.elapsed()));
        }
        row.throughput.push((size, summarize(rates, s)));
    }
    row
}

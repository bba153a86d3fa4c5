//! `cargo xtask bench`: throughput, 100-byte round trips and 16 MiB round trips
//! of every transport against two baselines measured in the same run (memcpy
//! in-process, raw TCP for sockets), plus peak memory for one big message.
//! Writes `target/bench/report.md` and `target/bench/throughput.svg`.
//!
//! Without `--quick` the measurements run in a release build (xtask re-invokes
//! itself through `cargo run --release`); `--quick` is a small smoke run in the
//! current build, used by `test-all` so the bench cannot rot.

mod frames;
mod isolated;
mod libp2p_stock;
mod measure;
mod memory;
mod output;
mod plot;
mod report;
pub mod wan;

use std::time::{Duration, Instant};

use channel_core::error_chain;

use crate::flags;
use crate::transports::{Transport, two, with_local_parties};
pub use memory::stream_memory;
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
    /// The streamed message of the memory figures.
    pub streamed_memory_message: usize,
    pub transports: Vec<Transport>,
    /// Measured runs per throughput point (the median is reported), after one
    /// unreported warm-up run when `warm_up`.
    pub samples: usize,
    pub warm_up: bool,
}

pub fn run(flags: &flags::Bench) -> Result<(), String> {
    if !flags.quick && !flags.in_release && cfg!(debug_assertions) {
        // Re-run this very command from a release build.
        println!("bench: building and running in release mode (cargo run --release)");
        let mut args = vec!["run", "--release", "--quiet", "-p", "xtask", "--"];
        let forwarded = flags.release_args();
        args.extend(forwarded.iter().map(String::as_str));
        let status = crate::run::cargo(&args)
            .status()
            .map_err(|e| format!("cannot start cargo: {e}"))?;
        return if status.success() {
            Ok(())
        } else {
            Err("the release bench failed".into())
        };
    }
    if flags.wan {
        let settings = wan::WanSettings::new(flags.quick, flags.transports.as_deref());
        return wan::run(&settings);
    }
    let transports = flags.transports.clone().unwrap_or_else(|| {
        Transport::ALL
            .into_iter()
            .filter(|t| t.in_bench())
            .collect()
    });
    let mut settings = if flags.quick {
        Settings {
            quick: true,
            sizes: vec![1 << 10, 64 << 10, 4 << 20],
            bytes_per_point: 8 << 20,
            rounds: 100,
            big_rounds: 2,
            memory_message: 32 << 20,
            streamed_memory_message: 64 << 20,
            transports,
            samples: 1,
            warm_up: false,
        }
    } else {
        Settings {
            quick: false,
            sizes: vec![1 << 10, 16 << 10, 256 << 10, 4 << 20, 16 << 20, 64 << 20],
            bytes_per_point: 128 << 20,
            rounds: 2000,
            big_rounds: 20,
            memory_message: 256 << 20,
            streamed_memory_message: 4 << 30,
            transports,
            samples: 3,
            warm_up: true,
        }
    };
    if let Some(sizes) = &flags.sizes {
        settings.sizes = sizes.clone();
    }
    if !flags.memory {
        settings.memory_message = 0;
    }
    if let Some(transport) = flags.row {
        // A child of `measure_all`: one row, printed for the parent.
        let row = bench_one(transport, &settings).map_err(|e| format!("{transport}: {e}"))?;
        isolated::print(&row);
        return Ok(());
    }
    measure_all(&settings)
}

/// The bench's memory probe, in a process of its own: one whole or one
/// streamed message.
pub fn memory_probe(transport: Transport, bytes: usize, streamed: bool) -> Result<(), String> {
    let shape = if streamed {
        memory::Shape::Streamed
    } else {
        memory::Shape::Whole
    };
    memory::probe(transport, bytes, shape)
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
    for &transport in &settings.transports {
        let name = transport.name();
        print!("  {name:<12} ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let t = Instant::now();
        // In a fresh process, so that no row inherits another's heap.
        let mut row = isolated::measure(transport, settings).map_err(|e| format!("{name}: {e}"))?;
        if settings.memory_message > 0 {
            row.peak_memory = memory::measure(transport, settings.memory_message)?;
            if transport.streams_natively() {
                row.streamed_memory = memory::measure_as(
                    transport,
                    settings.streamed_memory_message,
                    memory::Shape::Streamed,
                )?;
            }
        }
        println!("done in {:.1?}", t.elapsed());
        rows.push(row);
    }
    let text = report::render(&rows, settings, profile);
    output::write(
        "bench",
        &text,
        "report.md",
        "throughput.svg",
        |path| report::plot(&rows, path),
        started,
    )
}

/// The ping-pong series of every row: (message size, rounds).
fn round_trips(settings: &Settings) -> [(usize, usize); 2] {
    [
        (measure::PING, settings.rounds),
        (measure::BIG_PING, settings.big_rounds),
    ]
}

/// The size of the streamed throughput point: the largest size, where
/// streaming matters.
fn streamed_size(settings: &Settings) -> Option<usize> {
    settings.sizes.iter().copied().max()
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
        let fail = |e: channel_core::Error| error_chain(&e);
        let mut row = Row::new($name);
        // The receiver's buffer, kept across runs as a stream would keep it.
        let mut got = Vec::new();
        for &size in &settings.sizes {
            let reps = reps(settings, size);
            let msg = vec![0xA5u8; size];
            let mut rates = Vec::new();
            for _ in 0..runs(settings) {
                let receiver = tokio::spawn(async move {
                    let received = measure::stream_in(&mut b, &mut got, size, reps).await;
                    (b, got, received)
                });
                let started = Instant::now();
                let sent = measure::stream_out(&mut a, &msg, reps).await;
                let took = started.elapsed();
                let (back, buf, received) = receiver
                    .await
                    .map_err(|e| format!("a party's task failed: {e}"))?;
                (b, got) = (back, buf);
                sent.and(received).map_err(fail)?;
                rates.push(mib_per_s(size, reps, took));
            }
            row.throughput.push((size, summarize(rates, settings)));
        }
        if let Some(size) = streamed_size(settings) {
            let reps = reps(settings, size);
            let msg = vec![0xA5u8; size];
            let mut rates = Vec::new();
            for _ in 0..runs(settings) {
                let receiver = tokio::spawn(async move {
                    let received = measure::stream_in_streamed(&mut b, size, reps).await;
                    (b, received)
                });
                let started = Instant::now();
                let sent = measure::stream_out_streamed(&mut a, &msg, reps).await;
                let took = started.elapsed();
                let (back, received) = receiver
                    .await
                    .map_err(|e| format!("a party's task failed: {e}"))?;
                b = back;
                sent.and(received).map_err(fail)?;
                rates.push(mib_per_s(size, reps, took));
            }
            row.streamed = Some((size, summarize(rates, settings)));
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

fn bench_one(transport: Transport, s: &Settings) -> Result<Row, String> {
    let name = transport.name();
    match transport {
        Transport::Memcpy => Ok(memcpy_row(s)),
        Transport::Std => {
            let (a, b) = two(channel_std::StdChannel::network(2))?;
            blocking_row(name, a, b, s)
        }
        Transport::TcpBlocking => {
            let rt = runtime()?;
            let (a, b) = two(crate::transports::tcp_blocking(2, &rt)?)?;
            blocking_row(name, a, b, s)
        }
        Transport::RawTcp => runtime()?.block_on(async {
            let (a, b) = crate::raw_tcp::pair().await.map_err(|e| e.to_string())?;
            frames::row(name, a, b, s).await
        }),
        Transport::RawTcpForwarded => runtime()?.block_on(async {
            let (a, b) = crate::raw_tcp::forwarded_pair()
                .await
                .map_err(|e| e.to_string())?;
            frames::row(name, a, b, s).await
        }),
        Transport::Libp2pStock => runtime()?.block_on(async {
            let (a, b) = libp2p_stock::pair().await?;
            frames::row(name, a, b, s).await
        }),
        async_transport => runtime()?.block_on(async {
            with_local_parties!(async_transport, 2, |parties| {
                let (a, b) = two(parties)?;
                measure_pair!(a, b, name, s)
            })
        }),
    }
}

/// The blocking in-process transport, each party on a thread of its own.
/// Measures one blocking pair, each party on a thread of its own.
fn blocking_row<C: channel_core::blocking::Channel + Send>(
    name: &'static str,
    mut a: C,
    mut b: C,
    s: &Settings,
) -> Result<Row, String> {
    let mut row = Row::new(name);
    // The receiver's buffer, kept across runs as a stream would keep it.
    let mut got = Vec::new();
    for &size in &s.sizes {
        let reps = reps(s, size);
        let mut rates = Vec::new();
        for _ in 0..runs(s) {
            let took = measure::blocking::throughput(&mut a, &mut b, &mut got, size, reps)?;
            rates.push(mib_per_s(size, reps, took));
        }
        row.throughput.push((size, summarize(rates, s)));
    }
    if let Some(size) = streamed_size(s) {
        let reps = reps(s, size);
        let mut rates = Vec::new();
        for _ in 0..runs(s) {
            let took = measure::blocking::throughput_streamed(&mut a, &mut b, size, reps)?;
            rates.push(mib_per_s(size, reps, took));
        }
        row.streamed = Some((size, summarize(rates, s)));
    }
    for (size, rounds) in round_trips(s) {
        let times = measure::blocking::latency(&mut a, &mut b, rounds, size)?;
        row.set_round_trips(size, latency_of(times));
    }
    Ok(row)
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

//! `cargo xtask demo`: the main job. Every transport runs the reference secure-sum
//! protocol and a ring exchange (each party sends one big message to the next),
//! and the results are printed as one table. Exit is non-zero if any row fails.

mod browser_row;

use std::io::Write;
use std::time::{Duration, Instant};

use channel_core::testkit::pattern;
use channel_core::{Error, Metered, error_chain};

use crate::flags;
use crate::transports::{Transport, with_local_parties};

/// What every transport is asked to do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scenario {
    pub(crate) parties: usize,
    pub(crate) size: usize,
}

/// What one transport achieved.
pub(crate) struct Outcome {
    pub(crate) sum_correct: bool,
    pub(crate) exchange_correct: bool,
    pub(crate) bytes_moved: u64,
    pub(crate) exchange_time: Duration,
}

pub fn run(flags: &flags::Demo) -> Result<(), String> {
    if flags.polytune {
        return polytune(&[]);
    }
    let scenario = Scenario {
        parties: flags.parties,
        size: flags.size,
    };
    // The browser row joins by default when its toolchain is installed.
    let mut browser_note = None;
    let chosen = match &flags.transports {
        Some(chosen) => chosen.clone(),
        None => {
            let mut all: Vec<Transport> = Transport::ALL
                .into_iter()
                .filter(|t| t.in_demo() && !t.is_browser())
                .collect();
            if crate::browser::find_tools().is_some() {
                all.extend([Transport::Browser, Transport::BrowserLongPoll]);
            } else {
                browser_note = Some(
                    "demo: no browser row: the wasm toolchain and Chromium are not installed \
                     (`cargo xtask browser-tests` installs them; `test-all` does too)",
                );
            }
            all
        }
    };

    println!(
        "demo: {} parties, secure sum + ring exchange of {} bytes per party\n",
        scenario.parties, scenario.size
    );
    let mut rows = Vec::new();
    for (i, transport) in chosen.iter().enumerate() {
        let name = transport.name();
        print!("[{}/{}] {name:<8} running ... ", i + 1, chosen.len());
        let _ = std::io::stdout().flush();
        let outcome = run_one(*transport, &scenario);
        println!("{}", if row_ok(&outcome) { "ok" } else { "FAILED" });
        rows.push((*transport, outcome));
    }
    print_table(&scenario, &rows);
    if chosen.iter().any(|t| t.is_browser()) {
        println!(
            "\nbrowser: party 0 runs in headless Chromium (channel-wasm), over the relay's \
             WebSocket (browser-long-poll: its HTTP routes); the others are native channel-http \
             parties on the same relay; its time is the browser's own."
        );
    }
    if let Some(note) = browser_note {
        println!("\n{note}");
    }
    println!(
        "\nsealed end to end: every chunk encrypted and authenticated between its two parties \
         (channel-seal); the relay sees sizes, timing and who talks to whom, never content."
    );
    let failed = rows.iter().filter(|(_, o)| !row_ok(o)).count();
    if failed > 0 {
        return Err(format!("{failed} transport(s) failed"));
    }
    Ok(())
}

/// One row: every party of `transport` runs the scenario.
fn run_one(transport: Transport, s: &Scenario) -> Result<Outcome, String> {
    let s = *s;
    match transport {
        Transport::Std => run_blocking(channel_std::StdChannel::network(s.parties), &s),
        Transport::TcpBlocking => {
            // The runtime drives the parties' links until every party is done.
            let rt = runtime()?;
            let parties = crate::transports::tcp_blocking(s.parties, &rt)?;
            run_blocking(parties, &s)
        }
        Transport::Browser => browser_row::run(&s, "websocket"),
        Transport::BrowserLongPoll => browser_row::run(&s, "long-poll"),
        async_transport => runtime()?.block_on(async move {
            with_local_parties!(async_transport, s.parties, |parties| {
                let tasks: Vec<_> = parties
                    .into_iter()
                    .enumerate()
                    .map(|(me, ch)| tokio::spawn(party_async(ch, me, s)))
                    .collect();
                let mut results = Vec::new();
                for task in tasks {
                    results.push(
                        task.await
                            .map_err(|e| format!("a party's task failed: {e}"))?,
                    );
                }
                combine(results)
            })
        }),
    }
}

fn row_ok(outcome: &Result<Outcome, String>) -> bool {
    matches!(outcome, Ok(o) if o.sum_correct && o.exchange_correct)
}

fn print_table(scenario: &Scenario, rows: &[(Transport, Result<Outcome, String>)]) {
    println!(
        "\n| transport | protection | parties | sum correct | exchange correct | bytes moved | time | MiB/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (transport, outcome) in rows {
        let (name, protection) = (transport.name(), transport.protection());
        match outcome {
            Ok(o) => {
                let secs = o.exchange_time.as_secs_f64();
                let mib_s = o.bytes_moved as f64 / (1 << 20) as f64 / secs.max(1e-9);
                println!(
                    "| {name} | {protection} | {} | {} | {} | {} | {:.1} ms | {mib_s:.0} |",
                    scenario.parties,
                    yes_no(o.sum_correct),
                    yes_no(o.exchange_correct),
                    o.bytes_moved,
                    secs * 1e3
                );
            }
            Err(e) => println!(
                "| {name} | {protection} | {} | error: {e} | | | | |",
                scenario.parties
            ),
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}

/// The input of party `me` to the secure sum, and the expected sum.
pub(crate) fn input(me: usize) -> u64 {
    1000 + me as u64 * 17
}

pub(crate) fn expected_sum(parties: usize) -> u64 {
    (0..parties).map(input).sum()
}

/// Per-party result: sum correct, exchange correct, bytes sent, exchange time.
pub(crate) type PartyResult = Result<(bool, bool, u64, Duration), Error>;

pub(crate) fn seed(from: usize) -> u64 {
    0xDE40 + from as u64
}

async fn party_async<C: channel_core::Channel>(ch: C, me: usize, s: Scenario) -> PartyResult {
    party_steps(&mut Metered::new(ch), me, s).await
}

/// What every party does: the secure sum, then the ring exchange.
pub(crate) async fn party_steps<C: channel_core::Channel>(
    ch: &mut Metered<C>,
    me: usize,
    s: Scenario,
) -> PartyResult {
    let mut r = seed(me);
    let sum = channel_core::reference::secure_sum(ch, me, s.parties, input(me), || {
        r = r.wrapping_mul(6364136223846793005).wrapping_add(1);
        r
    })
    .await?;
    let (next, prev) = ((me + 1) % s.parties, (me + s.parties - 1) % s.parties);
    let msg = pattern(seed(me), s.size);
    let started = Instant::now();
    channel_core::send_bytes(ch, next, "demo/exchange", &msg).await?;
    let got = channel_core::recv_bytes(ch, prev, "demo/exchange").await?;
    let took = started.elapsed();
    let exchange_ok = got == pattern(seed(prev), s.size);
    // How a party's work ends: everything it sent delivered.
    channel_core::Channel::flush(ch)
        .await
        .map_err(|e| Error::Send {
            party: next,
            phase: "demo/flush".into(),
            source: Box::new(e),
        })?;
    Ok((
        sum == expected_sum(s.parties),
        exchange_ok,
        ch.stats().phase("demo/exchange").bytes_sent,
        took,
    ))
}

fn party_blocking<C: channel_core::blocking::Channel>(
    ch: C,
    me: usize,
    s: Scenario,
) -> PartyResult {
    use channel_core::blocking;
    let mut ch = Metered::new(ch);
    let mut r = seed(me);
    let sum = blocking::reference::secure_sum(&mut ch, me, s.parties, input(me), || {
        r = r.wrapping_mul(6364136223846793005).wrapping_add(1);
        r
    })?;
    let (next, prev) = ((me + 1) % s.parties, (me + s.parties - 1) % s.parties);
    let msg = pattern(seed(me), s.size);
    let started = Instant::now();
    blocking::send_bytes(&mut ch, next, "demo/exchange", &msg)?;
    let got = blocking::recv_bytes(&mut ch, prev, "demo/exchange")?;
    let took = started.elapsed();
    let exchange_ok = got == pattern(seed(prev), s.size);
    Ok((
        sum == expected_sum(s.parties),
        exchange_ok,
        ch.stats().phase("demo/exchange").bytes_sent,
        took,
    ))
}

/// Folds the parties' results into one row.
pub(crate) fn combine(results: Vec<PartyResult>) -> Result<Outcome, String> {
    let mut outcome = Outcome {
        sum_correct: true,
        exchange_correct: true,
        bytes_moved: 0,
        exchange_time: Duration::ZERO,
    };
    for (me, result) in results.into_iter().enumerate() {
        let (sum_ok, exchange_ok, bytes, took) =
            result.map_err(|e| format!("party {me}: {}", error_chain(&e)))?;
        outcome.sum_correct &= sum_ok;
        outcome.exchange_correct &= exchange_ok;
        outcome.bytes_moved += bytes;
        outcome.exchange_time = outcome.exchange_time.max(took);
    }
    Ok(outcome)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))
}

/// Every party of a blocking transport on a thread of its own.
fn run_blocking<C: channel_core::blocking::Channel + Send + 'static>(
    parties: Vec<C>,
    s: &Scenario,
) -> Result<Outcome, String> {
    let s = *s;
    let threads: Vec<_> = parties
        .into_iter()
        .enumerate()
        .map(|(me, ch)| std::thread::spawn(move || party_blocking(ch, me, s)))
        .collect();
    let mut results = Vec::new();
    for thread in threads {
        results.push(
            thread
                .join()
                .map_err(|_| "a party's thread panicked".to_string())?,
        );
    }
    combine(results)
}

/// `demo --polytune`: channel-polytune's demo (its own workspace; see
/// ARCHITECTURE.md), which times Polytune over each transport next to
/// Polytune's own in-memory channel. `args` go to the demo (`--quick`).
pub fn polytune(args: &[&str]) -> Result<(), String> {
    let mut run = vec!["--quiet", "--example", "polytune_demo", "--"];
    run.extend_from_slice(args);
    let (ok, _) = crate::run::stream(crate::run::polytune_cargo("run", &run))?;
    if ok {
        Ok(())
    } else {
        Err("the Polytune demo failed".into())
    }
}

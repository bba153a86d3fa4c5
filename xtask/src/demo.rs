//! `cargo xtask demo`: the main job. Every transport runs the reference secure-sum
//! protocol and a ring exchange (each party sends one big message to the next),
//! and the results are printed as one table. Exit is non-zero if any row fails.

use std::io::Write;
use std::time::{Duration, Instant};

use channel_core::testkit::pattern;
use channel_core::{Error, Metered};

/// The transports the demo knows, in table order.
const TRANSPORTS: &[(&str, Runner)] = &[
    ("tokio", run_tokio),
    ("std", run_std),
    ("http-relay", run_http_relay),
    ("http-direct", run_http_direct),
    ("p2p", run_p2p),
    ("browser", crate::browser::demo_row::run),
];

type Runner = fn(&Scenario) -> Result<Outcome, String>;

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

pub fn run(args: &[String]) -> Result<(), String> {
    let mut scenario = Scenario {
        parties: 3,
        size: 16 << 20,
    };
    let mut chosen: Vec<String> = TRANSPORTS
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| n != "browser")
        .collect();
    // The browser row joins by default when its toolchain is installed.
    let mut browser_note = None;
    if crate::browser::find_tools().is_some() {
        chosen.push("browser".into());
    } else {
        browser_note = Some(
            "demo: no browser row: the wasm toolchain and Chromium are not installed \
             (`cargo xtask browser-tests` installs them; `test-all` does too)",
        );
    }
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--transports" => {
                chosen = value()?.split(',').map(str::to_string).collect();
                browser_note = None;
            }
            "--size" => scenario.size = parse(flag, value()?)?,
            "--parties" => scenario.parties = parse(flag, value()?)?,
            other => {
                return Err(format!(
                    "unknown demo option '{other}' (see `cargo xtask help`)"
                ));
            }
        }
    }
    if scenario.parties < 2 {
        return Err("--parties must be at least 2".into());
    }
    let mut runs: Vec<(&str, Runner)> = Vec::new();
    for name in &chosen {
        let found = TRANSPORTS.iter().find(|(n, _)| n == name).ok_or_else(|| {
            let known: Vec<&str> = TRANSPORTS.iter().map(|(n, _)| *n).collect();
            format!("unknown transport '{name}'; known: {}", known.join(", "))
        })?;
        runs.push(*found);
    }

    println!(
        "demo: {} parties, secure sum + ring exchange of {} bytes per party\n",
        scenario.parties, scenario.size
    );
    let mut rows = Vec::new();
    for (i, (name, runner)) in runs.iter().enumerate() {
        print!("[{}/{}] {name:<8} running ... ", i + 1, runs.len());
        let _ = std::io::stdout().flush();
        let outcome = runner(&scenario);
        println!("{}", if row_ok(&outcome) { "ok" } else { "FAILED" });
        rows.push((*name, outcome));
    }
    print_table(&scenario, &rows);
    if rows.iter().any(|(name, _)| *name == "browser") {
        println!(
            "\nbrowser: party 0 runs in headless Chromium (channel-wasm), the others are native \
             channel-http parties on the same relay; its time is the browser's own."
        );
    }
    if let Some(note) = browser_note {
        println!("\n{note}");
    }
    let failed = rows.iter().filter(|(_, o)| !row_ok(o)).count();
    if failed > 0 {
        return Err(format!("{failed} transport(s) failed"));
    }
    Ok(())
}

fn parse(flag: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} expects a number, got '{value}'"))
}

fn row_ok(outcome: &Result<Outcome, String>) -> bool {
    matches!(outcome, Ok(o) if o.sum_correct && o.exchange_correct)
}

fn print_table(scenario: &Scenario, rows: &[(&str, Result<Outcome, String>)]) {
    println!(
        "\n| transport | parties | sum correct | exchange correct | bytes moved | time | MiB/s |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, outcome) in rows {
        match outcome {
            Ok(o) => {
                let secs = o.exchange_time.as_secs_f64();
                let mib_s = o.bytes_moved as f64 / (1 << 20) as f64 / secs.max(1e-9);
                println!(
                    "| {name} | {} | {} | {} | {} | {:.1} ms | {mib_s:.0} |",
                    scenario.parties,
                    yes_no(o.sum_correct),
                    yes_no(o.exchange_correct),
                    o.bytes_moved,
                    secs * 1e3
                );
            }
            Err(e) => println!("| {name} | {} | error: {e} | | | | |", scenario.parties),
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
            result.map_err(|e| format!("party {me}: {}", describe(&e)))?;
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

/// Runs every party of `channels` on its own task and folds the results. A macro,
/// not a generic function: `tokio::spawn` needs `Send` futures, which the compiler
/// proves only for concrete channel types (see channel-core's README).
macro_rules! run_parties {
    ($channels:expr, $s:expr) => {{
        let tasks: Vec<_> = $channels
            .into_iter()
            .enumerate()
            .map(|(me, ch)| tokio::spawn(party_async(ch, me, $s)))
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(
                task.await
                    .map_err(|e| format!("a party's task failed: {e}"))?,
            );
        }
        combine(results)
    }};
}

fn run_tokio(s: &Scenario) -> Result<Outcome, String> {
    let s = *s;
    runtime()?
        .block_on(async move { run_parties!(channel_tokio::TokioChannel::network(s.parties), s) })
}

/// A relay with `config`, serving on a free port of 127.0.0.1, and its URL.
pub async fn start_relay(
    config: channel_http::relay::RelayConfig,
) -> Result<(channel_http::relay::Relay, String), String> {
    let relay = channel_http::relay::Relay::new(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(channel_http::serve(
        listener,
        relay.router(),
        relay.shutdown_signal(),
    ));
    Ok((relay, url))
}

/// A relay on 127.0.0.1 and the `n` parties of a fresh session on it.
pub async fn relay_parties(
    n: usize,
) -> Result<(channel_http::relay::Relay, Vec<channel_http::HttpChannel>), String> {
    use channel_http::{ClientOptions, HttpChannel};
    let (relay, url) = start_relay(channel_http::relay::RelayConfig::default()).await?;
    let opts = ClientOptions::default();
    let session = HttpChannel::create_session(&url, n, None, &opts)
        .await
        .map_err(|e| e.to_string())?;
    let mut channels = Vec::new();
    for token in &session.tokens {
        channels.push(
            HttpChannel::join(&url, &session.session, token, &opts)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok((relay, channels))
}

/// `n` direct-mode parties on 127.0.0.1.
pub async fn direct_parties(n: usize) -> Result<Vec<channel_http::DirectChannel>, String> {
    use channel_http::{DirectChannel, DirectConfig, DirectOptions};
    let mut listeners = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..n {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
        urls.push(format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        ));
        listeners.push(listener);
    }
    let tables = DirectConfig::generate(&urls).map_err(|e| e.to_string())?;
    let mut channels = Vec::new();
    for (listener, table) in listeners.into_iter().zip(tables) {
        channels.push(
            DirectChannel::start(listener, table, DirectOptions::default())
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(channels)
}

/// `n` libp2p parties with fresh keys on 127.0.0.1, connected to each other.
pub async fn p2p_parties(
    n: usize,
    options: channel_p2p::P2pOptions,
) -> Result<Vec<channel_p2p::P2pChannel>, String> {
    use channel_p2p::{P2pNode, PartyEntry, PartyKey};
    let mut nodes = Vec::new();
    for _ in 0..n {
        let addr = "/ip4/127.0.0.1/tcp/0".parse().map_err(|e| format!("{e}"))?;
        nodes.push(
            P2pNode::bind(&PartyKey::generate(), addr)
                .await
                .map_err(|e| e.to_string())?,
        );
    }
    let table: Vec<PartyEntry> = nodes
        .iter()
        .map(|n| PartyEntry {
            peer_id: n.peer_id(),
            addrs: n.listen_addrs().to_vec(),
        })
        .collect();
    let connecting: Vec<_> = nodes
        .into_iter()
        .enumerate()
        .map(|(me, node)| tokio::spawn(node.connect(me, table.clone(), options.clone())))
        .collect();
    let mut channels = Vec::new();
    for c in connecting {
        channels.push(
            c.await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(channels)
}

fn run_p2p(s: &Scenario) -> Result<Outcome, String> {
    let s = *s;
    runtime()?.block_on(async move {
        let channels = p2p_parties(s.parties, channel_p2p::P2pOptions::default()).await?;
        run_parties!(channels, s)
    })
}

fn run_http_relay(s: &Scenario) -> Result<Outcome, String> {
    let s = *s;
    runtime()?.block_on(async move {
        let (relay, channels) = relay_parties(s.parties).await?;
        let outcome = async { run_parties!(channels, s) }.await;
        relay.shutdown();
        outcome
    })
}

fn run_http_direct(s: &Scenario) -> Result<Outcome, String> {
    let s = *s;
    runtime()?.block_on(async move {
        let channels = direct_parties(s.parties).await?;
        run_parties!(channels, s)
    })
}

/// An error and its sources on one line.
pub use channel_core::error_chain as describe;

fn run_std(s: &Scenario) -> Result<Outcome, String> {
    let s = *s;
    let threads: Vec<_> = channel_std::StdChannel::network(s.parties)
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

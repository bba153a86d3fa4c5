//! `cargo xtask test-all`: every check, in order, then a summary table.
//!
//! A step is one small function returning a [`StepResult`]; add new steps to
//! [`STEPS`].

use std::time::{Duration, Instant};

use crate::run::{Counts, cargo, stream};

/// What a step found: success, and the tests it counted (if it runs tests).
type StepResult = Result<Counts, String>;

/// A step: its name in the summary and the function that runs it.
type Step = (&'static str, fn() -> StepResult);

/// The steps in order.
const STEPS: &[Step] = &[
    ("fmt", fmt),
    ("clippy", clippy),
    ("tests", tests),
    ("polytune", polytune),
    ("relay on Redis", relay_on_redis),
    ("relay load", relay_load),
    ("browser tests", browser_tests),
    ("js package", js_package),
    ("streamed memory", streamed_memory),
    ("examples", examples),
    ("demo (quick)", demo_quick),
    ("bench (quick)", bench_quick),
    ("wan bench (quick)", wan_bench_quick),
];

pub fn run() -> Result<(), String> {
    let mut rows: Vec<(&str, Result<Counts, String>, Duration)> = Vec::new();
    for (name, step) in STEPS {
        println!("\n==> test-all: {name}");
        let started = Instant::now();
        let result = step();
        if let Err(e) = &result {
            eprintln!("==> test-all: {name} FAILED: {e}");
        }
        rows.push((name, result, started.elapsed()));
    }

    println!("\n{:<18} {:<8} {:>9}  tests", "step", "result", "time");
    let mut total = Counts::default();
    let mut failed_steps = 0;
    for (name, result, took) in &rows {
        let (verdict, tests) = match result {
            Ok(c) if c.passed + c.failed > 0 => {
                ("ok", format!("{} passed, {} failed", c.passed, c.failed))
            }
            Ok(_) => ("ok", String::new()),
            Err(_) => ("FAILED", String::new()),
        };
        if let Ok(c) = result {
            total.add(*c);
        }
        failed_steps += usize::from(result.is_err());
        println!(
            "{name:<18} {verdict:<8} {:>8.1}s  {tests}",
            took.as_secs_f64()
        );
    }
    println!(
        "\ntest-all: {} passed, {} failed",
        total.passed, total.failed
    );
    if failed_steps > 0 || total.failed > 0 {
        return Err(format!("{failed_steps} step(s) failed"));
    }
    Ok(())
}

/// Runs a cargo command whose output has no tests to count.
fn plain(args: &[&str]) -> StepResult {
    let (ok, counts) = stream(cargo(args))?;
    if ok {
        Ok(counts)
    } else if counts.passed + counts.failed > 0 {
        Err(format!(
            "`cargo {}` failed ({} passed, {} failed)",
            args.join(" "),
            counts.passed,
            counts.failed
        ))
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

fn fmt() -> StepResult {
    plain(&["fmt", "--all", "--check"])
}

fn clippy() -> StepResult {
    plain(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])
}

fn tests() -> StepResult {
    let counts = plain(&["test", "--workspace", "--all-features", "--no-fail-fast"])?;
    if counts.passed == 0 {
        return Err("the test run reported no passing test".into());
    }
    Ok(counts)
}

/// channel-polytune, a workspace of its own: its formatting, lints and tests
/// (Polytune's real computations over the transports), then a quick run of
/// `demo --polytune`.
fn polytune() -> StepResult {
    use crate::run::polytune_cargo;
    let mut counts = Counts::default();
    for (what, cmd) in [
        ("fmt", polytune_cargo("fmt", &["--all", "--check"])),
        (
            "clippy",
            polytune_cargo("clippy", &["--all-targets", "--", "-D", "warnings"]),
        ),
        ("test", polytune_cargo("test", &["--no-fail-fast"])),
    ] {
        let (ok, these) = stream(cmd)?;
        counts.add(these);
        if !ok {
            return Err(format!(
                "channel-polytune's {what} failed ({} passed, {} failed)",
                counts.passed, counts.failed
            ));
        }
    }
    if counts.passed == 0 {
        return Err("channel-polytune's tests reported no passing test".into());
    }
    // The demo's binary was built by the test run.
    crate::demo::polytune(&["--quick"])?;
    Ok(counts)
}

/// The relay's whole test suite again, its relays keeping their sessions in
/// a real redis-server (channel-http's `local::STORE_VARIABLE`); the
/// binaries are those the tests step built. Direct mode's tests (every one
/// has `direct` in its name) start no relay, so the tests step's run of them
/// is the whole of what they check: they are not run twice.
fn relay_on_redis() -> StepResult {
    let server = match redis_server()? {
        Ok(server) => server,
        Err(skipped) => return Ok(skipped),
    };
    let redis = crate::redis_server::RedisServer::start(&server)?;
    let mut counts = Counts::default();
    let mut failed = Vec::new();
    for binary in crate::run::test_binaries("channel-http")? {
        let mut test = std::process::Command::new(&binary);
        test.args(["--include-ignored", "--skip", "direct"])
            .current_dir(crate::run::root().join("channel-http"))
            .env(channel_http::local::STORE_VARIABLE, redis.url())
            .env("CHANNEL_TEST_REDIS_SERVER", &server);
        let (ok, these) = stream(test)?;
        counts.add(these);
        if !ok || these.failed > 0 {
            failed.push(binary.display().to_string());
        }
    }
    if !failed.is_empty() {
        return Err(format!(
            "the relay's tests on Redis failed ({} passed, {} failed) in {}",
            counts.passed,
            counts.failed,
            failed.join(", ")
        ));
    }
    if counts.passed == 0 {
        return Err("the relay's tests on Redis reported no passing test".into());
    }
    Ok(counts)
}

/// The redis-server binary; outside CI, when it cannot be had, a loud skip.
fn redis_server() -> Result<Result<std::path::PathBuf, Counts>, String> {
    match crate::redis_server::ensure() {
        Ok(server) => Ok(Ok(server)),
        Err(e) if std::env::var_os("CI").is_some() => Err(e),
        Err(why) => {
            eprintln!(
                "\n{}\n!! REDIS STEPS SKIPPED (allowed outside CI only)\n!! {why}\n{}\n",
                "!".repeat(72),
                "!".repeat(72)
            );
            Ok(Err(Counts {
                skipped: true,
                ..Counts::default()
            }))
        }
    }
}

/// 1000 sessions of 3 parties at once, on the in-memory store and on Redis
/// (`cargo xtask relay-load`): no error, in bounded time.
fn relay_load() -> StepResult {
    if let Err(skipped) = redis_server()? {
        return Ok(skipped);
    }
    crate::relay_load::run(&crate::flags::RelayLoad {
        sessions: 1000,
        parties: 3,
        rounds: 2,
    })?;
    Ok(Counts::default())
}

/// Every example that proves something when run (each exits non-zero on failure).
/// The tests step has already built them (`cargo test` builds examples), so run
/// those binaries instead of `cargo run -p ...`, whose per-package feature
/// resolution would rebuild half the workspace.
fn examples() -> StepResult {
    for (package, example, features) in [
        ("channel-core", "custom_channel", "testkit"),
        ("channel-tokio", "secure_sum_tokio", ""),
        ("channel-std", "secure_sum_std", ""),
        ("channel-http", "relay_three_parties", ""),
        ("channel-p2p", "three_parties_p2p", ""),
        ("channel-sim", "wan_estimate", ""),
    ] {
        let built = crate::run::root()
            .join("target/debug/examples")
            .join(example);
        if built.exists() {
            let (ok, _) = stream(std::process::Command::new(&built))?;
            if !ok {
                return Err(format!("example {example} failed"));
            }
            continue;
        }
        let mut args = vec!["run", "--quiet", "-p", package, "--example", example];
        if !features.is_empty() {
            args.extend(["--features", features]);
        }
        plain(&args)?;
    }
    Ok(Counts::default())
}

/// A 512 MiB streamed message over every native transport, each in a
/// fresh process: less than 64 MiB of extra memory
/// (`cargo xtask stream-memory`).
fn streamed_memory() -> StepResult {
    plain(&["run", "--quiet", "-p", "xtask", "--", "stream-memory"])
}

fn demo_quick() -> StepResult {
    plain(&[
        "run", "--quiet", "-p", "xtask", "--", "demo", "--size", "1048576",
    ])
}

fn bench_quick() -> StepResult {
    plain(&["run", "--quiet", "-p", "xtask", "--", "bench", "--quick"])
}

fn wan_bench_quick() -> StepResult {
    plain(&[
        "run", "--quiet", "-p", "xtask", "--", "bench", "--wan", "--quick",
    ])
}

/// channel-wasm's npm package: built, installed with npm, type-checked with
/// tsc, used from plain JavaScript, its example page run to the end.
fn js_package() -> StepResult {
    browser_step("JS PACKAGE", crate::js_package::test())
}

fn browser_tests() -> StepResult {
    browser_step("BROWSER TESTS", crate::browser_tests::run())
}

/// A step in the browser: its counts, its failure, or (outside CI only) a
/// loud skip when the browser's tools cannot be had.
fn browser_step(name: &str, outcome: Result<Counts, crate::browser::NotRun>) -> StepResult {
    match outcome {
        Ok(counts) => Ok(counts),
        Err(crate::browser::NotRun::Failed(e)) => Err(e),
        Err(crate::browser::NotRun::Skipped(why)) => {
            eprintln!(
                "\n{}\n!! {name} SKIPPED (allowed outside CI only)\n!! {why}\n{}\n",
                "!".repeat(72),
                "!".repeat(72)
            );
            Ok(Counts {
                skipped: true,
                ..Counts::default()
            })
        }
    }
}

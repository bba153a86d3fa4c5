//! Developer commands for the mpc-channels workspace, in plain Rust.
//!
//! `cargo xtask <command>` works from anywhere in the repository (see the alias in
//! `.cargo/config.toml`). Commands:
//!
//! - `test-all`: every check CI runs, in order, with a summary (step, result, time).
//! - `demo`: the main job: the reference secure-sum protocol and a 16 MiB exchange
//!   over every transport, printed as a table.
//! - `bench`: throughput, latency and memory of every transport against baselines.

mod bench;
mod browser;
mod demo;
mod run;
mod test_all;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  test-all            fmt, clippy, every crate's tests and examples; non-zero exit on any failure
  demo [options]      run the secure-sum protocol and a 16 MiB exchange over every transport
                      --transports a,b   only these transports (tokio, std, http-relay, http-direct, p2p,
                                         browser: party 0 in headless Chromium; in the default
                                         list when the browser toolchain is installed)
                      --size BYTES       size of the exchanged message (default 16 MiB)
                      --parties N        number of parties (default 3)
  bench [options]     throughput (1 KiB..64 MiB; median of 3 runs after a warm-up), 100-byte
                      and 16 MiB round trips of every transport, against memcpy and raw TCP
                      baselines measured in the same run; peak memory for a 256 MiB message;
                      writes target/bench/report.md and throughput.svg (release build)
                      --quick            a small smoke run in the current build
                      --transports a,b   only these (baselines are always included)
                      --sizes 16K,4M     only these message sizes (suffix K = KiB, M = MiB)
                      --no-memory        skip the peak-memory runs
  browser-tests       only the browser step of test-all (installs its tools when missing)
  help                this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test-all") => test_all::run(&args[1..]),
        Some("demo") => demo::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("browser-tests") => match browser::run_tests() {
            Ok(counts) => {
                println!(
                    "browser-tests: {} passed, {} failed",
                    counts.passed, counts.failed
                );
                Ok(())
            }
            Err(browser::NotRun::Failed(e) | browser::NotRun::Skipped(e)) => Err(e),
        },
        Some("bench-memory") => bench::memory_probe(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

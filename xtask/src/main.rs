//! Developer commands for the mpc-channels workspace, in plain Rust.
//!
//! `cargo xtask <command>` works from anywhere in the repository (see the alias in
//! `.cargo/config.toml`); `cargo xtask help` lists the commands and options,
//! which are all parsed in [`flags`]. Commands:
//!
//! - `test-all`: every check CI runs, in order, with a summary (step, result, time).
//! - `demo`: the main job: the reference secure-sum protocol and a 16 MiB exchange
//!   over every transport, printed as a table.
//! - `bench`: throughput, latency and memory of every transport against baselines.
//! - `browser-tests`: only the browser step of `test-all`.
//!
//! Modules, each with one job: [`transports`] is the list every command takes
//! its transports and local parties from; `browser` runs a test crate in
//! headless Chromium; `relay_session` is the relay and native parties next to
//! a browser party; `run` starts cargo and reads test counts.

mod apt;
mod bench;
mod browser;
mod browser_tests;
mod demo;
mod flags;
mod js_package;
mod raw_tcp;
mod redis_server;
mod relay_load;
mod relay_session;
mod run;
mod test_all;
mod transports;

use std::process::ExitCode;

use flags::Command;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = flags::parse(&args).and_then(|command| match command {
        Command::TestAll => test_all::run(),
        Command::Demo(demo) => demo::run(&demo),
        Command::Bench(bench) => bench::run(&bench),
        Command::BrowserTests => match browser_tests::run() {
            Ok(counts) => {
                println!(
                    "browser-tests: {} passed, {} failed",
                    counts.passed, counts.failed
                );
                Ok(())
            }
            Err(browser::NotRun::Failed(e) | browser::NotRun::Skipped(e)) => Err(e),
        },
        Command::JsPackage { check: false } => js_package::run(),
        Command::JsPackage { check: true } => js_package::test().map(drop).map_err(|e| match e {
            browser::NotRun::Failed(e) | browser::NotRun::Skipped(e) => e,
        }),
        Command::BenchMemory {
            transport,
            bytes,
            streamed,
        } => bench::memory_probe(transport, bytes, streamed),
        Command::StreamMemory(options) => bench::stream_memory(&options),
        Command::RelayLoad(load) => relay_load::run(&load),
        Command::RelayServe { store } => relay_load::serve(&store),
        Command::Help => {
            print!("{}", flags::USAGE);
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

//! The browser's row of `cargo xtask demo`: headless Chromium runs party 0
//! (`channel-wasm`'s `tests/demo_party.rs`) and native `channel-http` clients
//! run the other parties, all on one relay on 127.0.0.1. Party 1 receives the
//! browser's own figures (sum and exchange correct, bytes, time) for the table.

use std::time::Duration;

use channel_core::{Metered, error_chain, recv_from};

use super::{Outcome, PartyResult, Scenario, combine, expected_sum, input, party_steps, seed};
use crate::browser::{Page, find_tools};
use crate::relay_session::RelaySession;

/// How the browser reports: (sum correct, exchange correct, bytes sent, microseconds).
type Report = (bool, bool, u64, u64);

/// `way`: how the browser party reaches the relay (`websocket`, `long-poll`).
pub fn run(s: &Scenario, way: &str) -> Result<Outcome, String> {
    let tools = find_tools()
        .ok_or("the browser toolchain is not installed; `cargo xtask browser-tests` installs it")?;
    let s = *s;
    let relay = RelaySession::start(s.parties)?;

    let natives = relay.spawn_natives(1..s.parties, move |ch, party| async move {
        let mut ch = Metered::new(ch);
        let mine = party_steps(&mut ch, party, s).await;
        let report = if party == 1 {
            let got: Result<Report, _> = recv_from(&mut ch, 0, "demo/browser-report").await;
            Some(got.map_err(|e| format!("the browser's report: {}", error_chain(&e)))?)
        } else {
            None
        };
        Ok((mine, report))
    });

    let page = Page::prepare()?;
    let mut cmd = page.wasm_test(&tools, "demo_party", &relay.url)?;
    let prev = s.parties - 1;
    let (invitation, key) = relay.credentials(0);
    cmd.env("CHANNEL_WASM_DEMO_INVITATION", invitation)
        .env("CHANNEL_WASM_DEMO_KEY", key)
        .env("CHANNEL_WASM_DEMO_SIZE", s.size.to_string())
        .env("CHANNEL_WASM_DEMO_TRANSPORT", way)
        .env("CHANNEL_WASM_DEMO_INPUT", input(0).to_string())
        .env("CHANNEL_WASM_DEMO_SEED", seed(0).to_string())
        .env("CHANNEL_WASM_DEMO_PREV_SEED", seed(prev).to_string())
        .env(
            "CHANNEL_WASM_DEMO_EXPECTED_SUM",
            expected_sum(s.parties).to_string(),
        );
    // Quiet: the build's output would break the demo's progress line.
    let output = cmd.output();
    page.clean();
    let output = output.map_err(|e| format!("cannot run the wasm build: {e}"))?;
    if !output.status.success() {
        relay.relay.shutdown();
        let text = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "the browser party failed; the end of its output:\n{}",
            tail.join("\n")
        ));
    }

    let joined = relay.finish(natives);
    let mut results: Vec<PartyResult> = Vec::with_capacity(s.parties);
    let mut browser = None;
    let mut natives = Vec::new();
    for (mine, report) in joined? {
        browser = browser.or(report);
        natives.push(mine);
    }
    let (sum_ok, exchange_ok, bytes, micros) =
        browser.ok_or("party 1 did not receive the browser's report")?;
    results.push(Ok((
        sum_ok,
        exchange_ok,
        bytes,
        Duration::from_micros(micros),
    )));
    results.extend(natives);
    combine(results)
}

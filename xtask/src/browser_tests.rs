//! The browser step of `test-all`: `channel-wasm`'s tests in headless Chromium
//! against a live relay on 127.0.0.1, with two native `channel-http` parties
//! joining the browser in a secure sum.

use std::time::Instant;

use crate::browser::{NotRun, Page, ensure_tools};
use crate::relay_session::RelaySession;
use crate::run::{Counts, stream};

/// Inputs of the three secure-sum parties; party 0 is the browser.
const INPUTS: [u64; 3] = [1111, 2222, 3333];

pub fn run() -> Result<Counts, NotRun> {
    let started = Instant::now();
    let tools = ensure_tools()?;
    println!("browser: tools ready after {:.0?}", started.elapsed());
    run_with(&tools).map_err(NotRun::Failed)
}

fn run_with(tools: &crate::browser::Tools) -> Result<Counts, String> {
    let relay = RelaySession::start(3)?;
    println!(
        "browser: relay on {}; sealed secure-sum session {}",
        relay.url,
        relay.session()
    );
    let natives = relay.spawn_natives(1..3, |mut ch, party| async move {
        let mut r = 0xC0FFEE + party as u64;
        channel_core::reference::secure_sum(&mut ch, party, 3, INPUTS[party], move || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        })
        .await
        .map_err(|e| channel_core::error_chain(&e))
    });

    let expected: u64 = INPUTS.iter().sum();
    let page = Page::prepare()?;
    let mut cmd = page.wasm_test(tools, "browser", &relay.url)?;
    let (invitation, key) = relay.credentials(0);
    cmd.env("CHANNEL_WASM_SUM_INVITATION", invitation)
        .env("CHANNEL_WASM_SUM_KEY", key)
        .env("CHANNEL_WASM_SUM_INPUT", INPUTS[0].to_string())
        .env("CHANNEL_WASM_SUM_EXPECTED", expected.to_string());
    let started = Instant::now();
    let result = stream(cmd);
    page.clean();
    let (ok, counts) = result?;
    println!(
        "browser: wasm build and browser run took {:.0?}",
        started.elapsed()
    );
    if !ok {
        relay.relay.shutdown();
        return Err("the browser tests failed".into());
    }
    if counts.passed == 0 {
        relay.relay.shutdown();
        return Err("the browser run reported no passing test".into());
    }
    let sums = relay.finish(natives)?;
    if sums.iter().any(|&s| s != expected) {
        return Err(format!(
            "native parties computed {sums:?}, expected {expected}"
        ));
    }
    println!("browser: the browser and two native parties agree on the secure sum {expected}");
    Ok(counts)
}

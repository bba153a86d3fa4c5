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
    let (ok, counts) = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            page.clean();
            return Err(e);
        }
    };
    println!(
        "browser: wasm build and browser run took {:.0?}",
        started.elapsed()
    );
    if !ok || counts.passed == 0 {
        page.clean();
        relay.relay.shutdown();
        return Err(if ok {
            "the browser run reported no passing test".into()
        } else {
            "the browser tests failed".into()
        });
    }
    let js_api = js_api(tools, &page, &relay);
    page.clean();
    let js_api = match js_api {
        Ok(counts) => counts,
        Err(e) => {
            relay.relay.shutdown();
            return Err(e);
        }
    };
    let sums = relay.finish(natives)?;
    if sums.iter().any(|&s| s != expected) {
        return Err(format!(
            "native parties computed {sums:?}, expected {expected}"
        ));
    }
    println!("browser: the browser and two native parties agree on the secure sum {expected}");
    let mut counts = counts;
    counts.add(js_api);
    Ok(counts)
}

/// The JavaScript API's tests (`tests/js_api.rs`): against the session's
/// relay, a second relay that allows another origin only, and a port where
/// nothing listens.
fn js_api(
    tools: &crate::browser::Tools,
    page: &Page,
    relay: &RelaySession,
) -> Result<Counts, String> {
    let (no_cors, closed) = relay.runtime.block_on(async {
        let config = channel_http::relay::RelayConfig {
            cors_origins: vec!["https://elsewhere.example".into()],
            ..channel_http::relay::RelayConfig::default()
        };
        let (other, url) = channel_http::local::start_relay(config)
            .await
            .map_err(|e| e.to_string())?;
        // It answers (natively, where CORS does not apply).
        let health = reqwest::get(format!("{url}/health"))
            .await
            .map_err(|e| format!("the second relay does not answer: {e}"))?;
        println!(
            "browser: a relay for another origin on {url} ({})",
            health.status()
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot find a closed port: {e}"))?;
        let closed = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        drop(listener);
        Ok::<_, String>(((other, url), closed))
    })?;
    let (other, no_cors_url) = no_cors;
    let mut cmd = page.wasm_test(tools, "js_api", &relay.url)?;
    cmd.env("CHANNEL_WASM_NO_CORS_RELAY_URL", &no_cors_url)
        .env("CHANNEL_WASM_CLOSED_URL", &closed);
    let result = stream(cmd);
    other.shutdown();
    let (ok, counts) = result?;
    if !ok {
        return Err("the JavaScript API's browser tests failed".into());
    }
    if counts.passed == 0 {
        return Err("the JavaScript API's browser run reported no passing test".into());
    }
    Ok(counts)
}

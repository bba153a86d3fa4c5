//! The browser step of `test-all`: builds `channel-wasm`'s tests for
//! wasm32-unknown-unknown, runs them in headless Chromium against a live relay on
//! 127.0.0.1, with two native `channel-http` parties joining the browser in a
//! secure sum. Every tool is installed here when missing (see `toolchain`).

mod bindgen;
pub mod demo_row;
mod toolchain;

use std::time::{Duration, Instant};

use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel};

use crate::run::{Counts, root, stream};

/// Inputs of the three secure-sum parties; party 0 is the browser.
const INPUTS: [u64; 3] = [1111, 2222, 3333];

/// Why the step could not run: a hard failure, or (outside CI) a loud skip.
pub enum NotRun {
    Failed(String),
    Skipped(String),
}

pub fn run_tests() -> Result<Counts, NotRun> {
    let started = Instant::now();
    let tools = match toolchain::ensure() {
        Ok(tools) => tools,
        // In CI the browser tests must run: a missing tool is a failure.
        Err(e) if std::env::var_os("CI").is_some() => return Err(NotRun::Failed(e)),
        Err(e) => return Err(NotRun::Skipped(e)),
    };
    let runner = bindgen::ensure_runner().map_err(NotRun::Failed)?;
    println!("browser: tools ready after {:.0?}", started.elapsed());
    run_with(&tools, &runner).map_err(NotRun::Failed)
}

fn run_with(tools: &toolchain::Toolchain, runner: &std::path::Path) -> Result<Counts, String> {
    let (runtime, relay, url, session) = relay_with_session(3)?;
    println!(
        "browser: relay on {url}; secure-sum session {}",
        session.session
    );

    let natives = spawn_natives(&runtime, &url, &session, 1..3, |mut ch, party| async move {
        let mut r = 0xC0FFEE + party as u64;
        channel_core::reference::secure_sum(&mut ch, party, 3, INPUTS[party], move || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        })
        .await
        .map_err(|e| crate::demo::describe(&e))
    });

    let expected: u64 = INPUTS.iter().sum();
    let page = Page::prepare()?;
    let mut cmd = page.wasm_test(tools, runner, "browser", &url)?;
    cmd.env("CHANNEL_WASM_SUM_SESSION", &session.session)
        .env("CHANNEL_WASM_SUM_TOKEN", &session.tokens[0])
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
        relay.shutdown();
        return Err("the browser tests failed".into());
    }
    if counts.passed == 0 {
        relay.shutdown();
        return Err("the browser run reported no passing test".into());
    }

    let sums = finish_natives(&runtime, natives);
    relay.shutdown();
    let sums = sums?;
    if sums.iter().any(|&s| s != expected) {
        return Err(format!(
            "native parties computed {sums:?}, expected {expected}"
        ));
    }
    println!("browser: the browser and two native parties agree on the secure sum {expected}");
    Ok(counts)
}

/// A runtime, a relay on 127.0.0.1 that browsers may call (CORS), its URL and
/// a fresh session of `parties` on it.
fn relay_with_session(
    parties: usize,
) -> Result<
    (
        tokio::runtime::Runtime,
        channel_http::relay::Relay,
        String,
        channel_http::protocol::SessionCreated,
    ),
    String,
> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let (relay, url, session) = runtime.block_on(async {
        let (relay, url) = crate::demo::start_relay(RelayConfig {
            cors_origins: vec!["*".into()],
            ..RelayConfig::default()
        })
        .await?;
        let session = HttpChannel::create_session(&url, parties, None, &ClientOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((relay, url, session))
    })?;
    Ok((runtime, relay, url, session))
}

/// Native `channel-http` parties `parties` of `session`, each joining and then
/// doing `work` on its own task. They wait generously: the wasm build comes first.
fn spawn_natives<T, F, Fut>(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    session: &channel_http::protocol::SessionCreated,
    parties: std::ops::Range<usize>,
    work: F,
) -> Vec<tokio::task::JoinHandle<Result<T, String>>>
where
    T: Send + 'static,
    F: Fn(HttpChannel, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<T, String>> + Send,
{
    let opts = ClientOptions {
        recv_timeout: Duration::from_secs(1800),
        ..ClientOptions::default()
    };
    parties
        .map(|party| {
            let (url, id, opts, work) = (
                url.to_string(),
                session.session.clone(),
                opts.clone(),
                work.clone(),
            );
            let token = session.tokens.get(party).cloned().unwrap_or_default();
            runtime.spawn(async move {
                let ch = HttpChannel::join(&url, &id, &token, &opts)
                    .await
                    .map_err(|e| format!("party {party} cannot join: {e}"))?;
                work(ch, party).await
            })
        })
        .collect()
}

/// The native parties' results, once each finished (at most 60 s after the browser).
fn finish_natives<T>(
    runtime: &tokio::runtime::Runtime,
    natives: Vec<tokio::task::JoinHandle<Result<T, String>>>,
) -> Result<Vec<T>, String> {
    runtime.block_on(async {
        let mut out = Vec::with_capacity(natives.len());
        for native in natives {
            let done = tokio::time::timeout(Duration::from_secs(60), native)
                .await
                .map_err(|_| "a native party did not finish within 60 s of the browser")?;
            let result = done.map_err(|e| format!("a native party's task failed: {e}"))?;
            out.push(result.map_err(|e| format!("a native party failed: {e}"))?);
        }
        Ok(out)
    })
}

/// The tools, when every one is already there (nothing is installed).
pub fn find_tools() -> Option<(toolchain::Toolchain, std::path::PathBuf)> {
    Some((toolchain::find()?, bindgen::find_runner()?))
}

/// Folders and the WebDriver configuration of one browser run.
struct Page {
    work: std::path::PathBuf,
    tmp: std::path::PathBuf,
    webdriver: std::path::PathBuf,
}

impl Page {
    fn prepare() -> Result<Self, String> {
        let work = root().join("target").join("wasm");
        let tmp = work.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        Ok(Self {
            webdriver: work.join("webdriver.json"),
            work,
            tmp,
        })
    }

    /// `cargo test --test <test>` of channel-wasm for wasm32 in headless Chromium,
    /// against the relay at `relay_url`.
    fn wasm_test(
        &self,
        tools: &toolchain::Toolchain,
        runner: &std::path::Path,
        test: &str,
        relay_url: &str,
    ) -> Result<std::process::Command, String> {
        let config = format!(
            r#"{{"goog:chromeOptions": {{"binary": "{}", "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]}}}}"#,
            tools.chromium.display()
        );
        std::fs::write(&self.webdriver, config)
            .map_err(|e| format!("cannot write {}: {e}", self.webdriver.display()))?;
        let mut cmd = std::process::Command::new(&tools.cargo);
        cmd.current_dir(root())
            .args([
                "test",
                "-p",
                "channel-wasm",
                "--target",
                "wasm32-unknown-unknown",
                "-Zbuild-std=std,panic_abort",
                "--test",
                test,
            ])
            .env_remove("CARGO")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTFLAGS")
            .env("RUSTC", &tools.rustc)
            .env("RUSTDOC", &tools.rustdoc)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", &self.work)
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", &tools.wasm_ld)
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
            .env("CHROMEDRIVER", &tools.chromedriver)
            .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &self.webdriver)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "300")
            .env("TMPDIR", &self.tmp)
            .env("CHANNEL_WASM_RELAY_URL", relay_url);
        Ok(cmd)
    }

    /// Chromium leaves profile folders behind; they are ours to remove.
    fn clean(&self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

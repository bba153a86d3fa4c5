//! Running `channel-wasm`'s tests in headless Chromium: the tools (a wasm32
//! toolchain, Chromium and ChromeDriver, `wasm-bindgen-test-runner`; installed
//! when missing, see `toolchain` and `bindgen`) and the page runner ([`Page`]),
//! which builds one test crate for wasm32 and runs it in the browser.
//! What runs on the other side (a relay, native parties) is the caller's.

mod bindgen;
mod toolchain;

use std::path::PathBuf;
use std::process::Command;

use crate::run::root;

/// Why the browser could not be used: a hard failure, or (outside CI) a loud skip.
pub enum NotRun {
    Failed(String),
    Skipped(String),
}

/// Every tool a browser run needs.
pub struct Tools {
    pub toolchain: toolchain::Toolchain,
    runner: PathBuf,
}

/// The `wasm-bindgen` command of the locked version (installed with the
/// test runner, in the same folder).
pub fn bindgen_binary() -> Result<PathBuf, String> {
    let runner = bindgen::ensure_runner()?;
    let bindgen = runner.with_file_name("wasm-bindgen");
    if bindgen.exists() {
        Ok(bindgen)
    } else {
        Err(format!("no wasm-bindgen beside {}", runner.display()))
    }
}

/// The tools, when every one is already there (nothing is installed).
pub fn find_tools() -> Option<Tools> {
    Some(Tools {
        toolchain: toolchain::find()?,
        runner: bindgen::find_runner()?,
    })
}

/// The tools, installing what is missing. In CI a tool that cannot be
/// installed is a failure; elsewhere it is a skip, which the caller reports.
pub fn ensure_tools() -> Result<Tools, NotRun> {
    let toolchain = match toolchain::ensure() {
        Ok(toolchain) => toolchain,
        Err(e) if std::env::var_os("CI").is_some() => return Err(NotRun::Failed(e)),
        Err(e) => return Err(NotRun::Skipped(e)),
    };
    let runner = bindgen::ensure_runner().map_err(NotRun::Failed)?;
    Ok(Tools { toolchain, runner })
}

/// Folders and the WebDriver configuration of one browser run.
pub struct Page {
    work: PathBuf,
    tmp: PathBuf,
    webdriver: PathBuf,
}

impl Page {
    pub fn prepare() -> Result<Self, String> {
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

    /// `cargo test --test <test>` of channel-wasm for wasm32 in headless
    /// Chromium, against the relay at `relay_url`; the caller adds the test's
    /// own compile-time variables.
    pub fn wasm_test(&self, tools: &Tools, test: &str, relay_url: &str) -> Result<Command, String> {
        let tc = &tools.toolchain;
        let config = format!(
            r#"{{"goog:chromeOptions": {{"binary": "{}", "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]}}}}"#,
            tc.chromium.display()
        );
        std::fs::write(&self.webdriver, config)
            .map_err(|e| format!("cannot write {}: {e}", self.webdriver.display()))?;
        println!("browser: building {test} with {}", tc.describe());
        let mut cmd = tc.cargo(&["test", "-p", "channel-wasm", "--test", test], &self.work);
        cmd.current_dir(root())
            .env_remove("RUSTFLAGS")
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &tools.runner)
            .env("CHROMEDRIVER", &tc.chromedriver)
            .env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", &self.webdriver)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "300")
            .env("TMPDIR", &self.tmp)
            .env("CHANNEL_WASM_RELAY_URL", relay_url);
        Ok(cmd)
    }

    /// Chromium leaves profile folders behind; they are ours to remove.
    pub fn clean(&self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

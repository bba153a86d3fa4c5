//! `wasm-bindgen-test-runner`, installed with `cargo install` into a cache
//! folder at exactly the `wasm-bindgen` version of Cargo.lock (they must match).

use std::path::PathBuf;
use std::process::Command;

/// The `wasm-bindgen` version pinned in Cargo.lock.
pub fn locked_version() -> Result<String, String> {
    let lock = std::fs::read_to_string(crate::run::root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
        {
            return Ok(version.to_string());
        }
    }
    Err("Cargo.lock has no wasm-bindgen package".into())
}

/// Where installed tools are kept between runs on the same machine.
fn cache_dir(version: &str) -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| crate::run::root().join("target"));
    base.join("mpc-channels")
        .join(format!("wasm-bindgen-cli-{version}"))
}

/// The installed test runner of the locked version, if there is one.
pub fn find_runner() -> Option<PathBuf> {
    let version = locked_version().ok()?;
    let runner = cache_dir(&version)
        .join("bin")
        .join("wasm-bindgen-test-runner");
    Command::new(&runner)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&version))
        .then_some(runner)
}

/// The test runner of the locked version, installing it when absent.
pub fn ensure_runner() -> Result<PathBuf, String> {
    if let Some(runner) = find_runner() {
        return Ok(runner);
    }
    let version = locked_version()?;
    let root = cache_dir(&version);
    let runner = root.join("bin").join("wasm-bindgen-test-runner");
    println!(
        "browser: installing wasm-bindgen-cli {version} into {} (a few minutes, once per machine)",
        root.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // With the machine's own rustc: Debian's is for the wasm build only and is slower.
    let status = Command::new(cargo)
        .args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &version,
            "--root",
        ])
        .arg(&root)
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("RUSTC_BOOTSTRAP")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .map_err(|e| format!("cannot run cargo install: {e}"))?;
    if !status.success() || !runner.exists() {
        return Err(format!(
            "cargo install wasm-bindgen-cli --version {version} failed"
        ));
    }
    Ok(runner)
}

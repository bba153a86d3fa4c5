//! `cargo xtask js-package`: `channel-wasm` as an npm package a web app
//! installs, built into `target/js-package/channel-wasm`: the release
//! `.wasm`, wasm-bindgen's ES-module glue, TypeScript types, an entry point
//! that also exports `ChannelError`, a `package.json` and a README.
//!
//! `test` (a step of test-all) installs the package into a scratch project
//! with npm and type-checks an example with `tsc` (and checks that a wrong
//! call does not type-check), then runs the example page (`www/index.html`)
//! from the installed package in headless Chromium with native parties and
//! takes its screenshot ([`page`]).

mod files;
mod npm;
pub mod page;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::browser::Tools;
use crate::run::root;

/// What `build` made.
pub struct Package {
    /// The package's folder.
    pub dir: PathBuf,
    /// Bytes of the `.wasm` file, raw and gzipped.
    pub wasm_bytes: u64,
    pub wasm_gzip_bytes: u64,
}

/// A folder to serve as is: the example page with the package as `pkg/`.
pub fn site_dir() -> PathBuf {
    root().join("target").join("js-package").join("site")
}

/// The package's folder.
pub fn package_dir() -> PathBuf {
    root()
        .join("target")
        .join("js-package")
        .join("channel-wasm")
}

/// `cargo xtask js-package`: installs the tools when missing, builds, and
/// says where the package is.
pub fn run() -> Result<(), String> {
    let tools = crate::browser::ensure_tools().map_err(|e| match e {
        crate::browser::NotRun::Failed(e) | crate::browser::NotRun::Skipped(e) => e,
    })?;
    let started = Instant::now();
    let package = build(&tools)?;
    println!(
        "js-package: {} in {:.0?}: channel_wasm_bg.wasm {} KiB ({} KiB gzipped); \
         install it with `npm install {}`; the example page with it: {}",
        package.dir.display(),
        started.elapsed(),
        package.wasm_bytes / 1024,
        package.wasm_gzip_bytes / 1024,
        package.dir.display(),
        site_dir().display()
    );
    Ok(())
}

/// test-all's step: the package built, installed with npm, type-checked,
/// used from plain JavaScript, and its example page run in headless Chromium.
pub fn test() -> Result<crate::run::Counts, crate::browser::NotRun> {
    use crate::browser::NotRun;
    let tools = crate::browser::ensure_tools()?;
    let started = Instant::now();
    let package = build(&tools).map_err(NotRun::Failed)?;
    let built = started.elapsed();
    npm::check(&package.dir).map_err(NotRun::Failed)?;
    let installed = npm::app_dir().join("node_modules").join("channel-wasm");
    let shown = page::check(&tools, &installed).map_err(NotRun::Failed)?;
    println!(
        "js-package: built in {built:.0?}; channel_wasm_bg.wasm {} KiB ({} KiB gzipped); \
         the page loaded the module in {} ms and showed \"{}\" {:.1} s after it opened \
         (screenshot {})",
        package.wasm_bytes / 1024,
        package.wasm_gzip_bytes / 1024,
        shown.loaded_ms,
        shown.result,
        shown.took.as_secs_f64(),
        shown.screenshot.display()
    );
    Ok(crate::run::Counts::default())
}

/// Builds the package (release wasm, wasm-bindgen, the files around them).
pub fn build(tools: &Tools) -> Result<Package, String> {
    let dir = package_dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let wasm = build_wasm(tools)?;
    let bindgen = crate::browser::bindgen_binary()?;
    println!("js-package: wasm-bindgen --target web");
    let status = Command::new(&bindgen)
        // Without the name and producers sections: 925 KB became 781 KB (273 KB
        // gzipped) when measured; stack traces then show function indices.
        .args([
            "--target",
            "web",
            "--remove-name-section",
            "--remove-producers-section",
            "--out-name",
            "channel_wasm",
            "--out-dir",
        ])
        .arg(&dir)
        .arg(&wasm)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", bindgen.display()))?;
    if !status.success() {
        return Err("wasm-bindgen failed".into());
    }
    files::write(&dir)?;
    files::site(&dir)?;
    let wasm_file = dir.join("channel_wasm_bg.wasm");
    let wasm_bytes = std::fs::metadata(&wasm_file)
        .map_err(|e| format!("no {}: {e}", wasm_file.display()))?
        .len();
    Ok(Package {
        wasm_gzip_bytes: gzipped_size(&wasm_file)?,
        wasm_bytes,
        dir,
    })
}

/// `cargo build -p channel-wasm --release --lib` for wasm32; the `.wasm` file.
fn build_wasm(tools: &Tools) -> Result<PathBuf, String> {
    let work = root().join("target").join("wasm");
    let mut cmd = tools.toolchain.cargo(
        &["build", "-p", "channel-wasm", "--release", "--lib"],
        &work,
    );
    cmd.current_dir(root()).env_remove("RUSTFLAGS");
    println!(
        "js-package: building channel-wasm with {}",
        tools.toolchain.describe()
    );
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run the wasm build: {e}"))?;
    if !status.success() {
        return Err("the wasm build of channel-wasm failed".into());
    }
    let target_dir = if tools.toolchain.shares_target() {
        root().join("target")
    } else {
        work
    };
    let wasm = target_dir
        .join("wasm32-unknown-unknown")
        .join("release")
        .join("channel_wasm.wasm");
    if wasm.exists() {
        Ok(wasm)
    } else {
        Err(format!("the wasm build made no {}", wasm.display()))
    }
}

/// The size of `file` compressed with gzip -9 (what a web server sends).
fn gzipped_size(file: &Path) -> Result<u64, String> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run gzip: {e}"))?;
    if out.status.success() {
        Ok(out.stdout.len() as u64)
    } else {
        Err("gzip failed".into())
    }
}

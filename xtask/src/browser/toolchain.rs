//! The wasm32 toolchain from Debian's packages (rustup cannot add the target on
//! this kind of machine; see `../shared/wasm-toolchain.md`): Debian's rustc with
//! std sources for `-Zbuild-std`, lld's `wasm-ld`, Chromium and ChromeDriver.
//! Installed with apt-get when missing and running as root.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the tools are.
pub struct Toolchain {
    pub cargo: PathBuf,
    pub rustc: PathBuf,
    pub rustdoc: PathBuf,
    pub wasm_ld: PathBuf,
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

const BASE_PACKAGES: &[&str] = &[
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "chromium",
    "chromium-driver",
];
const STD_SOURCES: &str = "/usr/lib/rustlib/src/rust/library/std";

/// The LLVM major version of Debian's rustc (its `wasm-ld` must match).
fn llvm_major() -> Option<u32> {
    let out = Command::new("/usr/bin/rustc").arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.trim().parse().ok())
}

fn present(major: Option<u32>) -> Option<Toolchain> {
    let major = major?;
    let tc = Toolchain {
        cargo: "/usr/bin/cargo".into(),
        rustc: "/usr/bin/rustc".into(),
        rustdoc: "/usr/bin/rustdoc".into(),
        wasm_ld: format!("/usr/lib/llvm-{major}/bin/wasm-ld").into(),
        chromedriver: "/usr/bin/chromedriver".into(),
        chromium: "/usr/bin/chromium".into(),
    };
    let all = [
        &tc.cargo,
        &tc.rustc,
        &tc.rustdoc,
        &tc.wasm_ld,
        &tc.chromedriver,
        &tc.chromium,
    ];
    (all.iter().all(|p| p.exists()) && Path::new(STD_SOURCES).exists()).then_some(tc)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn apt_get(args: &[&str]) -> Result<(), String> {
    println!("browser: apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {} failed", args.join(" ")))
    }
}

/// The exact commands a person must run when xtask cannot.
pub fn manual_steps() -> String {
    format!(
        "sudo apt-get update\n  sudo apt-get install -y --no-install-recommends {}\n  \
         sudo apt-get install -y --no-install-recommends lld-$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \\([0-9]*\\).*/\\1/p')",
        BASE_PACKAGES.join(" ")
    )
}

/// The toolchain, when it is all there (installs nothing).
pub fn find() -> Option<Toolchain> {
    present(llvm_major())
}

/// The toolchain, installing what is missing when possible.
pub fn ensure() -> Result<Toolchain, String> {
    if let Some(tc) = present(llvm_major()) {
        return Ok(tc);
    }
    let apt = Path::new("/usr/bin/apt-get").exists();
    if !is_root() || !apt {
        return Err(format!(
            "the wasm32 toolchain or Chromium is missing and xtask cannot install it ({}). Run:\n  {}",
            if apt { "not root" } else { "no apt-get" },
            manual_steps()
        ));
    }
    apt_get(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(BASE_PACKAGES);
    apt_get(&install)?;
    let major =
        llvm_major().ok_or("Debian's rustc is installed but does not report its LLVM version")?;
    let lld = format!("lld-{major}");
    apt_get(&["install", "-y", "-q", "--no-install-recommends", &lld])?;
    present(Some(major)).ok_or_else(|| {
        format!("installed the packages, but a tool is still missing; expected /usr/bin/{{cargo,rustc,rustdoc,chromium,chromedriver}}, /usr/lib/llvm-{major}/bin/wasm-ld and {STD_SOURCES}")
    })
}

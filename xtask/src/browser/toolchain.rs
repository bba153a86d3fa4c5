//! The wasm32 toolchain and the browser, installed when missing.
//!
//! Two routes to a wasm32 build, the first that works:
//! 1. **rustup**: the machine's own toolchain with the `wasm32-unknown-unknown`
//!    target (`rustup target add`, under a minute where rustup can download).
//!    The build shares `target/` with the native build, so the host-side crates
//!    (proc macros) are built once.
//! 2. **Debian** (for machines where rustup cannot download): Debian's `rustc-web`
//!    with the standard library's sources (`rust-web-src`), built with
//!    `-Zbuild-std` (allowed by `RUSTC_BOOTSTRAP=1`) and linked by the `wasm-ld`
//!    of the `lld` package that matches its LLVM. Rustup's proxies come first on
//!    `PATH`, so this route names `/usr/bin/cargo` and sets `RUSTC`/`RUSTDOC`;
//!    it takes several times longer (std is compiled too, by a slower compiler).
//!
//! Chromium and ChromeDriver come from Debian's packages either way. Packages
//! are installed with apt-get when xtask runs as root; otherwise the error says
//! which commands to run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How channel-wasm is compiled for wasm32.
pub enum Route {
    /// The machine's rustup toolchain with its wasm32 target.
    Rustup { cargo: PathBuf },
    /// Debian's rustc with `-Zbuild-std` and lld's `wasm-ld`.
    Debian {
        cargo: PathBuf,
        rustc: PathBuf,
        rustdoc: PathBuf,
        wasm_ld: PathBuf,
    },
}

/// Where the tools are.
pub struct Toolchain {
    pub route: Route,
    pub chromedriver: PathBuf,
    pub chromium: PathBuf,
}

const TARGET: &str = "wasm32-unknown-unknown";
const BROWSER_PACKAGES: &[&str] = &["chromium", "chromium-driver"];
const DEBIAN_RUST_PACKAGES: &[&str] = &["rustc-web", "cargo-web", "rust-web-src"];
const STD_SOURCES: &str = "/usr/lib/rustlib/src/rust/library/std";

/// The cargo that runs xtask (rustup's, normally).
fn own_cargo() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// Whether rustup's active toolchain has the wasm32 standard library.
fn rustup_has_target() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == TARGET)
        })
}

/// Asks rustup for the wasm32 target; whether it has it afterwards.
fn rustup_add_target() -> bool {
    println!("browser: rustup target add {TARGET}");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    if !added {
        println!("browser: rustup could not add {TARGET}; trying Debian's wasm-capable rustc");
    }
    added && rustup_has_target()
}

/// The LLVM major version of Debian's rustc (its `wasm-ld` must match).
fn llvm_major() -> Option<u32> {
    let out = Command::new("/usr/bin/rustc").arg("-vV").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.trim().parse().ok())
}

fn debian_route() -> Option<Route> {
    let major = llvm_major()?;
    let route = Route::Debian {
        cargo: "/usr/bin/cargo".into(),
        rustc: "/usr/bin/rustc".into(),
        rustdoc: "/usr/bin/rustdoc".into(),
        wasm_ld: format!("/usr/lib/llvm-{major}/bin/wasm-ld").into(),
    };
    let Route::Debian {
        cargo,
        rustc,
        rustdoc,
        wasm_ld,
    } = &route
    else {
        return None;
    };
    let all = [cargo, rustc, rustdoc, wasm_ld];
    (all.iter().all(|p| p.exists()) && Path::new(STD_SOURCES).exists()).then_some(route)
}

/// Chromium and ChromeDriver, if both are there.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let chromedriver = PathBuf::from("/usr/bin/chromedriver");
    (chromium.exists() && chromedriver.exists()).then_some((chromium, chromedriver))
}

fn toolchain(route: Route) -> Option<Toolchain> {
    let (chromium, chromedriver) = browser()?;
    Some(Toolchain {
        route,
        chromedriver,
        chromium,
    })
}

/// The exact commands a person must run when xtask cannot.
fn manual_steps() -> String {
    format!(
        "sudo apt-get update\n  sudo apt-get install -y --no-install-recommends {}\n  \
         rustup target add {TARGET}\n  (or, where rustup cannot download: sudo apt-get install -y \
         --no-install-recommends {} lld-$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \\([0-9]*\\).*/\\1/p'))",
        BROWSER_PACKAGES.join(" "),
        DEBIAN_RUST_PACKAGES.join(" ")
    )
}

/// The toolchain, when it is all there (installs nothing).
pub fn find() -> Option<Toolchain> {
    let route = if rustup_has_target() {
        Route::Rustup { cargo: own_cargo() }
    } else {
        debian_route()?
    };
    toolchain(route)
}

/// The toolchain, installing what is missing when possible.
pub fn ensure() -> Result<Toolchain, String> {
    if let Some(found) = find() {
        return Ok(found);
    }
    let why_not = crate::apt::cannot_install();
    let can_install = why_not.is_none();
    let mut updated = false;
    if browser().is_none() {
        if !can_install {
            return Err(format!(
                "Chromium or ChromeDriver is missing and xtask cannot install it ({}). Run:\n  {}",
                why_not.unwrap_or_default(),
                manual_steps()
            ));
        }
        crate::apt::apt_get(&["update", "-q"])?;
        updated = true;
        crate::apt::install(BROWSER_PACKAGES)?;
    }
    if rustup_has_target() || rustup_add_target() {
        return toolchain(Route::Rustup { cargo: own_cargo() }).ok_or_else(|| {
            "installed Chromium, but /usr/bin/chromium or /usr/bin/chromedriver is missing".into()
        });
    }
    if let Some(route) = debian_route() {
        return toolchain(route).ok_or_else(|| "Chromium is missing".into());
    }
    if !can_install {
        return Err(format!(
            "no wasm32 toolchain: rustup cannot add {TARGET} and xtask cannot install Debian's \
             ({}). Run:\n  {}",
            why_not.unwrap_or_default(),
            manual_steps()
        ));
    }
    if !updated {
        crate::apt::apt_get(&["update", "-q"])?;
    }
    crate::apt::install(DEBIAN_RUST_PACKAGES)?;
    let major =
        llvm_major().ok_or("Debian's rustc is installed but does not report its LLVM version")?;
    crate::apt::install(&[&format!("lld-{major}")])?;
    debian_route().and_then(toolchain).ok_or_else(|| {
        format!(
            "installed the packages, but a tool is still missing; expected /usr/bin/{{cargo,rustc,rustdoc,\
             chromium,chromedriver}}, /usr/lib/llvm-{major}/bin/wasm-ld and {STD_SOURCES}"
        )
    })
}

impl Toolchain {
    /// A `cargo` command that builds for wasm32 on this route, with
    /// `target_dir` for the Debian route (whose artifacts differ from the
    /// native build's; the rustup route shares the workspace's `target/`).
    pub fn cargo(&self, args: &[&str], target_dir: &Path) -> Command {
        match &self.route {
            Route::Rustup { cargo } => {
                let mut cmd = Command::new(cargo);
                cmd.args(args).args(["--target", TARGET]);
                cmd
            }
            Route::Debian {
                cargo,
                rustc,
                rustdoc,
                wasm_ld,
            } => {
                let mut cmd = Command::new(cargo);
                cmd.args(args)
                    .args(["--target", TARGET, "-Zbuild-std=std,panic_abort"])
                    .env_remove("CARGO")
                    .env_remove("RUSTUP_TOOLCHAIN")
                    .env("RUSTC", rustc)
                    .env("RUSTDOC", rustdoc)
                    .env("RUSTC_BOOTSTRAP", "1")
                    .env("CARGO_TARGET_DIR", target_dir)
                    .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", wasm_ld);
                cmd
            }
        }
    }

    /// Whether the build lands in the workspace's `target/` (rustup), not in
    /// the folder given to [`cargo`](Self::cargo) (Debian).
    pub fn shares_target(&self) -> bool {
        matches!(self.route, Route::Rustup { .. })
    }

    /// Which route, for the logs.
    pub fn describe(&self) -> &'static str {
        match self.route {
            Route::Rustup { .. } => "rustup's wasm32 target",
            Route::Debian { .. } => "Debian's rustc-web with -Zbuild-std",
        }
    }
}

//! Debian packages that xtask installs itself where it may (as root, with
//! apt-get: CI's fresh machine), so that no step needs a person first.

use std::path::Path;
use std::process::Command;

/// Whether xtask runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Whether this machine has apt-get.
pub fn has_apt() -> bool {
    Path::new("/usr/bin/apt-get").exists()
}

/// Why xtask cannot install packages here, if it cannot.
pub fn cannot_install() -> Option<&'static str> {
    match (has_apt(), is_root()) {
        (false, _) => Some("no apt-get"),
        (true, false) => Some("not root"),
        (true, true) => None,
    }
}

/// Runs `apt-get args`, its output streamed.
pub fn apt_get(args: &[&str]) -> Result<(), String> {
    println!("xtask: apt-get {}", args.join(" "));
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

/// Installs `packages` without recommended extras.
pub fn install(packages: &[&str]) -> Result<(), String> {
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(packages);
    apt_get(&install)
}

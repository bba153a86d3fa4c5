//! Running cargo and other tools from xtask: always from the workspace root, with
//! the output streamed through and the test counts picked out of it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// A `cargo` command (the one that runs xtask) in the workspace root.
pub fn cargo(args: &[&str]) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(args).current_dir(root());
    cmd
}

/// `cargo <subcommand> <args>` on channel-polytune, the workspace of its own
/// (its lock cannot hold libp2p; see ARCHITECTURE.md): locked, and built
/// into this workspace's target directory so that shared dependencies are
/// built once.
pub fn polytune_cargo(subcommand: &str, args: &[&str]) -> Command {
    let manifest = root().join("channel-polytune/Cargo.toml");
    let mut cmd = cargo(&[subcommand]);
    cmd.arg("--manifest-path").arg(manifest);
    if subcommand != "fmt" {
        cmd.arg("--locked");
    }
    cmd.args(args);
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        cmd.env("CARGO_TARGET_DIR", root().join("target"));
    }
    cmd
}

/// Test counts read from the runners' closing lines.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
    /// The step did not run (only allowed outside CI, with a loud warning).
    pub skipped: bool,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.skipped |= other.skipped;
    }

    /// Reads libtest's `test result: ok. 12 passed; 0 failed; 1 ignored; ...` line.
    fn parse_libtest(line: &str) -> Option<Counts> {
        let rest = line.trim().strip_prefix("test result: ")?;
        let mut counts = Counts::default();
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = number.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => counts.passed = n,
                "failed" => counts.failed = n,
                "ignored" => counts.ignored = n,
                _ => {}
            }
        }
        Some(counts)
    }
}

/// Runs `cmd`, echoing its output, and returns whether it succeeded and the test
/// counts it printed.
pub fn stream(mut cmd: Command) -> Result<(bool, Counts), String> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    let mut counts = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.map_err(|e| format!("reading output of {shown}: {e}"))?;
            println!("{line}");
            if let Some(c) = Counts::parse_libtest(&line) {
                counts.add(c);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {shown}: {e}"))?;
    Ok((status.success(), counts))
}

/// The test executables of workspace package `package` that `cargo test
/// --workspace --all-features` builds (asking cargo for them builds nothing
/// new after that run, where `cargo test -p` would resolve features anew
/// and rebuild dependencies).
pub fn test_binaries(package: &str) -> Result<Vec<PathBuf>, String> {
    let out = cargo(&[
        "test",
        "--workspace",
        "--all-features",
        "--no-run",
        "--message-format=json",
    ])
    .stderr(Stdio::inherit())
    .output()
    .map_err(|e| format!("cannot list the test binaries: {e}"))?;
    if !out.status.success() {
        return Err("cargo test --no-run failed".into());
    }
    let wanted = format!("/{package}#");
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let ours = message["package_id"]
            .as_str()
            .is_some_and(|id| id.contains(&wanted));
        if ours
            && message["profile"]["test"] == true
            && let Some(exe) = message["executable"].as_str()
        {
            found.push(PathBuf::from(exe));
        }
    }
    if found.is_empty() {
        return Err(format!("no test binary of {package} was built"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn reads_libtest_summaries() {
        let c = Counts::parse_libtest(
            "test result: FAILED. 12 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s",
        )
        .unwrap();
        assert_eq!((c.passed, c.failed, c.ignored), (12, 3, 1));
        assert!(Counts::parse_libtest("running 3 tests").is_none());
    }
}

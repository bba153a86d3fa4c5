//! The package as an app gets it: `npm install` into a scratch project, an
//! example type-checked by `tsc --noEmit` (and a wrong call that must not
//! type-check), and the module used from plain JavaScript in Node.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::root;

/// The scratch app's folder; `node_modules/channel-wasm` in it is the
/// installed package.
pub fn app_dir() -> PathBuf {
    root().join("target").join("js-package").join("app")
}

/// The TypeScript every app writes against the package: join options,
/// typed Promises, the error class, the encoding.
const EXAMPLE_TS: &str = r#"import init, { BincodeReader, BincodeWriter, ChannelError, PartyKey, RelayChannel } from "channel-wasm";
import type { ChannelErrorKind, JoinOptions } from "channel-wasm";

export async function party(relay: string, publicKeys: string[], key: PartyKey): Promise<bigint> {
  await init();
  const invitations: string[] = await RelayChannel.invite(relay, publicKeys, { retryForMs: 10_000 });
  const stop = new AbortController();
  const options: JoinOptions = { transport: "websocket", recvTimeoutMs: 60_000, signal: stop.signal };
  const ch: RelayChannel = await RelayChannel.join(invitations[0], key.toHex(), options);
  const sent: void = await ch.send(1, new BincodeWriter().u64(7n).finish(), "round-1");
  void sent;
  await ch.send(1, new DataView(new ArrayBuffer(8)), "round-1", { signal: stop.signal });
  const bytes: Uint8Array = await ch.recv(1, "round-1", { timeoutMs: 5_000 });
  const reader = new BincodeReader(bytes);
  const x: bigint = reader.u64();
  reader.end();
  try {
    await ch.flush();
  } catch (e) {
    if (e instanceof ChannelError) {
      const kind: ChannelErrorKind = e.kind;
      const party: number | undefined = e.party;
      const status: number | undefined = e.status;
      console.log(kind, party, e.phase, status);
    }
  }
  await ch.close();
  return x;
}
"#;

/// A call the types must refuse: a string is not a message.
const WRONG_TS: &str = r#"import { RelayChannel } from "channel-wasm";

export async function wrong(ch: RelayChannel): Promise<void> {
  await ch.send(1, "hello", "round-1");
}
"#;

/// Plain JavaScript in Node: the module instantiated from its `.wasm`, keys
/// made, values encoded as Rust encodes them, the error class exported.
const PLAIN_JS: &str = r#"import { readFile } from "node:fs/promises";
import init, { BincodeReader, BincodeWriter, ChannelError, PartyKey, RelayChannel } from "channel-wasm";

const wasm = await readFile(new URL("./node_modules/channel-wasm/channel_wasm_bg.wasm", import.meta.url));
await init({ module_or_path: wasm });
const key = PartyKey.generate();
if (!/^[0-9a-f]{64}$/.test(key.publicKey)) throw new Error(`public key ${key.publicKey}`);
const bytes = new BincodeWriter().u32(7).u64(1n << 63n).string("hé").finish();
const expected = [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 3, 0, 0, 0, 0, 0, 0, 0, 104, 195, 169];
if (bytes.length !== expected.length || !bytes.every((b, i) => b === expected[i])) {
  throw new Error(`encoding ${bytes}`);
}
const r = new BincodeReader(bytes);
if (r.u32() !== 7 || r.u64() !== 1n << 63n || r.string() !== "hé") throw new Error("decoding");
r.end();
if (!(new ChannelError("x", "timeout") instanceof Error)) throw new Error("ChannelError is no Error");
if (typeof RelayChannel.join !== "function") throw new Error("no RelayChannel.join");
// An argument error rejects with a TypeError, without a relay.
const rejected = await RelayChannel.join(42, key.toHex()).then(() => null, (e) => e);
if (!(rejected instanceof TypeError)) throw new Error(`join(42) gave ${rejected}`);
console.log("plain JavaScript: the package works");
"#;

/// Installs the package at `package` into a fresh scratch app, type-checks
/// the example, and runs the plain-JavaScript check.
pub fn check(package: &Path) -> Result<(), String> {
    ensure_node()?;
    let app = app_dir();
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(&app).map_err(|e| format!("cannot create {}: {e}", app.display()))?;
    let write = |name: &str, text: &str| {
        std::fs::write(app.join(name), text).map_err(|e| format!("cannot write {name}: {e}"))
    };
    write(
        "package.json",
        "{ \"name\": \"scratch-app\", \"private\": true, \"type\": \"module\" }\n",
    )?;
    write("example.ts", EXAMPLE_TS)?;
    write("wrong.ts", WRONG_TS)?;
    write("plain.mjs", PLAIN_JS)?;
    println!("js-package: npm install (the package, typescript)");
    let mut install = npm(&app);
    install
        .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
        .arg(package)
        .arg("typescript@5");
    run("npm install", install)?;

    let tsc = |file: &str| {
        let mut cmd = Command::new(app.join("node_modules").join(".bin").join("tsc"));
        cmd.current_dir(&app).args([
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "--lib",
            "es2022,dom",
            file,
        ]);
        cmd
    };
    run("tsc --noEmit example.ts", tsc("example.ts"))?;
    let out = tsc("wrong.ts")
        .output()
        .map_err(|e| format!("cannot run tsc: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if out.status.success() || !text.contains("'string'") {
        return Err(format!(
            "tsc accepted (or refused for another reason) a string as a message; the types are not precise: {text}"
        ));
    }
    println!("js-package: tsc checks the example and refuses a string as a message");
    let mut node = Command::new("node");
    node.current_dir(&app).arg("plain.mjs");
    run("node plain.mjs", node)
}

/// Node.js and npm: the machine's, or Debian's where xtask may install
/// packages (as root); else an error saying what to install.
fn ensure_node() -> Result<(), String> {
    let works = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("node") && works("npm") {
        return Ok(());
    }
    if let Some(why) = crate::apt::cannot_install() {
        return Err(format!(
            "Node.js and npm are needed to check the package, and xtask cannot install them ({why}): \
             install Node.js 18 or later with npm"
        ));
    }
    crate::apt::apt_get(&["update", "-q"])?;
    crate::apt::install(&["nodejs", "npm"])?;
    if works("node") && works("npm") {
        Ok(())
    } else {
        Err("installed nodejs and npm, but `node` or `npm` still does not run".into())
    }
}

/// `npm` in `dir`.
fn npm(dir: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir);
    cmd
}

fn run(what: &str, mut cmd: Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e} (is Node.js with npm installed?)"))?;
    if out.status.success() {
        print!("{}", String::from_utf8_lossy(&out.stdout));
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

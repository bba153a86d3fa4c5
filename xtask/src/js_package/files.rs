//! The files of the npm package beside wasm-bindgen's output: its entry point
//! (which also exports `ChannelError`, defined in a snippet wasm-bindgen
//! copies under `snippets/`), the entry's types, `package.json`, a README.

use std::path::{Path, PathBuf};

use crate::run::root;

/// The error class's file in `channel-wasm`, and its place under `snippets/`.
const ERROR_SNIPPET: &str = "js/channel_error.js";

pub fn write(dir: &Path) -> Result<(), String> {
    let snippet = find_snippet(dir)?;
    let snippet = snippet
        .strip_prefix(dir)
        .map_err(|_| "the error snippet is outside the package".to_string())?
        .to_string_lossy()
        .replace('\\', "/");
    let version = crate_version()?;
    let put = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    put("index.js", index_js(&snippet))?;
    put("index.d.ts", index_d_ts())?;
    put("package.json", package_json(&version))?;
    let readme = root()
        .join("channel-wasm")
        .join("js")
        .join("package-README.md");
    let readme = std::fs::read_to_string(&readme)
        .map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
    put("README.md", readme)?;
    // wasm-bindgen writes a .gitignore of `*` into its output; a package
    // keeps every file.
    let _ = std::fs::remove_file(dir.join(".gitignore"));
    tidy_types(&dir.join("channel_wasm.d.ts"))
}

/// The options objects every call takes last, optional in TypeScript too
/// (wasm-bindgen types an overridden parameter as required).
const OPTIONAL: [&str; 3] = [
    "options: CallOptions)",
    "options: JoinOptions)",
    "options: InviteOptions)",
];

/// Two fixes to wasm-bindgen's types: the trailing options become optional
/// ([`OPTIONAL`]), and `[Symbol.dispose](): void` goes, which only
/// TypeScript's `esnext` library knows (an app type-checking against ES2022
/// would fail on the package's types; the method stays in the JavaScript,
/// where the engine has `Symbol.dispose`).
fn tidy_types(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.trim() == "[Symbol.dispose](): void;" {
            continue;
        }
        let mut line = line.to_string();
        for required in OPTIONAL {
            line = line.replace(required, &required.replacen(": ", "?: ", 1));
        }
        out.push_str(&line);
        out.push('\n');
    }
    if !OPTIONAL
        .iter()
        .all(|o| out.contains(&o.replacen(": ", "?: ", 1)))
    {
        return Err(format!(
            "{} no longer has the options parameters this build makes optional: {OPTIONAL:?}",
            path.display()
        ));
    }
    std::fs::write(path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `target/js-package/site`: `www/index.html` and the package as `pkg/`, a
/// folder any static file server serves as it is.
pub fn site(package: &Path) -> Result<(), String> {
    let site = super::site_dir();
    let _ = std::fs::remove_dir_all(&site);
    copy_dir(package, &site.join("pkg"))?;
    let page = root().join("channel-wasm").join("www").join("index.html");
    std::fs::copy(&page, site.join("index.html"))
        .map(drop)
        .map_err(|e| format!("cannot copy {}: {e}", page.display()))
}

/// Copies the files of `from` into `to`, folders too (the package holds no
/// links).
fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// `snippets/<crate-hash>/js/channel_error.js` in the output.
fn find_snippet(dir: &Path) -> Result<PathBuf, String> {
    let snippets = dir.join("snippets");
    let entries = std::fs::read_dir(&snippets)
        .map_err(|e| format!("wasm-bindgen wrote no {}: {e}", snippets.display()))?;
    entries
        .flatten()
        .map(|e| e.path().join(ERROR_SNIPPET))
        .find(|p| p.exists())
        .ok_or_else(|| format!("no {ERROR_SNIPPET} under {}", snippets.display()))
}

/// channel-wasm's version (the workspace's).
fn crate_version() -> Result<String, String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))
        .map_err(|e| format!("cannot read Cargo.toml: {e}"))?;
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
        } else if in_package && let Some(v) = line.strip_prefix("version = \"") {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    Err("no version in [workspace.package]".into())
}

fn index_js(snippet: &str) -> String {
    format!(
        "// The package's entry point: wasm-bindgen's module, and the error class\n\
         // every call rejects with.\n\
         export * from \"./channel_wasm.js\";\n\
         export {{ default }} from \"./channel_wasm.js\";\n\
         export {{ ChannelError }} from \"./{snippet}\";\n"
    )
}

fn index_d_ts() -> String {
    r#"export * from "./channel_wasm.js";
export { default } from "./channel_wasm.js";

/** What went wrong, whatever carried the bytes. */
export type ChannelErrorKind =
  | "timeout"
  | "peer-gone"
  | "bad-party"
  | "queue-full"
  | "too-large"
  | "malformed"
  | "unauthentic"
  | "aborted"
  | "refused"
  | "unreachable"
  | "cors"
  | "replaced"
  | "protocol"
  | "setup"
  | "broken"
  | "closed"
  | "other";

/** Every failure of a RelayChannel call (argument errors are TypeErrors). */
export declare class ChannelError extends Error {
  readonly name: "ChannelError";
  /** What kind of failure this is. */
  readonly kind: ChannelErrorKind;
  /** The party it concerns, if one. */
  readonly party: number | undefined;
  /** The protocol phase of the call, if one. */
  readonly phase: string | undefined;
  /** The relay's HTTP status, when it answered with one. */
  readonly status: number | undefined;
}
"#
    .to_string()
}

fn package_json(version: &str) -> String {
    let json = serde_json::json!({
        "name": "channel-wasm",
        "version": version,
        "description": "A browser party for MPC: sealed relay channels (WebSocket or long-polls) from JavaScript, with typed Promises",
        "license": "MIT OR Apache-2.0",
        "type": "module",
        "main": "./index.js",
        "module": "./index.js",
        "types": "./index.d.ts",
        "exports": {
            ".": { "types": "./index.d.ts", "default": "./index.js" },
            "./channel_wasm_bg.wasm": "./channel_wasm_bg.wasm"
        },
        "files": [
            "index.js",
            "index.d.ts",
            "channel_wasm.js",
            "channel_wasm.d.ts",
            "channel_wasm_bg.wasm",
            "channel_wasm_bg.wasm.d.ts",
            "snippets/",
            "README.md"
        ],
        "sideEffects": false
    });
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.
mod tests {
    use super::*;

    #[test]
    fn the_entry_exports_the_module_and_the_error_class() {
        let js = index_js("snippets/channel-wasm-abc/js/channel_error.js");
        assert!(js.contains("export * from \"./channel_wasm.js\""));
        assert!(js.contains(
            "export { ChannelError } from \"./snippets/channel-wasm-abc/js/channel_error.js\""
        ));
        let json: serde_json::Value = serde_json::from_str(&package_json("1.2.3")).unwrap();
        assert_eq!(json["version"], "1.2.3");
        assert_eq!(json["types"], "./index.d.ts");
        assert!(crate_version().unwrap().split('.').count() == 3);
    }
}

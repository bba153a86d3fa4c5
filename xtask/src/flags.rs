//! Every command and option of `cargo xtask`, parsed in one place (as
//! rust-analyzer's xtask does); the commands get typed values, never strings.

use crate::transports::Transport;

pub const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  test-all            fmt, clippy, every crate's tests (conformance kit included), browser tests in
                      headless Chromium, examples, demo and bench smoke runs; non-zero exit on any
                      failure
  demo [options]      run the secure-sum protocol and a 16 MiB exchange over every transport
                      --transports a,b   only these transports (tokio, std, http-relay, http-direct, p2p,
                                         browser: party 0 in headless Chromium; in the default
                                         list when the browser toolchain is installed)
                      --size BYTES       size of the exchanged message (default 16 MiB)
                      --parties N        number of parties (default 3)
                      --polytune         instead: Polytune's garbled-circuit engine (a 3-party
                                         comparison and dot product, outputs checked) over every
                                         transport it can share a build with, timed next to
                                         Polytune's own in-memory channel (builds channel-polytune)
  bench [options]     throughput (1 KiB..64 MiB; median of 3 runs after a warm-up), 100-byte
                      and 16 MiB round trips of every transport, against memcpy and raw TCP
                      baselines measured in the same run; peak memory for a 256 MiB message;
                      writes target/bench/report.md and throughput.svg (release build)
                      --quick            a small smoke run in the current build
                      --transports a,b   only these (baselines are always included)
                      --sizes 16K,4M     only these message sizes (suffix K = KiB, M = MiB)
                      --no-memory        skip the peak-memory runs
                      --wan              instead: every network transport and raw TCP through
                                         channel-sim's link emulator on three WAN profiles (metro
                                         2.5 ms/1 Gbit/s, continental 20 ms/500 Mbit/s,
                                         intercontinental 75 ms/100 Mbit/s): 64 MiB throughput
                                         and 100-byte round trips as ratios to raw TCP; writes
                                         target/bench/wan.md and wan.svg
  relay-load [options] many sessions at once against the relay: one process on its in-memory
                      store, then two processes sharing one redis-server (installed and started
                      by xtask); every answer checked; requests/s, errors, relay peak memory
                      --sessions N       sessions (default 1000)
                      --parties N        parties per session (default 3)
                      --rounds N         rounds of one 100-byte message to every peer (default 2)
  stream-memory [options] one streamed message over every native transport, each in a fresh
                      process: fails when its peak extra resident memory (both parties, in that
                      process; a relay runs in one of its own) reaches 64 MiB
                      --size BYTES       the message (default 512 MiB; suffix K, M or G)
                      --transports a,b   only these
  browser-tests       only the browser step of test-all (installs its tools when missing)
  js-package          channel-wasm as an npm package (package.json, .wasm, ES-module glue,
                      TypeScript types, README) in target/js-package/channel-wasm; installs the
                      wasm32 target and wasm-bindgen when missing
                      --check            then install it with npm, type-check an example with
                                         tsc, use it from Node, and run www/index.html from it
                                         in headless Chromium (test-all's step)
  help                this text
";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    TestAll,
    Demo(Demo),
    Bench(Bench),
    BrowserTests,
    /// `check`: also install it, type-check it and run its page (test-all's step).
    JsPackage {
        check: bool,
    },
    /// The bench's memory probe, in a process of its own (internal).
    BenchMemory {
        transport: Transport,
        bytes: usize,
        /// One streamed message instead of a whole one.
        streamed: bool,
    },
    StreamMemory(StreamMemory),
    RelayLoad(RelayLoad),
    /// A relay of the load run, in a process of its own (internal).
    RelayServe {
        store: String,
    },
    Help,
}

/// Options of `stream-memory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMemory {
    /// Bytes of the streamed message.
    pub size: usize,
    /// `None`: every native transport.
    pub transports: Option<Vec<Transport>>,
}

/// Options of `relay-load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayLoad {
    pub sessions: usize,
    pub parties: usize,
    pub rounds: u64,
}

/// Options of `demo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demo {
    /// `None`: every demo transport, the browser when its tools are installed.
    pub transports: Option<Vec<Transport>>,
    pub size: usize,
    pub parties: usize,
    /// Polytune's engine over the transports instead.
    pub polytune: bool,
}

/// Options of `bench`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bench {
    pub quick: bool,
    /// Already running in the release build (internal).
    pub in_release: bool,
    /// `None`: every bench transport. Always includes both baselines.
    pub transports: Option<Vec<Transport>>,
    pub sizes: Option<Vec<usize>>,
    pub memory: bool,
    /// The WAN bench instead of the loopback one.
    pub wan: bool,
    /// Internal: measure only this transport's row, in this process, and
    /// print it for the parent (each row runs in a fresh process).
    pub row: Option<Transport>,
}

impl Bench {
    /// The arguments that make the release build run this same bench.
    pub fn release_args(&self) -> Vec<String> {
        let mut args = vec!["bench".to_string(), "--in-release".to_string()];
        if let Some(transports) = &self.transports {
            let names: Vec<&str> = transports.iter().map(|t| t.name()).collect();
            args.extend(["--transports".to_string(), names.join(",")]);
        }
        if let Some(sizes) = &self.sizes {
            let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
            args.extend(["--sizes".to_string(), sizes.join(",")]);
        }
        if !self.memory {
            args.push("--no-memory".to_string());
        }
        if self.wan {
            args.push("--wan".to_string());
        }
        args
    }
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let mut rest = rest.iter().map(String::as_str);
    let command = match command.as_str() {
        "test-all" => Command::TestAll,
        "browser-tests" => Command::BrowserTests,
        "js-package" => Command::JsPackage {
            check: match rest.next() {
                None => false,
                Some("--check") => true,
                Some(other) => return Err(format!("js-package: unknown option '{other}'")),
            },
        },
        "help" | "--help" | "-h" => Command::Help,
        "demo" => Command::Demo(demo(&mut rest)?),
        "bench" => Command::Bench(bench(&mut rest)?),
        "relay-load" => Command::RelayLoad(relay_load(&mut rest)?),
        "relay-serve" => Command::RelayServe {
            store: rest
                .next()
                .ok_or("usage: relay-serve <memory|redis://...>")?
                .to_string(),
        },
        "bench-memory" => {
            let (Some(transport), Some(bytes)) = (rest.next(), rest.next()) else {
                return Err("usage: bench-memory <transport> <bytes> [--streamed]".into());
            };
            let streamed = match rest.next() {
                None => false,
                Some("--streamed") => true,
                Some(other) => return Err(format!("bench-memory: unknown option '{other}'")),
            };
            Command::BenchMemory {
                transport: Transport::parse(transport, Transport::in_bench)?,
                bytes: number("bench-memory", bytes)?,
                streamed,
            }
        }
        "stream-memory" => Command::StreamMemory(stream_memory(&mut rest)?),
        other => return Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match rest.next() {
        Some(extra) => Err(format!(
            "'{}' takes no argument '{extra}' (see `cargo xtask help`)",
            args[0]
        )),
        None => Ok(command),
    }
}

fn relay_load<'a>(args: &mut impl Iterator<Item = &'a str>) -> Result<RelayLoad, String> {
    let mut load = RelayLoad {
        sessions: 1000,
        parties: 3,
        rounds: 2,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag {
            "--sessions" => load.sessions = number(flag, value)?.max(1),
            "--parties" => load.parties = number(flag, value)?.clamp(2, 64),
            "--rounds" => load.rounds = number(flag, value)?.max(1) as u64,
            other => return Err(format!("unknown relay-load option '{other}'")),
        }
    }
    Ok(load)
}

fn demo<'a>(args: &mut impl Iterator<Item = &'a str>) -> Result<Demo, String> {
    let mut demo = Demo {
        transports: None,
        size: 16 << 20,
        parties: 3,
        polytune: false,
    };
    while let Some(flag) = args.next() {
        if flag == "--polytune" {
            demo.polytune = true;
            continue;
        }
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag {
            "--transports" => demo.transports = Some(transports(value()?, Transport::in_demo)?),
            "--size" => demo.size = number(flag, value()?)?,
            "--parties" => demo.parties = number(flag, value()?)?,
            other => {
                return Err(format!(
                    "unknown demo option '{other}' (see `cargo xtask help`)"
                ));
            }
        }
    }
    if demo.parties < 2 {
        return Err("--parties must be at least 2".into());
    }
    Ok(demo)
}

fn bench<'a>(args: &mut impl Iterator<Item = &'a str>) -> Result<Bench, String> {
    let mut bench = Bench {
        quick: false,
        in_release: false,
        transports: None,
        sizes: None,
        memory: true,
        wan: false,
        row: None,
    };
    while let Some(flag) = args.next() {
        match flag {
            "--row" => {
                let name = args.next().ok_or("--row needs a transport")?;
                bench.row = Some(Transport::parse(name, Transport::in_bench)?);
            }
            "--quick" => bench.quick = true,
            "--in-release" => bench.in_release = true,
            "--no-memory" => bench.memory = false,
            "--wan" => bench.wan = true,
            "--transports" => {
                let list = args.next().ok_or("--transports needs a value")?;
                let mut chosen = transports(list, Transport::in_bench)?;
                // The baselines are what the ratios are measured against.
                for baseline in [Transport::RawTcp, Transport::Memcpy] {
                    if !chosen.contains(&baseline) {
                        chosen.insert(0, baseline);
                    }
                }
                bench.transports = Some(chosen);
            }
            "--sizes" => {
                let list = args.next().ok_or("--sizes needs a value")?;
                bench.sizes = Some(sizes(list)?);
            }
            other => {
                return Err(format!(
                    "unknown bench option '{other}' (see `cargo xtask help`)"
                ));
            }
        }
    }
    Ok(bench)
}

fn stream_memory<'a>(args: &mut impl Iterator<Item = &'a str>) -> Result<StreamMemory, String> {
    let mut options = StreamMemory {
        size: 512 << 20,
        transports: None,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag {
            "--size" => options.size = byte_size(value)?,
            "--transports" => {
                options.transports = Some(transports(value, Transport::streams_natively)?)
            }
            other => return Err(format!("unknown stream-memory option '{other}'")),
        }
    }
    Ok(options)
}

/// A size such as `4096`, `512M` or `4G`.
fn byte_size(value: &str) -> Result<usize, String> {
    let (digits, unit) = [('K', 10), ('M', 20), ('G', 30)]
        .into_iter()
        .find_map(|(suffix, shift)| {
            value
                .strip_suffix([suffix, suffix.to_ascii_lowercase()])
                .map(|d| (d, 1usize << shift))
        })
        .unwrap_or((value, 1));
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("bad size '{value}' (e.g. 4096, 512M, 4G)"))
}

fn number(flag: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} expects a number, got '{value}'"))
}

fn transports(list: &str, allowed: fn(Transport) -> bool) -> Result<Vec<Transport>, String> {
    list.split(',')
        .map(|name| Transport::parse(name.trim(), allowed))
        .collect()
}

/// Parses `1024,16K,4M` (suffixes K and M are binary: KiB, MiB).
fn sizes(list: &str) -> Result<Vec<usize>, String> {
    list.split(',')
        .map(|item| {
            let item = item.trim();
            let (digits, unit) = match item.strip_suffix(['K', 'k']) {
                Some(d) => (d, 1 << 10),
                None => match item.strip_suffix(['M', 'm']) {
                    Some(d) => (d, 1 << 20),
                    None => (item, 1),
                },
            };
            digits
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_mul(unit))
                .filter(|n| (1..=1 << 30).contains(n))
                .ok_or_else(|| {
                    format!("bad size '{item}' in --sizes (e.g. 1024,16K,4M; 1 byte to 1 GiB)")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn commands_and_their_options() {
        assert_eq!(parse(&[]), Ok(Command::Help));
        assert_eq!(parse(&args("test-all")), Ok(Command::TestAll));
        assert!(parse(&args("test-all --fast")).is_err());
        match parse(&args("demo --polytune")) {
            Ok(Command::Demo(demo)) => assert!(demo.polytune),
            other => panic!("{other:?}"),
        }
        assert!(parse(&args("deploy")).is_err());
        assert_eq!(
            parse(&args("demo --transports tokio,p2p --size 1024 --parties 4")),
            Ok(Command::Demo(Demo {
                transports: Some(vec![Transport::Tokio, Transport::P2p]),
                size: 1024,
                parties: 4,
                polytune: false,
            }))
        );
        assert!(parse(&args("demo --parties 1")).is_err());
        assert!(parse(&args("demo --size")).is_err());
        assert!(parse(&args("demo --transports memcpy")).is_err());
        assert_eq!(
            parse(&args("bench-memory p2p 4096")),
            Ok(Command::BenchMemory {
                transport: Transport::P2p,
                bytes: 4096,
                streamed: false,
            })
        );
        assert_eq!(
            parse(&args("bench-memory tcp 4096 --streamed")),
            Ok(Command::BenchMemory {
                transport: Transport::Tcp,
                bytes: 4096,
                streamed: true,
            })
        );
        assert_eq!(
            parse(&args("stream-memory --size 4G --transports tcp,std")),
            Ok(Command::StreamMemory(StreamMemory {
                size: 4 << 30,
                transports: Some(vec![Transport::Tcp, Transport::Std]),
            }))
        );
        assert!(parse(&args("stream-memory --size 12X")).is_err());
        assert!(parse(&args("stream-memory --transports memcpy")).is_err());
    }

    #[test]
    fn bench_options_always_keep_the_baselines_and_survive_the_release_hop() {
        let Ok(Command::Bench(bench)) =
            parse(&args("bench --transports p2p --sizes 16K,4M --no-memory"))
        else {
            panic!("not a bench");
        };
        assert_eq!(
            bench.transports,
            Some(vec![Transport::Memcpy, Transport::RawTcp, Transport::P2p])
        );
        assert_eq!(bench.sizes, Some(vec![16 << 10, 4 << 20]));
        let again = parse(&bench.release_args());
        assert_eq!(
            again,
            Ok(Command::Bench(Bench {
                in_release: true,
                ..bench
            }))
        );
        assert!(parse(&args("bench --sizes 0")).is_err());
        assert!(parse(&args("bench --sizes 2G")).is_err());
        assert!(parse(&args("bench --transports browser")).is_err());
        let Ok(Command::Bench(wan)) = parse(&args("bench --wan --quick")) else {
            panic!("not a bench");
        };
        assert!(wan.wan && wan.quick);
        let again = parse(&wan.release_args());
        assert!(matches!(again, Ok(Command::Bench(Bench { wan: true, .. }))));
    }
}

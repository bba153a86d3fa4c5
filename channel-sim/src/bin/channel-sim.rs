//! `channel-sim`: a WAN link in front of a TCP endpoint, from the command line.
//!
//! ```text
//! channel-sim --to 127.0.0.1:8080 --profile continental
//! channel-sim --to 127.0.0.1:8080 --listen 127.0.0.1:9090 --latency 40ms --bandwidth 50mbit
//! ```
//!
//! It prints the address to connect to, then reads commands on standard input,
//! one per line: `stall`, `resume`, `cut`, `restore`, `reset`, `status`,
//! `latency <d> [up|down]`, `jitter <d> [up|down]`, `bandwidth <b|unlimited>
//! [up|down]`, `quit`.

use std::net::SocketAddr;
use std::time::Duration;

use channel_sim::{
    Bandwidth, Direction, Link, LinkControl, LinkProfile, LinkProxy, parse_duration,
};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A WAN link emulator: forwards every TCP connection made to --listen to
/// --to, delaying and pacing each direction like a WAN link.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Where to forward connections to.
    #[arg(long)]
    to: SocketAddr,
    /// Where to listen (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Start from a preset: metro, continental or intercontinental.
    #[arg(long, value_parser = preset)]
    profile: Option<LinkProfile>,
    /// One-way latency, both directions (e.g. 20ms).
    #[arg(long, value_parser = parse_duration)]
    latency: Option<Duration>,
    /// Jitter, uniform in 0..=jitter, both directions.
    #[arg(long, value_parser = parse_duration)]
    jitter: Option<Duration>,
    /// Bandwidth, both directions (e.g. 500mbit, or unlimited).
    #[arg(long, value_parser = rate)]
    bandwidth: Option<Rate>,
    /// Latency of the direction from the target back (default: --latency).
    #[arg(long, value_parser = parse_duration)]
    down_latency: Option<Duration>,
    /// Bandwidth of the direction from the target back (default: --bandwidth).
    #[arg(long, value_parser = rate)]
    down_bandwidth: Option<Rate>,
    /// Seed of the jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Connections proxied at once, at most.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
}

fn preset(name: &str) -> Result<LinkProfile, String> {
    LinkProfile::preset(name).ok_or_else(|| {
        format!("unknown profile '{name}'; known: metro, continental, intercontinental")
    })
}

/// A bandwidth or none (`unlimited`); a type of its own because clap reads
/// `Option<Option<_>>` as a flag with an optional value.
#[derive(Debug, Clone, Copy)]
struct Rate(Option<Bandwidth>);

fn rate(text: &str) -> Result<Rate, String> {
    bandwidth(text).map(Rate)
}

fn bandwidth(text: &str) -> Result<Option<Bandwidth>, String> {
    if text == "unlimited" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|e: channel_sim::ParseError| e.to_string())
}

impl Args {
    fn link(&self) -> Link {
        let mut up = self.profile.unwrap_or(LinkProfile::IDEAL);
        if let Some(latency) = self.latency {
            up.latency = latency;
        }
        if let Some(jitter) = self.jitter {
            up.jitter = jitter;
        }
        if let Some(Rate(bandwidth)) = self.bandwidth {
            up.bandwidth = bandwidth;
        }
        let mut down = up;
        if let Some(latency) = self.down_latency {
            down.latency = latency;
        }
        if let Some(Rate(bandwidth)) = self.down_bandwidth {
            down.bandwidth = bandwidth;
        }
        let mut link = Link::new(up, down).with_seed(self.seed);
        link.max_connections = self.max_connections.max(1);
        link
    }
}

/// One line of standard input.
#[derive(Debug, PartialEq)]
enum Command {
    Stall,
    Resume,
    Cut,
    Restore,
    Reset,
    Status,
    Quit,
    Change(Vec<Direction>, Change),
}

#[derive(Debug, PartialEq)]
enum Change {
    Latency(Duration),
    Jitter(Duration),
    Bandwidth(Option<Bandwidth>),
}

fn parse_command(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let directions = |word: Option<&&str>| match word.copied() {
        None => Ok(vec![Direction::Up, Direction::Down]),
        Some("up") => Ok(vec![Direction::Up]),
        Some("down") => Ok(vec![Direction::Down]),
        Some(other) => Err(format!("'{other}' is not a direction (up or down)")),
    };
    match words.as_slice() {
        ["stall"] => Ok(Command::Stall),
        ["resume"] => Ok(Command::Resume),
        ["cut"] => Ok(Command::Cut),
        ["restore"] => Ok(Command::Restore),
        ["reset"] => Ok(Command::Reset),
        ["status"] => Ok(Command::Status),
        ["quit"] | ["exit"] => Ok(Command::Quit),
        ["latency", value, rest @ ..] if rest.len() <= 1 => Ok(Command::Change(
            directions(rest.first())?,
            Change::Latency(parse_duration(value).map_err(|e| e.to_string())?),
        )),
        ["jitter", value, rest @ ..] if rest.len() <= 1 => Ok(Command::Change(
            directions(rest.first())?,
            Change::Jitter(parse_duration(value).map_err(|e| e.to_string())?),
        )),
        ["bandwidth", value, rest @ ..] if rest.len() <= 1 => Ok(Command::Change(
            directions(rest.first())?,
            Change::Bandwidth(bandwidth(value)?),
        )),
        _ => Err(format!(
            "unknown command '{line}'; commands: stall, resume, cut, restore, reset, status, \
             latency <d> [up|down], jitter <d> [up|down], bandwidth <b|unlimited> [up|down], quit"
        )),
    }
}

fn status(link: &LinkControl) -> String {
    format!(
        "{:?}; up: {}; down: {}; {} connections open, {} accepted; {} bytes up, {} bytes down",
        link.state(),
        link.profile(Direction::Up),
        link.profile(Direction::Down),
        link.connections(),
        link.accepted(),
        link.forwarded(Direction::Up),
        link.forwarded(Direction::Down),
    )
}

/// Carries out one command; `false` to quit.
fn apply(link: &LinkControl, command: Command) -> bool {
    match command {
        Command::Stall => link.stall(),
        Command::Resume => link.resume(),
        Command::Cut => link.cut(),
        Command::Restore => link.restore(),
        Command::Reset => link.reset(),
        Command::Status => {}
        Command::Quit => return false,
        Command::Change(directions, change) => {
            for direction in directions {
                let mut profile = link.profile(direction);
                match change {
                    Change::Latency(d) => profile.latency = d,
                    Change::Jitter(d) => profile.jitter = d,
                    Change::Bandwidth(b) => profile.bandwidth = b,
                }
                link.set_profile(direction, profile);
            }
        }
    }
    true
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("channel-sim: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let proxy = match LinkProxy::start_on(listener, args.to, args.link()) {
        Ok(proxy) => proxy,
        Err(e) => {
            eprintln!("channel-sim: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let link = proxy.control();
    println!("channel-sim: listening on {} -> {}", proxy.addr(), args.to);
    println!("channel-sim: {}", status(&link));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line.trim().is_empty() => continue,
            Ok(Some(line)) => match parse_command(&line) {
                Ok(command) => {
                    if !apply(&link, command) {
                        break;
                    }
                    println!("channel-sim: {}", status(&link));
                }
                Err(e) => println!("channel-sim: {e}"),
            },
            // Standard input closed (run in the background): keep serving.
            Ok(None) => std::future::pending::<()>().await,
            Err(e) => {
                eprintln!("channel-sim: cannot read commands: {e}");
                std::future::pending::<()>().await
            }
        }
    }
    proxy.shutdown();
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn commands_parse_and_refuse_with_the_list() {
        assert_eq!(parse_command("stall"), Ok(Command::Stall));
        assert_eq!(
            parse_command("latency 40ms down"),
            Ok(Command::Change(
                vec![Direction::Down],
                Change::Latency(Duration::from_millis(40))
            ))
        );
        assert_eq!(
            parse_command("bandwidth unlimited"),
            Ok(Command::Change(
                vec![Direction::Up, Direction::Down],
                Change::Bandwidth(None)
            ))
        );
        assert!(
            parse_command("latency 40ms sideways")
                .unwrap_err()
                .contains("up or down")
        );
        assert!(parse_command("latency soon").unwrap_err().contains("20ms"));
        assert!(
            parse_command("explode")
                .unwrap_err()
                .contains("commands: stall")
        );
    }

    #[test]
    fn flags_build_the_link() {
        let args = Args::parse_from([
            "channel-sim",
            "--to",
            "127.0.0.1:1",
            "--profile",
            "continental",
            "--down-latency",
            "5ms",
        ]);
        let link = args.link();
        assert_eq!(link.up, LinkProfile::continental());
        assert_eq!(link.down.latency, Duration::from_millis(5));
        assert_eq!(link.down.bandwidth, Some(Bandwidth::mbit(500)));
        assert!(
            Args::try_parse_from(["channel-sim", "--to", "127.0.0.1:1", "--profile", "moon"])
                .is_err()
        );
    }
}

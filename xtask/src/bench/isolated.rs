//! Each transport's row is measured in a fresh process (`xtask bench --row
//! <transport>`), as the memory probe is: a transport measured after ten
//! others in one process inherits their heap (its 16 MiB TCP stream read
//! 0.31× raw TCP there and about 0.6× alone), so rows would depend on the
//! order of the list. The child prints its row in lines the parent parses.

use std::time::Duration;

use super::Settings;
use super::report::{Latency, Row};
use crate::transports::Transport;

/// The prefix of the lines that carry a row.
const PREFIX: &str = "bench-row:";

/// Measures `transport`'s row in a fresh process of this same binary.
pub fn measure(transport: Transport, settings: &Settings) -> Result<Row, String> {
    let sizes: Vec<String> = settings.sizes.iter().map(usize::to_string).collect();
    let sizes = sizes.join(",");
    let mut args = vec![
        "bench",
        "--in-release",
        "--no-memory",
        "--row",
        transport.name(),
        "--sizes",
        &sizes,
    ];
    if settings.quick {
        args.push("--quick");
    }
    let text = run_self(&args).map_err(|e| format!("the row's process failed: {e}"))?;
    parse(transport.name(), &text)
}

/// Runs this same binary with `args` in a fresh process and returns what it
/// printed, or (when it fails) what it printed and its errors.
pub fn run_self(args: &[&str]) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find xtask's binary: {e}"))?;
    let out = std::process::Command::new(exe)
        .args(args)
        .output()
        .map_err(|e| format!("cannot start it: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Prints `row` for the parent.
pub fn print(row: &Row) {
    for (size, rate) in &row.throughput {
        println!("{PREFIX} throughput {size} {rate}");
    }
    if let Some((size, rate)) = row.streamed {
        println!("{PREFIX} streamed {size} {rate}");
    }
    for (what, latency) in [("latency", row.latency), ("big", row.big_round_trip)] {
        if let Some(l) = latency {
            println!(
                "{PREFIX} {what} {} {}",
                l.median.as_nanos(),
                l.p99.as_nanos()
            );
        }
    }
}

/// The row printed by [`print`].
fn parse(name: &'static str, text: &str) -> Result<Row, String> {
    let mut row = Row::new(name);
    for line in text.lines().filter_map(|l| l.strip_prefix(PREFIX)) {
        let bad = || format!("unreadable row line '{line}'");
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["throughput", size, rate] => row.throughput.push((
                size.parse().map_err(|_| bad())?,
                rate.parse().map_err(|_| bad())?,
            )),
            ["streamed", size, rate] => {
                row.streamed = Some((
                    size.parse().map_err(|_| bad())?,
                    rate.parse().map_err(|_| bad())?,
                ));
            }
            [what @ ("latency" | "big"), median, p99] => {
                let nanos = |v: &str| v.parse::<u64>().map(Duration::from_nanos);
                let latency = Latency {
                    median: nanos(median).map_err(|_| bad())?,
                    p99: nanos(p99).map_err(|_| bad())?,
                };
                if *what == "latency" {
                    row.latency = Some(latency);
                } else {
                    row.big_round_trip = Some(latency);
                }
            }
            _ => return Err(bad()),
        }
    }
    if row.throughput.is_empty() {
        return Err(format!("the row's process printed no figures: {text}"));
    }
    Ok(row)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.
mod tests {
    use super::*;

    #[test]
    fn a_printed_row_reads_back_and_garbage_is_an_error() {
        let text = format!(
            "noise\n{PREFIX} throughput 1024 12.5\n{PREFIX} throughput 4096 80\n{PREFIX} streamed 4096 70\n\
             {PREFIX} latency 65000 91000\n{PREFIX} big 9000000 12000000\n"
        );
        let row = parse("tcp", &text).unwrap();
        assert_eq!(row.throughput, vec![(1024, 12.5), (4096, 80.0)]);
        assert_eq!(row.streamed, Some((4096, 70.0)));
        let latency = row.latency.unwrap();
        assert_eq!(latency.median, Duration::from_micros(65));
        assert_eq!(latency.p99, Duration::from_micros(91));
        assert_eq!(row.big_round_trip.unwrap().median, Duration::from_millis(9));
        assert!(parse("tcp", &format!("{PREFIX} throughput x 1")).is_err());
        assert!(parse("tcp", "nothing here").is_err());
    }
}

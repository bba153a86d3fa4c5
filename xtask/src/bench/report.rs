//! The bench's output: a Markdown report with ratios to the baselines, and an
//! SVG plot of throughput against message size.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use super::Settings;
use super::measure::BIG_PING;
use crate::transports::Transport;

/// Median and 99th percentile of the round-trip times.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub median: Duration,
    pub p99: Duration,
}

/// Everything measured for one transport.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: &'static str,
    /// (message size, MiB/s)
    pub throughput: Vec<(usize, f64)>,
    pub latency: Option<Latency>,
    /// Round trips of a [`BIG_PING`] message.
    pub big_round_trip: Option<Latency>,
    /// (message size, MiB/s) of messages of the largest size sent as streams.
    pub streamed: Option<(usize, f64)>,
    pub peak_memory: Option<u64>,
    /// Peak extra memory while one streamed message of
    /// `Settings::streamed_memory_message` crosses.
    pub streamed_memory: Option<u64>,
}

impl Row {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            throughput: Vec::new(),
            latency: None,
            big_round_trip: None,
            streamed: None,
            peak_memory: None,
            streamed_memory: None,
        }
    }

    /// Files the round-trip times of `size`-byte ping-pongs.
    pub fn set_round_trips(&mut self, size: usize, times: Option<Latency>) {
        if size == BIG_PING {
            self.big_round_trip = times;
        } else {
            self.latency = times;
        }
    }
}

/// The baseline a transport is compared with: memcpy in-process, raw TCP for sockets.
fn baseline_of(name: &str) -> &'static str {
    Transport::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .map_or(Transport::RawTcp, Transport::baseline)
        .name()
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

pub fn render(rows: &[Row], settings: &Settings, profile: &str) -> String {
    let find = |name: &str| rows.iter().find(|r| r.name == name);
    let mut out = String::new();
    let _ = writeln!(out, "# Bench report\n");
    let _ = writeln!(
        out,
        "`cargo xtask bench{}` — {profile} build, loopback, 2 parties; ratios against baselines measured in the same run \
         (in-process transports against memcpy, socket transports against raw tokio TCP with length-prefixed frames, written from one buffer and read into one reused buffer: the socket's limit).\n",
        if settings.quick { " --quick" } else { "" }
    );
    let _ = writeln!(out, "## Throughput, MiB/s (ratio to baseline)\n");
    let _ = writeln!(
        out,
        "Each point streams about {} MiB; the figure is the median of {} run(s){}.\n",
        settings.bytes_per_point >> 20,
        settings.samples,
        if settings.warm_up {
            " after one unreported warm-up run"
        } else {
            ""
        }
    );
    let _ = write!(out, "| transport | baseline |");
    for &size in &settings.sizes {
        let _ = write!(out, " {} |", size_label(size));
    }
    let _ = write!(out, "\n|---|---|");
    for _ in &settings.sizes {
        let _ = write!(out, "---|");
    }
    let _ = writeln!(out);
    for row in rows {
        let base = baseline_of(row.name);
        let _ = write!(out, "| {} | {base} |", row.name);
        for &(size, mib_s) in &row.throughput {
            let ratio = find(base)
                .and_then(|b| b.throughput.iter().find(|(s, _)| *s == size))
                .map(|(_, b)| mib_s / b.max(1e-9));
            match ratio {
                Some(r) => {
                    let _ = write!(out, " {mib_s:.0} ({r:.2}×) |");
                }
                None => {
                    let _ = write!(out, " {mib_s:.0} |");
                }
            }
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "\n## Streamed messages\n");
    let _ = writeln!(
        out,
        "The largest size again, each message sent as a stream (`send_stream`, writes of 1 MiB) and received part by part \
         (`recv_stream`), against the same size sent whole in the same row's process.\n"
    );
    let _ = writeln!(
        out,
        "| transport | size | streamed MiB/s | whole MiB/s | streamed vs whole |\n|---|---|---|---|---|"
    );
    for row in rows {
        let Some((size, rate)) = row.streamed else {
            continue;
        };
        let whole = row
            .throughput
            .iter()
            .find(|(s, _)| *s == size)
            .map(|(_, r)| *r);
        let (whole, ratio) = whole.map_or(("-".into(), "-".into()), |w| {
            (format!("{w:.0}"), format!("{:.2}×", rate / w.max(1e-9)))
        });
        let _ = writeln!(
            out,
            "| {} | {} | {rate:.0} | {whole} | {ratio} |",
            row.name,
            size_label(size)
        );
    }

    let _ = writeln!(
        out,
        "\n## Round trip of a 100-byte ping-pong ({} rounds)\n",
        settings.rounds
    );
    let _ = writeln!(
        out,
        "| transport | median | p99 | median vs raw-tcp |\n|---|---|---|---|"
    );
    let tcp = find("raw-tcp").and_then(|r| r.latency);
    for row in rows {
        if let Some(l) = row.latency {
            let ratio = tcp.map_or(String::from("-"), |t| {
                format!(
                    "{:.1}×",
                    l.median.as_secs_f64() / t.median.as_secs_f64().max(1e-12)
                )
            });
            let _ = writeln!(
                out,
                "| {} | {:.1} µs | {:.1} µs | {ratio} |",
                row.name,
                l.median.as_secs_f64() * 1e6,
                l.p99.as_secs_f64() * 1e6
            );
        }
    }

    let _ = writeln!(
        out,
        "\n## Round trip of a {} message ({} rounds)\n",
        size_label(BIG_PING),
        settings.big_rounds
    );
    let _ = writeln!(
        out,
        "There and back, one message at a time: no pipelining across messages. MiB/s counts both ways.\n"
    );
    let _ = writeln!(
        out,
        "| transport | median | MiB/s | vs raw-tcp |\n|---|---|---|---|"
    );
    let moved =
        |l: Latency| 2.0 * BIG_PING as f64 / (1 << 20) as f64 / l.median.as_secs_f64().max(1e-12);
    let tcp = find("raw-tcp").and_then(|r| r.big_round_trip);
    for row in rows {
        if let Some(l) = row.big_round_trip {
            let ratio = tcp.map_or(String::from("-"), |t| {
                format!("{:.2}×", moved(l) / moved(t))
            });
            let _ = writeln!(
                out,
                "| {} | {:.1} ms | {:.0} | {ratio} |",
                row.name,
                l.median.as_secs_f64() * 1e3,
                moved(l)
            );
        }
    }

    if settings.memory_message == 0 {
        return out;
    }
    let _ = writeln!(
        out,
        "\n## Peak memory while one streamed {} message crosses (fresh process each)\n",
        size_label(settings.streamed_memory_message)
    );
    let _ = writeln!(
        out,
        "Both parties in one process (a relay in a process of its own, not counted); writes of 1 MiB, parts handed back \
         as they arrive. `cargo xtask stream-memory` (a step of test-all) fails at 64 MiB.\n"
    );
    let _ = writeln!(out, "| transport | peak extra resident memory |\n|---|---|");
    for row in rows {
        if let Some(bytes) = row.streamed_memory {
            let _ = writeln!(
                out,
                "| {} | {:.1} MiB |",
                row.name,
                bytes as f64 / (1 << 20) as f64
            );
        }
    }
    let _ = writeln!(
        out,
        "\n## Peak memory while one {} message crosses (fresh process each)\n",
        size_label(settings.memory_message)
    );
    let _ = writeln!(
        out,
        "| transport | peak extra resident memory | × message size |\n|---|---|---|"
    );
    for row in rows {
        if let Some(bytes) = row.peak_memory {
            let _ = writeln!(
                out,
                "| {} | {:.0} MiB | {:.2} |",
                row.name,
                bytes as f64 / (1 << 20) as f64,
                bytes as f64 / settings.memory_message as f64
            );
        }
    }
    out
}

/// Throughput against message size, one line per transport, log-log.
pub fn plot(rows: &[Row], path: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    let max = rows
        .iter()
        .flat_map(|r| r.throughput.iter().map(|(_, t)| *t))
        .fold(1.0, f64::max);
    let min = rows
        .iter()
        .flat_map(|r| r.throughput.iter().map(|(_, t)| *t))
        .fold(max, f64::min)
        .max(0.1);
    let sizes = rows
        .iter()
        .flat_map(|r| r.throughput.iter().map(|(s, _)| *s as f64));
    let (lo, hi) = sizes.fold((f64::MAX, 1.0f64), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "throughput by message size (MiB/s, log-log)",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (lo.min(hi)..hi * 1.5).log_scale(),
            (min / 1.5..max * 1.5).log_scale(),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("message size")
        .y_desc("MiB/s")
        .x_label_formatter(&|x| size_label(*x as usize))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, row) in rows.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = row
            .throughput
            .iter()
            .map(|(s, t)| (*s as f64, t.max(0.1)))
            .collect();
        super::plot::series(&mut chart, points, row.name, color, 3)?;
    }
    super::plot::finish(chart, &root, SeriesLabelPosition::LowerRight)
}

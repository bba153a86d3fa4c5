//! The WAN bench's output: a Markdown table of each transport against raw TCP
//! through the same emulated link, with the goals checked, and an SVG plot of
//! throughput (as a fraction of raw TCP's) against latency.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use super::{WanRow, WanSettings};
use crate::transports::Transport;

/// The goals of the WAN bench: throughput at least this fraction of raw TCP's...
pub const THROUGHPUT_GOAL: f64 = 0.9;
/// ...and a round trip at most this multiple of raw TCP's.
pub const ROUND_TRIP_GOAL: f64 = 1.1;

fn baseline<'a>(rows: &'a [WanRow], profile: &str) -> Option<&'a WanRow> {
    rows.iter()
        .find(|r| r.profile == profile && r.transport == Transport::RawTcp)
}

/// (throughput as a fraction of raw TCP's, round trip as a multiple of raw TCP's).
pub fn ratios(rows: &[WanRow], row: &WanRow) -> Option<(f64, f64)> {
    let raw = baseline(rows, row.profile)?;
    Some((
        row.throughput / raw.throughput.max(1e-9),
        row.round_trip.as_secs_f64() / raw.round_trip.as_secs_f64().max(1e-9),
    ))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The link's own rate in MiB/s, if it has one.
fn link_rate(row: &WanRow) -> Option<f64> {
    row.link
        .bandwidth
        .map(|b| b.bytes_per_second() / (1 << 20) as f64)
}

pub fn render(rows: &[WanRow], settings: &WanSettings, build: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# WAN bench\n\n{build} build{}; each transport's paths through channel-sim's link \
         emulator (the relay's two links get half the latency each, so every party-to-party \
         path has the profile's latency). Throughput: one {} MiB message, median of {}; round \
         trip: 100 B, median of {}. Goals: throughput ≥ {THROUGHPUT_GOAL}× raw TCP's, round \
         trip ≤ {ROUND_TRIP_GOAL}× raw TCP's.\n",
        if settings.quick { ", quick" } else { "" },
        settings.message >> 20,
        settings.samples,
        settings.pings,
    );
    let _ = writeln!(
        out,
        "| profile | transport | {} MiB throughput | × raw TCP | 100 B round trip | × raw TCP | goals |",
        settings.message >> 20
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|");
    for row in rows {
        let (tp, rtt, goals) = match ratios(rows, row) {
            Some(_) if row.transport == Transport::RawTcp => {
                let of_link = link_rate(row)
                    .map(|rate| format!("{:.0}% of the link", 100.0 * row.throughput / rate))
                    .unwrap_or_default();
                (
                    "1.00".to_string(),
                    "1.00".to_string(),
                    format!("baseline, {of_link}"),
                )
            }
            Some((tp, rtt)) if settings.quick => (
                format!("{tp:.2}"),
                format!("{rtt:.2}"),
                "not judged (quick: a small message is mostly slow start)".to_string(),
            ),
            Some((tp, rtt)) => {
                let verdict = match (tp >= THROUGHPUT_GOAL, rtt <= ROUND_TRIP_GOAL) {
                    (true, true) => "met".to_string(),
                    (false, true) => "throughput short".to_string(),
                    (true, false) => "round trip long".to_string(),
                    (false, false) => "both short".to_string(),
                };
                (format!("{tp:.2}"), format!("{rtt:.2}"), verdict)
            }
            None => ("?".into(), "?".into(), "no baseline".into()),
        };
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {:.1} MiB/s | {tp} | {} | {rtt} | {goals} |",
            row.profile,
            row.link,
            row.transport.name(),
            row.throughput,
            ms(row.round_trip),
        );
    }
    out
}

/// Raw TCP through the emulator must look like the link, or nothing else
/// measured here means anything: a broken emulator fails the bench.
pub fn check_sanity(rows: &[WanRow]) -> Result<(), String> {
    for raw in rows.iter().filter(|r| r.transport == Transport::RawTcp) {
        let floor = raw.link.latency * 2;
        if raw.round_trip < floor {
            return Err(format!(
                "raw TCP's round trip on {} was {:?}, below the link's {floor:?}: the emulator is broken",
                raw.profile, raw.round_trip
            ));
        }
        if let Some(rate) = link_rate(raw)
            && raw.throughput > rate * 1.01
        {
            return Err(format!(
                "raw TCP ran at {:.1} MiB/s on {}, faster than the link's {rate:.1}: the emulator is broken",
                raw.throughput, raw.profile
            ));
        }
    }
    Ok(())
}

pub fn plot(rows: &[WanRow], path: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    let latency_ms = |r: &WanRow| r.link.latency.as_secs_f64() * 1e3;
    let max_latency = rows.iter().map(latency_ms).fold(1.0, f64::max);
    let max_ratio = rows
        .iter()
        .filter_map(|r| ratios(rows, r).map(|(tp, _)| tp))
        .fold(1.2, f64::max);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "64 MiB throughput as a fraction of raw TCP's, by one-way latency",
            ("sans-serif", 22),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_latency * 1.1, 0.0..max_ratio * 1.05)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("one-way latency (ms)")
        .y_desc("× raw TCP")
        .draw()
        .map_err(|e| err(&e))?;
    let goal = vec![(0.0, THROUGHPUT_GOAL), (max_latency * 1.1, THROUGHPUT_GOAL)];
    chart
        .draw_series(LineSeries::new(goal, BLACK.mix(0.4).stroke_width(1)))
        .map_err(|e| err(&e))?
        .label(format!("goal {THROUGHPUT_GOAL}×"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
    let mut transports: Vec<Transport> = Vec::new();
    for r in rows {
        if !transports.contains(&r.transport) {
            transports.push(r.transport);
        }
    }
    for (i, transport) in transports.into_iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.transport == transport)
            .filter_map(|r| ratios(rows, r).map(|(tp, _)| (latency_ms(r), tp)))
            .collect();
        crate::bench::plot::series(&mut chart, points, transport.name(), color, 4)?;
    }
    crate::bench::plot::finish(chart, &root, SeriesLabelPosition::LowerLeft)
}

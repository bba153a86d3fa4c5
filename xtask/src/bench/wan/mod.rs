//! `cargo xtask bench --wan`: every network transport and raw TCP through
//! channel-sim's link emulator on three WAN profiles. Per transport and
//! profile: the time one 64 MiB message takes (as a throughput, and as a
//! fraction of raw TCP's through the same link) and the 100-byte round trip
//! (as a multiple of raw TCP's). Writes `target/bench/wan.md` and `wan.svg`.
//! `--quick` is a smoke run of one profile with small messages (test-all).

mod report;
pub mod routes;

use std::time::{Duration, Instant};

use channel_core::error_chain;
use channel_sim::LinkProfile;

use super::measure;
use crate::transports::{Transport, two};
pub(crate) use routes::with_wan_parties;

/// What to measure.
#[derive(Debug, Clone)]
pub struct WanSettings {
    pub quick: bool,
    pub profiles: Vec<(&'static str, LinkProfile)>,
    pub transports: Vec<Transport>,
    /// The bulk message's size.
    pub message: usize,
    /// Bulk transfers per point (the median is reported), after a warm-up.
    pub samples: usize,
    /// 100-byte round trips per point (the median is reported).
    pub pings: usize,
}

impl WanSettings {
    pub fn new(quick: bool, chosen: Option<&[Transport]>) -> Self {
        let mut transports: Vec<Transport> = Transport::ALL
            .into_iter()
            .filter(|t| t.in_wan())
            .filter(|t| chosen.is_none_or(|c| c.contains(t)))
            .collect();
        if !transports.contains(&Transport::RawTcp) {
            transports.insert(0, Transport::RawTcp);
        }
        if quick {
            Self {
                quick,
                profiles: vec![("continental", LinkProfile::continental())],
                transports,
                message: 4 << 20,
                samples: 1,
                pings: 5,
            }
        } else {
            Self {
                quick,
                profiles: LinkProfile::PRESETS.to_vec(),
                transports,
                message: 64 << 20,
                samples: 3,
                pings: 20,
            }
        }
    }
}

/// One transport on one profile.
#[derive(Debug, Clone)]
pub struct WanRow {
    pub transport: Transport,
    pub profile: &'static str,
    pub link: LinkProfile,
    /// The bulk message through the link, in MiB/s (median).
    pub throughput: f64,
    /// The 100-byte round trip (median).
    pub round_trip: Duration,
}

pub fn run(settings: &WanSettings) -> Result<(), String> {
    let build = if cfg!(debug_assertions) {
        "debug (opt-level 1)"
    } else {
        "release"
    };
    println!(
        "bench --wan: {} transports on {} profiles, {} MiB messages, {build} build{}",
        settings.transports.len(),
        settings.profiles.len(),
        settings.message >> 20,
        if settings.quick { ", quick" } else { "" }
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    for &(profile, link) in &settings.profiles {
        for &transport in &settings.transports {
            print!("  {profile:<17} {:<12} ", transport.name());
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let t = Instant::now();
            let (throughput, round_trip) = super::runtime()?
                .block_on(measure_one(transport, link, settings))
                .map_err(|e| format!("{transport} on {profile}: {e}"))?;
            println!(
                "{throughput:>8.1} MiB/s  {:>8.2?} round trip  ({:.1?})",
                round_trip,
                t.elapsed()
            );
            rows.push(WanRow {
                transport,
                profile,
                link,
                throughput,
                round_trip,
            });
        }
    }
    let text = report::render(&rows, settings, build);
    super::output::write(
        "bench --wan",
        &text,
        "wan.md",
        "wan.svg",
        |path| report::plot(&rows, path),
        started,
    )?;
    report::check_sanity(&rows)
}

/// Warms the pair up, then measures: a macro for `tokio::spawn`'s `Send`
/// bound, as `measure_pair!` is.
macro_rules! measure_wan {
    ($a:expr, $b:expr, $settings:expr) => {{
        let (mut a, mut b) = ($a, $b);
        let settings: &WanSettings = $settings;
        let fail = |e: channel_core::Error| error_chain(&e);
        let warm_up = if settings.quick { 1 << 20 } else { 4 << 20 };
        let mut times = Vec::new();
        let mut got = Vec::new();
        let sizes =
            std::iter::once(warm_up).chain(std::iter::repeat_n(settings.message, settings.samples));
        for (i, size) in sizes.enumerate() {
            let msg = vec![0xA5u8; size];
            let receiver = tokio::spawn(async move {
                let received = measure::stream_in(&mut b, &mut got, size, 1).await;
                (b, got, received)
            });
            let started = Instant::now();
            let sent = measure::stream_out(&mut a, &msg, 1).await;
            let took = started.elapsed();
            let (back, buf, received) = receiver
                .await
                .map_err(|e| format!("a party's task failed: {e}"))?;
            (b, got) = (back, buf);
            sent.and(received).map_err(fail)?;
            if i > 0 {
                times.push(took);
            }
        }
        times.sort();
        let took = times
            .get(times.len() / 2)
            .copied()
            .ok_or("no transfer measured")?;
        let throughput = settings.message as f64 / (1 << 20) as f64 / took.as_secs_f64();
        let rounds = settings.pings + 2;
        let ponger = tokio::spawn(async move {
            let ponged = measure::ponger(&mut b, rounds).await;
            (b, ponged)
        });
        let mut rtts = measure::pinger(&mut a, rounds, measure::PING)
            .await
            .map_err(fail)?;
        let (_, ponged) = ponger
            .await
            .map_err(|e| format!("a party's task failed: {e}"))?;
        ponged.map_err(fail)?;
        // The first two warm the path for small messages.
        rtts.drain(..2);
        rtts.sort();
        let rtt = rtts
            .get(rtts.len() / 2)
            .copied()
            .ok_or("no round trip measured")?;
        Ok::<(f64, Duration), String>((throughput, rtt))
    }};
}

/// The bulk throughput (MiB/s) and round trip of one transport on one link.
async fn measure_one(
    transport: Transport,
    link: LinkProfile,
    settings: &WanSettings,
) -> Result<(f64, Duration), String> {
    with_wan_parties!(transport, link, |parties| {
        let (a, b) = two(parties)?;
        measure_wan!(a, b, settings)
    })
}

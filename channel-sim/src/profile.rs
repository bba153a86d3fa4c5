//! What a link is like: one-way latency, jitter and bandwidth, with the three
//! WAN profiles the bench uses and parsers for the command line ("20ms",
//! "500mbit").

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The rate at which a link carries bits.
///
/// ```
/// use channel_sim::Bandwidth;
/// use std::time::Duration;
///
/// let b: Bandwidth = "500mbit".parse().unwrap();
/// assert_eq!(b, Bandwidth::mbit(500));
/// // 1 MiB at 500 Mbit/s: 8 388 608 bits / 5e8 bit/s.
/// assert_eq!(b.transmit_time(1 << 20), Duration::from_nanos(16_777_216));
/// assert_eq!(b.to_string(), "500 Mbit/s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bandwidth {
    bits_per_second: u64,
}

impl Bandwidth {
    /// `bps` bits per second (at least 1).
    pub const fn bits_per_second(bps: u64) -> Self {
        Self {
            bits_per_second: if bps == 0 { 1 } else { bps },
        }
    }

    /// `k` kilobits (10^3 bits) per second.
    pub const fn kbit(k: u64) -> Self {
        Self::bits_per_second(k.saturating_mul(1_000))
    }

    /// `m` megabits (10^6 bits) per second.
    pub const fn mbit(m: u64) -> Self {
        Self::bits_per_second(m.saturating_mul(1_000_000))
    }

    /// `g` gigabits (10^9 bits) per second.
    pub const fn gbit(g: u64) -> Self {
        Self::bits_per_second(g.saturating_mul(1_000_000_000))
    }

    /// The rate in bits per second.
    pub const fn as_bits_per_second(self) -> u64 {
        self.bits_per_second
    }

    /// The rate in bytes per second.
    pub fn bytes_per_second(self) -> f64 {
        self.bits_per_second as f64 / 8.0
    }

    /// How long the link takes to put `bytes` on the wire (rounded up to the
    /// nanosecond).
    pub fn transmit_time(self, bytes: usize) -> Duration {
        let bits = bytes as u128 * 8 * 1_000_000_000;
        let nanos = bits.div_ceil(u128::from(self.bits_per_second));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// How many bytes the link carries in `time`.
    pub fn bytes_in(self, time: Duration) -> u64 {
        let bits = u128::from(self.bits_per_second) * time.as_nanos() / 1_000_000_000;
        u64::try_from(bits / 8).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bps = self.bits_per_second;
        for (unit, name) in [
            (1_000_000_000, "Gbit/s"),
            (1_000_000, "Mbit/s"),
            (1_000, "kbit/s"),
        ] {
            if bps >= unit {
                return if bps.is_multiple_of(unit) {
                    write!(f, "{} {name}", bps / unit)
                } else {
                    write!(f, "{:.3} {name}", bps as f64 / unit as f64)
                };
            }
        }
        write!(f, "{bps} bit/s")
    }
}

/// A text that is not a bandwidth or a duration, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not {expected}")]
pub struct ParseError {
    text: String,
    expected: &'static str,
}

impl ParseError {
    fn new(text: &str, expected: &'static str) -> Self {
        Self {
            text: text.to_string(),
            expected,
        }
    }
}

/// Splits "12.5ms" into 12.5 and "ms".
fn number_and_unit(text: &str) -> Option<(f64, String)> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    (number.is_finite() && number >= 0.0).then(|| (number, unit.trim().to_ascii_lowercase()))
}

const BANDWIDTH: &str = "a bandwidth such as 500mbit, 1gbit, 64kbit or 1000000bit";

impl FromStr for Bandwidth {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, ParseError> {
        let error = || ParseError::new(text, BANDWIDTH);
        let (number, unit) = number_and_unit(text).ok_or_else(error)?;
        let unit = unit
            .strip_suffix("/s")
            .or_else(|| unit.strip_suffix("ps"))
            .unwrap_or(&unit);
        let scale = match unit {
            "bit" | "b" => 1.0,
            "kbit" | "kb" | "k" => 1e3,
            "mbit" | "mb" | "m" => 1e6,
            "gbit" | "gb" | "g" => 1e9,
            _ => return Err(error()),
        };
        let bps = (number * scale).round();
        if !(1.0..=1e15).contains(&bps) {
            return Err(error());
        }
        Ok(Bandwidth::bits_per_second(bps as u64))
    }
}

const DURATION: &str = "a duration such as 20ms, 1.5s, 250us or 0";

/// Parses a duration written like `20ms`, `1.5s`, `250us`, `800ns` or `0`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(channel_sim::parse_duration("2.5ms"), Ok(Duration::from_micros(2500)));
/// assert!(channel_sim::parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, ParseError> {
    let error = || ParseError::new(text, DURATION);
    let (number, unit) = number_and_unit(text).ok_or_else(error)?;
    let seconds = match unit.as_str() {
        "s" => number,
        "ms" => number / 1e3,
        "us" | "µs" => number / 1e6,
        "ns" => number / 1e9,
        "" if number == 0.0 => 0.0,
        _ => return Err(error()),
    };
    if seconds > 86_400.0 {
        return Err(error());
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// One direction of a link: what a byte sent into it goes through.
///
/// A chunk of `b` bytes handed to the link at time `t` starts on the wire
/// when everything before it is out, takes `b / bandwidth` to transmit, then
/// `latency` plus up to `jitter` (uniform) to arrive; arrival never
/// overtakes an earlier chunk (TCP keeps order). See [`Schedule`](crate::Schedule).
///
/// ```
/// use channel_sim::{Bandwidth, LinkProfile};
/// use std::time::Duration;
///
/// let wan = LinkProfile::new(Duration::from_millis(20), Bandwidth::mbit(500));
/// assert_eq!(wan, LinkProfile::continental());
/// // The bytes in flight when the link is busy: bandwidth × latency.
/// assert_eq!(wan.bandwidth_delay_product(), 1_250_000);
/// // A relay's two links each get half of a party-to-party path's latency.
/// assert_eq!(wan.halved().latency, Duration::from_millis(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkProfile {
    /// One-way delay of every byte.
    pub latency: Duration,
    /// Extra delay, uniform in `0..=jitter`, drawn per chunk.
    pub jitter: Duration,
    /// The link's rate; `None`: as fast as the machine goes.
    pub bandwidth: Option<Bandwidth>,
}

impl LinkProfile {
    /// No delay, no rate limit.
    pub const IDEAL: LinkProfile = LinkProfile {
        latency: Duration::ZERO,
        jitter: Duration::ZERO,
        bandwidth: None,
    };

    /// `latency` one way at `bandwidth`, without jitter.
    pub const fn new(latency: Duration, bandwidth: Bandwidth) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            bandwidth: Some(bandwidth),
        }
    }

    /// `latency` one way, no rate limit.
    pub const fn latency(latency: Duration) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            bandwidth: None,
        }
    }

    /// The same link with `jitter`.
    pub const fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Parties in one metro area: 2.5 ms one way, 1 Gbit/s.
    pub const fn metro() -> Self {
        Self::new(Duration::from_micros(2500), Bandwidth::gbit(1))
    }

    /// Parties on one continent: 20 ms one way, 500 Mbit/s.
    pub const fn continental() -> Self {
        Self::new(Duration::from_millis(20), Bandwidth::mbit(500))
    }

    /// Parties on different continents: 75 ms one way, 100 Mbit/s.
    pub const fn intercontinental() -> Self {
        Self::new(Duration::from_millis(75), Bandwidth::mbit(100))
    }

    /// The three WAN profiles by name, nearest first.
    pub const PRESETS: [(&'static str, LinkProfile); 3] = [
        ("metro", LinkProfile::metro()),
        ("continental", LinkProfile::continental()),
        ("intercontinental", LinkProfile::intercontinental()),
    ];

    /// The preset called `name` ("metro", "continental", "intercontinental").
    pub fn preset(name: &str) -> Option<Self> {
        Self::PRESETS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }

    /// Half the latency and jitter at the same bandwidth: each of a relay's
    /// two links, so that party → relay → party is as far as party → party.
    pub fn halved(self) -> Self {
        Self {
            latency: self.latency / 2,
            jitter: self.jitter / 2,
            bandwidth: self.bandwidth,
        }
    }

    /// Bytes on the wire when the link is saturated: bandwidth × (latency +
    /// jitter); 0 without a rate limit.
    pub fn bandwidth_delay_product(&self) -> u64 {
        self.bandwidth
            .map_or(0, |b| b.bytes_in(self.latency + self.jitter))
    }
}

impl fmt::Display for LinkProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} one way", self.latency)?;
        if !self.jitter.is_zero() {
            write!(f, " (+0..{:?} jitter)", self.jitter)?;
        }
        match self.bandwidth {
            Some(b) => write!(f, ", {b}"),
            None => write!(f, ", unlimited"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bandwidths_parse_in_every_unit_and_refuse_nonsense() {
        assert_eq!("1gbit".parse(), Ok(Bandwidth::gbit(1)));
        assert_eq!("1 Gbit/s".parse(), Ok(Bandwidth::gbit(1)));
        assert_eq!("2.5mbit".parse(), Ok(Bandwidth::kbit(2500)));
        assert_eq!("64kbps".parse(), Ok(Bandwidth::kbit(64)));
        assert_eq!("9600bit".parse(), Ok(Bandwidth::bits_per_second(9600)));
        for bad in [
            "",
            "fast",
            "10",
            "-5mbit",
            "0mbit",
            "5 furlongs",
            "1e99gbit",
        ] {
            let err = bad.parse::<Bandwidth>().unwrap_err();
            assert!(err.to_string().contains("500mbit"), "{bad}: {err}");
        }
        assert_eq!(Bandwidth::kbit(2500).to_string(), "2.500 Mbit/s");
    }

    #[test]
    fn durations_parse_in_every_unit_and_refuse_nonsense() {
        assert_eq!(parse_duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "5", "ms", "-1ms", "3 days", "1000000s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn transmit_time_and_bytes_in_are_inverse() {
        let b = Bandwidth::mbit(100);
        assert_eq!(b.transmit_time(12_500_000), Duration::from_secs(1));
        assert_eq!(b.bytes_in(Duration::from_secs(1)), 12_500_000);
        assert_eq!(b.transmit_time(0), Duration::ZERO);
        // Rounded up: one byte at 3 bit/s takes 2.666.. s.
        assert_eq!(
            Bandwidth::bits_per_second(3).transmit_time(1),
            Duration::from_nanos(2_666_666_667)
        );
    }

    #[test]
    fn presets_are_the_bench_profiles() {
        assert_eq!(
            LinkProfile::preset("metro"),
            Some(LinkProfile::new(
                Duration::from_micros(2500),
                Bandwidth::gbit(1)
            ))
        );
        assert_eq!(
            LinkProfile::preset("intercontinental").unwrap().to_string(),
            "75ms one way, 100 Mbit/s"
        );
        assert_eq!(LinkProfile::preset("moon"), None);
    }
}

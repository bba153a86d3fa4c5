//! When bytes handed to one direction of a link arrive at its far end: the
//! timing model that the TCP proxy and the simulated network both drive,
//! without I/O or clocks (times are offsets from a start the caller picks), so
//! it is tested exactly.
//!
//! The model is a bottleneck link: a chunk starts on the wire once the chunks
//! before it are out (a token bucket that holds one chunk), takes
//! `bytes / bandwidth`, then travels `latency` plus jitter. Arrivals keep the
//! order of sends, as on a TCP stream, so jitter never reorders bytes.

use std::time::Duration;

use crate::LinkProfile;

/// The state of one direction of one link.
///
/// ```
/// use channel_sim::{Bandwidth, LinkProfile, Schedule};
/// use std::time::Duration;
///
/// let ms = Duration::from_millis;
/// let mut link = Schedule::new(LinkProfile::new(ms(20), Bandwidth::mbit(8)), 1);
/// // 1000 bytes at 8 Mbit/s take 1 ms on the wire, then 20 ms to arrive.
/// assert_eq!(link.send(ms(0), 1000), ms(21));
/// // Sent at the same moment, the next 1000 bytes wait for the first to be out.
/// assert_eq!(link.send(ms(0), 1000), ms(22));
/// // An idle link starts at once.
/// assert_eq!(link.send(ms(100), 1000), ms(121));
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    profile: LinkProfile,
    /// When the wire is free: the last chunk's transmission ends.
    free_at: Duration,
    /// When the last chunk arrives (later ones never arrive earlier).
    last_arrival: Duration,
    rng: fastrand::Rng,
}

impl Schedule {
    /// A fresh, idle link; `seed` makes the jitter reproducible.
    pub fn new(profile: LinkProfile, seed: u64) -> Self {
        Self {
            profile,
            free_at: Duration::ZERO,
            last_arrival: Duration::ZERO,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// The profile in force.
    pub fn profile(&self) -> LinkProfile {
        self.profile
    }

    /// Changes the profile for the chunks sent from now on.
    pub fn set_profile(&mut self, profile: LinkProfile) {
        self.profile = profile;
    }

    /// Nothing starts on the wire before `at` (a TCP handshake still in
    /// progress, say).
    pub fn hold_until(&mut self, at: Duration) {
        self.free_at = self.free_at.max(at);
    }

    /// `bytes` handed to the link at `now` arrive at the returned time.
    /// Zero bytes (the end of a stream) arrive after the latency, in order.
    pub fn send(&mut self, now: Duration, bytes: usize) -> Duration {
        let start = now.max(self.free_at);
        let on_wire = self
            .profile
            .bandwidth
            .map_or(Duration::ZERO, |b| b.transmit_time(bytes));
        self.free_at = start + on_wire;
        let arrival = self.free_at + self.profile.latency + self.jitter();
        self.last_arrival = self.last_arrival.max(arrival);
        self.last_arrival
    }

    /// When everything sent so far has arrived.
    pub fn idle_at(&self) -> Duration {
        self.last_arrival
    }

    /// How long a chunk handed over at `now` waits before it starts on the
    /// wire: the queue in front of the bottleneck.
    pub fn queued_for(&self, now: Duration) -> Duration {
        self.free_at.saturating_sub(now)
    }

    fn jitter(&mut self) -> Duration {
        let max = u64::try_from(self.profile.jitter.as_nanos()).unwrap_or(u64::MAX);
        if max == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.rng.u64(0..=max))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Bandwidth;

    const fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_saturated_link_delivers_at_its_bandwidth() {
        // 64 MiB in 64 KiB chunks, all handed over at once, at 500 Mbit/s.
        let mut link = Schedule::new(LinkProfile::continental(), 7);
        let mut last = Duration::ZERO;
        for _ in 0..1024 {
            last = link.send(Duration::ZERO, 64 << 10);
        }
        let expected = Bandwidth::mbit(500).transmit_time(64 << 20) + ms(20);
        let slack = Duration::from_micros(2); // per-chunk rounding up to the ns
        assert!(last >= expected && last <= expected + slack, "{last:?}");
        assert_eq!(link.idle_at(), last);
    }

    #[test]
    fn an_unlimited_link_only_delays() {
        let mut link = Schedule::new(LinkProfile::latency(ms(75)), 1);
        assert_eq!(link.send(ms(3), 1 << 30), ms(78));
        assert_eq!(link.queued_for(ms(3)), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_in_bounds_and_never_reorders() {
        let profile = LinkProfile::latency(ms(10)).with_jitter(ms(5));
        let mut link = Schedule::new(profile, 42);
        let mut previous = Duration::ZERO;
        let mut spread = (Duration::MAX, Duration::ZERO);
        for i in 0..1000u64 {
            let now = Duration::from_micros(i * 100);
            let at = link.send(now, 100);
            assert!(at >= previous, "chunk {i} overtook the one before it");
            assert!(
                at >= now + ms(10) && at <= now + ms(15),
                "{at:?} for {now:?}"
            );
            previous = at;
        }
        // Chunks further apart than the jitter show it unclipped: it is really
        // drawn, not constant.
        for i in 0..100u64 {
            let now = ms(1000 + 10 * i);
            let delay = link.send(now, 100) - now;
            spread = (spread.0.min(delay), spread.1.max(delay));
        }
        assert!(spread.1 - spread.0 > ms(3), "{spread:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_jitter() {
        let profile = LinkProfile::latency(ms(10)).with_jitter(ms(5));
        let (mut a, mut b) = (Schedule::new(profile, 9), Schedule::new(profile, 9));
        for i in 0..100 {
            assert_eq!(a.send(ms(i), 10), b.send(ms(i), 10));
        }
    }

    #[test]
    fn holding_delays_the_first_chunk_and_queueing_is_reported() {
        let mut link = Schedule::new(LinkProfile::new(ms(20), Bandwidth::mbit(8)), 1);
        link.hold_until(ms(40)); // a handshake's round trip
        assert_eq!(link.send(ms(0), 1000), ms(61));
        assert_eq!(link.queued_for(ms(0)), ms(41));
        assert_eq!(link.queued_for(ms(50)), Duration::ZERO);
    }

    #[test]
    fn a_new_profile_applies_to_later_chunks_only() {
        let mut link = Schedule::new(LinkProfile::latency(ms(50)), 1);
        assert_eq!(link.send(ms(0), 1), ms(50));
        link.set_profile(LinkProfile::latency(ms(5)));
        // Order holds: the faster link cannot overtake what is still in flight.
        assert_eq!(link.send(ms(1), 1), ms(50));
        assert_eq!(link.send(ms(60), 1), ms(65));
        assert_eq!(link.profile(), LinkProfile::latency(ms(5)));
    }

    #[test]
    fn the_end_of_a_stream_arrives_after_the_latency() {
        let mut link = Schedule::new(LinkProfile::new(ms(20), Bandwidth::mbit(8)), 1);
        assert_eq!(link.send(ms(0), 0), ms(20));
    }
}

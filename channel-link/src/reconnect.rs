//! How long a link may go on trying to (re)establish its stream, without I/O.
//!
//! Set-up gets the connect timeout. After a stream that carried the link
//! (its HELLOs were exchanged) breaks, a new period of the reconnect timeout
//! starts. A stream that breaks before its HELLOs (e.g. refused by the peer
//! right after the TLS handshake, which in TLS 1.3 completes on the dialer's
//! side first) starts none: otherwise a peer that always refuses would be
//! retried forever.

use std::time::Duration;

use tokio::time::Instant;

/// The time a link has left to obtain a working stream.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    ends: Instant,
    reconnect: Duration,
    /// Streams that had carried the link when the period started.
    established: usize,
}

impl Period {
    /// Set-up, from `now`: `connect` to obtain the first stream; later
    /// periods last `reconnect`.
    pub fn connecting(now: Instant, connect: Duration, reconnect: Duration) -> Self {
        Self {
            ends: now + connect,
            reconnect,
            established: 0,
        }
    }

    /// When the time allowed runs out.
    pub fn ends(&self) -> Instant {
        self.ends
    }

    /// A stream broke at `now`, with `established` streams having carried
    /// the link so far (e.g. the count `Events::established` keeps).
    pub fn broke(&mut self, now: Instant, established: usize) {
        if established > self.established {
            self.established = established;
            self.ends = now + self.reconnect;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_carried_the_link_starts_a_new_period_and_one_that_did_not_starts_none() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut period = Period::connecting(t0, 10 * s, 3 * s);
        assert_eq!(period.ends(), t0 + 10 * s);
        // The first stream carried the link, then broke at t0 + 20 s.
        period.broke(t0 + 20 * s, 1);
        assert_eq!(period.ends(), t0 + 23 * s);
        // Streams refused before their HELLOs: the period does not move.
        period.broke(t0 + 21 * s, 1);
        period.broke(t0 + 22 * s, 1);
        assert_eq!(period.ends(), t0 + 23 * s);
        // Another that carried the link: a new period from its break.
        period.broke(t0 + 40 * s, 2);
        assert_eq!(period.ends(), t0 + 43 * s);
    }

    #[test]
    fn set_up_refusals_never_extend_the_connect_timeout() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut period = Period::connecting(t0, 10 * s, 3 * s);
        for i in 1..=9 {
            period.broke(t0 + i * s, 0);
        }
        assert_eq!(period.ends(), t0 + 10 * s);
    }
}

//! Keepalive and silence detection for one connection, without I/O or clocks,
//! for transports on long-lived streams (libp2p, TCP, WebSocket).
//!
//! A connection can die without a FIN or an RST: a NAT forgets its mapping, a
//! laptop sleeps, a cable is pulled, a middlebox stalls. TCP then notices only
//! when a write has gone unacknowledged for many minutes, and a party waiting
//! to receive would wait until its receive timeout. So each side sends a small
//! frame whenever it has sent nothing for [`KeepAlive::interval`], and treats
//! the connection as dead when it has heard nothing for
//! [`KeepAlive::timeout`] while it was reading. The transport then reconnects
//! (or gives up, naming the peer).
//!
//! Times are offsets from a start the caller picks, so the rules are tested
//! exactly.
//!
//! ```
//! use channel_core::transport::liveness::{Due, KeepAlive, Liveness};
//! use std::time::Duration;
//!
//! let s = Duration::from_secs;
//! let mut link = Liveness::new(KeepAlive { interval: s(5), timeout: s(20) }, s(0));
//! assert_eq!(link.due(s(1), true), Due::Nothing { until: s(5) });
//! // Nothing sent for 5 s: send a keepalive.
//! assert_eq!(link.due(s(5), true), Due::Ping);
//! link.sent(s(5));
//! link.heard(s(6));
//! // Nothing heard for 20 s while reading: the connection is dead.
//! link.sent(s(25));
//! assert_eq!(link.due(s(26), true), Due::Silent { for_: s(20) });
//! // Not reading (the application is behind): the peer is held back by us, not dead.
//! assert_eq!(link.due(s(26), false), Due::Nothing { until: s(30) });
//! ```

use std::time::Duration;

/// How often to send a keepalive and when to give up on a silent peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Send a keepalive after sending nothing for this long.
    pub interval: Duration,
    /// A connection on which nothing was heard for this long (while reading)
    /// is dead. Must be well above `interval` plus the round trip.
    pub timeout: Duration,
}

impl KeepAlive {
    /// 5 s between keepalives, dead after 20 s of silence.
    pub const DEFAULT: KeepAlive = KeepAlive {
        interval: Duration::from_secs(5),
        timeout: Duration::from_secs(20),
    };

    /// Why these settings cannot work, if they cannot.
    ///
    /// ```
    /// use channel_core::transport::liveness::KeepAlive;
    /// use std::time::Duration;
    ///
    /// assert!(KeepAlive::DEFAULT.check().is_ok());
    /// let eager = KeepAlive { interval: Duration::from_secs(5), timeout: Duration::from_secs(5) };
    /// assert!(eager.check().unwrap_err().contains("twice"));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if self.interval.is_zero() {
            return Err("the keepalive interval must be above zero".into());
        }
        if self.timeout < self.interval * 2 {
            return Err(format!(
                "the keepalive timeout ({:?}) must be at least twice the interval ({:?}), or a \
                 live peer looks dead between two keepalives",
                self.timeout, self.interval
            ));
        }
        Ok(())
    }
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a connection needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Nothing before `until` (ask again then, or when something happens).
    Nothing {
        /// The next time something may be due.
        until: Duration,
    },
    /// Send a keepalive now (then call [`Liveness::sent`]).
    Ping,
    /// The peer has been silent for `for_` while we read: the connection is dead.
    Silent {
        /// How long nothing was heard.
        for_: Duration,
    },
}

/// The keepalive state of one connection.
#[derive(Debug, Clone)]
pub struct Liveness {
    settings: KeepAlive,
    last_heard: Duration,
    last_sent: Duration,
    /// Whether the last check was made while reading: silence only counts
    /// from the moment reading resumed.
    was_reading: bool,
}

impl Liveness {
    /// A connection established at `now`.
    pub fn new(settings: KeepAlive, now: Duration) -> Self {
        Self {
            settings,
            last_heard: now,
            last_sent: now,
            was_reading: true,
        }
    }

    /// The settings.
    pub fn settings(&self) -> KeepAlive {
        self.settings
    }

    /// Bytes arrived from the peer at `now`.
    pub fn heard(&mut self, now: Duration) {
        self.last_heard = self.last_heard.max(now);
    }

    /// Bytes went out to the peer at `now` (a frame, or a keepalive).
    pub fn sent(&mut self, now: Duration) {
        self.last_sent = self.last_sent.max(now);
    }

    /// What is due at `now`; `reading` says whether the transport is reading
    /// from the peer (it stops when the application is behind, and then the
    /// peer's silence is our doing). `sending_idle` is implied: call
    /// [`sent`](Self::sent) while a write is in progress.
    pub fn due(&mut self, now: Duration, reading: bool) -> Due {
        if !reading {
            self.was_reading = false;
        } else if !self.was_reading {
            // Reading again: the silence while we were not does not count.
            self.was_reading = true;
            self.last_heard = self.last_heard.max(now);
        }
        let silent = now.saturating_sub(self.last_heard);
        if reading && silent >= self.settings.timeout {
            return Due::Silent { for_: silent };
        }
        let ping_at = self.last_sent + self.settings.interval;
        if now >= ping_at {
            return Due::Ping;
        }
        let until = if reading {
            ping_at.min(self.last_heard + self.settings.timeout)
        } else {
            ping_at
        };
        Due::Nothing { until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn link() -> Liveness {
        Liveness::new(
            KeepAlive {
                interval: s(5),
                timeout: s(20),
            },
            s(100),
        )
    }

    #[test]
    fn a_busy_sender_never_pings_and_a_talking_peer_never_dies() {
        let mut l = link();
        for t in 101..200 {
            l.sent(s(t));
            l.heard(s(t));
            assert!(matches!(l.due(s(t), true), Due::Nothing { .. }), "at {t}");
        }
    }

    #[test]
    fn an_idle_sender_pings_every_interval() {
        let mut l = link();
        let mut pings = 0;
        for t in 100..=130 {
            l.heard(s(t));
            if l.due(s(t), true) == Due::Ping {
                pings += 1;
                l.sent(s(t));
            }
        }
        assert_eq!(pings, 6);
    }

    #[test]
    fn silence_is_detected_exactly_at_the_timeout() {
        let mut l = link();
        l.sent(s(118));
        assert_eq!(l.due(s(119), true), Due::Nothing { until: s(120) });
        l.sent(s(119));
        assert_eq!(l.due(s(120), true), Due::Silent { for_: s(20) });
    }

    #[test]
    fn silence_while_not_reading_does_not_count() {
        let mut l = link();
        for t in 100..160 {
            l.sent(s(t));
            assert!(!matches!(l.due(s(t), false), Due::Silent { .. }));
        }
        // Reading again at 160: the peer has 20 s from now.
        for t in 160..180 {
            l.sent(s(t));
            assert!(matches!(l.due(s(t), true), Due::Nothing { .. }), "at {t}");
        }
        l.sent(s(180));
        assert_eq!(l.due(s(180), true), Due::Silent { for_: s(20) });
    }
}

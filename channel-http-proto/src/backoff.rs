//! Retrying without a runtime or a clock of its own: which statuses are worth
//! retrying, and capped exponential backoff with jitter within a bounded total
//! time. The caller passes the time and the randomness in, so every rule is
//! unit-tested without waiting; the clients sleep with their own timers.

use std::time::Duration;

use web_time::Instant;

use crate::HttpError;

/// How hard a client retries: capped exponential backoff with jitter, within a
/// bounded total time.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First delay.
    pub initial: Duration,
    /// Largest delay between two attempts.
    pub max: Duration,
    /// Give up once failures have gone on this long.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(20),
            max: Duration::from_secs(1),
            give_up_after: Duration::from_secs(60),
        }
    }
}

/// Statuses that say "try again later": throttled, or a proxy/relay in trouble.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// Counts failures and says how long to wait before the next attempt.
///
/// ```
/// use channel_http_proto::{RetryPolicy, backoff::Backoff};
/// use std::time::Duration;
///
/// let mut backoff = Backoff::new(RetryPolicy::default(), 1, "sending");
/// let now = channel_http_proto::Instant::now();
/// let first = backoff.failed(now, "connection refused".into(), None, 0.5).unwrap();
/// let second = backoff.failed(now, "connection refused".into(), None, 0.5).unwrap();
/// assert!(second > first && second <= Duration::from_secs(1));
/// // Once failures have gone on for `give_up_after`, the answer is the error.
/// let later = now + RetryPolicy::default().give_up_after;
/// assert!(backoff.failed(later, "connection refused".into(), None, 0.5).is_err());
/// ```
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
    failing_since: Option<Instant>,
    /// The peer and what is being done, for the final error and the logs.
    party: usize,
    during: String,
}

impl Backoff {
    /// A fresh counter following `policy`, for requests concerning `party`
    /// while `during` (e.g. "sending phase 'x', chunk 1/1").
    pub fn new(policy: RetryPolicy, party: usize, during: impl Into<String>) -> Self {
        Self {
            policy,
            attempts: 0,
            failing_since: None,
            party,
            during: during.into(),
        }
    }

    /// The policy it follows.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// The peer the requests concern, as given to [`new`](Self::new).
    pub fn party(&self) -> usize {
        self.party
    }

    /// What is being done, as given to [`new`](Self::new).
    pub fn during(&self) -> &str {
        &self.during
    }

    /// Forgets earlier failures (after a success).
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.failing_since = None;
    }

    /// Records an attempt that failed at `now`; returns the delay before the
    /// next one, or the final error once failures have gone on for
    /// `give_up_after`. `at_least` is a server's `Retry-After`, `unit` a random
    /// number in [0, 1) for the jitter.
    pub fn failed(
        &mut self,
        now: Instant,
        why: String,
        at_least: Option<Duration>,
        unit: f64,
    ) -> Result<Duration, HttpError> {
        self.attempts = self.attempts.saturating_add(1);
        let since = *self.failing_since.get_or_insert(now);
        let waited = now.saturating_duration_since(since);
        if waited >= self.policy.give_up_after {
            return Err(HttpError::GaveUp {
                party: self.party,
                during: self.during.clone(),
                attempts: self.attempts,
                waited,
                last: why,
            });
        }
        let exponent = self.attempts.saturating_sub(1).min(16);
        let base = self
            .policy
            .initial
            .saturating_mul(1 << exponent)
            .min(self.policy.max);
        // Jitter in [base/2, base], so clients that failed together spread out.
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let jittered = base.mul_f64(0.5 + 0.5 * unit);
        let delay = jittered
            .max(at_least.unwrap_or_default().min(self.policy.max))
            .min(self.policy.give_up_after.saturating_sub(waited));
        tracing::debug!(
            party = self.party,
            during = %self.during,
            attempt = self.attempts,
            ?delay,
            %why,
            "retrying"
        );
        Ok(delay)
    }
}

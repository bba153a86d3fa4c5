//! Retrying without a runtime: which statuses are worth retrying, and capped
//! exponential backoff with jitter within a bounded total time. Shared by the
//! native client and the browser client (`channel-wasm`), which sleep with their
//! own timers.

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
/// use channel_http::{RetryPolicy, backoff::Backoff};
/// use std::time::Duration;
///
/// let mut backoff = Backoff::new(RetryPolicy::default());
/// let first = backoff.failed("connection refused".into(), 0.5, None, 1, "sending").unwrap();
/// let second = backoff.failed("connection refused".into(), 0.5, None, 1, "sending").unwrap();
/// assert!(second > first && second <= Duration::from_secs(1));
/// ```
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
    failing_since: Option<Instant>,
}

impl Backoff {
    /// A fresh counter following `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            attempts: 0,
            failing_since: None,
        }
    }

    /// Forgets earlier failures (after a success).
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.failing_since = None;
    }

    /// Records a failed attempt; returns the delay before the next one, or the
    /// final error once failures have gone on for `give_up_after`. `unit` is a
    /// random number in [0, 1) for the jitter, `at_least` a server's `Retry-After`.
    pub fn failed(
        &mut self,
        why: String,
        unit: f64,
        at_least: Option<Duration>,
        party: usize,
        during: &str,
    ) -> Result<Duration, HttpError> {
        self.attempts += 1;
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        let waited = since.elapsed();
        if waited >= self.policy.give_up_after {
            return Err(HttpError::GaveUp {
                party,
                during: during.to_string(),
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
        let jittered = base.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
        let delay = jittered
            .max(at_least.unwrap_or_default().min(self.policy.max))
            .min(self.policy.give_up_after.saturating_sub(waited));
        tracing::debug!(party, during, attempt = self.attempts, ?delay, %why, "retrying");
        Ok(delay)
    }
}

//! Requests with retries: which failures are worth retrying, capped exponential
//! backoff with jitter, and a bounded total time.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Client, Response, StatusCode};
use tokio::time::Instant;

use super::RetryPolicy;
use crate::HttpError;
use crate::protocol::ErrorBody;

/// Whether a failed attempt is worth repeating.
pub(crate) enum Retryable {
    /// Yes, after at least this long (from `Retry-After`), for this reason.
    Yes(String, Option<Duration>),
    /// No: this is the error.
    No(HttpError),
}

/// Statuses that say "try again later": throttled, or a proxy/relay in trouble.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// Classifies an unsuccessful response.
pub(crate) async fn classify(response: Response, party: usize, during: &str) -> Retryable {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    // Error bodies are small JSON; cap what we read anyway.
    let message = match response.bytes().await {
        Ok(body) => serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()),
        Err(e) => format!("(no readable body: {e})"),
    };
    if is_retryable_status(status) {
        Retryable::Yes(format!("HTTP {status}: {message}"), retry_after)
    } else {
        Retryable::No(HttpError::Refused {
            party,
            during: during.to_string(),
            status: status.as_u16(),
            message,
        })
    }
}

/// A reqwest error with its causes, on one line.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Counts failures and says how long to wait before the next attempt.
pub(crate) struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
    failing_since: Option<Instant>,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            attempts: 0,
            failing_since: None,
        }
    }

    /// Forgets earlier failures (after a success).
    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
        self.failing_since = None;
    }

    /// Records a failed attempt; returns the delay before the next one, or the
    /// final error once failures have gone on for `give_up_after`.
    pub(crate) fn failed(
        &mut self,
        why: String,
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
        // Full jitter in [base/2, base], so clients that failed together spread out.
        let jittered = base.mul_f64(0.5 + 0.5 * unit_random());
        let delay = jittered
            .max(at_least.unwrap_or_default().min(self.policy.max))
            .min(self.policy.give_up_after.saturating_sub(waited));
        tracing::debug!(party, during, attempt = self.attempts, ?delay, %why, "retrying");
        Ok(delay)
    }
}

/// A uniform number in [0, 1) (from the OS; a failure only loses the jitter).
fn unit_random() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

/// POSTs `body` to `url` until it is accepted, retrying what is retryable.
/// Safe to repeat because the server deduplicates by the sequence number in `url`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn post_with_retries(
    client: &Client,
    url: &str,
    auth: &HeaderValue,
    body: Bytes,
    policy: RetryPolicy,
    timeout: Duration,
    party: usize,
    during: &str,
) -> Result<(), HttpError> {
    let mut backoff = Backoff::new(policy);
    // Bounded: `backoff` gives up after `policy.give_up_after`.
    loop {
        let sent = client
            .post(url)
            .header(AUTHORIZATION, auth.clone())
            .timeout(timeout)
            .body(body.clone())
            .send()
            .await;
        let (why, at_least) = match sent {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => match classify(response, party, during).await {
                Retryable::Yes(why, at_least) => (why, at_least),
                Retryable::No(e) => return Err(e),
            },
            Err(e) if e.is_builder() => {
                return Err(HttpError::Setup(format!(
                    "bad request to {url}: {}",
                    describe(&e)
                )));
            }
            Err(e) => (describe(&e), None),
        };
        let delay = backoff.failed(why, at_least, party, during)?;
        tokio::time::sleep(delay).await;
    }
}

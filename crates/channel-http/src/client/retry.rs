//! Requests with retries: which failures are worth retrying, capped exponential
//! backoff with jitter, and a bounded total time.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Client, Response};

use crate::backoff::{Backoff, is_retryable_status};
use crate::protocol::ErrorBody;
use crate::{HttpError, RetryPolicy};

/// The most bytes of an error answer a client reads.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Whether a failed attempt is worth repeating.
pub(crate) enum Retryable {
    /// Yes, after at least this long (from `Retry-After`), for this reason.
    Yes(String, Option<Duration>),
    /// No: this is the error.
    No(HttpError),
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
    // Error bodies are small JSON; read no more than that.
    let message = match super::body::read_limited(response, ERROR_BODY_LIMIT).await {
        Ok(body) => serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned()),
        Err(super::body::BodyError::TooLarge(n)) => format!("(an error body of {n} bytes, unread)"),
        Err(super::body::BodyError::Cut(e)) => format!("(no readable body: {e})"),
    };
    if is_retryable_status(status.as_u16()) {
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
    channel_core::error_chain(e)
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
        let delay = backoff.failed(why, unit_random(), at_least, party, during)?;
        tokio::time::sleep(delay).await;
    }
}

/// A uniform number in [0, 1) from the OS (a failure only loses the jitter).
pub(crate) fn unit_random() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

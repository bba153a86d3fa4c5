//! [`Setup`]: creating or joining a session.

use std::time::Duration;

use web_time::Instant;

use super::{AfterHead, Content, Method, Operation, Request, Step};
use crate::answer::{Body, Head, explanation};
use crate::backoff::{Backoff, is_retryable_status};
use crate::protocol::{
    CreateSession, DirectPosition, MAX_ERROR_BODY, MAX_SETUP_BODY, SessionCreated, SessionInfo,
    direct_join_path, session_path, sessions_path,
};
use crate::{HttpError, Joined, RetryPolicy};

/// A set-up request (create a session, join one), retried like every other
/// request on network failures and retryable statuses until the policy gives
/// up; the answer must have the expected status and decode to `T`.
///
/// (A session created by an attempt whose answer was lost is left unjoined
/// and expires after the relay's short unjoined lifetime.)
#[derive(Debug)]
pub struct Setup<T> {
    request: Request,
    /// The relay's base URL, for errors.
    base: String,
    expected: u16,
    during: &'static str,
    decode: fn(&[u8]) -> Result<T, HttpError>,
    error: Option<Head>,
    backoff: Backoff,
}

impl Setup<SessionCreated> {
    /// `POST /v1/sessions` for a session of `parties` on the relay at `base`.
    pub fn create_session(
        base: &str,
        parties: usize,
        retry: RetryPolicy,
    ) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(&CreateSession { parties })
            .map_err(|e| HttpError::Setup(format!("cannot encode the request: {e}")))?;
        Ok(Self {
            request: Request {
                method: Method::Post,
                path: sessions_path(),
                body: Some((body.into(), Content::Json)),
                wait: Duration::ZERO,
                headers: Vec::new(),
            },
            base: base.to_string(),
            expected: 201,
            during: "creating a session",
            backoff: Backoff::new(retry, 0, "creating a session"),
            decode: |bytes| {
                serde_json::from_slice::<SessionCreated>(bytes)
                    .map_err(|e| HttpError::Protocol(format!("bad session answer: {e}")))?
                    .checked()
            },
            error: None,
        })
    }
}

impl Setup<Joined> {
    /// `GET /v1/sessions/{session}` with the party's token: the joined state.
    pub fn join(base: &str, session: &str, retry: RetryPolicy) -> Self {
        Self {
            request: Request {
                method: Method::Get,
                path: session_path(session),
                body: None,
                wait: Duration::ZERO,
                headers: Vec::new(),
            },
            base: base.to_string(),
            expected: 200,
            during: "joining the session",
            backoff: Backoff::new(retry, 0, "joining the session"),
            decode: |bytes| {
                serde_json::from_slice::<SessionInfo>(bytes)
                    .map_err(|e| HttpError::Protocol(format!("bad session info: {e}")))?
                    .joined()
            },
            error: None,
        }
    }
}

impl Setup<DirectPosition> {
    /// `POST /v1/direct/from/{me}/join` at the direct-mode endpoint `base`:
    /// where party `me`'s link to it stands.
    pub fn direct_join(base: &str, me: usize, retry: RetryPolicy) -> Self {
        Self {
            request: Request {
                method: Method::Post,
                path: direct_join_path(me),
                body: None,
                wait: Duration::ZERO,
                headers: Vec::new(),
            },
            base: base.to_string(),
            expected: 200,
            during: "joining a direct-mode peer",
            decode: |bytes| {
                serde_json::from_slice::<DirectPosition>(bytes)
                    .map_err(|e| HttpError::Protocol(format!("bad direct-mode position: {e}")))
            },
            error: None,
            backoff: Backoff::new(retry, 0, "joining a direct-mode peer"),
        }
    }
}

impl<T> Operation for Setup<T> {
    type Output = T;

    fn request(&mut self, _now: Instant) -> Result<Request, HttpError> {
        Ok(self.request.clone())
    }

    fn on_head(&mut self, head: &Head, _now: Instant, _unit: f64) -> AfterHead<T> {
        if head.status == self.expected {
            AfterHead::ReadBody {
                limit: MAX_SETUP_BODY,
            }
        } else {
            self.error = Some(head.clone());
            AfterHead::ReadBody {
                limit: MAX_ERROR_BODY,
            }
        }
    }

    fn on_body(&mut self, body: Body, now: Instant, unit: f64) -> Step<T> {
        let during = self.during;
        if let Some(head) = self.error.take() {
            let message = explanation(&body);
            if is_retryable_status(head.status) {
                let why = format!("{during}: HTTP {}: {message}", head.status);
                return self.retry(now, why, head.retry_after, unit);
            }
            return Step::Fail(HttpError::Refused {
                party: 0,
                during: during.to_string(),
                status: head.status,
                message,
            });
        }
        match body {
            Body::Complete(bytes) => match (self.decode)(&bytes) {
                Ok(value) => Step::Done(value),
                Err(e) => Step::Fail(e),
            },
            Body::TooLarge(n) => Step::Fail(HttpError::Protocol(format!(
                "{during}: an answer of {n} bytes, more than the {MAX_SETUP_BODY} a set-up answer may have"
            ))),
            Body::Cut(why) => self.retry(
                now,
                format!("{during}: the answer was cut: {why}"),
                None,
                unit,
            ),
        }
    }

    fn on_no_answer(&mut self, why: String, now: Instant, unit: f64) -> Step<T> {
        let why = format!("{UNREACHABLE}{}: {why}", self.base);
        self.retry(now, why, None, unit)
    }
}

/// How a set-up error that never reached the relay begins (the relay is
/// down, or the network in between), so that a client can tell it from a
/// relay that answered with a refusal.
pub const UNREACHABLE: &str = "cannot reach the relay at ";

impl<T> Setup<T> {
    /// The peer the set-up concerns (for the errors).
    pub fn for_party(mut self, party: usize) -> Self {
        self.backoff = Backoff::new(self.backoff_policy(), party, self.during);
        self
    }

    fn backoff_policy(&self) -> RetryPolicy {
        self.backoff.policy()
    }

    /// Waits and tries again, or, once the policy gives up, the set-up error
    /// with the last reason.
    fn retry(
        &mut self,
        now: Instant,
        why: String,
        at_least: Option<Duration>,
        unit: f64,
    ) -> Step<T> {
        match self.backoff.failed(now, why, at_least, unit) {
            Ok(delay) => Step::Retry(delay),
            Err(HttpError::GaveUp {
                attempts,
                waited,
                last,
                ..
            }) => Step::Fail(HttpError::Setup(format!(
                "{last} (gave up after {attempts} attempts over {waited:.1?})"
            ))),
            Err(e) => Step::Fail(e),
        }
    }
}

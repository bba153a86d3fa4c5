//! [`Setup`]: creating or joining a session.

use std::time::Duration;

use web_time::Instant;

use super::{AfterHead, Content, Method, Operation, Request, Step};
use crate::answer::{Body, Head, explanation};
use crate::backoff::is_retryable_status;
use crate::protocol::{
    CreateSession, MAX_ERROR_BODY, MAX_SETUP_BODY, SessionCreated, SessionInfo, session_path,
    sessions_path,
};
use crate::{HttpError, Joined};

/// A set-up request (create a session, join one): one request, no retries;
/// the answer must have the expected status and decode to `T`.
#[derive(Debug)]
pub struct Setup<T> {
    request: Request,
    /// The relay's base URL, for errors.
    base: String,
    expected: u16,
    during: &'static str,
    decode: fn(&[u8]) -> Result<T, HttpError>,
    error: Option<Head>,
}

impl Setup<SessionCreated> {
    /// `POST /v1/sessions` for a session of `parties` on the relay at `base`.
    pub fn create_session(base: &str, parties: usize) -> Result<Self, HttpError> {
        let body = serde_json::to_vec(&CreateSession { parties })
            .map_err(|e| HttpError::Setup(format!("cannot encode the request: {e}")))?;
        Ok(Self {
            request: Request {
                method: Method::Post,
                path: sessions_path(),
                body: Some((body.into(), Content::Json)),
                wait: Duration::ZERO,
            },
            base: base.to_string(),
            expected: 201,
            during: "creating a session",
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
    pub fn join(base: &str, session: &str) -> Self {
        Self {
            request: Request {
                method: Method::Get,
                path: session_path(session),
                body: None,
                wait: Duration::ZERO,
            },
            base: base.to_string(),
            expected: 200,
            during: "joining the session",
            decode: |bytes| {
                serde_json::from_slice::<SessionInfo>(bytes)
                    .map_err(|e| HttpError::Protocol(format!("bad session info: {e}")))?
                    .joined()
            },
            error: None,
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

    fn on_body(&mut self, body: Body, _now: Instant, _unit: f64) -> Step<T> {
        let during = self.during;
        if let Some(head) = self.error.take() {
            let message = explanation(&body);
            return Step::Fail(if is_retryable_status(head.status) {
                HttpError::Setup(format!("{during}: HTTP {}: {message}", head.status))
            } else {
                HttpError::Refused {
                    party: 0,
                    during: during.to_string(),
                    status: head.status,
                    message,
                }
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
            Body::Cut(why) => Step::Fail(HttpError::Setup(format!(
                "{during}: the answer was cut: {why}"
            ))),
        }
    }

    fn on_no_answer(&mut self, why: String, _now: Instant, _unit: f64) -> Step<T> {
        Step::Fail(HttpError::Setup(format!(
            "cannot reach the relay at {}: {why}",
            self.base
        )))
    }
}

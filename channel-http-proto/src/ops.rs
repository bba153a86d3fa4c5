//! The client side of the relay protocol as state machines, one per operation:
//! [`Post`] (send a numbered chunk, to a relay or a direct-mode peer), [`Poll`]
//! (long-poll for the next chunk from a peer) and [`Setup`] (create or join a
//! session). None of them performs I/O or reads a clock: the caller asks for
//! the next [`Request`], performs it however it likes, and feeds back the
//! answer's [`Head`] and [`Body`] (or that there was no answer); the operation
//! says what that means as a [`Step`]: done, ask again, retry after a delay,
//! or fail with a typed error. [`exchange`](crate::exchange) is the loop that
//! does this for any HTTP client.
//!
//! ```
//! use channel_http_proto::answer::{Body, Head};
//! use channel_http_proto::ops::{AfterHead, Operation, Step};
//! use channel_http_proto::protocol::SessionInfo;
//! use channel_http_proto::{Instant, RetryPolicy};
//! use channel_core::SendInfo;
//!
//! let info = SessionInfo { session: "ab".into(), parties: 2, party: 0, max_body: 1024, max_wait_ms: 100 };
//! let mut joined = info.joined().unwrap();
//! let now = Instant::now();
//! let mut send = joined
//!     .send(1, b"chunk".to_vec().into(), &SendInfo::new("x", 0, 1), RetryPolicy::default())
//!     .unwrap();
//! assert_eq!(send.request(now).unwrap().path, "/v1/sessions/ab/to/1?seq=0");
//! // The relay is throttling: retry after the delay it asks for.
//! let head = Head { status: 429, retry_after: Some(std::time::Duration::from_secs(1)), ..Head::default() };
//! let AfterHead::ReadBody { limit } = send.on_head(&head, now, 0.5) else { panic!() };
//! assert!(limit <= 64 * 1024); // error bodies are read with a small bound
//! assert!(matches!(send.on_body(Body::Complete(Vec::new()), now, 0.5), Step::Retry(_)));
//! // The retry is stored: the chunk is sent, and the next one gets number 1.
//! let stored = Head { status: 204, ..Head::default() };
//! assert!(matches!(send.on_head(&stored, now, 0.5), AfterHead::Step(Step::Done(()))));
//! assert_eq!(joined.next_send[1], 1);
//! ```

use std::time::Duration;

use bytes::Bytes;
use channel_core::{RecvInfo, SendInfo};
use web_time::Instant;

use crate::answer::{Body, Head, explanation};
use crate::backoff::{Backoff, is_retryable_status};
use crate::joined::{Joined, oversized};
use crate::protocol::{
    CreateSession, MAX_ERROR_BODY, MAX_SETUP_BODY, SessionCreated, SessionInfo, session_path,
    sessions_path,
};
use crate::{HttpError, RetryPolicy, TransportError};

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// What a body is, for its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// `application/json`.
    Json,
    /// `application/octet-stream`: a chunk.
    Octets,
}

/// One request an operation wants made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path and query, to append to the server's base URL.
    pub path: String,
    /// The body, if any, and what it is.
    pub body: Option<(Bytes, Content)>,
    /// How long the server may hold the request before answering (a
    /// long-poll's wait); the client's own request timeout comes on top.
    pub wait: Duration,
}

/// What an operation says about an answer.
#[derive(Debug)]
pub enum Step<T> {
    /// The operation is complete.
    Done(T),
    /// Make the next request right away (a long-poll that ended empty).
    Again,
    /// Make the next request after this delay.
    Retry(Duration),
    /// The operation failed.
    Fail(HttpError),
}

/// What to do once an answer's head is known.
#[derive(Debug)]
pub enum AfterHead<T> {
    /// Read the body, at most `limit` bytes, then call [`Operation::on_body`].
    ReadBody {
        /// The most bytes to read; a body declaring or reaching more is [`Body::TooLarge`].
        limit: usize,
    },
    /// No body is needed: this is the step.
    Step(Step<T>),
}

/// One operation of the protocol, driven by an I/O layer.
///
/// `now` is the caller's clock and `unit` a random number in [0, 1) for the
/// retry jitter, so that the rules run the same in tests, natively and in a
/// browser.
pub trait Operation {
    /// What the operation yields when done.
    type Output;

    /// The next request to make, or the error that ends the operation (e.g.
    /// its time is up).
    fn request(&mut self, now: Instant) -> Result<Request, HttpError>;

    /// The head of the answer to the last request.
    fn on_head(&mut self, head: &Head, now: Instant, unit: f64) -> AfterHead<Self::Output>;

    /// The body of that answer, read as [`AfterHead::ReadBody`] asked.
    fn on_body(&mut self, body: Body, now: Instant, unit: f64) -> Step<Self::Output>;

    /// The last request got no answer at all (connection refused or cut,
    /// timed out, DNS): `why` says what happened.
    fn on_no_answer(&mut self, why: String, now: Instant, unit: f64) -> Step<Self::Output>;
}

/// A retryable failure: wait as the backoff says, or give up with its error.
fn retry<T>(
    backoff: &mut Backoff,
    now: Instant,
    why: String,
    at_least: Option<Duration>,
    unit: f64,
) -> Step<T> {
    match backoff.failed(now, why, at_least, unit) {
        Ok(delay) => Step::Retry(delay),
        Err(e) => Step::Fail(e),
    }
}

/// An error answer (`head`, with `body` read within [`MAX_ERROR_BODY`]):
/// retried when its status says "later", else the refusal itself.
fn refusal<T>(backoff: &mut Backoff, head: &Head, body: &Body, now: Instant, unit: f64) -> Step<T> {
    let message = explanation(body);
    if is_retryable_status(head.status) {
        let why = format!("HTTP {}: {message}", head.status);
        retry(backoff, now, why, head.retry_after, unit)
    } else {
        Step::Fail(HttpError::Refused {
            party: backoff.party(),
            during: backoff.during().to_string(),
            status: head.status,
            message,
        })
    }
}

/// Sends one numbered chunk until the server has stored it (a resend of a
/// chunk it already has counts: the server recognises the duplicate by its
/// number), then advances the sender's counter.
#[derive(Debug)]
pub struct Post<'a> {
    path: String,
    body: Bytes,
    /// The sender's counter for this peer, advanced once the chunk is stored.
    next: &'a mut u64,
    backoff: Backoff,
    error: Option<Head>,
}

impl<'a> Post<'a> {
    /// Posts `body` to `path` (which carries the chunk's number `*next`),
    /// retrying as `backoff` says; advances `*next` once the server stored it.
    pub fn new(path: String, body: Bytes, next: &'a mut u64, backoff: Backoff) -> Self {
        Self {
            path,
            body,
            next,
            backoff,
            error: None,
        }
    }
}

impl Operation for Post<'_> {
    type Output = ();

    fn request(&mut self, _now: Instant) -> Result<Request, HttpError> {
        Ok(Request {
            method: Method::Post,
            path: self.path.clone(),
            body: Some((self.body.clone(), Content::Octets)),
            wait: Duration::ZERO,
        })
    }

    fn on_head(&mut self, head: &Head, _now: Instant, _unit: f64) -> AfterHead<()> {
        if head.is_success() {
            *self.next = self.next.saturating_add(1);
            return AfterHead::Step(Step::Done(()));
        }
        self.error = Some(head.clone());
        AfterHead::ReadBody {
            limit: MAX_ERROR_BODY,
        }
    }

    fn on_body(&mut self, body: Body, now: Instant, unit: f64) -> Step<()> {
        let head = self.error.take().unwrap_or_default();
        refusal(&mut self.backoff, &head, &body, now, unit)
    }

    fn on_no_answer(&mut self, why: String, now: Instant, unit: f64) -> Step<()> {
        retry(&mut self.backoff, now, why, None, unit)
    }
}

/// How long a receive waits, and how it retries.
#[derive(Debug, Clone, Copy)]
pub struct PollTiming {
    /// The longest a receive waits for its chunk before a timeout error.
    pub recv_timeout: Duration,
    /// The longest wait asked of the relay per long-poll (it may grant less).
    pub poll_wait: Duration,
    /// Retries on network failures and retryable statuses.
    pub retry: RetryPolicy,
}

/// Receives the next chunk from a peer through the relay: long-polls until it
/// arrives or the receive timeout passes, retrying what is retryable, and
/// checks that the relay answers with the number asked for and within its
/// own body limit.
#[derive(Debug)]
pub struct Poll<'a> {
    joined: &'a mut Joined,
    from: usize,
    seq: u64,
    info: RecvInfo,
    timing: PollTiming,
    deadline: Instant,
    /// Time left at the last request, which caps retry delays.
    left: Duration,
    backoff: Backoff,
    /// The head of the answer whose body is being read.
    head: Option<Head>,
}

impl<'a> Poll<'a> {
    fn new(
        joined: &'a mut Joined,
        from: usize,
        info: &RecvInfo,
        timing: PollTiming,
        now: Instant,
    ) -> Result<Self, HttpError> {
        let seq = joined.next_from(from)?;
        Ok(Self {
            joined,
            from,
            seq,
            info: info.clone(),
            timing,
            deadline: now + timing.recv_timeout,
            left: timing.recv_timeout,
            backoff: Backoff::new(timing.retry, from, format!("receiving {info}")),
            head: None,
        })
    }

    fn retry(
        &mut self,
        now: Instant,
        why: String,
        at_least: Option<Duration>,
        unit: f64,
    ) -> Step<Vec<u8>> {
        match retry(&mut self.backoff, now, why, at_least, unit) {
            Step::Retry(delay) => Step::Retry(delay.min(self.left)),
            other => other,
        }
    }

    fn oversized(&self, bytes: u64) -> Step<Vec<u8>> {
        Step::Fail(oversized(self.from, self.seq, bytes, self.joined.max_body))
    }
}

impl Operation for Poll<'_> {
    type Output = Vec<u8>;

    fn request(&mut self, now: Instant) -> Result<Request, HttpError> {
        self.left = self.deadline.saturating_duration_since(now);
        if self.left.is_zero() {
            return Err(
                TransportError::timeout(self.from, self.timing.recv_timeout, &self.info).into(),
            );
        }
        let (path, wait) =
            self.joined
                .poll_target(self.from, self.seq, self.left, self.timing.poll_wait);
        Ok(Request {
            method: Method::Get,
            path,
            body: None,
            wait,
        })
    }

    fn on_head(&mut self, head: &Head, _now: Instant, _unit: f64) -> AfterHead<Vec<u8>> {
        match head.status {
            // The long-poll ended without the chunk: ask again.
            204 => {
                self.backoff.reset();
                AfterHead::Step(Step::Again)
            }
            200 if head.seq != Some(self.seq) => {
                AfterHead::Step(Step::Fail(HttpError::Protocol(format!(
                    "asked party {}'s message {}, got {:?}",
                    self.from, self.seq, head.seq
                ))))
            }
            200 => match head.content_length {
                // Refused before a byte of it is read.
                Some(n) if n > self.joined.max_body as u64 => AfterHead::Step(self.oversized(n)),
                _ => {
                    self.head = Some(head.clone());
                    AfterHead::ReadBody {
                        limit: self.joined.max_body,
                    }
                }
            },
            _ => {
                self.head = Some(head.clone());
                AfterHead::ReadBody {
                    limit: MAX_ERROR_BODY,
                }
            }
        }
    }

    fn on_body(&mut self, body: Body, now: Instant, unit: f64) -> Step<Vec<u8>> {
        let head = self.head.take().unwrap_or_default();
        if head.status != 200 {
            return match refusal(&mut self.backoff, &head, &body, now, unit) {
                Step::Retry(delay) => Step::Retry(delay.min(self.left)),
                other => other,
            };
        }
        match body {
            Body::Complete(chunk) if chunk.len() > self.joined.max_body => {
                self.oversized(chunk.len() as u64)
            }
            Body::Complete(chunk) => match self.joined.recv_slot(self.from) {
                Ok(next) => {
                    *next = next.saturating_add(1);
                    Step::Done(chunk)
                }
                Err(e) => Step::Fail(e),
            },
            Body::TooLarge(n) => self.oversized(n),
            // Cut mid-body: ask again, the relay still holds it.
            Body::Cut(why) => self.retry(now, why, None, unit),
        }
    }

    fn on_no_answer(&mut self, why: String, now: Instant, unit: f64) -> Step<Vec<u8>> {
        self.retry(now, why, None, unit)
    }
}

impl Joined {
    /// The operation that sends `chunk` to party `p` as its next message.
    pub fn send(
        &mut self,
        p: usize,
        chunk: Bytes,
        info: &SendInfo,
        retry: RetryPolicy,
    ) -> Result<Post<'_>, HttpError> {
        let path = self.send_target(p, chunk.len())?;
        let next = self.send_slot(p)?;
        Ok(Post::new(
            path,
            chunk,
            next,
            Backoff::new(retry, p, format!("sending {info}")),
        ))
    }

    /// The operation that receives the next message from party `from`,
    /// starting at `now`.
    pub fn receive(
        &mut self,
        from: usize,
        info: &RecvInfo,
        timing: PollTiming,
        now: Instant,
    ) -> Result<Poll<'_>, HttpError> {
        Poll::new(self, from, info, timing, now)
    }
}

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

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
//! let info = SessionInfo::new("ab", 2, 0, 1024, 100);
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

mod poll;
mod post;
mod setup;

use std::time::Duration;

use bytes::Bytes;
use web_time::Instant;

use crate::answer::{Body, Head, explanation};
use crate::backoff::{Backoff, is_retryable_status};
use crate::{HttpError, TransportError};

pub use poll::{Poll, PollTiming};
pub use post::Post;
pub use setup::{Setup, UNREACHABLE};

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
    /// Headers of the protocol to send with it (e.g. `x-epoch`).
    pub headers: Vec<(&'static str, String)>,
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
pub(crate) fn retry<T>(
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

/// An error answer (`head`, with `body` read within [`MAX_ERROR_BODY`]) to a
/// request about message `seq`: retried when its status says "later", else
/// the typed refusal.
pub(crate) fn refusal<T>(
    backoff: &mut Backoff,
    head: &Head,
    body: &Body,
    seq: u64,
    now: Instant,
    unit: f64,
) -> Step<T> {
    let message = explanation(body);
    let party = backoff.party();
    match head.status {
        status if is_retryable_status(status) => {
            let why = format!("HTTP {status}: {message}");
            retry(backoff, now, why, head.retry_after, unit)
        }
        412 => Step::Fail(HttpError::Replaced { message }),
        422 => Step::Fail(HttpError::ConflictingResend { party, seq }),
        424 => Step::Fail(HttpError::Transport(TransportError::PeerGone {
            party,
            reason: message,
        })),
        status => Step::Fail(HttpError::Refused {
            party,
            during: backoff.during().to_string(),
            status,
            message,
        }),
    }
}

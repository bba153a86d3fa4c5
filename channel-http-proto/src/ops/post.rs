//! [`Post`]: one numbered chunk sent until the server has stored it.
//!
//! A `Post` owns everything it needs, so a client may run several at once
//! (in the background, each to its end): the chunk's number is taken when
//! the operation is made, and the server holds chunks that overtake each
//! other (up to [`MAX_AHEAD`](crate::protocol::MAX_AHEAD)).

use std::time::Duration;

use bytes::Bytes;
use channel_core::SendInfo;
use web_time::Instant;

use super::{AfterHead, Content, Method, Operation, Request, Step, refusal, retry};
use crate::answer::{Body, Head};
use crate::backoff::Backoff;
use crate::protocol::MAX_ERROR_BODY;
use crate::{HttpError, Joined, RetryPolicy};

/// Sends one numbered chunk until the server has stored it (a resend of a
/// chunk it already has counts: the server recognises the duplicate by its
/// number).
#[derive(Debug)]
pub struct Post {
    path: String,
    body: Bytes,
    headers: Vec<(&'static str, String)>,
    /// The chunk's number.
    seq: u64,
    backoff: Backoff,
    error: Option<Head>,
}

impl Post {
    /// Posts `body`, chunk number `seq`, to `path` (which carries `seq`),
    /// retrying as `backoff` says.
    pub fn new(path: String, body: Bytes, seq: u64, backoff: Backoff) -> Self {
        Self {
            path,
            body,
            headers: Vec::new(),
            seq,
            backoff,
            error: None,
        }
    }

    /// The chunk's number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Sends `headers` with every attempt.
    pub fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Self {
        self.headers = headers;
        self
    }
}

impl Operation for Post {
    type Output = ();

    fn request(&mut self, _now: Instant) -> Result<Request, HttpError> {
        Ok(Request {
            method: Method::Post,
            path: self.path.clone(),
            body: Some((self.body.clone(), Content::Octets)),
            wait: Duration::ZERO,
            headers: self.headers.clone(),
        })
    }

    fn on_head(&mut self, head: &Head, _now: Instant, _unit: f64) -> AfterHead<()> {
        if head.is_success() {
            return AfterHead::Step(Step::Done(()));
        }
        self.error = Some(head.clone());
        AfterHead::ReadBody {
            limit: MAX_ERROR_BODY,
        }
    }

    fn on_body(&mut self, body: Body, now: Instant, unit: f64) -> Step<()> {
        let head = self.error.take().unwrap_or_default();
        refusal(&mut self.backoff, &head, &body, self.seq, now, unit)
    }

    fn on_no_answer(&mut self, why: String, now: Instant, unit: f64) -> Step<()> {
        retry(&mut self.backoff, now, why, None, unit)
    }
}

impl Joined {
    /// The operation that sends `chunk` to party `p` as its next message; the
    /// number is taken now, so the next call sends the message after it
    /// (whether or not this one was stored yet).
    pub fn send(
        &mut self,
        p: usize,
        chunk: Bytes,
        info: &SendInfo,
        retry: RetryPolicy,
    ) -> Result<Post, HttpError> {
        let path = self.send_target(p, chunk.len())?;
        let headers = self.headers();
        let seq = self.take_send_number(p)?;
        Ok(Post::new(
            path,
            chunk,
            seq,
            Backoff::new(retry, p, format!("sending {info}")),
        )
        .with_headers(headers))
    }
}

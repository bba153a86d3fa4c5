//! [`Post`]: one numbered chunk sent until the server has stored it.

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
/// number), then advances the sender's counter.
#[derive(Debug)]
pub struct Post<'a> {
    path: String,
    body: Bytes,
    headers: Vec<(&'static str, String)>,
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
            headers: Vec::new(),
            next,
            backoff,
            error: None,
        }
    }
}

impl Post<'_> {
    /// Sends `headers` with every attempt.
    pub fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Self {
        self.headers = headers;
        self
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
            headers: self.headers.clone(),
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
        refusal(&mut self.backoff, &head, &body, *self.next, now, unit)
    }

    fn on_no_answer(&mut self, why: String, now: Instant, unit: f64) -> Step<()> {
        retry(&mut self.backoff, now, why, None, unit)
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
        let headers = self.headers();
        let next = self.send_slot(p)?;
        Ok(Post::new(
            path,
            chunk,
            next,
            Backoff::new(retry, p, format!("sending {info}")),
        )
        .with_headers(headers))
    }
}

//! [`Poll`]: a chunk from a peer, long-polled from the relay.
//!
//! A `Poll` owns what it needs, so a client may keep several in flight (for
//! the next chunks of a link, each acknowledging only what was received);
//! the client advances its counter with [`Joined::received`] once the chunk
//! is in.

use std::time::Duration;

use channel_core::RecvInfo;
use web_time::Instant;

use super::{AfterHead, Method, Operation, Request, Step, refusal, retry};
use crate::answer::{Body, Head};
use crate::backoff::Backoff;
use crate::joined::oversized;
use crate::protocol::MAX_ERROR_BODY;
use crate::protocol::recv_path;
use crate::{HttpError, Joined, RetryPolicy, TransportError};

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

/// Receives one chunk from a peer through the relay: long-polls until it
/// arrives or the receive timeout passes, retrying what is retryable, and
/// checks that the relay answers with the number asked for and within its
/// own body limit.
#[derive(Debug)]
pub struct Poll {
    session: String,
    max_body: usize,
    max_wait: Duration,
    headers: Vec<(&'static str, String)>,
    from: usize,
    seq: u64,
    /// What the request acknowledges (`None`: everything before `seq`).
    ack: Option<u64>,
    info: RecvInfo,
    timing: PollTiming,
    deadline: Instant,
    /// Time left at the last request, which caps retry delays.
    left: Duration,
    backoff: Backoff,
    /// The head of the answer whose body is being read.
    head: Option<Head>,
}

impl Poll {
    fn new(
        joined: &Joined,
        from: usize,
        seq: u64,
        ack: Option<u64>,
        info: &RecvInfo,
        timing: PollTiming,
        now: Instant,
    ) -> Result<Self, HttpError> {
        Ok(Self {
            session: joined.session.clone(),
            max_body: joined.max_body,
            max_wait: joined.max_wait,
            headers: joined.headers(),
            from,
            seq,
            ack,
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
        Step::Fail(oversized(self.from, self.seq, bytes, self.max_body))
    }

    /// The chunk's number.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl Operation for Poll {
    type Output = Vec<u8>;

    fn request(&mut self, now: Instant) -> Result<Request, HttpError> {
        self.left = self.deadline.saturating_duration_since(now);
        if self.left.is_zero() {
            return Err(
                TransportError::timeout(self.from, self.timing.recv_timeout, &self.info).into(),
            );
        }
        let wait = self.left.min(self.max_wait).min(self.timing.poll_wait);
        let path = recv_path(
            &self.session,
            self.from,
            self.seq,
            self.ack,
            wait.as_millis() as u64,
        );
        Ok(Request {
            method: Method::Get,
            path,
            body: None,
            wait,
            headers: self.headers.clone(),
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
                Some(n) if n > self.max_body as u64 => AfterHead::Step(self.oversized(n)),
                _ => {
                    self.head = Some(head.clone());
                    AfterHead::ReadBody {
                        limit: self.max_body,
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
            return match refusal(&mut self.backoff, &head, &body, self.seq, now, unit) {
                Step::Retry(delay) => Step::Retry(delay.min(self.left)),
                other => other,
            };
        }
        match body {
            Body::Complete(chunk) if chunk.len() > self.max_body => {
                self.oversized(chunk.len() as u64)
            }
            Body::Complete(chunk) => Step::Done(chunk),
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
    /// The operation that receives the next message from party `from`,
    /// starting at `now`, acknowledging every message before it. Call
    /// [`received`](Joined::received) with its number once it is in.
    pub fn receive(
        &self,
        from: usize,
        info: &RecvInfo,
        timing: PollTiming,
        now: Instant,
    ) -> Result<Poll, HttpError> {
        let seq = self.next_from(from)?;
        Poll::new(self, from, seq, None, info, timing, now)
    }

    /// The operation that receives message `seq` from party `from`, which
    /// may not have been sent yet, acknowledging only the messages before
    /// `ack` (the oldest not yet received): one of several polls in flight.
    pub fn receive_ahead(
        &self,
        from: usize,
        seq: u64,
        ack: u64,
        info: &RecvInfo,
        timing: PollTiming,
        now: Instant,
    ) -> Result<Poll, HttpError> {
        channel_core::transport::check_peer(self.me, from, self.parties)?;
        Poll::new(self, from, seq, Some(ack), info, timing, now)
    }
}

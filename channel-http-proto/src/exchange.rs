//! The one loop that drives an [`Operation`] over an HTTP client: ask for the
//! request, perform it, feed the answer back, sleep or repeat as told. Each
//! client (reqwest natively, fetch in a browser) only says how to perform a
//! request, read a body within a limit and sleep, by implementing [`Http`].

use std::time::Duration;

use web_time::Instant;

use crate::HttpError;
use crate::answer::{Body, Head};
use crate::ops::{AfterHead, Operation, Request, Step};

/// Why a request got no answer.
#[derive(Debug)]
pub enum NoAnswer {
    /// The network failed (refused, cut, timed out): worth retrying.
    Network(String),
    /// The request cannot be made at all (e.g. a URL the client rejects):
    /// retrying cannot help.
    Unusable(HttpError),
}

/// What an HTTP client does for the protocol core.
///
/// The trait's futures carry no `Send` bound, so that a browser client whose
/// futures hold JavaScript values can implement it; a native client's
/// futures are `Send` whenever its own types are.
#[allow(async_fn_in_trait)] // No `Send` bound on purpose: browser futures are `!Send`.
pub trait Http {
    /// An answer whose head has arrived and whose body is still to be read.
    type Answer;

    /// Performs `request` and returns the answer once its head is in.
    async fn perform(&mut self, request: Request) -> Result<Self::Answer, NoAnswer>;

    /// The status and headers of `answer`.
    fn head(&self, answer: &Self::Answer) -> Head;

    /// Reads the body of `answer`, never more than `limit` bytes: a declared
    /// length beyond it is refused before reading.
    async fn read_body(&mut self, answer: Self::Answer, limit: usize) -> Body;

    /// Waits `delay` before the next attempt.
    async fn sleep(&mut self, delay: Duration);

    /// A uniform random number in [0, 1), for the retry jitter.
    fn unit_random(&mut self) -> f64;

    /// The current time.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Runs `op` to its end over `http`.
///
/// ```
/// use std::collections::VecDeque;
/// use std::time::Duration;
/// use channel_http_proto::answer::{Body, Head};
/// use channel_http_proto::exchange::{Http, NoAnswer, exchange};
/// use channel_http_proto::ops::{Request, Setup};
///
/// /// A scripted server: each request gets the next answer of the list.
/// struct Script(VecDeque<(u16, &'static str)>);
///
/// impl Http for Script {
///     type Answer = (u16, &'static str);
///     async fn perform(&mut self, _: Request) -> Result<Self::Answer, NoAnswer> {
///         self.0.pop_front().ok_or(NoAnswer::Network("connection refused".into()))
///     }
///     fn head(&self, answer: &Self::Answer) -> Head {
///         Head { status: answer.0, ..Head::default() }
///     }
///     async fn read_body(&mut self, answer: Self::Answer, limit: usize) -> Body {
///         Body::whole(answer.1.as_bytes().to_vec(), limit)
///     }
///     async fn sleep(&mut self, _: Duration) {}
///     fn unit_random(&mut self) -> f64 { 0.5 }
/// }
///
/// let info = r#"{"session":"ab","parties":2,"party":1,"max_body":4096,"max_wait_ms":100}"#;
/// let mut relay = Script(VecDeque::from([(200, info)]));
/// let op = Setup::join("http://relay", "ab", channel_http_proto::RetryPolicy::default());
/// let joined = futures::executor::block_on(exchange(&mut relay, op))?;
/// assert_eq!((joined.me, joined.parties), (1, 2));
/// # Ok::<(), channel_http_proto::HttpError>(())
/// ```
pub async fn exchange<O: Operation, H: Http + ?Sized>(
    http: &mut H,
    mut op: O,
) -> Result<O::Output, HttpError> {
    // Bounded: every operation ends by its deadline (receives), its backoff's
    // give-up time (sends), or after one answer (set-up).
    loop {
        let request = op.request(http.now())?;
        let step = match http.perform(request).await {
            Err(NoAnswer::Unusable(e)) => return Err(e),
            Err(NoAnswer::Network(why)) => {
                let unit = http.unit_random();
                op.on_no_answer(why, http.now(), unit)
            }
            Ok(answer) => {
                let head = http.head(&answer);
                let unit = http.unit_random();
                match op.on_head(&head, http.now(), unit) {
                    AfterHead::Step(step) => step,
                    AfterHead::ReadBody { limit } => {
                        let body = http.read_body(answer, limit).await;
                        let unit = http.unit_random();
                        op.on_body(body, http.now(), unit)
                    }
                }
            }
        };
        match step {
            Step::Done(output) => return Ok(output),
            Step::Again => {}
            Step::Retry(delay) => http.sleep(delay).await,
            Step::Fail(e) => return Err(e),
        }
    }
}

//! `WasmChannel`: one browser party of a relay session, speaking the same HTTP
//! API, authentication, long-poll and exactly-once rules as the native client.

use std::time::Duration;

use channel_core::{Channel, RecvInfo, SendInfo};
use channel_http::backoff::{Backoff, is_retryable_status};
use channel_http::protocol::{
    CreateSession, ErrorBody, HEADER_SEQ, Joined, SessionCreated, SessionInfo, base_url, oversized,
    session_path, sessions_path,
};
use channel_http::{HttpError, RetryPolicy, TransportError};
use gloo_net::http::{Request, Response};
use web_time::Instant;

/// Options of a browser party; every field has a sensible default.
#[derive(Debug, Clone)]
pub struct WasmOptions {
    /// How long a receive waits for a message before a timeout error.
    pub recv_timeout: Duration,
    /// Retries on network errors and retryable statuses (with browser timers).
    pub retry: RetryPolicy,
    /// Longest wait asked of the relay per long-poll (the relay may grant less).
    pub poll_wait: Duration,
    /// The largest message the `channel_core` helpers send or accept.
    pub max_message_size: usize,
}

impl Default for WasmOptions {
    fn default() -> Self {
        Self {
            recv_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            poll_wait: Duration::from_millis(channel_http::protocol::DEFAULT_MAX_WAIT_MS),
            max_message_size: 256 << 20,
        }
    }
}

/// One party of a relay session, in a browser: implements the async [`Channel`]
/// with `!Send` futures (they hold JavaScript values).
///
/// ```no_run
/// # async fn demo() -> Result<(), channel_http::HttpError> {
/// use channel_wasm::{WasmChannel, WasmOptions};
///
/// let opts = WasmOptions::default();
/// let mut ch = WasmChannel::join("https://relay.example", "5f0c…", "a1b2…", &opts).await?;
/// channel_core::send_to(&mut ch, 1, "hello", &42u64).await.ok();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct WasmChannel {
    base: String,
    auth: String,
    /// The session, the limits and the sequence numbers.
    joined: Joined,
    options: WasmOptions,
}

/// A network failure of `fetch` (no HTTP answer at all).
fn network(e: gloo_net::Error) -> String {
    format!("network error: {e}")
}

/// The relay's explanation of a refusal.
async fn refusal(response: &Response) -> String {
    match response.text().await {
        Ok(text) => serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or(text),
        Err(e) => format!("(no readable body: {e})"),
    }
}

/// An unsuccessful answer: worth retrying (why, and the relay's `Retry-After`),
/// or the refusal itself. The same rule as the native client's `classify`.
async fn classify(
    r: &Response,
    party: usize,
    during: &str,
) -> Result<(String, Option<Duration>), HttpError> {
    if is_retryable_status(r.status()) {
        let at_least = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        Ok((
            format!("HTTP {}: {}", r.status(), refusal(r).await),
            at_least,
        ))
    } else {
        Err(HttpError::Refused {
            party,
            during: during.to_string(),
            status: r.status(),
            message: refusal(r).await,
        })
    }
}

/// The JSON body of a set-up answer with status `expected`, or a set-up error
/// naming what was being done (`during`) and the relay's explanation.
async fn json_answer<T: serde::de::DeserializeOwned>(
    sent: Result<Response, gloo_net::Error>,
    base: &str,
    expected: u16,
    during: &str,
) -> Result<T, HttpError> {
    let response =
        sent.map_err(|e| HttpError::Setup(format!("cannot reach the relay at {base}: {e}")))?;
    if response.status() != expected {
        return Err(HttpError::Setup(format!(
            "{during}: HTTP {}: {}",
            response.status(),
            refusal(&response).await
        )));
    }
    let text = response
        .text()
        .await
        .map_err(|e| HttpError::Protocol(e.to_string()))?;
    serde_json::from_str(&text)
        .map_err(|e| HttpError::Protocol(format!("{during}: a bad answer: {e}")))
}

/// A uniform number in [0, 1) for backoff jitter.
fn unit_random() -> f64 {
    js_sys::Math::random()
}

impl WasmChannel {
    /// Creates a session of `parties` parties; the answer holds one token per party.
    pub async fn create_session(
        relay_url: &str,
        parties: usize,
        operator_token: Option<&str>,
    ) -> Result<SessionCreated, HttpError> {
        let base = base_url(relay_url)?;
        let body = serde_json::to_string(&CreateSession { parties })
            .map_err(|e| HttpError::Setup(e.to_string()))?;
        let mut request = Request::post(&format!("{base}{}", sessions_path()))
            .header("content-type", "application/json");
        if let Some(token) = operator_token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let request = request
            .body(body)
            .map_err(|e| HttpError::Setup(e.to_string()))?;
        json_answer(request.send().await, &base, 201, "creating a session").await
    }

    /// Joins `session` as the party that `token` belongs to.
    pub async fn join(
        relay_url: &str,
        session: &str,
        token: &str,
        options: &WasmOptions,
    ) -> Result<Self, HttpError> {
        let base = base_url(relay_url)?;
        let auth = format!("Bearer {token}");
        let sent = Request::get(&format!("{base}{}", session_path(session)))
            .header("authorization", &auth)
            .send()
            .await;
        let info: SessionInfo = json_answer(sent, &base, 200, "joining the session").await?;
        Ok(Self {
            base,
            auth,
            joined: info.joined()?,
            options: options.clone(),
        })
    }

    /// This party's index (from its token).
    pub fn party(&self) -> usize {
        self.joined.me
    }

    /// The number of parties in the session.
    pub fn parties(&self) -> usize {
        self.joined.parties
    }
}

impl Channel for WasmChannel {
    type SendError = HttpError;
    type RecvError = HttpError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), HttpError> {
        let url = format!("{}{}", self.base, self.joined.send_target(p, msg.len())?);
        let during = format!("sending {info}");
        let mut backoff = Backoff::new(self.options.retry);
        // Bounded: the backoff gives up after `retry.give_up_after`.
        loop {
            let body = js_sys::Uint8Array::from(msg.as_slice());
            let sent = Request::post(&url)
                .header("authorization", &self.auth)
                .header("content-type", "application/octet-stream")
                .body(body)
                .map_err(|e| HttpError::Setup(e.to_string()))?
                .send()
                .await;
            let (why, at_least) = match sent {
                Ok(r) if (200..300).contains(&r.status()) => break,
                Ok(r) => classify(&r, p, &during).await?,
                Err(e) => (network(e), None),
            };
            let delay = backoff.failed(why, unit_random(), at_least, p, &during)?;
            gloo_timers::future::sleep(delay).await;
        }
        self.joined.sent(p)
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        let seq = self.joined.next_from(p)?;
        let during = format!("receiving {info}");
        let deadline = Instant::now() + self.options.recv_timeout;
        let mut backoff = Backoff::new(self.options.retry);
        // Bounded by `deadline`: each pass is a long-poll or a backoff sleep.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::timeout(p, self.options.recv_timeout, &info).into());
            }
            // (gloo-net has no request timeout; the relay ends the long-poll.)
            let (path, _) = self
                .joined
                .poll_target(p, seq, left, self.options.poll_wait);
            let url = format!("{}{path}", self.base);
            let got = Request::get(&url)
                .header("authorization", &self.auth)
                .send()
                .await;
            let (why, at_least) = match got {
                Ok(r) if r.status() == 204 => {
                    backoff.reset();
                    continue;
                }
                Ok(r) if r.status() == 200 => {
                    let got_seq = r
                        .headers()
                        .get(HEADER_SEQ)
                        .and_then(|v| v.parse::<u64>().ok());
                    if got_seq != Some(seq) {
                        return Err(HttpError::Protocol(format!(
                            "asked party {p}'s message {seq}, got {got_seq:?}"
                        )));
                    }
                    // The browser reads the whole body: refuse a declared length
                    // beyond the relay's own limit first, and check what came.
                    let declared = r
                        .headers()
                        .get("content-length")
                        .and_then(|v| v.parse::<u64>().ok());
                    if let Some(n) = declared.filter(|&n| n > self.joined.max_body as u64) {
                        return Err(oversized(p, seq, n, self.joined.max_body));
                    }
                    match r.binary().await {
                        Ok(body) if body.len() > self.joined.max_body => {
                            return Err(oversized(p, seq, body.len() as u64, self.joined.max_body));
                        }
                        Ok(body) => {
                            self.joined.received(p)?;
                            return Ok(body);
                        }
                        Err(e) => (network(e), None),
                    }
                }
                Ok(r) => classify(&r, p, &during).await?,
                Err(e) => (network(e), None),
            };
            let delay = backoff.failed(why, unit_random(), at_least, p, &during)?;
            gloo_timers::future::sleep(delay.min(left)).await;
        }
    }

    fn chunk_size(&self) -> usize {
        self.joined.chunk_size()
    }

    fn max_message_size(&self) -> usize {
        self.options.max_message_size
    }
}

//! `HttpChannel`: one party of a relay session.

use bytes::Bytes;
use channel_core::{Channel, RecvInfo, SendInfo};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use tokio::time::Instant;

use super::body::{BodyError, read_limited};
use super::retry::{Retryable, classify, describe, unit_random};
use super::{ClientOptions, post_with_retries};
use crate::backoff::Backoff;
use crate::protocol::{
    CreateSession, HEADER_SEQ, SessionCreated, SessionInfo, session_path, sessions_path,
};
use crate::protocol::{Joined, base_url, oversized};
use crate::{HttpError, TransportError};

/// One party of a relay session, implementing the async [`Channel`].
///
/// Create a session once ([`HttpChannel::create_session`]), hand each party its
/// token, and let each party [`join`](HttpChannel::join):
///
/// ```
/// use channel_http::{HttpChannel, ClientOptions, relay::{Relay, RelayConfig}};
/// use channel_core::{recv_from, send_to};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let relay = Relay::new(RelayConfig::default());
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let url = format!("http://{}", listener.local_addr()?);
/// # tokio::spawn(channel_http::serve(listener, relay.router(), relay.shutdown_signal()));
/// let opts = ClientOptions::default();
/// let session = HttpChannel::create_session(&url, 2, None, &opts).await?;
/// let mut alice = HttpChannel::join(&url, &session.session, &session.tokens[0], &opts).await?;
/// let mut bob = HttpChannel::join(&url, &session.session, &session.tokens[1], &opts).await?;
///
/// send_to(&mut alice, 1, "greeting", &"hello bob").await?;
/// let got: String = recv_from(&mut bob, 0, "greeting").await?;
/// assert_eq!(got, "hello bob");
/// # Ok(())
/// # }
/// ```
///
/// Sends return once the relay has stored the chunk, so they never wait for the
/// peer to read (as long as the relay's per-session bound holds a round's traffic).
/// Every request is retried on connection errors and on `429`/`502`/`503`/`504`
/// with capped exponential backoff and jitter; sequence numbers make the retries
/// exactly-once. A receive long-polls until the message arrives, up to
/// [`ClientOptions::recv_timeout`].
#[derive(Debug)]
pub struct HttpChannel {
    client: reqwest::Client,
    base: String,
    auth: HeaderValue,
    /// The session, the limits and the sequence numbers.
    joined: Joined,
    options: ClientOptions,
}

impl HttpChannel {
    /// Creates a session of `parties` parties on the relay at `relay_url`; the
    /// answer holds one token per party. `operator_token` is needed when the relay
    /// was started with one.
    pub async fn create_session(
        relay_url: &str,
        parties: usize,
        operator_token: Option<&str>,
        options: &ClientOptions,
    ) -> Result<SessionCreated, HttpError> {
        let base = base_url(relay_url)?;
        let client = options.http_client()?;
        let mut request = client
            .post(format!("{base}{}", sessions_path()))
            .timeout(options.request_timeout)
            .json(&CreateSession { parties });
        if let Some(token) = operator_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            HttpError::Setup(format!(
                "cannot reach the relay at {base}: {}",
                describe(&e)
            ))
        })?;
        if response.status() != StatusCode::CREATED {
            return Err(match classify(response, 0, "creating a session").await {
                Retryable::No(e) => e,
                Retryable::Yes(why, _) => HttpError::Setup(format!("creating a session: {why}")),
            });
        }
        response
            .json()
            .await
            .map_err(|e| HttpError::Protocol(format!("bad session answer: {}", describe(&e))))
    }

    /// Joins `session` as the party that `token` belongs to.
    pub async fn join(
        relay_url: &str,
        session: &str,
        token: &str,
        options: &ClientOptions,
    ) -> Result<Self, HttpError> {
        let base = base_url(relay_url)?;
        let client = options.http_client()?;
        let auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            HttpError::Setup("the token contains characters not allowed in a header".into())
        })?;
        let response = client
            .get(format!("{base}{}", session_path(session)))
            .header(AUTHORIZATION, auth.clone())
            .timeout(options.request_timeout)
            .send()
            .await
            .map_err(|e| {
                HttpError::Setup(format!(
                    "cannot reach the relay at {base}: {}",
                    describe(&e)
                ))
            })?;
        if !response.status().is_success() {
            return Err(match classify(response, 0, "joining the session").await {
                Retryable::No(e) => e,
                Retryable::Yes(why, _) => HttpError::Setup(format!("joining the session: {why}")),
            });
        }
        let info: SessionInfo = response
            .json()
            .await
            .map_err(|e| HttpError::Protocol(format!("bad session info: {}", describe(&e))))?;
        Ok(Self {
            client,
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

    /// The session id.
    pub fn session(&self) -> &str {
        &self.joined.session
    }
}

impl Channel for HttpChannel {
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
        post_with_retries(
            &self.client,
            &url,
            &self.auth,
            Bytes::from(msg),
            self.options.retry,
            self.options.request_timeout,
            p,
            &during,
        )
        .await?;
        self.joined.sent(p)
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        let seq = self.joined.next_from(p)?;
        let during = format!("receiving {info}");
        let deadline = Instant::now() + self.options.recv_timeout;
        let mut backoff = Backoff::new(self.options.retry);
        // Bounded by `deadline` (and by the backoff's own give-up time).
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::timeout(p, self.options.recv_timeout, &info).into());
            }
            let (path, wait) = self
                .joined
                .poll_target(p, seq, left, self.options.poll_wait);
            let url = format!("{}{path}", self.base);
            let sent = self
                .client
                .get(&url)
                .header(AUTHORIZATION, self.auth.clone())
                .timeout(wait + self.options.request_timeout)
                .send()
                .await;
            let failure = match sent {
                Ok(response) if response.status() == StatusCode::NO_CONTENT => {
                    backoff.reset();
                    continue;
                }
                Ok(response) if response.status() == StatusCode::OK => {
                    let got_seq = response
                        .headers()
                        .get(HEADER_SEQ)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    if got_seq != Some(seq) {
                        return Err(HttpError::Protocol(format!(
                            "asked party {p}'s message {seq}, got {got_seq:?}"
                        )));
                    }
                    match read_limited(response, self.joined.max_body).await {
                        Ok(body) => {
                            self.joined.received(p)?;
                            return Ok(body);
                        }
                        Err(BodyError::TooLarge(n)) => {
                            return Err(oversized(p, seq, n, self.joined.max_body));
                        }
                        // Cut mid-body: ask again, the relay still holds it.
                        Err(BodyError::Cut(e)) => (describe(&e), None),
                    }
                }
                Ok(response) => match classify(response, p, &during).await {
                    Retryable::Yes(why, at_least) => (why, at_least),
                    Retryable::No(e) => return Err(e),
                },
                Err(e) => (describe(&e), None),
            };
            let delay = backoff.failed(failure.0, unit_random(), failure.1, p, &during)?;
            tokio::time::sleep(delay.min(left)).await;
        }
    }

    fn chunk_size(&self) -> usize {
        self.joined.chunk_size()
    }

    fn max_message_size(&self) -> usize {
        self.options.max_message_size
    }
}

//! `HttpChannel`: the relay party of the protocol core (`channel_http_proto`)
//! on reqwest.

use channel_http_proto::Joined;
use channel_http_proto::RelayParty;
use channel_http_proto::exchange::exchange;
use channel_http_proto::ops::{Operation, Request};
use channel_http_proto::party::{Client, Done};
use channel_http_proto::socket::{SocketLink, SocketTarget};
use reqwest::header::HeaderValue;

use super::{ClientOptions, ReqwestServer};
use crate::HttpError;

/// One party of a relay session, implementing the async
/// [`Channel`](channel_core::Channel), sealed end to end: the protocol core's
/// [`RelayParty`] on reqwest.
///
/// Each party makes its key; the coordinating application collects the public
/// keys and [`invite`](HttpChannel::invite)s the parties (creating the session);
/// each party [`join`](HttpChannel::join)s with its invitation and its key:
///
/// ```
/// use channel_http::{HttpChannel, ClientOptions, relay::{Relay, RelayConfig}};
/// use channel_core::{recv_from, send_to};
/// use channel_seal::PartyKey;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let relay = Relay::new(RelayConfig::default());
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let url = format!("http://{}", listener.local_addr()?);
/// # tokio::spawn(channel_http::serve(listener, relay.router(), relay.shutdown_signal()));
/// let (alice_key, bob_key) = (PartyKey::generate()?, PartyKey::generate()?);
/// let opts = ClientOptions::default();
/// let invitations =
///     HttpChannel::invite(&url, &[alice_key.public(), bob_key.public()], None, &opts).await?;
/// // Both join at once: joining runs the handshake between them.
/// let (alice, bob) = tokio::join!(
///     HttpChannel::join(&invitations[0], &alice_key, &opts),
///     HttpChannel::join(&invitations[1], &bob_key, &opts),
/// );
/// let (mut alice, mut bob) = (alice?, bob?);
///
/// send_to(&mut alice, 1, "greeting", &"hello bob").await?;
/// let got: String = recv_from(&mut bob, 0, "greeting").await?;
/// assert_eq!(got, "hello bob");
/// # Ok(())
/// # }
/// ```
///
/// Sends return once the chunk's request is under way (up to
/// [`SENDS_IN_FLIGHT`](channel_http_proto::party::SENDS_IN_FLIGHT) per peer,
/// each on a tokio task), so they never wait for the peer to read and a long
/// path stays busy; call [`flush`](channel_core::Channel::flush) before the
/// party's work ends to wait until the relay stored everything. A failed send
/// is reported by a later send or by `flush`. Receives keep
/// [`POLLS_AHEAD`](channel_http_proto::party::POLLS_AHEAD) long-polls in
/// flight per peer for the next messages. Every request is retried on
/// connection errors and on `429`/`502`/`503`/`504` with capped exponential
/// backoff and jitter; sequence numbers make the retries exactly-once. A
/// receive waits up to [`ClientOptions::recv_timeout`]; joining waits as long
/// for the other parties.
pub type HttpChannel = RelayParty<ReqwestRelay>;

/// A relay as reqwest reaches it: the client behind [`HttpChannel`]. Cheap
/// to clone (reqwest's client is shared), so each background request owns one.
#[derive(Debug, Clone)]
pub struct ReqwestRelay {
    client: reqwest::Client,
    base: String,
    auth: Option<HeaderValue>,
    token: Option<String>,
    timeout: std::time::Duration,
    /// What the WebSocket needs of the options.
    connect_timeout: std::time::Duration,
    retry: channel_http_proto::RetryPolicy,
    roots: Vec<Vec<u8>>,
}

channel_http_proto::party_options!(ClientOptions);

/// A heartbeat task on the tokio runtime; it stops when this is dropped.
#[derive(Debug)]
pub struct HeartbeatTask(tokio::task::AbortHandle);

impl Drop for HeartbeatTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Client for ReqwestRelay {
    type Options = ClientOptions;
    type Http<'a> = ReqwestServer<'a>;
    type Heartbeat = HeartbeatTask;

    fn heartbeat(&self, request: Request, every: std::time::Duration) -> Option<HeartbeatTask> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let relay = self.clone();
        let task = runtime.spawn(async move {
            let mut server = relay.http();
            // Ends when the party drops its channel (the task is aborted).
            loop {
                tokio::time::sleep(every).await;
                // A failed beat is retried at the next one; the relay needs only some.
                let _ =
                    channel_http_proto::exchange::Http::perform(&mut server, request.clone()).await;
            }
        });
        Some(HeartbeatTask(task.abort_handle()))
    }

    fn background(&self) -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }

    fn goodbye(&self, request: Request) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!(
                "no tokio runtime to say goodbye on; the relay will notice the silence"
            );
            return;
        };
        let relay = self.clone();
        runtime.spawn(async move {
            let mut server = relay.http();
            let _ = channel_http_proto::exchange::Http::perform(&mut server, request).await;
        });
    }

    fn start<O>(&self, op: O, mut done: Done<O::Output>, abandon: bool)
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let _ = done.send(Err(HttpError::Setup(
                "no tokio runtime to run the request on".into(),
            )));
            return;
        };
        let relay = self.clone();
        runtime.spawn(async move {
            let mut server = relay.http();
            let work = std::pin::pin!(exchange(&mut server, op));
            let result = if abandon {
                let unwanted = std::pin::pin!(done.cancellation());
                match futures::future::select(work, unwanted).await {
                    futures::future::Either::Left((result, _)) => result,
                    // Nobody waits for it any more.
                    futures::future::Either::Right(((), _)) => return,
                }
            } else {
                work.await
            };
            let _ = done.send(result);
        });
    }

    fn new(base: &str, token: Option<&str>, options: &ClientOptions) -> Result<Self, HttpError> {
        let auth = token
            .map(|token| {
                HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    HttpError::Setup("the token contains characters not allowed in a header".into())
                })
            })
            .transpose()?;
        Ok(Self {
            client: options.http_client()?,
            base: base.to_string(),
            auth,
            token: token.map(str::to_string),
            timeout: options.request_timeout,
            connect_timeout: options.connect_timeout,
            retry: options.retry,
            roots: options.root_certificates_pem.clone(),
        })
    }

    async fn open_socket(
        &self,
        joined: &Joined,
        link: SocketLink,
        insist: bool,
    ) -> Result<(), HttpError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(HttpError::Setup(
                "no tokio runtime to drive the WebSocket on".into(),
            ));
        }
        let at = SocketTarget::new(&self.base, self.token.as_deref(), joined)?;
        let tls = if at.url.starts_with("wss://") {
            let options = ClientOptions {
                root_certificates_pem: self.roots.clone(),
                ..ClientOptions::default()
            };
            Some(options.socket_tls()?)
        } else {
            None
        };
        let target = super::socket::Target {
            at,
            tls,
            connect_timeout: self.connect_timeout,
            silent_for: self.timeout,
            retry: self.retry,
        };
        super::socket::open(target, link, insist).await
    }

    fn http(&self) -> ReqwestServer<'_> {
        ReqwestServer::new(&self.client, &self.base, self.auth.as_ref(), self.timeout)
    }
}

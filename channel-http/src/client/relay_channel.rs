//! `HttpChannel`: the relay party of the protocol core (`channel_http_proto`)
//! on reqwest.

use channel_http_proto::RelayParty;
use channel_http_proto::party::Client;
use reqwest::header::HeaderValue;

use super::{ClientOptions, ReqwestServer};
use crate::HttpError;

/// One party of a relay session, implementing the async
/// [`Channel`](channel_core::Channel): the protocol core's [`RelayParty`] on reqwest.
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
pub type HttpChannel = RelayParty<ReqwestRelay>;

/// A relay as reqwest reaches it: the client behind [`HttpChannel`].
#[derive(Debug)]
pub struct ReqwestRelay {
    client: reqwest::Client,
    base: String,
    auth: Option<HeaderValue>,
    timeout: std::time::Duration,
}

channel_http_proto::party_options!(ClientOptions);

impl Client for ReqwestRelay {
    type Options = ClientOptions;
    type Http<'a> = ReqwestServer<'a>;

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
            timeout: options.request_timeout,
        })
    }

    fn http(&self) -> ReqwestServer<'_> {
        ReqwestServer {
            client: &self.client,
            base: &self.base,
            auth: self.auth.as_ref(),
            timeout: self.timeout,
        }
    }
}

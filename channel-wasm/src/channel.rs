//! `WasmChannel`: one browser party of a relay session, speaking the same HTTP
//! API, authentication, long-poll and exactly-once rules as the native client.

use std::time::Duration;

use channel_http_proto::Joined;
use channel_http_proto::ops::{Operation, Request};
use channel_http_proto::party::{Client, Done};
use channel_http_proto::socket::{RelayTransport, SocketLink, SocketTarget};
use channel_http_proto::{HttpError, RelayParty, RetryPolicy};

use crate::fetch::FetchRelay;

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
    /// How the party carries its chunks: the relay's WebSocket where it can
    /// be opened (the default), or only one of the two ways.
    pub transport: RelayTransport,
}

impl Default for WasmOptions {
    fn default() -> Self {
        Self {
            recv_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            poll_wait: Duration::from_millis(channel_http_proto::protocol::DEFAULT_MAX_WAIT_MS),
            max_message_size: 256 << 20,
            transport: RelayTransport::Auto,
        }
    }
}

channel_http_proto::party_options!(WasmOptions);

/// One party of a relay session, in a browser: implements the async
/// [`Channel`](channel_core::Channel) with `!Send` futures (they hold
/// JavaScript values). It is the protocol core's [`RelayParty`] on the
/// browser's fetch, the same party as the native `channel_http::HttpChannel`.
///
/// Sealed end to end like the native party: it joins with its invitation
/// (from the application that coordinates the session) and its own key.
///
/// ```no_run
/// # async fn demo(invitation_text: &str, key_hex: &str) -> Result<(), channel_wasm::HttpError> {
/// use channel_wasm::{Invitation, PartyKey, WasmChannel, WasmOptions};
///
/// let invitation = Invitation::from_text(invitation_text)?;
/// let key = PartyKey::from_hex(key_hex)?;
/// let mut ch = WasmChannel::join(&invitation, &key, &WasmOptions::default()).await?;
/// channel_core::send_to(&mut ch, 1, "hello", &42u64).await.ok();
/// # Ok(())
/// # }
/// ```
pub type WasmChannel = RelayParty<FetchClient>;

/// A relay as the browser's fetch reaches it: the client behind [`WasmChannel`].
#[derive(Debug, Clone)]
pub struct FetchClient {
    base: String,
    auth: Option<String>,
    token: Option<String>,
    retry: RetryPolicy,
}

/// A heartbeat loop on the browser's event loop; it stops when this is dropped.
#[derive(Debug)]
pub struct Heartbeat(std::rc::Rc<std::cell::Cell<bool>>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

impl Client for FetchClient {
    type Options = WasmOptions;
    type Http<'a> = FetchRelay<'a>;
    type Heartbeat = Heartbeat;

    fn heartbeat(&self, request: Request, every: Duration) -> Option<Heartbeat> {
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let (stopped, client) = (stop.clone(), self.clone());
        wasm_bindgen_futures::spawn_local(async move {
            // Ends when the party drops its channel (the flag is set).
            while !stopped.get() {
                crate::fetch::sleep(every).await;
                if stopped.get() {
                    break;
                }
                let mut relay = client.http();
                // A failed beat is retried at the next one.
                let _ =
                    channel_http_proto::exchange::Http::perform(&mut relay, request.clone()).await;
            }
        });
        Some(Heartbeat(stop))
    }

    /// One request at a time: a browser allows six connections per host over
    /// HTTP/1.1, which long-polls in flight would take.
    fn background(&self) -> bool {
        false
    }

    fn goodbye(&self, request: Request) {
        let client = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = channel_http_proto::exchange::Http::perform(&mut client.http(), request).await;
        });
    }

    fn start<O>(&self, _op: O, done: Done<O::Output>, _abandon: bool)
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let _ = done.send(Err(HttpError::Setup(
            "this client runs one request at a time".into(),
        )));
    }

    fn new(base: &str, token: Option<&str>, options: &WasmOptions) -> Result<Self, HttpError> {
        Ok(Self {
            base: base.to_string(),
            auth: token.map(|token| format!("Bearer {token}")),
            token: token.map(str::to_string),
            retry: options.retry,
        })
    }

    async fn open_socket(
        &self,
        joined: &Joined,
        link: SocketLink,
        insist: bool,
    ) -> Result<(), HttpError> {
        let target = crate::socket::Target {
            at: SocketTarget::new(&self.base, self.token.as_deref(), joined)?,
            retry: self.retry,
        };
        crate::socket::open(target, link, insist).await
    }

    /// Work on the page's event loop goes on after the party is dropped.
    fn keeps_running(&self) -> bool {
        true
    }

    fn http(&self) -> FetchRelay<'_> {
        FetchRelay {
            base: &self.base,
            auth: self.auth.as_deref(),
        }
    }
}

//! The relay's WebSocket (API 1.4): one full-duplex connection per party,
//! which carries every chunk in both directions, pipelined, with the same
//! numbers, acknowledgements and limits as the HTTP routes.
//!
//! - [`wire`]: the frames and the opening handshake.
//! - [`core`]: the sans-IO state of one party's socket ([`SocketCore`]).
//! - [`SocketLink`]: that state shared between the application (a
//!   [`RelayParty`](crate::RelayParty)'s sends and receives, which wait on
//!   it) and the driver that owns the real WebSocket (native:
//!   tokio-tungstenite; browser: `web_sys::WebSocket`). The driver writes what
//!   [`SocketCore::poll_transmit`] gives, feeds every frame that arrives to
//!   [`SocketCore::on_frame`], and reconnects when the connection drops.
//!
//! ```
//! use channel_http_proto::socket::{SocketLink, core::{Queued, SocketCore}};
//! use channel_http_proto::socket::wire::Welcome;
//! use web_time::Instant;
//!
//! let link = SocketLink::new(SocketCore::new(0, &[0, 0], &[0, 0], 1024, 1 << 20));
//! link.with(|core| core.on_welcome(&Welcome { next_send: vec![0, 0], max_body: 1024 })).unwrap();
//! assert_eq!(link.with(|core| core.queue(1, b"hi")).unwrap(), Queued::Yes);
//! // The driver's side: the frame to write.
//! assert!(link.with(|core| core.poll_transmit(Instant::now())).is_some());
//! ```

pub mod core;
pub mod driver;
pub mod wire;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

pub use self::core::{Fatal, Queued, SocketCore};

/// Which way a relay party carries its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayTransport {
    /// The WebSocket, or the HTTP long-poll routes where the WebSocket cannot
    /// be opened (a proxy that refuses the upgrade, an older relay).
    #[default]
    Auto,
    /// The WebSocket only: joining fails if it cannot be opened.
    WebSocket,
    /// The HTTP routes only (one request per chunk, long-polls to receive).
    LongPoll,
}

/// Bytes per peer and direction between acknowledgements, by default: a
/// send returns once its chunk is queued within this window.
pub const DEFAULT_WINDOW: usize = 8 << 20;

/// The URL of the WebSocket of `session` on the relay at `base` (`http://`
/// becomes `ws://`, `https://` `wss://`).
///
/// ```
/// use channel_http_proto::socket::socket_url;
///
/// assert_eq!(socket_url("https://relay.example:8443", "ab").unwrap(), "wss://relay.example:8443/v1/sessions/ab/socket");
/// assert!(socket_url("ftp://x", "ab").is_err());
/// ```
pub fn socket_url(base: &str, session: &str) -> Result<String, crate::HttpError> {
    let path = crate::protocol::socket_path(session);
    if let Some(rest) = base.strip_prefix("https://") {
        Ok(format!("wss://{rest}{path}"))
    } else if let Some(rest) = base.strip_prefix("http://") {
        Ok(format!("ws://{rest}{path}"))
    } else {
        Err(crate::HttpError::Setup(format!(
            "no WebSocket URL for {base}"
        )))
    }
}

/// Where and as whom a party's socket connects: what every driver takes
/// from the party's join.
#[derive(Debug, Clone)]
pub struct SocketTarget {
    /// `ws://host:port/v1/sessions/{s}/socket` (or `wss://`).
    pub url: String,
    /// The party's token, sent in the hello.
    pub token: String,
    /// The join the socket belongs to.
    pub epoch: u64,
    /// The party.
    pub party: usize,
    /// The relay's body limit: the largest data frame is this plus its header.
    pub max_body: usize,
}

impl SocketTarget {
    /// The socket of the party `joined` describes, on the relay at `base`,
    /// holding `token`.
    pub fn new(
        base: &str,
        token: Option<&str>,
        joined: &crate::Joined,
    ) -> Result<Self, crate::HttpError> {
        let (Some(token), Some(epoch)) = (token, joined.epoch) else {
            return Err(crate::HttpError::Setup(
                "the relay speaks an API without the WebSocket".into(),
            ));
        };
        Ok(Self {
            url: socket_url(base, &joined.session)?,
            token: token.to_string(),
            epoch,
            party: joined.me,
            max_body: joined.max_body,
        })
    }
}

/// A [`SocketCore`] shared by the application and the driver.
#[derive(Debug, Clone)]
pub struct SocketLink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    core: Mutex<SocketCore>,
    /// Woken when anything the application waits for may have changed.
    app: Notify,
    /// Woken when the driver may have something to write.
    driver: Notify,
}

impl SocketLink {
    /// Shares `core`.
    pub fn new(core: SocketCore) -> Self {
        Self {
            inner: Arc::new(Inner {
                core: Mutex::new(core),
                app: Notify::new(),
                driver: Notify::new(),
            }),
        }
    }

    /// Runs `f` on the state, then wakes both sides (whatever `f` changed).
    pub fn with<T>(&self, f: impl FnOnce(&mut SocketCore) -> T) -> T {
        let result = self.locked(f);
        self.inner.app.notify_waiters();
        result
    }

    /// Runs `f` on the state and wakes nobody (for the driver, which
    /// takes frames to write: nothing anyone waits for changes).
    pub fn driver<T>(&self, f: impl FnOnce(&mut SocketCore) -> T) -> T {
        let mut core = self
            .inner
            .core
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut core)
    }

    /// Runs `f` on the state and wakes the driver only (the application's
    /// own change: a chunk queued or taken).
    fn locked<T>(&self, f: impl FnOnce(&mut SocketCore) -> T) -> T {
        let result = self.driver(f);
        self.inner.driver.notify_one();
        result
    }

    /// Waits until the driver may have something to write (for the driver).
    pub async fn work(&self) {
        self.inner.driver.notified().await;
    }

    /// Waits until `f` gives `Some` or an error, re-checking whenever the
    /// state changes; `None` once `deadline` resolves first.
    pub async fn wait<T>(
        &self,
        deadline: impl Future<Output = ()>,
        mut f: impl FnMut(&mut SocketCore) -> Result<Option<T>, crate::HttpError>,
    ) -> Result<Option<T>, crate::HttpError> {
        let mut deadline = std::pin::pin!(deadline);
        // Bounded by `deadline`: every pass either returns or waits for a change.
        loop {
            let changed = self.inner.app.notified();
            let mut changed = std::pin::pin!(changed);
            // Register before looking, so a change between look and wait is not missed.
            changed.as_mut().enable();
            if let Some(done) = self.locked(&mut f)? {
                return Ok(Some(done));
            }
            match futures::future::select(changed, deadline.as_mut()).await {
                futures::future::Either::Left(_) => {}
                futures::future::Either::Right(_) => return Ok(None),
            }
        }
    }
}

//! The relay: an HTTP server that routes messages between the parties of many
//! concurrent sessions.
//!
//! A session has a fixed number of parties, each holding a secret token bound to
//! (session, party). A party can only send as itself and only receive what was
//! sent to it. Messages are numbered per (sender, receiver); the relay stores each
//! number once and drops a message only when its receiver asks for the next one,
//! so retries on either side never lose or duplicate anything. Receiving is a
//! long-poll: the request waits until the message arrives or the wait ends.
//!
//! ```
//! use channel_http::relay::{Relay, RelayConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let relay = Relay::new(RelayConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(channel_http::serve(listener, relay.router(), relay.shutdown_signal()));
//! // ... parties connect to http://{addr} ...
//! # let _ = addr;
//! relay.shutdown();
//! server.await??;
//! # Ok(())
//! # }
//! ```
//!
//! Every route, header and status code is documented in the crate's `API.md`.

mod config;
mod handlers;
mod metrics;
mod rate;
mod redis;
mod session;
mod sessions;
mod socket;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware;
use axum::routing::{get, post};
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::guard;
use crate::protocol::{HEADER_DUPLICATE, HEADER_EPOCH, HEADER_SEQ};
use sessions::Sessions;

pub use crate::protocol::SessionStats;
pub use config::{ConfigError, RelayConfig};
pub use sessions::StoreError;

/// Where a relay keeps its sessions. (Its `Debug` hides a password in the URL.)
#[derive(Clone, PartialEq, Eq, Default)]
pub enum RelayStore {
    /// This process's memory: nothing survives the process, and only this
    /// process serves its sessions.
    #[default]
    Memory,
    /// A Redis that every relay process on it with the same `namespace`
    /// shares: any of them serves any session, and a restart loses nothing.
    /// A standalone Redis or one with replicas; not Redis Cluster.
    Redis {
        /// `redis://host:port/db` (`rediss://` for TLS).
        url: String,
        /// The prefix of the relay's keys: relays with the same one serve
        /// the same sessions ([`RelayStore::NAMESPACE`] by default).
        namespace: String,
    },
}

impl std::fmt::Debug for RelayStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayStore::Memory => f.write_str("Memory"),
            RelayStore::Redis { url, namespace } => f
                .debug_struct("Redis")
                .field("url", &RelayStore::shown(url))
                .field("namespace", namespace)
                .finish(),
        }
    }
}

impl RelayStore {
    /// `url` without the credentials it may carry (`redis://user:secret@host`).
    pub fn shown(url: &str) -> String {
        match (url.split_once("://"), url.rfind('@')) {
            (Some((scheme, _)), Some(at)) => format!("{scheme}://<credentials>{}", &url[at..]),
            _ => url.to_string(),
        }
    }

    /// The key prefix of `channel-relay --store redis://...` by default.
    pub const NAMESPACE: &'static str = "channel-relay";

    /// The Redis at `url`, in the default namespace.
    pub fn redis(url: impl Into<String>) -> Self {
        RelayStore::Redis {
            url: url.into(),
            namespace: Self::NAMESPACE.into(),
        }
    }
}

/// A relay: its configuration and live sessions. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Relay {
    inner: Arc<RelayState>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct RelayState {
    config: RelayConfig,
    /// The sessions, in their store.
    sessions: Sessions,
    /// Session creations left in this second's allowance.
    creations: Mutex<rate::Bucket>,
    shutdown: watch::Sender<bool>,
    metrics: metrics::Metrics,
}

impl Relay {
    /// A relay with no sessions yet. (Check a hand-made `config` with
    /// [`RelayConfig::check`] first: the relay serves with what it is given.)
    pub fn new(config: RelayConfig) -> Self {
        let sessions = Sessions::memory(&config);
        Self::with_sessions(config, sessions)
    }

    /// A relay keeping its sessions in `store`: in this process's memory, or
    /// in a Redis shared with other relay processes (which then serve the
    /// same sessions; see the crate's README). Fails if the store cannot be
    /// reached.
    ///
    /// ```
    /// use channel_http::relay::{Relay, RelayConfig, RelayStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), channel_http::relay::StoreError> {
    /// let relay = Relay::with_store(RelayConfig::default(), &RelayStore::Memory).await?;
    /// // RelayStore::redis("redis://127.0.0.1:6379/0") for one shared by relays.
    /// # let _ = relay;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn with_store(config: RelayConfig, store: &RelayStore) -> Result<Self, StoreError> {
        let sessions = match store {
            RelayStore::Memory => Sessions::memory(&config),
            RelayStore::Redis { url, namespace } => {
                Sessions::redis(url, namespace, &config).await?
            }
        };
        Ok(Self::with_sessions(config, sessions))
    }

    fn with_sessions(config: RelayConfig, sessions: Sessions) -> Self {
        Self {
            inner: Arc::new(RelayState {
                creations: Mutex::new(rate::Bucket::new(config.create_per_second)),
                sessions,
                config,
                shutdown: watch::channel(false).0,
                metrics: metrics::Metrics::new(),
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    /// The relay's routes, ready to serve or to nest into a larger application.
    pub fn router(&self) -> Router {
        let config = &self.inner.config;
        let max_body = config.max_body;
        let mut router = Router::new()
            .route("/health", get(handlers::health))
            .route("/metrics", get(metrics::scrape))
            .route("/v1/sessions", post(handlers::create_session))
            .route(
                "/v1/sessions/{session}",
                get(handlers::session_info).delete(handlers::delete_session),
            )
            .route("/v1/sessions/{session}/stats", get(handlers::session_stats))
            .route("/v1/sessions/{session}/alive", post(handlers::alive))
            .route("/v1/sessions/{session}/leave", post(handlers::leave))
            .route("/v1/sessions/{session}/to/{party}", post(handlers::send))
            .route("/v1/sessions/{session}/from/{party}", get(handlers::recv))
            .route("/v1/sessions/{session}/socket", get(socket::upgrade))
            .fallback(handlers::not_found)
            .layer(DefaultBodyLimit::max(config.max_body))
            .layer(middleware::from_fn(move |request, next| {
                guard::bounds(max_body, request, next)
            }))
            .layer(middleware::from_fn(guard::json_errors_and_logs))
            .layer(middleware::from_fn_with_state(
                self.clone(),
                metrics::count_answers,
            ))
            .with_state(self.clone());
        if let Some(cors) = cors_layer(&config.cors_origins) {
            router = router.layer(cors);
        }
        router
    }

    /// Ends pending long-polls (they answer `503`, which clients retry) and makes
    /// [`shutdown_signal`](Self::shutdown_signal) resolve.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Resolves once [`shutdown`](Self::shutdown) was called; pass it to [`crate::serve`].
    pub fn shutdown_signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.shutdown.subscribe();
        async move {
            // An error means the relay is gone, which is a shutdown too.
            let _ = rx.wait_for(|down| *down).await;
        }
    }

    /// Live sessions right now.
    pub async fn session_count(&self) -> usize {
        self.inner
            .sessions
            .census()
            .await
            .map_or(0, |(sessions, _)| sessions)
    }

    /// Statistics of one session, if it exists.
    pub async fn session_stats(&self, session: &str) -> Option<SessionStats> {
        let found = self.inner.sessions.find(session).await.ok()??;
        found.stats(self.inner.config.max_session_bytes).await.ok()
    }

    /// The sessions, in their store.
    fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// Runs one operation on a session's store, timing it for the metrics.
    async fn timed<T>(&self, operation: &'static str, run: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = run.await;
        self.metrics().store_took(operation, started.elapsed());
        result
    }

    /// Bytes stored over all sessions right now.
    pub async fn stored_bytes(&self) -> usize {
        self.inner.sessions.held_bytes().await.unwrap_or(0)
    }

    /// Takes one session creation from the allowance, or says when to retry.
    fn may_create(&self) -> Result<(), Duration> {
        self.inner
            .creations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(Instant::now())
    }

    fn shutdown_signal_receiver(&self) -> watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static(HEADER_EPOCH),
            ])
            .expose_headers([
                HeaderName::from_static(HEADER_SEQ),
                HeaderName::from_static(HEADER_DUPLICATE),
                header::RETRY_AFTER,
            ])
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stores_debug_output_never_shows_a_password() {
        let store = RelayStore::redis("redis://relay:s3cr3t@10.0.0.5:6379/2");
        let shown = format!("{store:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("redis://<credentials>@10.0.0.5:6379/2"),
            "{shown}"
        );
        assert_eq!(
            RelayStore::shown("redis://127.0.0.1/0"),
            "redis://127.0.0.1/0"
        );
    }

    #[test]
    fn debug_output_never_shows_the_operator_token() {
        let config = RelayConfig {
            operator_token: Some("s3cr3t-operator".into()),
            ..RelayConfig::default()
        };
        let shown = format!("{:?}", Relay::new(config));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("operator_token: Some(\"<set>\")"), "{shown}");
    }
}

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

mod handlers;
mod session;

use std::collections::HashMap;
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
use crate::protocol::{DEFAULT_MAX_BODY, DEFAULT_MAX_WAIT_MS, HEADER_DUPLICATE, HEADER_SEQ};
use session::Session;

pub use crate::protocol::SessionStats;

/// The relay's limits and policies. Every field has a safe default.
///
/// Its `Debug` output shows whether an operator token is set, never the token.
#[derive(Clone)]
pub struct RelayConfig {
    /// Largest request body (one chunk plus its frame footer), in bytes.
    pub max_body: usize,
    /// Bytes a session may hold unacknowledged; a send beyond it gets `429` and
    /// retries later. It must hold one round's traffic of the protocol.
    pub max_session_bytes: usize,
    /// Live sessions at most; creating one more gets `503`.
    pub max_sessions: usize,
    /// Parties per session at most.
    pub max_parties: usize,
    /// A session without any request for this long is deleted.
    pub session_idle: Duration,
    /// Longest long-poll wait granted to a receive.
    pub max_wait: Duration,
    /// If set, creating, deleting and inspecting sessions needs this bearer token.
    /// If not, anyone who can reach the relay can create sessions.
    pub operator_token: Option<String>,
    /// Origins allowed to call the relay from a browser (`*` for any). Empty: no CORS.
    pub cors_origins: Vec<String>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            max_session_bytes: 1 << 30,
            max_sessions: 1000,
            max_parties: 256,
            session_idle: Duration::from_secs(600),
            max_wait: Duration::from_millis(DEFAULT_MAX_WAIT_MS),
            operator_token: None,
            cors_origins: Vec::new(),
        }
    }
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            max_body,
            max_session_bytes,
            max_sessions,
            max_parties,
            session_idle,
            max_wait,
            operator_token,
            cors_origins,
        } = self;
        f.debug_struct("RelayConfig")
            .field("max_body", max_body)
            .field("max_session_bytes", max_session_bytes)
            .field("max_sessions", max_sessions)
            .field("max_parties", max_parties)
            .field("session_idle", session_idle)
            .field("max_wait", max_wait)
            .field("operator_token", &operator_token.as_ref().map(|_| "<set>"))
            .field("cors_origins", cors_origins)
            .finish()
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
            .field("sessions", &self.lock_sessions().len())
            .finish_non_exhaustive()
    }
}

struct RelayState {
    config: RelayConfig,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    last_sweep: Mutex<Instant>,
    shutdown: watch::Sender<bool>,
}

impl Relay {
    /// A relay with no sessions yet.
    pub fn new(config: RelayConfig) -> Self {
        Self {
            inner: Arc::new(RelayState {
                config,
                sessions: Mutex::new(HashMap::new()),
                last_sweep: Mutex::new(Instant::now()),
                shutdown: watch::channel(false).0,
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
            .route("/v1/sessions", post(handlers::create_session))
            .route(
                "/v1/sessions/{session}",
                get(handlers::session_info).delete(handlers::delete_session),
            )
            .route("/v1/sessions/{session}/stats", get(handlers::session_stats))
            .route("/v1/sessions/{session}/to/{party}", post(handlers::send))
            .route("/v1/sessions/{session}/from/{party}", get(handlers::recv))
            .fallback(handlers::not_found)
            .layer(DefaultBodyLimit::max(config.max_body))
            .layer(middleware::from_fn(move |request, next| {
                guard::bounds(max_body, request, next)
            }))
            .layer(middleware::from_fn(guard::json_errors_and_logs))
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
    pub fn session_count(&self) -> usize {
        self.sweep();
        self.lock_sessions().len()
    }

    /// Statistics of one session, if it exists.
    pub fn session_stats(&self, session: &str) -> Option<SessionStats> {
        let found = self.lock_sessions().get(session).cloned();
        found.map(|s| s.stats(self.inner.config.max_session_bytes))
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sweep();
        self.lock_sessions().get(id).cloned()
    }

    /// Deletes idle sessions, at most once a second (cheap enough to do inline).
    fn sweep(&self) {
        {
            let mut last = self
                .inner
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.elapsed() < Duration::from_secs(1) {
                return;
            }
            *last = Instant::now();
        }
        let idle = self.inner.config.session_idle;
        self.lock_sessions().retain(|_, s| s.idle_for() < idle);
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
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
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

//! The relay's limits and policies, and their checks.

use std::time::Duration;

use crate::protocol::{DEFAULT_MAX_BODY, DEFAULT_MAX_WAIT_MS, MAX_RELAY_BODY, MAX_SESSION_PARTIES};

/// The relay's limits and policies. Every field has a safe default; check a
/// configuration made by hand with [`check`](Self::check) (`channel-relay`
/// refuses to start with one that fails it).
///
/// Its `Debug` output shows whether an operator token is set, never the token.
#[derive(Clone)]
pub struct RelayConfig {
    /// Largest request body (one chunk plus its frame footer), in bytes.
    pub max_body: usize,
    /// Bytes a session may hold unacknowledged; a send beyond it gets `429` and
    /// retries later. It must hold one round's traffic of the protocol.
    pub max_session_bytes: usize,
    /// Bytes the whole relay holds unacknowledged, over all sessions; a send
    /// beyond it gets `503` with `Retry-After`.
    pub max_total_bytes: usize,
    /// Live sessions at most; creating one more gets `503`.
    pub max_sessions: usize,
    /// Parties per session at most.
    pub max_parties: usize,
    /// A session without any request for this long is deleted.
    pub session_idle: Duration,
    /// A session that no party joined within this long after it was created
    /// is deleted (so sessions made and abandoned do not fill the relay).
    pub unjoined_ttl: Duration,
    /// Longest long-poll wait granted to a receive.
    pub max_wait: Duration,
    /// A party not heard from for this long (no request, no heartbeat, no
    /// long-poll waiting) is gone: its peers' receives from it fail with
    /// "party p is gone" instead of waiting for their timeout. Clients send a
    /// heartbeat well within it.
    pub peer_gone_after: Duration,
    /// Sessions created per second at most (a burst of twice as many is allowed).
    pub create_per_second: u32,
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
            max_total_bytes: 4 << 30,
            max_sessions: 1000,
            max_parties: 256,
            session_idle: Duration::from_secs(600),
            unjoined_ttl: Duration::from_secs(120),
            max_wait: Duration::from_millis(DEFAULT_MAX_WAIT_MS),
            peer_gone_after: Duration::from_secs(20),
            create_per_second: 20,
            operator_token: None,
            cors_origins: Vec::new(),
        }
    }
}

impl RelayConfig {
    /// Checks that the limits fit together and that clients will accept them.
    ///
    /// ```
    /// use channel_http::relay::RelayConfig;
    /// use std::time::Duration;
    ///
    /// assert!(RelayConfig::default().check().is_ok());
    /// let idle_zero = RelayConfig { session_idle: Duration::ZERO, ..RelayConfig::default() };
    /// let err = idle_zero.check().unwrap_err();
    /// assert_eq!(err.field, "session_idle");
    /// assert!(err.to_string().contains("session idle"));
    /// ```
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |field: &'static str, message: String| Err(ConfigError { field, message });
        let min_body = channel_core::frame::FOOTER_LEN + 1;
        if !(min_body..=MAX_RELAY_BODY).contains(&self.max_body) {
            return bad(
                "max_body",
                format!(
                    "the body limit must be between {min_body} and {MAX_RELAY_BODY} bytes (clients refuse more), not {}",
                    self.max_body
                ),
            );
        }
        if self.max_session_bytes < self.max_body {
            return bad(
                "max_session_bytes",
                format!(
                    "a session's bound of {} bytes cannot hold one chunk of {} bytes (the body limit)",
                    self.max_session_bytes, self.max_body
                ),
            );
        }
        if self.max_total_bytes < self.max_session_bytes {
            return bad(
                "max_total_bytes",
                format!(
                    "the relay-wide bound of {} bytes is below one session's bound of {}",
                    self.max_total_bytes, self.max_session_bytes
                ),
            );
        }
        if !(2..=MAX_SESSION_PARTIES).contains(&self.max_parties) {
            return bad(
                "max_parties",
                format!(
                    "parties per session must be between 2 and {MAX_SESSION_PARTIES} (clients refuse more), not {}",
                    self.max_parties
                ),
            );
        }
        if self.max_sessions == 0 {
            return bad(
                "max_sessions",
                "the relay must allow at least one session".into(),
            );
        }
        if self.max_wait < Duration::from_millis(100) {
            return bad(
                "max_wait",
                format!(
                    "the long-poll wait of {:?} would make clients poll in a loop; at least 100 ms",
                    self.max_wait
                ),
            );
        }
        if self.session_idle <= self.max_wait {
            return bad(
                "session_idle",
                format!(
                    "the session idle time of {:?} must be longer than the long-poll wait of {:?}, or \
                 waiting parties lose their session",
                    self.session_idle, self.max_wait
                ),
            );
        }
        if self.unjoined_ttl.is_zero() {
            return bad(
                "unjoined_ttl",
                "sessions must live at least a moment before anyone joins them".into(),
            );
        }
        if self.peer_gone_after <= self.max_wait.min(Duration::from_secs(5)) {
            return bad(
                "peer_gone_after",
                format!(
                    "a party is gone after {:?} of silence: too short for the heartbeats of clients \
                 (at least 5 s and more than the long-poll wait)",
                    self.peer_gone_after
                ),
            );
        }
        if self.create_per_second == 0 {
            return bad(
                "create_per_second",
                "sessions must be creatable: at least 1 per second".into(),
            );
        }
        Ok(())
    }
}

/// A relay configuration that does not hold together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// The [`RelayConfig`] field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            max_body,
            max_session_bytes,
            max_total_bytes,
            max_sessions,
            max_parties,
            session_idle,
            unjoined_ttl,
            max_wait,
            peer_gone_after,
            create_per_second,
            operator_token,
            cors_origins,
        } = self;
        f.debug_struct("RelayConfig")
            .field("max_body", max_body)
            .field("max_session_bytes", max_session_bytes)
            .field("max_total_bytes", max_total_bytes)
            .field("max_sessions", max_sessions)
            .field("max_parties", max_parties)
            .field("session_idle", session_idle)
            .field("unjoined_ttl", unjoined_ttl)
            .field("max_wait", max_wait)
            .field("peer_gone_after", peer_gone_after)
            .field("create_per_second", create_per_second)
            .field("operator_token", &operator_token.as_ref().map(|_| "<set>"))
            .field("cors_origins", cors_origins)
            .finish()
    }
}

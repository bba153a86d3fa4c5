//! The wire of the HTTP API, shared by the relay, the direct-mode endpoint and
//! every client (native and browser): paths, headers, JSON bodies, limits, and
//! the checks of a relay's answers.
//!
//! See `channel-http`'s `API.md` for the full description of every route,
//! header and status, with `curl` examples.

use serde::{Deserialize, Serialize};

use crate::HttpError;

/// The most parties a session may have, whatever a relay is configured with:
/// clients keep per-party state sized by the relay's answer, so they bound it.
pub const MAX_SESSION_PARTIES: usize = 1 << 16;

/// The largest request body a client accepts a relay to announce (and so the
/// most it reads for one message).
pub const MAX_RELAY_BODY: usize = 1 << 30;

/// `url` without trailing slashes, if it is an `http://` or `https://` URL.
///
/// ```
/// use channel_http_proto::protocol::base_url;
///
/// assert_eq!(base_url(" https://relay.example/ ").unwrap(), "https://relay.example");
/// assert!(base_url("relay.example").is_err());
/// ```
pub fn base_url(url: &str) -> Result<String, HttpError> {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        Ok(trimmed.to_string())
    } else {
        Err(HttpError::Setup(format!(
            "'{url}' is not an http:// or https:// URL"
        )))
    }
}

/// Header carrying a message's sequence number in a relay answer.
pub const HEADER_SEQ: &str = "x-seq";
/// Header set to `true` when a sent message was a duplicate of one already stored.
pub const HEADER_DUPLICATE: &str = "x-duplicate";
/// Header carrying the join a request comes from (`SessionInfo::epoch`): a
/// server refuses requests of an older join with `412`.
pub const HEADER_EPOCH: &str = "x-epoch";
/// Header naming the sending party in direct mode.
pub const HEADER_FROM: &str = "x-from";

/// Header carrying the seconds after which a retry may succeed.
pub const HEADER_RETRY_AFTER: &str = "retry-after";
/// Header carrying a body's declared length.
pub const HEADER_CONTENT_LENGTH: &str = "content-length";

/// The most bytes of an error answer a client reads (error bodies are small JSON).
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// The most bytes of a set-up answer (session created, session info) a client
/// reads: enough for [`MAX_SESSION_PARTIES`] tokens.
pub const MAX_SETUP_BODY: usize = 16 << 20;

/// Default maximum request body: one chunk of channel-core's default size plus its footer.
pub const DEFAULT_MAX_BODY: usize =
    channel_core::DEFAULT_CHUNK_SIZE + channel_core::frame::FOOTER_LEN;
/// Default longest wait of a long-poll receive on the relay, in milliseconds.
pub const DEFAULT_MAX_WAIT_MS: u64 = 20_000;

/// How far ahead of a link's next chunk in order a server holds chunks (a
/// sender's requests in flight may overtake each other), and how far beyond
/// its acknowledgement (`ack`) a receiver may ask: clients keep fewer requests
/// of one link in flight than this.
pub const MAX_AHEAD: u64 = 64;

/// `POST /v1/sessions` request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateSession {
    /// Number of parties in the session (at least 2).
    pub parties: usize,
}

/// `POST /v1/sessions` answer: the session id and one secret token per party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCreated {
    /// The session id (public; appears in URLs).
    pub session: String,
    /// Number of parties.
    pub parties: usize,
    /// `tokens[i]` authenticates party `i`; hand each party only its own.
    pub tokens: Vec<String>,
    /// Largest request body the relay accepts, in bytes.
    pub max_body: usize,
}

impl SessionCreated {
    /// Checks a relay's answer before a client hands its tokens out: at most
    /// [`MAX_SESSION_PARTIES`] parties, and one token for each.
    ///
    /// ```
    /// use channel_http_proto::protocol::SessionCreated;
    ///
    /// let created = SessionCreated { session: "s".into(), parties: 2, tokens: vec!["a".into(), "b".into()], max_body: 1024 };
    /// assert!(created.clone().checked().is_ok());
    /// assert!(SessionCreated { tokens: vec!["a".into()], ..created }.checked().is_err());
    /// ```
    pub fn checked(self) -> Result<Self, HttpError> {
        if self.parties > MAX_SESSION_PARTIES || self.tokens.len() != self.parties {
            return Err(HttpError::Protocol(format!(
                "the relay created a session of {} parties with {} tokens",
                self.parties,
                self.tokens.len()
            )));
        }
        Ok(self)
    }
}

/// `GET /v1/sessions/{session}` answer: who the caller is, the relay's limits,
/// and (from API 1.1) where the caller's links stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
    pub session: String,
    /// Number of parties.
    pub parties: usize,
    /// The caller's party index (from its token).
    pub party: usize,
    /// Largest request body the relay accepts, in bytes.
    pub max_body: usize,
    /// Longest long-poll wait the relay grants, in milliseconds.
    pub max_wait_ms: u64,
    /// The number of this join (1 for the first): requests carry it in
    /// `x-epoch`, and those of an older join are refused with `412`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    /// Per peer: the number the relay expects next from the caller (0 on a
    /// first join; more when the caller joins again after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_send: Option<Vec<u64>>,
    /// Per peer: the number of the oldest message from it the caller has not
    /// acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_recv: Option<Vec<u64>>,
    /// How often the caller should tell the relay it is alive
    /// (`POST /v1/sessions/{session}/alive`), in milliseconds; a party silent
    /// for about four times as long is reported gone to its peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
}

impl SessionInfo {
    /// The answer of an API 1.0 relay: no join number, no positions, no heartbeat.
    pub fn new(
        session: impl Into<String>,
        parties: usize,
        party: usize,
        max_body: usize,
        max_wait_ms: u64,
    ) -> Self {
        Self {
            session: session.into(),
            parties,
            party,
            max_body,
            max_wait_ms,
            epoch: None,
            next_send: None,
            next_recv: None,
            heartbeat_ms: None,
        }
    }

    /// Checks a relay's answer before a client sizes anything by it: at most
    /// [`MAX_SESSION_PARTIES`] parties, the caller one of them, and a body limit
    /// that can hold a frame and is at most [`MAX_RELAY_BODY`].
    ///
    /// ```
    /// use channel_http_proto::protocol::SessionInfo;
    ///
    /// let info = SessionInfo::new("s", 3, 1, 1 << 20, 100);
    /// assert!(info.clone().checked().is_ok());
    /// assert!(SessionInfo { parties: 1 << 40, ..info.clone() }.checked().is_err());
    /// assert!(SessionInfo { max_body: 1 << 40, ..info.clone() }.checked().is_err());
    /// assert!(SessionInfo { party: 3, ..info.clone() }.checked().is_err());
    /// assert!(SessionInfo { next_send: Some(vec![0; 2]), ..info }.checked().is_err());
    /// ```
    pub fn checked(self) -> Result<Self, HttpError> {
        if self.parties == 0 || self.parties > MAX_SESSION_PARTIES {
            return Err(HttpError::Protocol(format!(
                "the relay announced {} parties; a session has 1 to {MAX_SESSION_PARTIES}",
                self.parties
            )));
        }
        if self.party >= self.parties {
            return Err(HttpError::Protocol(format!(
                "the relay made us party {} of only {}",
                self.party, self.parties
            )));
        }
        for (what, positions) in [
            ("next_send", &self.next_send),
            ("next_recv", &self.next_recv),
        ] {
            if let Some(positions) = positions
                && positions.len() != self.parties
            {
                return Err(HttpError::Protocol(format!(
                    "the relay gave {} positions in {what} for {} parties",
                    positions.len(),
                    self.parties
                )));
            }
        }
        if self.max_body <= channel_core::frame::FOOTER_LEN || self.max_body > MAX_RELAY_BODY {
            return Err(HttpError::Protocol(format!(
                "the relay's body limit of {} bytes is outside {} to {MAX_RELAY_BODY}",
                self.max_body,
                channel_core::frame::FOOTER_LEN + 1
            )));
        }
        Ok(self)
    }
}

/// `GET /v1/sessions/{session}/stats` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStats {
    /// Number of parties.
    pub parties: usize,
    /// Bytes stored and not yet acknowledged by their receivers.
    pub queued_bytes: usize,
    /// The most bytes ever stored at once in this session.
    pub peak_queued_bytes: usize,
    /// The relay's per-session bound.
    pub max_session_bytes: usize,
    /// Messages accepted (duplicates not counted).
    pub messages: u64,
    /// Resent messages recognised as duplicates and not stored again.
    pub duplicates: u64,
    /// Sends refused with `429` because the session's bound was reached.
    pub throttled: u64,
}

/// `GET /health` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` while serving.
    pub status: String,
    /// Live sessions.
    pub sessions: usize,
}

/// Body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What was wrong with the request.
    pub error: String,
}

/// Path of the route that creates sessions.
pub fn sessions_path() -> String {
    "/v1/sessions".to_string()
}

/// Path of one session (info, delete).
pub fn session_path(session: &str) -> String {
    format!("/v1/sessions/{session}")
}

/// Path of a session's statistics.
pub fn stats_path(session: &str) -> String {
    format!("/v1/sessions/{session}/stats")
}

/// Path to which a party POSTs message `seq` for party `to`.
///
/// ```
/// assert_eq!(channel_http_proto::protocol::send_path("ab12", 2, 7), "/v1/sessions/ab12/to/2?seq=7");
/// ```
pub fn send_path(session: &str, to: usize, seq: u64) -> String {
    format!("/v1/sessions/{session}/to/{to}?seq={seq}")
}

/// Path from which a party GETs message `seq` sent by party `from`, waiting up to
/// `wait_ms` milliseconds. Asking for `seq` acknowledges every earlier message,
/// unless `ack` says less: then every message before `ack` (a receiver with
/// several requests in flight acknowledges the oldest it has not received).
///
/// ```
/// use channel_http_proto::protocol::recv_path;
/// assert_eq!(recv_path("ab", 1, 7, None, 500), "/v1/sessions/ab/from/1?seq=7&wait_ms=500");
/// assert_eq!(recv_path("ab", 1, 7, Some(5), 500), "/v1/sessions/ab/from/1?seq=7&ack=5&wait_ms=500");
/// ```
pub fn recv_path(session: &str, from: usize, seq: u64, ack: Option<u64>, wait_ms: u64) -> String {
    match ack {
        Some(ack) => {
            format!("/v1/sessions/{session}/from/{from}?seq={seq}&ack={ack}&wait_ms={wait_ms}")
        }
        None => format!("/v1/sessions/{session}/from/{from}?seq={seq}&wait_ms={wait_ms}"),
    }
}

/// Path of a party's WebSocket (API 1.4).
pub fn socket_path(session: &str) -> String {
    format!("/v1/sessions/{session}/socket")
}

/// Path to which a party POSTs that it is alive.
pub fn alive_path(session: &str) -> String {
    format!("/v1/sessions/{session}/alive")
}

/// Path to which a party POSTs its goodbye ([`Leave`]) when it closes its channel.
pub fn leave_path(session: &str) -> String {
    format!("/v1/sessions/{session}/leave")
}

/// A party's goodbye: it closed its channel. `sent[p]` is how many messages it
/// sent to party `p` (its next number towards `p`; 0 for itself), so the relay
/// answers a receive from it with `424` once those are taken, and not before:
/// sends still in flight when the goodbye overtakes them are delivered first.
///
/// ```
/// use channel_http_proto::protocol::Leave;
///
/// let leave = Leave { sent: vec![0, 3, 1] };
/// let json = serde_json::to_string(&leave).unwrap();
/// assert_eq!(json, r#"{"sent":[0,3,1]}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leave {
    /// Per party: how many messages this party sent to it.
    pub sent: Vec<u64>,
}

/// Path to which party `from` POSTs, when it starts, to learn where its link
/// to a direct-mode endpoint stands ([`DirectPosition`]).
pub fn direct_join_path(from: usize) -> String {
    format!("/v1/direct/from/{from}/join")
}

/// Path to which party `from` POSTs its heartbeat in direct mode: it is
/// alive, whether or not it has anything to send.
pub fn direct_alive_path(from: usize) -> String {
    format!("/v1/direct/from/{from}/alive")
}

/// Path to which party `from` POSTs its goodbye to a direct-mode endpoint,
/// having sent `sent` messages to it.
///
/// ```
/// assert_eq!(channel_http_proto::protocol::direct_leave_path(2, 7), "/v1/direct/from/2/leave?sent=7");
/// ```
pub fn direct_leave_path(from: usize, sent: u64) -> String {
    format!("/v1/direct/from/{from}/leave?sent={sent}")
}

/// `POST /v1/direct/from/{party}/join` answer: where the link from `party` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectPosition {
    /// The number the endpoint expects next from the sender.
    pub next: u64,
    /// The number of this join: deliveries carry it in `x-epoch`, and those of
    /// an older join (a replaced process) are refused with `412`.
    pub epoch: u64,
}

/// Path to which party `from` POSTs message `seq` in direct mode.
pub fn direct_path(from: usize, seq: u64) -> String {
    format!("/v1/direct/from/{from}?seq={seq}")
}

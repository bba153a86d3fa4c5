//! The HTTP API shared by the relay, the direct-mode endpoint and every client
//! (native and browser): paths, headers, JSON bodies and the checks of a
//! relay's answers. This module has no dependency beyond serde, so a browser
//! client can use it with `default-features = false`.
//!
//! See the crate's `API.md` for the full description of every route, header and
//! status, with `curl` examples.

use serde::{Deserialize, Serialize};

use crate::HttpError;

/// The most parties a session may have, whatever a relay is configured with:
/// clients keep per-party state sized by the relay's answer, so they bound it.
pub const MAX_SESSION_PARTIES: usize = 1 << 16;

/// The largest request body a client accepts a relay to announce (and so the
/// most it reads for one message).
pub const MAX_RELAY_BODY: usize = 1 << 30;

/// Checks an outgoing chunk of `len` bytes from party `me` to party `p`: a peer
/// among `parties`, and within the body limit `max_body`. Shared by every client.
pub fn check_outgoing(
    me: usize,
    p: usize,
    parties: usize,
    len: usize,
    max_body: usize,
) -> Result<(), HttpError> {
    channel_core::transport::check_peer(me, p, parties)?;
    if len > max_body {
        return Err(HttpError::TooLarge {
            party: p,
            size: len,
            max: max_body,
        });
    }
    Ok(())
}

/// Party `p`'s counter in a client's per-party sequence numbers.
fn seq_slot(seqs: &mut [u64], p: usize) -> Result<&mut u64, HttpError> {
    seqs.get_mut(p).ok_or(closed(p))
}

/// The error for party `p`'s message `seq` arriving with `bytes` bytes, beyond
/// the relay's own announced body limit `max_body`.
pub fn oversized(p: usize, seq: u64, bytes: u64, max_body: usize) -> HttpError {
    HttpError::Protocol(format!(
        "party {p}'s message {seq} came with {bytes} bytes, more than the relay's own limit of {max_body}"
    ))
}

/// `url` without trailing slashes, if it is an `http://` or `https://` URL.
///
/// ```
/// use channel_http::protocol::base_url;
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
/// Header naming the sending party in direct mode.
pub const HEADER_FROM: &str = "x-from";

/// Default maximum request body: one chunk of channel-core's default size plus its footer.
pub const DEFAULT_MAX_BODY: usize =
    channel_core::DEFAULT_CHUNK_SIZE + channel_core::frame::FOOTER_LEN;
/// Default longest wait of a long-poll receive on the relay, in milliseconds.
pub const DEFAULT_MAX_WAIT_MS: u64 = 20_000;

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

/// `GET /v1/sessions/{session}` answer: who the caller is and the relay's limits.
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
}

impl SessionInfo {
    /// Checks a relay's answer before a client sizes anything by it: at most
    /// [`MAX_SESSION_PARTIES`] parties, the caller one of them, and a body limit
    /// that can hold a frame and is at most [`MAX_RELAY_BODY`].
    ///
    /// ```
    /// use channel_http::protocol::SessionInfo;
    ///
    /// let info = SessionInfo { session: "s".into(), parties: 3, party: 1, max_body: 1 << 20, max_wait_ms: 100 };
    /// assert!(info.clone().checked().is_ok());
    /// assert!(SessionInfo { parties: 1 << 40, ..info.clone() }.checked().is_err());
    /// assert!(SessionInfo { max_body: 1 << 40, ..info.clone() }.checked().is_err());
    /// assert!(SessionInfo { party: 3, ..info }.checked().is_err());
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

/// What a client keeps of the session it joined: who it is, the relay's limits,
/// and the next sequence number per peer in each direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The session id.
    pub session: String,
    /// The client's party index.
    pub me: usize,
    /// Number of parties.
    pub parties: usize,
    /// Largest request body the relay accepts, in bytes.
    pub max_body: usize,
    /// Longest long-poll wait the relay grants.
    pub max_wait: std::time::Duration,
    /// Per peer: the number of the next message to send it.
    pub next_send: Vec<u64>,
    /// Per peer: the number of the next message to take from it.
    pub next_recv: Vec<u64>,
}

impl Joined {
    /// Checks a chunk of `len` bytes for party `p` and returns the path of the
    /// request that stores it (the next message number towards `p`).
    pub fn send_target(&self, p: usize, len: usize) -> Result<String, HttpError> {
        check_outgoing(self.me, p, self.parties, len, self.max_body)?;
        let seq = self.next_send.get(p).copied().ok_or(closed(p))?;
        Ok(send_path(&self.session, p, seq))
    }

    /// Counts the chunk towards `p` as stored by the relay.
    pub fn sent(&mut self, p: usize) -> Result<(), HttpError> {
        *seq_slot(&mut self.next_send, p)? += 1;
        Ok(())
    }

    /// Checks `p` and returns the number of the next message to take from it.
    pub fn next_from(&self, p: usize) -> Result<u64, HttpError> {
        channel_core::transport::check_peer(self.me, p, self.parties)?;
        self.next_recv.get(p).copied().ok_or(closed(p))
    }

    /// The path of a long-poll for message `seq` from `p`, and how long it
    /// waits: at most `left`, the relay's `max_wait` and the client's `poll_wait`.
    pub fn poll_target(
        &self,
        p: usize,
        seq: u64,
        left: std::time::Duration,
        poll_wait: std::time::Duration,
    ) -> (String, std::time::Duration) {
        let wait = left.min(self.max_wait).min(poll_wait);
        (
            recv_path(&self.session, p, seq, wait.as_millis() as u64),
            wait,
        )
    }

    /// The largest chunk payload that fits the relay's body limit with its
    /// footer (at least 1; [`SessionInfo::checked`] keeps `max_body` above the footer).
    pub fn chunk_size(&self) -> usize {
        self.max_body
            .saturating_sub(channel_core::frame::FOOTER_LEN)
            .max(1)
    }

    /// Counts the message from `p` as taken.
    pub fn received(&mut self, p: usize) -> Result<(), HttpError> {
        *seq_slot(&mut self.next_recv, p)? += 1;
        Ok(())
    }
}

fn closed(p: usize) -> HttpError {
    HttpError::Transport(crate::TransportError::Closed { party: p })
}

impl SessionInfo {
    /// [`checked`](Self::checked), then the state a client starts with.
    pub fn joined(self) -> Result<Joined, HttpError> {
        let info = self.checked()?;
        Ok(Joined {
            session: info.session,
            me: info.party,
            parties: info.parties,
            max_body: info.max_body,
            max_wait: std::time::Duration::from_millis(info.max_wait_ms),
            next_send: vec![0; info.parties],
            next_recv: vec![0; info.parties],
        })
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
/// assert_eq!(channel_http::protocol::send_path("ab12", 2, 7), "/v1/sessions/ab12/to/2?seq=7");
/// ```
pub fn send_path(session: &str, to: usize, seq: u64) -> String {
    format!("/v1/sessions/{session}/to/{to}?seq={seq}")
}

/// Path from which a party GETs message `seq` sent by party `from`, waiting up to
/// `wait_ms` milliseconds. Asking for `seq` acknowledges every earlier message.
pub fn recv_path(session: &str, from: usize, seq: u64, wait_ms: u64) -> String {
    format!("/v1/sessions/{session}/from/{from}?seq={seq}&wait_ms={wait_ms}")
}

/// Path to which party `from` POSTs message `seq` in direct mode.
pub fn direct_path(from: usize, seq: u64) -> String {
    format!("/v1/direct/from/{from}?seq={seq}")
}

//! What a relay client keeps of the session it joined: who it is, the relay's
//! limits, and the number of the next message per peer in each direction.

use std::time::Duration;

use crate::protocol::{SessionInfo, send_path};
use crate::{HttpError, TransportError};

/// Checks an outgoing chunk of `len` bytes from party `me` to party `p`: a peer
/// among `parties`, and within the body limit `max_body`. Shared by every client.
///
/// ```
/// use channel_http_proto::{HttpError, check_outgoing};
///
/// assert!(check_outgoing(0, 1, 2, 100, 1024).is_ok());
/// use channel_core::transport::TransportError;
/// assert!(matches!(
///     check_outgoing(0, 1, 2, 2000, 1024),
///     Err(HttpError::Transport(TransportError::ChunkTooLarge { party: 1, .. }))
/// ));
/// assert!(check_outgoing(0, 0, 2, 1, 1024).is_err());
/// ```
pub fn check_outgoing(
    me: usize,
    p: usize,
    parties: usize,
    len: usize,
    max_body: usize,
) -> Result<(), HttpError> {
    channel_core::transport::check_peer(me, p, parties)?;
    if len > max_body {
        return Err(HttpError::Transport(TransportError::ChunkTooLarge {
            party: p,
            size: len,
            limit: max_body,
        }));
    }
    Ok(())
}

/// The error for party `p`'s message `seq` arriving with `bytes` bytes, beyond
/// the relay's own announced body limit `max_body`.
pub fn oversized(p: usize, seq: u64, bytes: u64, max_body: usize) -> HttpError {
    HttpError::Protocol(format!(
        "party {p}'s message {seq} came with {bytes} bytes, more than the relay's own limit of {max_body}"
    ))
}

pub(crate) fn closed(p: usize) -> HttpError {
    HttpError::Transport(TransportError::Closed { party: p })
}

/// A joined session: the client's side of the relay protocol's state.
///
/// Built from the relay's checked answer ([`SessionInfo::joined`]); the
/// operations in [`ops`](crate::ops) read and advance its numbers.
///
/// ```
/// use channel_http_proto::protocol::SessionInfo;
///
/// let info = SessionInfo::new("ab", 3, 1, 1 << 20, 500);
/// let joined = info.joined().unwrap();
/// assert_eq!(joined.send_target(2, 10).unwrap(), "/v1/sessions/ab/to/2?seq=0");
/// assert!(joined.send_target(1, 10).is_err()); // not to itself
/// assert_eq!(joined.chunk_size(), (1 << 20) - channel_core::frame::FOOTER_LEN);
/// ```
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
    pub max_wait: Duration,
    /// Per peer: the number of the next message to send it.
    pub next_send: Vec<u64>,
    /// Per peer: the number of the next message to take from it.
    pub next_recv: Vec<u64>,
    /// The number of this join, sent with every request (`x-epoch`) so that
    /// the relay refuses a replaced process; `None` with an API 1.0 relay.
    pub epoch: Option<u64>,
    /// How often to tell the relay this party is alive, if it asks.
    pub heartbeat: Option<Duration>,
}

impl Joined {
    /// Checks a chunk of `len` bytes for party `p` and returns the path of the
    /// request that stores it (the next message number towards `p`).
    pub fn send_target(&self, p: usize, len: usize) -> Result<String, HttpError> {
        check_outgoing(self.me, p, self.parties, len, self.max_body)?;
        let seq = self.next_send.get(p).copied().ok_or(closed(p))?;
        Ok(send_path(&self.session, p, seq))
    }

    /// Checks `p` and returns the number of the next message to take from it.
    pub fn next_from(&self, p: usize) -> Result<u64, HttpError> {
        channel_core::transport::check_peer(self.me, p, self.parties)?;
        self.next_recv.get(p).copied().ok_or(closed(p))
    }

    /// The largest chunk payload that fits the relay's body limit with its
    /// footer (at least 1; [`SessionInfo::checked`] keeps `max_body` above the footer).
    pub fn chunk_size(&self) -> usize {
        self.max_body
            .saturating_sub(channel_core::frame::FOOTER_LEN)
            .max(1)
    }

    /// Whether this party was in the session before (it joined again after a
    /// restart): some of its links have moved on already.
    pub fn resumes(&self) -> bool {
        self.next_send.iter().chain(&self.next_recv).any(|&n| n > 0)
    }

    /// The headers every request of this party carries.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        self.epoch
            .map(|e| vec![(crate::protocol::HEADER_EPOCH, e.to_string())])
            .unwrap_or_default()
    }

    /// Takes the number of the next message towards `p` (the counter moves on).
    pub(crate) fn take_send_number(&mut self, p: usize) -> Result<u64, HttpError> {
        let next = self.next_send.get_mut(p).ok_or(closed(p))?;
        let seq = *next;
        *next = next.saturating_add(1);
        Ok(seq)
    }

    /// Message `seq` from `p` was received: the next one to take is `seq + 1`.
    pub fn received(&mut self, p: usize, seq: u64) {
        if let Some(next) = self.next_recv.get_mut(p) {
            *next = (*next).max(seq.saturating_add(1));
        }
    }
}

impl SessionInfo {
    /// [`checked`](Self::checked), then the state a client starts with.
    pub fn joined(self) -> Result<Joined, HttpError> {
        let info = self.checked()?;
        Ok(Joined {
            me: info.party,
            parties: info.parties,
            max_body: info.max_body,
            max_wait: Duration::from_millis(info.max_wait_ms),
            next_send: info.next_send.unwrap_or_else(|| vec![0; info.parties]),
            next_recv: info.next_recv.unwrap_or_else(|| vec![0; info.parties]),
            epoch: info.epoch,
            // Between 1 s and a minute, whatever the relay says.
            heartbeat: info
                .heartbeat_ms
                .map(|ms| Duration::from_millis(ms.clamp(1_000, 60_000))),
            session: info.session,
        })
    }
}

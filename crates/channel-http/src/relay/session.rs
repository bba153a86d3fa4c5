//! One session on the relay: its parties' tokens and a mailbox per directed link.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use tokio::sync::Notify;

use crate::api_error::ApiError;
use crate::auth::same_secret;
use crate::mailbox::{Mailbox, Pushed};
use crate::protocol::SessionStats;

pub(crate) struct Session {
    pub(crate) parties: usize,
    tokens: Vec<String>,
    state: Mutex<State>,
    /// One per directed link (`from * parties + to`), woken when a message arrives.
    arrivals: Vec<Notify>,
}

struct State {
    links: Vec<Mailbox>,
    queued: usize,
    peak: usize,
    messages: u64,
    duplicates: u64,
    throttled: u64,
    last_active: Instant,
}

impl Session {
    pub(crate) fn new(tokens: Vec<String>) -> Self {
        let parties = tokens.len();
        Self {
            parties,
            tokens,
            state: Mutex::new(State {
                links: (0..parties * parties).map(|_| Mailbox::default()).collect(),
                queued: 0,
                peak: 0,
                messages: 0,
                duplicates: 0,
                throttled: 0,
                last_active: Instant::now(),
            }),
            arrivals: (0..parties * parties).map(|_| Notify::new()).collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.last_active = Instant::now();
        state
    }

    /// The party a token belongs to. Compares with every token, in constant time each.
    pub(crate) fn party_of(&self, token: &str) -> Option<usize> {
        self.tokens
            .iter()
            .enumerate()
            .fold(None, |found, (party, t)| {
                if same_secret(t, token) {
                    Some(party)
                } else {
                    found
                }
            })
    }

    pub(crate) fn idle_for(&self) -> Duration {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_active
            .elapsed()
    }

    pub(crate) fn stats(&self, max_session_bytes: usize) -> SessionStats {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        SessionStats {
            parties: self.parties,
            queued_bytes: state.queued,
            peak_queued_bytes: state.peak,
            max_session_bytes,
            messages: state.messages,
            duplicates: state.duplicates,
            throttled: state.throttled,
        }
    }

    /// The notifier of the link `from -> to`.
    pub(crate) fn arrivals(&self, from: usize, to: usize) -> Option<&Notify> {
        self.arrivals.get(from * self.parties + to)
    }

    /// Stores message `seq` from `from` to `to`, unless it is a duplicate.
    pub(crate) fn push(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        body: Bytes,
        max_session_bytes: usize,
    ) -> Result<Pushed, ApiError> {
        let mut state = self.lock();
        let state = &mut *state;
        let link = state
            .links
            .get_mut(from * self.parties + to)
            .ok_or_else(|| ApiError::bad_request("no such link"))?;
        let pushed = link.check_push(seq)?;
        if pushed == Pushed::Duplicate {
            state.duplicates += 1;
            return Ok(pushed);
        }
        let len = body.len();
        if state.queued.saturating_add(len) > max_session_bytes {
            state.throttled += 1;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "the session holds {} unacknowledged bytes; {len} more would exceed its bound of \
                     {max_session_bytes}: retry after the receivers catch up",
                    state.queued
                ),
            )
            .retry_after(1));
        }
        link.store(body);
        state.queued += len;
        state.peak = state.peak.max(state.queued);
        state.messages += 1;
        Ok(pushed)
    }

    /// Acknowledges everything before `seq` on `from -> to` and returns message
    /// `seq` if it has arrived.
    pub(crate) fn take(&self, from: usize, to: usize, seq: u64) -> Result<Option<Bytes>, ApiError> {
        let mut state = self.lock();
        let link = state
            .links
            .get_mut(from * self.parties + to)
            .ok_or_else(|| ApiError::bad_request("no such link"))?;
        let (msg, released) = link.ack_and_peek(seq)?;
        state.queued = state.queued.saturating_sub(released);
        Ok(msg)
    }
}

//! One session on the relay: its parties' tokens and the store of its chunks.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use channel_core::transport::QueueBudget;
use channel_core::transport::seq::Arrival;
use tokio::sync::Notify;

use crate::api_error::ApiError;
use crate::auth::same_secret;
use crate::protocol::SessionStats;
use crate::store::LinkStore;

pub(crate) struct Session {
    pub(crate) parties: usize,
    tokens: Vec<String>,
    created: Instant,
    /// Whether any party joined (read the session's info) yet.
    joined: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
    /// One per receiving party, woken when a chunk for it arrives (its
    /// long-polls then look at their own link again).
    arrivals: Vec<Notify>,
}

struct State {
    store: LinkStore,
    last_active: Instant,
}

impl Session {
    /// A session of `tokens.len()` parties holding at most
    /// `max_session_bytes`, counted in the relay's budget `relay` too.
    pub(crate) fn new(tokens: Vec<String>, max_session_bytes: usize, relay: QueueBudget) -> Self {
        let parties = tokens.len();
        Self {
            parties,
            tokens,
            created: Instant::now(),
            joined: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State {
                store: LinkStore::new(max_session_bytes, Some(relay)),
                last_active: Instant::now(),
            }),
            arrivals: (0..parties).map(|_| Notify::new()).collect(),
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

    /// Notes that a party joined.
    pub(crate) fn mark_joined(&self) {
        self.joined
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether any party joined yet.
    pub(crate) fn joined(&self) -> bool {
        self.joined.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How long ago the session was created.
    pub(crate) fn age(&self) -> Duration {
        self.created.elapsed()
    }

    pub(crate) fn idle_for(&self) -> Duration {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_active
            .elapsed()
    }

    pub(crate) fn stats(&self, max_session_bytes: usize) -> SessionStats {
        let counts = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .store
            .counts();
        SessionStats {
            parties: self.parties,
            queued_bytes: counts.queued,
            peak_queued_bytes: counts.peak,
            max_session_bytes,
            messages: counts.messages,
            duplicates: counts.duplicates,
            throttled: counts.throttled,
        }
    }

    /// The notifier of chunks arriving for `to`.
    pub(crate) fn arrivals(&self, to: usize) -> Option<&Notify> {
        self.arrivals.get(to)
    }

    fn link(&self, from: usize, to: usize) -> usize {
        from * self.parties + to
    }

    /// Stores chunk `seq` from `from` to `to`, unless it is a duplicate, and
    /// wakes `to`'s long-polls.
    pub(crate) fn push(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        body: Bytes,
    ) -> Result<Arrival, ApiError> {
        let link = self.link(from, to);
        let arrival = self
            .lock()
            .store
            .push(link, seq, body)
            .map_err(|e| e.answer("the session"))?;
        if arrival == Arrival::Next
            && let Some(arrivals) = self.arrivals(to)
        {
            arrivals.notify_waiters();
        }
        Ok(arrival)
    }

    /// Acknowledges everything before `seq` on `from -> to` and returns chunk
    /// `seq` if it has arrived.
    pub(crate) fn take(&self, from: usize, to: usize, seq: u64) -> Result<Option<Bytes>, ApiError> {
        let link = self.link(from, to);
        Ok(self.lock().store.take(link, seq)?)
    }
}

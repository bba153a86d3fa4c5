//! One session on the relay: its parties' tokens and the store of its chunks.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use channel_core::transport::QueueBudget;
use channel_core::transport::seq::Arrival;
use tokio::sync::watch;

use super::sessions::Arrivals;
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
    /// One per receiving party, bumped when a chunk for it arrives (its
    /// long-polls and socket then look at their links again).
    arrivals: Vec<watch::Sender<u64>>,
}

struct State {
    store: LinkStore,
    last_active: Instant,
    /// Per party: what the relay knows of it.
    parties: Vec<PartyState>,
}

/// What the relay knows of one party.
#[derive(Debug, Clone, Default)]
struct PartyState {
    /// How many times it joined; requests carrying an older number come from
    /// a replaced process.
    epoch: u64,
    /// When it was last heard from (a request of any kind); `None` until it joins.
    last_seen: Option<Instant>,
    /// Its long-polls waiting right now (a waiting party is alive).
    polling: u32,
    /// Set when it said goodbye: per party, how many messages it sent there.
    left: Option<Vec<u64>>,
    /// WebSockets it opened; only the newest one is served.
    sockets: u64,
}

/// Where a joining party's links stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) epoch: u64,
    /// Per peer: the number the relay expects next from this party.
    pub(crate) next_send: Vec<u64>,
    /// Per peer: the oldest number from it this party has not acknowledged.
    pub(crate) next_recv: Vec<u64>,
}

/// What a socket of one party looks at on each pass, read in one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    /// The party's latest join.
    pub(crate) epoch: u64,
    /// The number of its newest socket.
    pub(crate) newest_socket: u64,
    /// Per party `p` (the party's own entry is unused).
    pub(crate) peers: Vec<PeerView>,
}

/// One peer `p` of a [`View`] of party `me`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerView {
    /// If `p` said goodbye: how many messages it sent to `me`.
    pub(crate) left_after: Option<u64>,
    pub(crate) liveness: Liveness,
    /// The oldest number kept on `p -> me`.
    pub(crate) oldest_to_me: u64,
    /// The next number on `p -> me`.
    pub(crate) next_to_me: u64,
    /// The next number on `me -> p`.
    pub(crate) next_from_me: u64,
}

/// Whether a peer is alive, as far as the relay can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// It never joined (it may still come).
    NotJoined,
    /// It was heard from recently or is waiting in a long-poll; it is gone
    /// if nothing is heard for this long.
    Alive(Duration),
    /// Silent for this long: gone.
    Gone(Duration),
}

/// The refusal of a request from join `claimed` of party `me`, whose latest
/// join is `current`.
pub(crate) fn replaced(me: usize, current: u64, claimed: u64) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        format!(
            "party {me} joined again (join {current}); this client, of join {claimed}, was replaced"
        ),
    )
}

/// A goodbye must count what was sent to each of the `parties`.
pub(crate) fn check_goodbye(parties: usize, sent: &[u64]) -> Result<(), ApiError> {
    if sent.len() != parties {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "a goodbye must count the messages sent to each of the {parties} parties, not {}",
                sent.len()
            ),
        ));
    }
    Ok(())
}

impl Session {
    /// A session of `tokens.len()` parties holding at most
    /// `max_session_bytes` of chunks of up to `max_body` bytes, counted in the
    /// relay's budget `relay` too.
    pub(crate) fn new(
        tokens: Vec<String>,
        max_session_bytes: usize,
        max_body: usize,
        relay: QueueBudget,
    ) -> Self {
        let parties = tokens.len();
        Self {
            parties,
            tokens,
            created: Instant::now(),
            joined: std::sync::atomic::AtomicBool::new(false),
            state: Mutex::new(State {
                store: LinkStore::new(max_session_bytes, Some(relay)).with_reserve(max_body),
                last_active: Instant::now(),
                parties: vec![PartyState::default(); parties],
            }),
            arrivals: (0..parties).map(|_| watch::Sender::new(0)).collect(),
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

    /// Party `me` joins (again): a new epoch, and where its links stand.
    pub(crate) fn join(&self, me: usize) -> Position {
        self.joined
            .store(true, std::sync::atomic::Ordering::Release);
        let mut state = self.lock();
        let epoch = match state.parties.get_mut(me) {
            Some(party) => {
                party.epoch += 1;
                party.last_seen = Some(Instant::now());
                // A new process holds the token now.
                party.left = None;
                party.epoch
            }
            None => 0,
        };
        let n = self.parties;
        // A socket of the replaced process looks again, and closes.
        self.wake(me);
        Position {
            epoch,
            next_send: (0..n).map(|p| state.store.next(me * n + p)).collect(),
            next_recv: (0..n).map(|p| state.store.oldest(p * n + me)).collect(),
        }
    }

    /// Checks that a request of `me` comes from its latest join (when it says
    /// which it comes from), and notes that `me` was heard from.
    pub(crate) fn heard_from(&self, me: usize, epoch: Option<u64>) -> Result<(), ApiError> {
        let mut state = self.lock();
        let Some(party) = state.parties.get_mut(me) else {
            return Ok(());
        };
        if let Some(claimed) = epoch
            && claimed != party.epoch
        {
            return Err(replaced(me, party.epoch, claimed));
        }
        party.last_seen = Some(Instant::now());
        Ok(())
    }

    /// Parties with a waiting long-poll or an open WebSocket.
    pub(crate) fn connected(&self) -> usize {
        self.lock().parties.iter().filter(|p| p.polling > 0).count()
    }

    /// Counts a long-poll of `me` as waiting (`true`) or done (`false`).
    pub(crate) fn polling(&self, me: usize, waiting: bool) {
        let mut state = self.lock();
        if let Some(party) = state.parties.get_mut(me) {
            if waiting {
                party.polling += 1;
            } else {
                party.polling = party.polling.saturating_sub(1);
                party.last_seen = Some(Instant::now());
            }
        }
    }

    /// Party `me` said goodbye, having sent `sent[p]` messages to each party `p`.
    pub(crate) fn leave(&self, me: usize, sent: Vec<u64>) -> Result<(), ApiError> {
        check_goodbye(self.parties, &sent)?;
        let mut state = self.lock();
        let n = self.parties;
        // Never below what the relay already has: those were sent.
        let sent: Vec<u64> = (0..n)
            .map(|p| {
                let claimed = sent.get(p).copied().unwrap_or(0);
                claimed.max(state.store.next(me * n + p))
            })
            .collect();
        if let Some(party) = state.parties.get_mut(me) {
            party.left = Some(sent);
            party.last_seen = Some(Instant::now());
        }
        drop(state);
        // Waiting receives from it look again.
        for p in 0..self.parties {
            self.wake(p);
        }
        Ok(())
    }

    /// If `from` said goodbye: how many messages it sent to `to`.
    pub(crate) fn left_after(&self, from: usize, to: usize) -> Option<u64> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.parties.get(from)?.left.as_ref()?.get(to).copied()
    }

    /// Whether party `p` said goodbye.
    pub(crate) fn has_left(&self, p: usize) -> bool {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .parties
            .get(p)
            .is_some_and(|party| party.left.is_some())
    }

    /// What a socket of `me` looks at (see [`View`]).
    pub(crate) fn view(&self, me: usize, gone_after: Duration) -> View {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let n = self.parties;
        let mine = state.parties.get(me);
        View {
            epoch: mine.map_or(0, |p| p.epoch),
            newest_socket: mine.map_or(0, |p| p.sockets),
            peers: (0..n)
                .map(|p| PeerView {
                    left_after: state
                        .parties
                        .get(p)
                        .and_then(|party| party.left.as_ref()?.get(me).copied()),
                    liveness: liveness_of(state.parties.get(p), gone_after),
                    oldest_to_me: state.store.oldest(p * n + me),
                    next_to_me: state.store.next(p * n + me),
                    next_from_me: state.store.next(me * n + p),
                })
                .collect(),
        }
    }

    /// Whether `p` is alive, given that silence longer than `gone_after` means gone.
    pub(crate) fn liveness(&self, p: usize, gone_after: Duration) -> Liveness {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        liveness_of(state.parties.get(p), gone_after)
    }
}

/// Whether a party is alive, from what the relay knows of it.
fn liveness_of(party: Option<&PartyState>, gone_after: Duration) -> Liveness {
    {
        match party {
            Some(PartyState { polling: 1.., .. }) => Liveness::Alive(gone_after),
            Some(PartyState {
                last_seen: Some(seen),
                ..
            }) => {
                let silent = seen.elapsed();
                if silent > gone_after {
                    Liveness::Gone(silent)
                } else {
                    Liveness::Alive(gone_after - silent)
                }
            }
            _ => Liveness::NotJoined,
        }
    }
}

impl Session {
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

    /// Changes that concern `to` from now on.
    pub(crate) fn arrivals(&self, to: usize) -> Option<Arrivals> {
        self.arrivals.get(to).map(|a| Arrivals::new(a.subscribe()))
    }

    /// Wakes what waits for changes that concern `to`.
    fn wake(&self, to: usize) {
        if let Some(arrivals) = self.arrivals.get(to) {
            arrivals.send_modify(|n| *n = n.wrapping_add(1));
        }
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
        if arrival == Arrival::Next {
            self.wake(to);
        }
        Ok(arrival)
    }

    /// [`push`](Self::push) for a WebSocket, which answers each refusal its own way.
    pub(crate) fn push_raw(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        body: Bytes,
    ) -> Result<Arrival, crate::store::PushError> {
        let link = self.link(from, to);
        let arrival = self.lock().store.push(link, seq, body)?;
        if arrival == Arrival::Next {
            self.wake(to);
        }
        Ok(arrival)
    }

    /// The number the next chunk on `from -> to` must carry.
    pub(crate) fn next_on(&self, from: usize, to: usize) -> u64 {
        let link = self.link(from, to);
        self.lock().store.next(link)
    }

    /// The oldest number kept on `from -> to` (not yet acknowledged).
    pub(crate) fn oldest_on(&self, from: usize, to: usize) -> u64 {
        let link = self.link(from, to);
        self.lock().store.oldest(link)
    }

    /// Chunk `seq` on `from -> to`, if kept.
    pub(crate) fn chunk(&self, from: usize, to: usize, seq: u64) -> Option<Bytes> {
        let link = self.link(from, to);
        self.lock().store.get(link, seq)
    }

    /// Bytes kept on `from -> to` with numbers in `first..end`.
    pub(crate) fn bytes_between(&self, from: usize, to: usize, first: u64, end: u64) -> usize {
        let link = self.link(from, to);
        self.lock().store.bytes_between(link, first, end)
    }

    /// `to` took every chunk from `from` below `next`.
    pub(crate) fn ack(
        &self,
        from: usize,
        to: usize,
        next: u64,
    ) -> Result<(), channel_core::transport::seq::SeqError> {
        let link = self.link(from, to);
        self.lock().store.ack(link, next)
    }

    /// The number of `me`'s latest join (0: never joined).
    pub(crate) fn epoch(&self, me: usize) -> u64 {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.parties.get(me).map_or(0, |p| p.epoch)
    }

    /// A new WebSocket of `me` opens: its number (an older socket of the same
    /// party sees the number change and closes).
    pub(crate) fn new_socket(&self, me: usize) -> u64 {
        let mut state = self.lock();
        let number = match state.parties.get_mut(me) {
            Some(party) => {
                party.sockets += 1;
                party.sockets
            }
            None => 0,
        };
        drop(state);
        // The older socket's writer looks again, and closes.
        self.wake(me);
        number
    }

    /// Acknowledges everything before `ack` on `from -> to` and returns chunk
    /// `seq` if it has arrived (see [`LinkStore::take`]).
    pub(crate) fn take(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        ack: u64,
    ) -> Result<Option<Bytes>, ApiError> {
        let link = self.link(from, to);
        Ok(self.lock().store.take(link, seq, ack)?)
    }
}

//! Where the relay keeps its sessions: the store interface its routes and
//! sockets go through, and the embedded in-memory store behind it.
//!
//! Every route and socket reaches a session's state (tokens, joins, links,
//! chunks) through [`Sessions`] and [`SessionRef`] and nothing else, with
//! `async` calls that may fail with a [`StoreError`] (the store cannot be
//! reached: `503` and `Retry-After` for a request, a `1013` close for a
//! socket). So a store kept outside the process can serve the same routes
//! with the same guarantees; the in-memory store never fails.
//!
//! The contract every store keeps (API.md's guarantees rest on it):
//! - a chunk is stored at most once per (link, number), and only by the
//!   sequence rule of [`LinkStore`](crate::store::LinkStore) (held ahead up
//!   to `MAX_AHEAD`, a resend with other content refused), within the
//!   session's and the relay's byte budgets, checked and stored as one step;
//! - a chunk is dropped only when its receiver acknowledged it;
//! - each join of a party gets a higher number than the one before, and the
//!   positions it returns are those of that moment;
//! - [`SessionRef::arrivals`] wakes after every push to its party, every
//!   join and every new socket of that party, and every goodbye of anyone,
//!   so a waiting long-poll or socket looks again; a spurious wake is
//!   harmless.
//! - a token is compared in constant time with each party's (a store
//!   outside the process keeps digests of tokens only).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bytes::Bytes;
use channel_core::transport::QueueBudget;
use channel_core::transport::seq::{Arrival, SeqError};
use tokio::sync::watch;

use super::config::RelayConfig;
use super::redis::{RedisSession, RedisSessions};
use super::session::{Liveness, Position, Session, View};
use crate::api_error::ApiError;
use crate::protocol::SessionStats;
use crate::store::PushError;

/// The relay's session store could not be reached or did not answer: what
/// was asked may not have been done, and the same call may succeed later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the relay's session store is unavailable: {0}")]
pub struct StoreError(pub(crate) String);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).retry_after(1)
    }
}

/// The relay's sessions, in the store it was started with.
pub(crate) enum Sessions {
    /// In this process's memory (the default): lost when the process ends.
    Memory(MemorySessions),
    /// In Redis, shared by every relay process on it.
    Redis(Arc<RedisSessions>),
}

/// One session, as its store serves it. Cheap to clone.
#[derive(Clone)]
pub(crate) enum SessionRef {
    Memory(Arc<Session>),
    Redis(RedisSession),
}

/// What a created session starts with.
pub(crate) struct NewSession {
    pub(crate) id: String,
    pub(crate) tokens: Vec<String>,
}

impl Sessions {
    pub(crate) fn memory(config: &RelayConfig) -> Self {
        Sessions::Memory(MemorySessions::new(config))
    }

    /// The sessions in the Redis at `url`, shared with every relay process on it.
    pub(crate) async fn redis(
        url: &str,
        namespace: &str,
        config: &RelayConfig,
    ) -> Result<Self, StoreError> {
        Ok(Sessions::Redis(Arc::new(
            RedisSessions::connect(url, namespace, config).await?,
        )))
    }

    /// Stores a new session, unless the relay holds its maximum already
    /// (`503`).
    pub(crate) async fn create(&self, new: NewSession) -> Result<(), ApiError> {
        match self {
            Sessions::Memory(m) => m.create(new),
            Sessions::Redis(r) => r.create(new).await,
        }
    }

    /// The live session `id`, if there is one.
    pub(crate) async fn find(&self, id: &str) -> Result<Option<SessionRef>, StoreError> {
        match self {
            Sessions::Memory(m) => Ok(m.find(id).map(SessionRef::Memory)),
            Sessions::Redis(r) => Ok(r.find(id).await?.map(SessionRef::Redis)),
        }
    }

    /// What a socket of party `me` of `session` looks at on each pass, and
    /// whether `session` is still the live session `id`, read in one step.
    pub(crate) async fn view(
        &self,
        id: &str,
        session: &SessionRef,
        me: usize,
        gone_after: Duration,
    ) -> Result<(bool, View), StoreError> {
        match (self, session) {
            (Sessions::Memory(m), SessionRef::Memory(s)) => {
                Ok((m.holds(id, s), s.view(me, gone_after)))
            }
            (Sessions::Redis(_), SessionRef::Redis(s)) => s.view(me, gone_after).await,
            _ => Err(StoreError("a session of another store".into())),
        }
    }

    /// Deletes session `id` (nothing if there is none).
    pub(crate) async fn delete(&self, id: &str) -> Result<(), StoreError> {
        match self {
            Sessions::Memory(m) => {
                m.lock().remove(id);
                Ok(())
            }
            Sessions::Redis(r) => r.delete(id).await,
        }
    }

    /// Live sessions, and the parties connected over all of them.
    pub(crate) async fn census(&self) -> Result<(usize, usize), StoreError> {
        match self {
            Sessions::Memory(m) => Ok(m.census()),
            Sessions::Redis(r) => r.census().await,
        }
    }

    /// Bytes of chunks held over all sessions.
    pub(crate) async fn held_bytes(&self) -> Result<usize, StoreError> {
        match self {
            Sessions::Memory(m) => Ok(m.budget.queued()),
            Sessions::Redis(r) => r.held_bytes().await,
        }
    }
}

/// The in-memory store: a map of sessions, swept of idle ones at most once a
/// second (cheap enough to do inline).
pub(crate) struct MemorySessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
    last_sweep: Mutex<Instant>,
    /// Bytes stored over all sessions, bounded by `max_total_bytes`.
    budget: QueueBudget,
    max_sessions: usize,
    max_session_bytes: usize,
    max_body: usize,
    session_idle: Duration,
    unjoined_ttl: Duration,
}

impl MemorySessions {
    fn new(config: &RelayConfig) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
            budget: QueueBudget::new(Some(config.max_total_bytes)),
            max_sessions: config.max_sessions,
            max_session_bytes: config.max_session_bytes,
            max_body: config.max_body,
            session_idle: config.session_idle,
            unjoined_ttl: config.unjoined_ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn create(&self, new: NewSession) -> Result<(), ApiError> {
        self.sweep();
        let mut sessions = self.lock();
        if sessions.len() >= self.max_sessions {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the relay already holds its maximum of {} sessions",
                    self.max_sessions
                ),
            )
            .retry_after(5));
        }
        let session = Session::new(
            new.tokens,
            self.max_session_bytes,
            self.max_body,
            self.budget.clone(),
        );
        sessions.insert(new.id, Arc::new(session));
        Ok(())
    }

    fn find(&self, id: &str) -> Option<Arc<Session>> {
        self.sweep();
        self.lock().get(id).cloned()
    }

    fn holds(&self, id: &str, session: &Arc<Session>) -> bool {
        self.lock().get(id).is_some_and(|s| Arc::ptr_eq(s, session))
    }

    fn census(&self) -> (usize, usize) {
        self.sweep();
        let sessions = self.lock();
        let connected = sessions.values().map(|s| s.connected()).sum();
        (sessions.len(), connected)
    }

    fn sweep(&self) {
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.elapsed() < Duration::from_secs(1) {
                return;
            }
            *last = Instant::now();
        }
        let (idle, unjoined) = (self.session_idle, self.unjoined_ttl);
        self.lock().retain(|_, s| {
            if s.joined() {
                s.idle_for() < idle
            } else {
                s.age() < unjoined
            }
        });
    }
}

/// Wakes when something a waiting long-poll or socket of one party looks at
/// may have changed (see the module's contract); never misses a change made
/// after it was created.
pub(crate) struct Arrivals(watch::Receiver<u64>);

impl Arrivals {
    pub(crate) fn new(receiver: watch::Receiver<u64>) -> Self {
        Self(receiver)
    }

    /// Resolves at the next change since the last one it resolved at (or
    /// since it was made). Never resolves if the session is gone.
    pub(crate) async fn changed(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl SessionRef {
    /// How many parties the session has (fixed at creation).
    pub(crate) fn parties(&self) -> usize {
        match self {
            SessionRef::Memory(s) => s.parties,
            SessionRef::Redis(s) => s.parties(),
        }
    }

    /// The party `token` belongs to.
    pub(crate) async fn party_of(&self, token: &str) -> Result<Option<usize>, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.party_of(token)),
            SessionRef::Redis(s) => s.party_of(token).await,
        }
    }

    /// Party `me` joins (again): a new number, and where its links stand.
    pub(crate) async fn join(&self, me: usize) -> Result<Position, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.join(me)),
            SessionRef::Redis(s) => s.join(me).await,
        }
    }

    /// Checks that a request of `me` comes from its latest join (`412`
    /// otherwise), and notes that `me` was heard from.
    pub(crate) async fn heard_from(&self, me: usize, epoch: Option<u64>) -> Result<(), ApiError> {
        match self {
            SessionRef::Memory(s) => s.heard_from(me, epoch),
            SessionRef::Redis(s) => s.heard_from(me, epoch).await,
        }
    }

    /// Counts a long-poll or socket of `me` as waiting (`true`) or done.
    pub(crate) async fn polling(&self, me: usize, waiting: bool) -> Result<(), StoreError> {
        match self {
            SessionRef::Memory(s) => {
                s.polling(me, waiting);
                Ok(())
            }
            SessionRef::Redis(s) => s.polling(me, waiting).await,
        }
    }

    /// Notes that `me` was heard from just now (a long-poll that waits
    /// long says so now and then).
    pub(crate) async fn touch(&self, me: usize) -> Result<(), StoreError> {
        match self {
            SessionRef::Memory(s) => s.heard_from(me, None).map_err(|e| StoreError(e.message)),
            SessionRef::Redis(s) => s.touch(me).await,
        }
    }

    /// Party `me` said goodbye, having sent `sent[p]` messages to each `p`.
    pub(crate) async fn leave(&self, me: usize, sent: Vec<u64>) -> Result<(), ApiError> {
        match self {
            SessionRef::Memory(s) => s.leave(me, sent),
            SessionRef::Redis(s) => s.leave(me, sent).await,
        }
    }

    /// If `from` said goodbye: how many messages it sent to `to`.
    pub(crate) async fn left_after(
        &self,
        from: usize,
        to: usize,
    ) -> Result<Option<u64>, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.left_after(from, to)),
            SessionRef::Redis(s) => s.left_after(from, to).await,
        }
    }

    /// Whether party `p` said goodbye.
    pub(crate) async fn has_left(&self, p: usize) -> Result<bool, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.has_left(p)),
            SessionRef::Redis(s) => s.has_left(p).await,
        }
    }

    /// Whether `p` is alive, silence beyond `gone_after` meaning gone.
    pub(crate) async fn liveness(
        &self,
        p: usize,
        gone_after: Duration,
    ) -> Result<Liveness, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.liveness(p, gone_after)),
            SessionRef::Redis(s) => s.liveness(p, gone_after).await,
        }
    }

    pub(crate) async fn stats(&self, max_session_bytes: usize) -> Result<SessionStats, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.stats(max_session_bytes)),
            SessionRef::Redis(s) => s.stats(max_session_bytes).await,
        }
    }

    /// Stores chunk `seq` from `from` to `to` (unless it is a duplicate) and
    /// wakes `to`; the refusal as the HTTP routes answer it.
    pub(crate) async fn push(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        body: Bytes,
    ) -> Result<Arrival, ApiError> {
        match self {
            SessionRef::Memory(s) => s.push(from, to, seq, body),
            SessionRef::Redis(s) => s.push(from, to, seq, body).await,
        }
    }

    /// [`push`](Self::push) for a socket, which answers each refusal its own way.
    pub(crate) async fn push_raw(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        body: Bytes,
    ) -> Result<Result<Arrival, PushError>, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.push_raw(from, to, seq, body)),
            SessionRef::Redis(s) => s.push_raw(from, to, seq, body).await,
        }
    }

    /// The number the next chunk on `from -> to` must carry.
    pub(crate) async fn next_on(&self, from: usize, to: usize) -> Result<u64, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.next_on(from, to)),
            SessionRef::Redis(s) => s.next_on(from, to).await,
        }
    }

    /// The oldest number kept on `from -> to` (not yet acknowledged).
    pub(crate) async fn oldest_on(&self, from: usize, to: usize) -> Result<u64, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.oldest_on(from, to)),
            SessionRef::Redis(s) => s.oldest_on(from, to).await,
        }
    }

    /// Chunk `seq` on `from -> to`, if kept.
    pub(crate) async fn chunk(
        &self,
        from: usize,
        to: usize,
        seq: u64,
    ) -> Result<Option<Bytes>, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.chunk(from, to, seq)),
            SessionRef::Redis(s) => s.chunk(from, to, seq).await,
        }
    }

    /// Bytes kept on `from -> to` with numbers in `first..end` (chunks a
    /// reconnecting socket's client holds and has not acknowledged yet).
    pub(crate) async fn bytes_between(
        &self,
        from: usize,
        to: usize,
        first: u64,
        end: u64,
    ) -> Result<usize, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.bytes_between(from, to, first, end)),
            SessionRef::Redis(s) => s.bytes_between(from, to, first, end).await,
        }
    }

    /// `to` took every chunk from `from` below `next`.
    pub(crate) async fn ack(
        &self,
        from: usize,
        to: usize,
        next: u64,
    ) -> Result<Result<(), SeqError>, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.ack(from, to, next)),
            SessionRef::Redis(s) => s.ack(from, to, next).await,
        }
    }

    /// Acknowledges everything before `ack` on `from -> to` and returns
    /// chunk `seq` if it has arrived.
    pub(crate) async fn take(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        ack: u64,
    ) -> Result<Option<Bytes>, ApiError> {
        match self {
            SessionRef::Memory(s) => s.take(from, to, seq, ack),
            SessionRef::Redis(s) => s.take(from, to, seq, ack).await,
        }
    }

    /// The number of `me`'s latest join (0: never joined).
    pub(crate) async fn epoch(&self, me: usize) -> Result<u64, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.epoch(me)),
            SessionRef::Redis(s) => s.epoch(me).await,
        }
    }

    /// A new socket of `me` opens: its number (older sockets of `me` see
    /// the number change and close).
    pub(crate) async fn new_socket(&self, me: usize) -> Result<u64, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.new_socket(me)),
            SessionRef::Redis(s) => s.new_socket(me).await,
        }
    }

    /// Changes that concern party `to` from now on (see [`Arrivals`]);
    /// `None` if the session has no party `to`.
    pub(crate) async fn arrivals(&self, to: usize) -> Result<Option<Arrivals>, StoreError> {
        match self {
            SessionRef::Memory(s) => Ok(s.arrivals(to)),
            SessionRef::Redis(s) => Ok(s.arrivals(to)),
        }
    }
}

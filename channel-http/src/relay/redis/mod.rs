//! The relay's sessions in Redis, so that several relay processes serve the
//! same sessions and a restarted process loses nothing (`channel-relay
//! --store redis://host:port/db`).
//!
//! The rules stay in Rust and are the in-memory store's (`crate::store`):
//! the relay reads a link's state, decides with the same functions, and a
//! script applies the decision only if the link did not change meanwhile
//! (else it reads and decides again); see [`scripts`]. Tokens are kept as
//! SHA-256 digests only. Waiting long-polls and sockets are woken through
//! pub/sub ([`wake`]). Liveness is the time a party was last heard from,
//! which every process serving it refreshes. Times are the relay processes'
//! clocks (keep them in sync, as NTP does); a session expires by a deadline
//! kept in a sorted set, which every process sweeps (deleting every key the
//! session's key set names), so nothing is left behind once any relay
//! process runs; its `meta` key also expires by itself an hour after its
//! deadline, so that an expired session is never found again.
//!
//! A standalone Redis (or one with replicas) is expected; Redis Cluster is
//! not supported (relay-wide counters and a session's keys are changed in
//! one script).

mod keys;
mod scripts;
mod wake;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use channel_core::transport::seq::{Arrival, Placement, SeqError};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Value};
use sha2::{Digest, Sha256};

use self::keys::Keys;
use self::wake::Wakes;
use super::config::RelayConfig;
use super::session::{Liveness, PeerView, Position, View};
use super::sessions::{Arrivals, NewSession, StoreError};
use crate::api_error::ApiError;
use crate::auth::same_secret;
use crate::protocol::SessionStats;
use crate::store::{PushError, check_ack, check_take, place};

/// How often a script is retried when its link changed under it, at most
/// (each retry reads again; only the link's own sender and receiver race).
const MAX_RETRIES: usize = 64;
/// Key expiry beyond a session's deadline: the bound should no process sweep.
const KEY_GRACE: Duration = Duration::from_secs(3600);
/// How long a call to Redis may take before it counts as an outage.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError(e.to_string())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The hex SHA-256 digest of a token: all the store keeps of it.
fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A reply's text, integer or bulk string.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> u64 {
    text(value).and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// The relay's sessions in one Redis database.
pub(crate) struct RedisSessions {
    connection: ConnectionManager,
    keys: Keys,
    wakes: Arc<Wakes>,
    max_sessions: usize,
    max_session_bytes: usize,
    max_total_bytes: usize,
    max_body: usize,
    session_idle: Duration,
    unjoined_ttl: Duration,
    /// Per (session, party): its waiting long-polls and open sockets on
    /// this process.
    connected: Mutex<HashMap<(String, usize), usize>>,
    last_sweep: Mutex<Instant>,
}

/// One session in Redis.
#[derive(Clone)]
pub(crate) struct RedisSession {
    store: Arc<RedisSessions>,
    id: String,
    parties: usize,
    nonce: String,
}

impl RedisSessions {
    /// Connects to the Redis at `url` (`redis://host:port/db`) and starts
    /// listening for wake-ups.
    pub(crate) async fn connect(
        url: &str,
        namespace: &str,
        config: &RelayConfig,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let connection = tokio::time::timeout(
            CALL_TIMEOUT,
            client.get_connection_manager_with_config(manager),
        )
        .await
        .map_err(|_| StoreError(format!("no answer from {url} within {CALL_TIMEOUT:?}")))?
        .map_err(unavailable)?;
        let keys = Keys::new(&format!("{namespace}:"));
        let wakes = Arc::new(Wakes::default());
        wake::listen(client, keys.clone(), &wakes);
        Ok(Self {
            connection,
            keys,
            wakes,
            max_sessions: config.max_sessions,
            max_session_bytes: config.max_session_bytes,
            max_total_bytes: config.max_total_bytes,
            max_body: config.max_body,
            session_idle: config.session_idle,
            unjoined_ttl: config.unjoined_ttl,
            connected: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Instant::now()),
        })
    }

    fn con(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// Runs `script` with `keys` and `args`.
    async fn run(
        &self,
        script: &redis::Script,
        keys: &[String],
        args: &[&[u8]],
    ) -> Result<Value, StoreError> {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(k);
        }
        for a in args {
            invocation.arg(*a);
        }
        let mut con = self.con();
        tokio::time::timeout(CALL_TIMEOUT, invocation.invoke_async(&mut con))
            .await
            .map_err(|_| StoreError(format!("no answer from Redis within {CALL_TIMEOUT:?}")))?
            .map_err(unavailable)
    }

    pub(crate) async fn create(self: &Arc<Self>, new: NewSession) -> Result<(), ApiError> {
        self.sweep().await?;
        let now = now_ms();
        let deadline = now + millis(self.unjoined_ttl);
        let nonce = crate::auth::random_hex(16).map_err(|e| StoreError(e.to_string()))?;
        let parties = new.tokens.len().to_string();
        let mut fields: Vec<(String, String)> = vec![
            ("parties".into(), parties),
            ("nonce".into(), nonce),
            ("deadline".into(), deadline.to_string()),
            ("held".into(), "0".into()),
        ];
        for (i, token) in new.tokens.iter().enumerate() {
            fields.push((format!("d{i}"), digest(token)));
        }
        let head = [
            now.to_string(),
            self.max_sessions.to_string(),
            new.id.clone(),
            deadline.to_string(),
            (deadline - now + millis(KEY_GRACE)).to_string(),
        ];
        let mut args: Vec<&[u8]> = head.iter().map(|s| s.as_bytes()).collect();
        for (k, v) in &fields {
            args.push(k.as_bytes());
            args.push(v.as_bytes());
        }
        let mut keys = vec![
            self.keys.sessions(),
            self.keys.meta(&new.id),
            self.keys.all(&new.id),
        ];
        keys.extend((0..new.tokens.len()).map(|p| self.keys.party(&new.id, p)));
        let answer = self.run(&scripts::CREATE, &keys, &args).await?;
        match answer_word(&answer).as_deref() {
            Some("ok") => Ok(()),
            _ => Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the relay already holds its maximum of {} sessions",
                    self.max_sessions
                ),
            )
            .retry_after(5)),
        }
    }

    pub(crate) async fn find(
        self: &Arc<Self>,
        id: &str,
    ) -> Result<Option<RedisSession>, StoreError> {
        self.sweep().await?;
        let mut con = self.con();
        let (parties, nonce, deadline): (Option<usize>, Option<String>, Option<u64>) = con
            .hmget(self.keys.meta(id), &["parties", "nonce", "deadline"])
            .await
            .map_err(unavailable)?;
        match (parties, nonce, deadline) {
            (Some(parties), Some(nonce), Some(deadline)) if deadline >= now_ms() => {
                Ok(Some(RedisSession {
                    store: self.clone(),
                    id: id.to_string(),
                    parties,
                    nonce,
                }))
            }
            _ => Ok(None),
        }
    }

    pub(crate) async fn delete(&self, id: &str) -> Result<(), StoreError> {
        let keys = [
            self.keys.sessions(),
            self.keys.meta(id),
            self.keys.all(id),
            self.keys.held(),
        ];
        self.run(&scripts::DELETE, &keys, &[id.as_bytes()]).await?;
        Ok(())
    }

    pub(crate) async fn census(&self) -> Result<(usize, usize), StoreError> {
        self.sweep().await?;
        let mut con = self.con();
        let live: usize = con
            .zcount(self.keys.sessions(), now_ms(), "+inf")
            .await
            .map_err(unavailable)?;
        let connected = self
            .connected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        Ok((live, connected))
    }

    pub(crate) async fn held_bytes(&self) -> Result<usize, StoreError> {
        let mut con = self.con();
        let held: Option<i64> = con.get(self.keys.held()).await.map_err(unavailable)?;
        Ok(usize::try_from(held.unwrap_or(0)).unwrap_or(0))
    }

    /// Deletes sessions past their deadline, at most once a second per
    /// process and a bounded number at a time.
    async fn sweep(&self) -> Result<(), StoreError> {
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.elapsed() < Duration::from_secs(1) {
                return Ok(());
            }
            *last = Instant::now();
        }
        let mut con = self.con();
        let expired: Vec<String> = con
            .zrangebyscore_limit(self.keys.sessions(), "-inf", now_ms() as f64 - 1.0, 0, 100)
            .await
            .map_err(unavailable)?;
        for id in expired {
            tracing::info!(session = %id, "session expired");
            self.delete(&id).await?;
        }
        Ok(())
    }

    fn arrivals(&self, id: &str, party: usize) -> Arrivals {
        self.wakes.arrivals(id, party)
    }
}

/// The first word of a script's answer.
fn answer_word(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => items.first().and_then(text),
        other => text(other),
    }
}

/// A link's state as read before deciding.
struct LinkState {
    next: u64,
    oldest: u64,
    ver: String,
}

impl RedisSession {
    fn keys(&self) -> &Keys {
        &self.store.keys
    }

    pub(crate) fn parties(&self) -> usize {
        self.parties
    }

    pub(crate) async fn party_of(&self, token: &str) -> Result<Option<usize>, StoreError> {
        let fields: Vec<String> = (0..self.parties).map(|i| format!("d{i}")).collect();
        let mut con = self.store.con();
        let digests: Vec<Option<String>> = con
            .hmget(self.keys().meta(&self.id), &fields)
            .await
            .map_err(unavailable)?;
        let mine = digest(token);
        // Compares with every digest, in constant time each.
        Ok(digests
            .iter()
            .enumerate()
            .fold(None, |found, (party, d)| match d {
                Some(d) if same_secret(d, &mine) => Some(party),
                _ => found,
            }))
    }

    /// Pushes the session's deadline: it is in use.
    async fn refresh(&self) -> Result<(), StoreError> {
        let deadline = now_ms() + millis(self.store.session_idle);
        let expiry = millis(self.store.session_idle + KEY_GRACE);
        let keys = [self.keys().sessions(), self.keys().meta(&self.id)];
        let args = [deadline.to_string(), expiry.to_string()];
        self.store
            .run(
                &scripts::REFRESH,
                &keys,
                &[self.id.as_bytes(), args[0].as_bytes(), args[1].as_bytes()],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn join(&self, me: usize) -> Result<Position, StoreError> {
        let n = self.parties;
        let mut keys = vec![self.keys().party(&self.id, me), self.keys().meta(&self.id)];
        keys.extend((0..n).map(|p| self.keys().link(&self.id, me, p)));
        keys.extend((0..n).map(|p| self.keys().link(&self.id, p, me)));
        let now = now_ms().to_string();
        let wake = self.keys().wake(&self.id, me);
        let answer = self
            .store
            .run(&scripts::JOIN, &keys, &[now.as_bytes(), wake.as_bytes()])
            .await?;
        self.refresh().await?;
        let numbers: Vec<u64> = match &answer {
            Value::Array(items) => items.iter().map(number).collect(),
            _ => Vec::new(),
        };
        if numbers.len() != 1 + 2 * n {
            return Err(StoreError(format!("a join answered {answer:?}")));
        }
        Ok(Position {
            epoch: numbers[0],
            next_send: numbers[1..=n].to_vec(),
            next_recv: numbers[n + 1..].to_vec(),
        })
    }

    pub(crate) async fn heard_from(&self, me: usize, epoch: Option<u64>) -> Result<(), ApiError> {
        let keys = [
            self.keys().party(&self.id, me),
            self.keys().sessions(),
            self.keys().meta(&self.id),
        ];
        let claimed = epoch.map(|e| e.to_string()).unwrap_or_default();
        let deadline = now_ms() + millis(self.store.session_idle);
        let numbers = [
            now_ms().to_string(),
            deadline.to_string(),
            millis(self.store.session_idle + KEY_GRACE).to_string(),
        ];
        let args: [&[u8]; 5] = [
            claimed.as_bytes(),
            numbers[0].as_bytes(),
            self.id.as_bytes(),
            numbers[1].as_bytes(),
            numbers[2].as_bytes(),
        ];
        let answer = self.store.run(&scripts::HEARD, &keys, &args).await?;
        match &answer {
            Value::Array(items) if items.first().and_then(text).as_deref() == Some("replaced") => {
                let current = items.get(1).map_or(0, number);
                Err(super::session::replaced(me, current, epoch.unwrap_or(0)))
            }
            _ => Ok(()),
        }
    }

    /// What a socket of `me` looks at, and whether the session is still the
    /// one this handle was found as.
    pub(crate) async fn view(
        &self,
        me: usize,
        gone_after: Duration,
    ) -> Result<(bool, View), StoreError> {
        let n = self.parties;
        let mut keys = vec![self.keys().meta(&self.id)];
        keys.extend((0..n).map(|p| self.keys().party(&self.id, p)));
        keys.extend((0..n).map(|p| self.keys().link(&self.id, p, me)));
        keys.extend((0..n).map(|p| self.keys().link(&self.id, me, p)));
        let me_text = me.to_string();
        let answer = self
            .store
            .run(&scripts::VIEW, &keys, &[me_text.as_bytes()])
            .await?;
        let items: Vec<String> = match &answer {
            Value::Array(items) => items.iter().map(|v| text(v).unwrap_or_default()).collect(),
            _ => Vec::new(),
        };
        if items.len() != 4 + 5 * n {
            return Err(StoreError(format!("a view answered {} items", items.len())));
        }
        let num = |i: usize| items[i].parse::<u64>().unwrap_or(0);
        let live = items[0] == self.nonce && num(1) >= now_ms();
        let now = now_ms();
        let peers = (0..n)
            .map(|p| {
                let at = 4 + 5 * p;
                let left_after = (!items[at].is_empty())
                    .then(|| items[at].split(',').nth(me).and_then(|c| c.parse().ok()))
                    .flatten();
                let liveness = match items[at + 1].parse::<u64>() {
                    Err(_) => Liveness::NotJoined,
                    Ok(seen) => {
                        let silent = Duration::from_millis(now.saturating_sub(seen));
                        if silent > gone_after {
                            Liveness::Gone(silent)
                        } else {
                            Liveness::Alive(gone_after - silent)
                        }
                    }
                };
                PeerView {
                    left_after,
                    liveness,
                    oldest_to_me: num(at + 2),
                    next_to_me: num(at + 3),
                    next_from_me: num(at + 4),
                }
            })
            .collect();
        Ok((
            live,
            View {
                epoch: num(2),
                newest_socket: num(3),
                peers,
            },
        ))
    }

    pub(crate) async fn polling(&self, me: usize, waiting: bool) -> Result<(), StoreError> {
        {
            let mut connected = self
                .store
                .connected
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let key = (self.id.clone(), me);
            if waiting {
                *connected.entry(key).or_insert(0) += 1;
            } else if let Some(n) = connected.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    connected.remove(&key);
                }
            }
        }
        self.touch(me).await
    }

    /// Notes that `me` was heard from just now.
    pub(crate) async fn touch(&self, me: usize) -> Result<(), StoreError> {
        let mut con = self.store.con();
        let () = con
            .hset(self.keys().party(&self.id, me), "seen", now_ms())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(crate) async fn leave(&self, me: usize, sent: Vec<u64>) -> Result<(), ApiError> {
        super::session::check_goodbye(self.parties, &sent)?;
        let mut keys = vec![self.keys().party(&self.id, me)];
        keys.extend((0..self.parties).map(|p| self.keys().link(&self.id, me, p)));
        let mut args = vec![now_ms().to_string()];
        args.extend(sent.iter().map(u64::to_string));
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.store.run(&scripts::LEAVE, &keys, &args).await?;
        // Waiting receives from it look again.
        let mut con = self.store.con();
        for p in 0..self.parties {
            let () = con
                .publish(self.keys().wake(&self.id, p), "1")
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn left(&self, p: usize) -> Result<Option<Vec<u64>>, StoreError> {
        let mut con = self.store.con();
        let left: Option<String> = con
            .hget(self.keys().party(&self.id, p), "left")
            .await
            .map_err(unavailable)?;
        Ok(left.map(|t| t.split(',').map(|n| n.parse().unwrap_or(0)).collect()))
    }

    pub(crate) async fn left_after(
        &self,
        from: usize,
        to: usize,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self
            .left(from)
            .await?
            .and_then(|sent| sent.get(to).copied()))
    }

    pub(crate) async fn has_left(&self, p: usize) -> Result<bool, StoreError> {
        Ok(self.left(p).await?.is_some())
    }

    pub(crate) async fn liveness(
        &self,
        p: usize,
        gone_after: Duration,
    ) -> Result<Liveness, StoreError> {
        let mut con = self.store.con();
        let seen: Option<u64> = con
            .hget(self.keys().party(&self.id, p), "seen")
            .await
            .map_err(unavailable)?;
        Ok(match seen {
            None => Liveness::NotJoined,
            Some(seen) => {
                let silent = Duration::from_millis(now_ms().saturating_sub(seen));
                if silent > gone_after {
                    Liveness::Gone(silent)
                } else {
                    Liveness::Alive(gone_after - silent)
                }
            }
        })
    }

    pub(crate) async fn stats(&self, max_session_bytes: usize) -> Result<SessionStats, StoreError> {
        let mut con = self.store.con();
        let counts: Vec<Option<u64>> = con
            .hmget(
                self.keys().meta(&self.id),
                &["held", "peak", "messages", "duplicates", "throttled"],
            )
            .await
            .map_err(unavailable)?;
        let count = |i: usize| counts.get(i).copied().flatten().unwrap_or(0);
        let bytes = |i: usize| usize::try_from(count(i)).unwrap_or(usize::MAX);
        Ok(SessionStats {
            parties: self.parties,
            queued_bytes: bytes(0),
            peak_queued_bytes: bytes(1),
            max_session_bytes,
            messages: count(2),
            duplicates: count(3),
            throttled: count(4),
        })
    }

    async fn link_state(&self, link: &str) -> Result<LinkState, StoreError> {
        let mut con = self.store.con();
        let (next, oldest, ver): (Option<u64>, Option<u64>, Option<String>) = con
            .hmget(link, &["next", "oldest", "ver"])
            .await
            .map_err(unavailable)?;
        Ok(LinkState {
            next: next.unwrap_or(0),
            oldest: oldest.unwrap_or(0),
            ver: ver.unwrap_or_else(|| "0".into()),
        })
    }

    pub(crate) async fn push(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        body: Bytes,
    ) -> Result<Arrival, ApiError> {
        self.push_raw(from, to, seq, body)
            .await?
            .map_err(|e| e.answer("the session"))
    }

    pub(crate) async fn push_raw(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        body: Bytes,
    ) -> Result<Result<Arrival, PushError>, StoreError> {
        let link = self.keys().link(&self.id, from, to);
        let store = &self.store;
        let limit = store.max_session_bytes;
        if body.len() > limit {
            return Ok(Err(PushError::NeverFits {
                size: body.len(),
                limit,
            }));
        }
        let (kept_field, early_field) = (format!("c{seq}"), format!("e{seq}"));
        for _ in 0..MAX_RETRIES {
            let mut con = store.con();
            let (next, ver, kept, early): (
                Option<u64>,
                Option<String>,
                Option<Bytes>,
                Option<Bytes>,
            ) = con
                .hmget(
                    &link,
                    &["next", "ver", kept_field.as_str(), early_field.as_str()],
                )
                .await
                .map_err(unavailable)?;
            let (next, ver) = (next.unwrap_or(0), ver.unwrap_or_else(|| "0".into()));
            let placement = match place(next, early.as_ref().map(|_| seq), seq) {
                Ok(p) => p,
                Err(e) => return Ok(Err(PushError::Seq(e))),
            };
            if matches!(placement, Placement::Duplicate | Placement::EarlyDuplicate) {
                // A resend must be the chunk it repeats (when it is still kept to compare).
                if let Some(held) = kept.or(early)
                    && held != body
                {
                    return Ok(Err(PushError::Conflict { seq }));
                }
                let () = con
                    .hincr(self.keys().meta(&self.id), "duplicates", 1)
                    .await
                    .map_err(unavailable)?;
                return Ok(Ok(Arrival::Duplicate));
            }
            let (how, reserve) = if placement == Placement::Early {
                ("early", store.max_body)
            } else {
                ("next", 0)
            };
            let numbers = [
                ver,
                seq.to_string(),
                reserve.to_string(),
                limit.to_string(),
                store.max_total_bytes.to_string(),
                self.keys().wake(&self.id, to),
            ];
            let keys = [
                link.clone(),
                self.keys().meta(&self.id),
                self.keys().held(),
                self.keys().all(&self.id),
            ];
            let args: [&[u8]; 9] = [
                numbers[0].as_bytes(),
                numbers[1].as_bytes(),
                &body,
                how.as_bytes(),
                numbers[2].as_bytes(),
                numbers[3].as_bytes(),
                numbers[4].as_bytes(),
                numbers[5].as_bytes(),
                link.as_bytes(),
            ];
            let answer = store.run(&scripts::STORE, &keys, &args).await?;
            let items = match &answer {
                Value::Array(items) => items.as_slice(),
                _ => &[],
            };
            match items.first().and_then(text).as_deref() {
                Some("ok") => return Ok(Ok(Arrival::Next)),
                Some("retry") => continue,
                Some("gone") => return Err(StoreError(format!("session '{}' is gone", self.id))),
                Some("full") => {
                    let held = items.get(1).map_or(0, number) as usize;
                    return Ok(Err(PushError::Full {
                        queued: held,
                        adding: body.len(),
                        limit,
                    }));
                }
                Some("relayfull") => {
                    return Ok(Err(PushError::RelayFull {
                        queued: items.get(1).map_or(0, number) as usize,
                        limit: items.get(2).map_or(0, number) as usize,
                    }));
                }
                _ => return Err(StoreError(format!("storing a chunk answered {answer:?}"))),
            }
        }
        Err(StoreError(format!(
            "link {from} -> {to} changed under {MAX_RETRIES} attempts to store chunk {seq}"
        )))
    }

    pub(crate) async fn next_on(&self, from: usize, to: usize) -> Result<u64, StoreError> {
        Ok(self
            .link_state(&self.keys().link(&self.id, from, to))
            .await?
            .next)
    }

    pub(crate) async fn oldest_on(&self, from: usize, to: usize) -> Result<u64, StoreError> {
        Ok(self
            .link_state(&self.keys().link(&self.id, from, to))
            .await?
            .oldest)
    }

    pub(crate) async fn chunk(
        &self,
        from: usize,
        to: usize,
        seq: u64,
    ) -> Result<Option<Bytes>, StoreError> {
        let mut con = self.store.con();
        con.hget(self.keys().link(&self.id, from, to), format!("c{seq}"))
            .await
            .map_err(unavailable)
    }

    /// Drops the chunks below what `decide` says (from the link's state),
    /// and returns chunk `give` if kept.
    async fn release(
        &self,
        from: usize,
        to: usize,
        give: Option<u64>,
        decide: impl Fn(&LinkState) -> Result<u64, SeqError>,
    ) -> Result<Result<Option<Bytes>, SeqError>, StoreError> {
        let link = self.keys().link(&self.id, from, to);
        let keys = [link.clone(), self.keys().meta(&self.id), self.keys().held()];
        let give = give.map(|g| g.to_string()).unwrap_or_default();
        for _ in 0..MAX_RETRIES {
            let state = self.link_state(&link).await?;
            let below = match decide(&state) {
                Ok(below) => below.to_string(),
                Err(e) => return Ok(Err(e)),
            };
            let args: [&[u8]; 3] = [state.ver.as_bytes(), below.as_bytes(), give.as_bytes()];
            let answer = self.store.run(&scripts::RELEASE, &keys, &args).await?;
            let word = answer_word(&answer);
            match (word.as_deref(), answer) {
                (Some("ok"), Value::Array(mut items)) => {
                    // `{"ok", chunk}` or `{"ok"}`: the chunk, moved out, not copied.
                    return Ok(Ok(match items.pop() {
                        Some(Value::BulkString(chunk)) if !items.is_empty() => {
                            Some(Bytes::from(chunk))
                        }
                        _ => None,
                    }));
                }
                (Some("retry"), _) => continue,
                (_, answer) => {
                    return Err(StoreError(format!(
                        "an acknowledgement answered {answer:?}"
                    )));
                }
            }
        }
        Err(StoreError(format!(
            "link {from} -> {to} changed under {MAX_RETRIES} attempts to acknowledge"
        )))
    }

    pub(crate) async fn ack(
        &self,
        from: usize,
        to: usize,
        next: u64,
    ) -> Result<Result<(), SeqError>, StoreError> {
        Ok(self
            .release(from, to, None, |s| check_ack(s.next, s.oldest, next))
            .await?
            .map(drop))
    }

    pub(crate) async fn take(
        &self,
        from: usize,
        to: usize,
        seq: u64,
        ack: u64,
    ) -> Result<Option<Bytes>, ApiError> {
        Ok(self
            .release(from, to, Some(seq), |s| {
                check_take(s.next, s.oldest, seq, ack)
            })
            .await??)
    }

    pub(crate) async fn bytes_between(
        &self,
        from: usize,
        to: usize,
        first: u64,
        end: u64,
    ) -> Result<usize, StoreError> {
        let keys = [self.keys().link(&self.id, from, to)];
        let (first, end) = (first.to_string(), end.to_string());
        let answer = self
            .store
            .run(&scripts::BYTES, &keys, &[first.as_bytes(), end.as_bytes()])
            .await?;
        // Too many to count: as if the client's window were full.
        Ok(match answer {
            Value::Int(bytes) => usize::try_from(bytes).unwrap_or(usize::MAX),
            _ => usize::MAX,
        })
    }

    pub(crate) async fn epoch(&self, me: usize) -> Result<u64, StoreError> {
        let mut con = self.store.con();
        let epoch: Option<u64> = con
            .hget(self.keys().party(&self.id, me), "epoch")
            .await
            .map_err(unavailable)?;
        Ok(epoch.unwrap_or(0))
    }

    pub(crate) async fn new_socket(&self, me: usize) -> Result<u64, StoreError> {
        let mut con = self.store.con();
        let number: u64 = con
            .hincr(self.keys().party(&self.id, me), "sockets", 1)
            .await
            .map_err(unavailable)?;
        let () = con
            .publish(self.keys().wake(&self.id, me), "1")
            .await
            .map_err(unavailable)?;
        Ok(number)
    }

    pub(crate) fn arrivals(&self, to: usize) -> Option<Arrivals> {
        (to < self.parties).then(|| self.store.arrivals(&self.id, to))
    }
}

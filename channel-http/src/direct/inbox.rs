//! The receiving side of direct mode: an endpoint that authenticates senders and
//! files their chunks into per-sender mailboxes, which the local party drains.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::Notify;
use tokio::time::Instant;

use channel_core::transport::seq::Arrival;

use axum::Json;

use crate::api_error::{ApiError, epoch_header, parse_party, query_u64, stored};
use crate::auth::{bearer, same_secret};
use crate::protocol::DirectPosition;
use crate::store::LinkStore;

pub(crate) struct Inbox {
    me: usize,
    /// `keys[p]`: the secret shared with party `p`.
    keys: Vec<String>,
    /// `epochs[p]`: how many times party `p` joined this endpoint.
    epochs: Mutex<Vec<u64>>,
    /// One link per sender, keyed by the sender's index.
    store: Mutex<LinkStore>,
    arrivals: Vec<Notify>,
    /// `heard[p]`: when party `p` last reached this endpoint (a join, a
    /// chunk or a heartbeat).
    heard: Mutex<Vec<Instant>>,
    /// `left[p]`: set when party `p` said goodbye, with how many chunks it
    /// sent to this party.
    left: Mutex<Vec<Option<u64>>>,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Inbox {
    /// Holds at most `max_queued` bytes of chunks of up to `max_body` bytes.
    pub(crate) fn new(me: usize, keys: Vec<String>, max_queued: usize, max_body: usize) -> Self {
        let parties = keys.len();
        Self {
            me,
            epochs: Mutex::new(vec![0; keys.len()]),
            keys,
            store: Mutex::new(LinkStore::new(max_queued, None).with_reserve(max_body)),
            arrivals: (0..parties).map(|_| Notify::new()).collect(),
            heard: Mutex::new(vec![Instant::now(); parties]),
            left: Mutex::new(vec![None; parties]),
        }
    }

    /// Party `from` said goodbye, having sent `sent` chunks to this party.
    fn leave(&self, from: usize, sent: u64) {
        self.heard_from(from);
        // Never below what arrived already: those were sent.
        let sent = sent.max(self.lock().next(from));
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = left.get_mut(from) {
            *slot = Some(sent);
        }
        drop(left);
        if let Some(arrivals) = self.arrivals(from) {
            arrivals.notify_waiters();
        }
    }

    /// Whether party `from` said goodbye.
    pub(crate) fn has_left(&self, from: usize) -> bool {
        let left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        left.get(from).is_some_and(Option::is_some)
    }

    /// Whether party `from` said goodbye and every chunk it sent before has
    /// arrived (so, once the mailbox is empty, nothing more comes from it).
    pub(crate) fn all_arrived_from_departed(&self, from: usize) -> bool {
        let left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(Some(sent)) = left.get(from).copied() else {
            return false;
        };
        drop(left);
        self.lock().next(from) >= sent
    }

    fn heard_from(&self, from: usize) {
        let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = heard.get_mut(from) {
            *at = Instant::now();
        }
    }

    /// When party `from` last reached this endpoint.
    pub(crate) fn last_heard(&self, from: usize) -> Instant {
        let heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        heard.get(from).copied().unwrap_or_else(Instant::now)
    }

    /// How long party `from` has not reached this endpoint.
    pub(crate) fn silent_for(&self, from: usize) -> Duration {
        self.last_heard(from).elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, LinkStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn arrivals(&self, from: usize) -> Option<&Notify> {
        self.arrivals.get(from)
    }

    /// Takes the oldest chunk from `from`, if any.
    pub(crate) fn pop(&self, from: usize) -> Option<Bytes> {
        self.lock().pop(from)
    }

    /// Party `from` joins (again): a new epoch, and the number expected next from it.
    fn join(&self, from: usize) -> DirectPosition {
        self.heard_from(from);
        let next = self.lock().next(from);
        let mut epochs = self.epochs.lock().unwrap_or_else(PoisonError::into_inner);
        let epoch = epochs.get_mut(from).map_or(0, |e| {
            *e += 1;
            *e
        });
        // A new process of it: its goodbye no longer holds.
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = left.get_mut(from) {
            *slot = None;
        }
        DirectPosition { next, epoch }
    }

    /// Refuses a delivery of an older join of `from` than its latest.
    fn current(&self, from: usize, claimed: Option<u64>) -> Result<(), ApiError> {
        let epochs = self.epochs.lock().unwrap_or_else(PoisonError::into_inner);
        let current = epochs.get(from).copied().unwrap_or_default();
        match claimed {
            Some(claimed) if claimed != current => Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "party {from} joined this endpoint again (join {current}); this sender, of join \
                     {claimed}, was replaced"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// Files chunk `seq` from `from` (unless it is a duplicate) and wakes
    /// the local party if it waits for it.
    fn push(&self, from: usize, seq: u64, body: Bytes) -> Result<Arrival, ApiError> {
        self.heard_from(from);
        let arrival = self
            .lock()
            .push(from, seq, body)
            .map_err(|e| e.answer(&format!("party {}", self.me)))?;
        if arrival == Arrival::Next
            && let Some(arrivals) = self.arrivals(from)
        {
            arrivals.notify_waiters();
        }
        Ok(arrival)
    }
}

/// The endpoint's routes.
pub(crate) fn router(inbox: Arc<Inbox>, max_body: usize) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/direct/from/{party}", post(deliver))
        .route("/v1/direct/from/{party}/join", post(join))
        .route("/v1/direct/from/{party}/alive", post(alive))
        .route("/v1/direct/from/{party}/leave", post(leave))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route; see API.md") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(move |request, next| {
            crate::guard::bounds(max_body, request, next)
        }))
        .layer(middleware::from_fn(crate::guard::json_errors_and_logs))
        .with_state(inbox)
}

/// The sending party named in the path, authenticated by the key it shares
/// with this endpoint's party.
fn sender(inbox: &Inbox, from: &str, headers: &HeaderMap) -> Result<usize, ApiError> {
    let from = parse_party(from, inbox.keys.len())?;
    if from == inbox.me {
        return Err(ApiError::bad_request(format!(
            "party {from} cannot send to itself"
        )));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or malformed Authorization: Bearer <key>",
            )
        })?;
    let key = inbox.keys.get(from).map(String::as_str).unwrap_or_default();
    if !same_secret(key, token) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("wrong key for party {from}"),
        ));
    }
    crate::guard::caller_is(from);
    Ok(from)
}

async fn join(
    State(inbox): State<Arc<Inbox>>,
    Path(from): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DirectPosition>, ApiError> {
    let from = sender(&inbox, &from, &headers)?;
    let position = inbox.join(from);
    tracing::info!(
        party = inbox.me,
        from,
        epoch = position.epoch,
        next = position.next,
        "direct-mode peer joined"
    );
    Ok(Json(position))
}

async fn alive(
    State(inbox): State<Arc<Inbox>>,
    Path(from): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let from = sender(&inbox, &from, &headers)?;
    inbox.current(from, epoch_header(&headers)?)?;
    inbox.heard_from(from);
    Ok(StatusCode::NO_CONTENT)
}

/// A sender's goodbye: it closed its channel after `sent` chunks to this party.
async fn leave(
    State(inbox): State<Arc<Inbox>>,
    Path(from): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let from = sender(&inbox, &from, &headers)?;
    inbox.current(from, epoch_header(&headers)?)?;
    let sent = query_u64(&params, "sent")?;
    inbox.leave(from, sent);
    tracing::info!(
        party = inbox.me,
        from,
        sent,
        "direct-mode peer said goodbye"
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn deliver(
    State(inbox): State<Arc<Inbox>>,
    Path(from): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let from = sender(&inbox, &from, &headers)?;
    let epoch = epoch_header(&headers)?;
    inbox.current(from, epoch)?;
    let seq = query_u64(&params, "seq")?;
    Ok(stored(inbox.push(from, seq, body)?))
}

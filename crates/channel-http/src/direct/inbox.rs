//! The receiving side of direct mode: an endpoint that authenticates senders and
//! files their chunks into per-sender mailboxes, which the local party drains.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::Notify;

use crate::api_error::{ApiError, parse_party, query_u64};
use crate::auth::{bearer, same_secret};
use crate::mailbox::{Mailbox, Pushed};
use crate::protocol::HEADER_DUPLICATE;

pub(crate) struct Inbox {
    me: usize,
    /// `keys[p]`: the secret shared with party `p`.
    keys: Vec<String>,
    max_queued: usize,
    state: Mutex<Links>,
    arrivals: Vec<Notify>,
}

struct Links {
    links: Vec<Mailbox>,
    queued: usize,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Inbox {
    pub(crate) fn new(me: usize, keys: Vec<String>, max_queued: usize) -> Self {
        let parties = keys.len();
        Self {
            me,
            keys,
            max_queued,
            state: Mutex::new(Links {
                links: (0..parties).map(|_| Mailbox::default()).collect(),
                queued: 0,
            }),
            arrivals: (0..parties).map(|_| Notify::new()).collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Links> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn arrivals(&self, from: usize) -> Option<&Notify> {
        self.arrivals.get(from)
    }

    /// Takes the oldest chunk from `from`, if any.
    pub(crate) fn pop(&self, from: usize) -> Option<Bytes> {
        let mut state = self.lock();
        let msg = state.links.get_mut(from)?.pop()?;
        state.queued = state.queued.saturating_sub(msg.len());
        Some(msg)
    }

    fn push(&self, from: usize, seq: u64, body: Bytes) -> Result<Pushed, ApiError> {
        let mut state = self.lock();
        let state = &mut *state;
        let link = state
            .links
            .get_mut(from)
            .ok_or_else(|| ApiError::bad_request("no such party"))?;
        let pushed = link.check_push(seq)?;
        if pushed == Pushed::Stored {
            if state.queued.saturating_add(body.len()) > self.max_queued {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "party {} holds {} unread bytes; {} more would exceed its bound of {}",
                        self.me,
                        state.queued,
                        body.len(),
                        self.max_queued
                    ),
                )
                .retry_after(1));
            }
            state.queued += body.len();
            link.store(body);
        }
        Ok(pushed)
    }
}

/// The endpoint's routes.
pub(crate) fn router(inbox: Arc<Inbox>, max_body: usize) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/direct/from/{party}", post(deliver))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route; see API.md") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(inbox)
}

async fn deliver(
    State(inbox): State<Arc<Inbox>>,
    Path(from): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let from = parse_party(&from, inbox.keys.len())?;
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
    let seq = query_u64(&params, "seq")?;
    let pushed = inbox.push(from, seq, body)?;
    if pushed == Pushed::Stored
        && let Some(arrivals) = inbox.arrivals(from)
    {
        arrivals.notify_waiters();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if pushed == Pushed::Duplicate {
        response
            .headers_mut()
            .insert(HEADER_DUPLICATE, HeaderValue::from_static("true"));
    }
    Ok(response)
}

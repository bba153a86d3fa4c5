//! The relay's route handlers. Each checks, in order: session, token, party
//! indices, query, then does its work; every refusal is a precise 4xx.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use channel_core::transport::seq::Arrival;

use super::Relay;
use super::metrics::Route;
use super::session::Liveness;
use super::sessions::{NewSession, SessionRef};
use crate::api_error::{ApiError, epoch_header, parse_party, query_u64, stored};
use crate::auth::{bearer, random_hex, same_secret};
use crate::protocol::{CreateSession, HEADER_SEQ, Health, SessionCreated, SessionInfo};

type Params = Query<HashMap<String, String>>;

/// `GET /health`. Marked `Cross-Origin-Resource-Policy: cross-origin`, so
/// that a page of any origin (one with `Cross-Origin-Embedder-Policy` too)
/// can reach it without CORS and tell a relay that does not allow its origin
/// from one that is down (what channel-wasm reports as kind `"cors"`).
pub(super) async fn health(
    State(relay): State<Relay>,
) -> ([(axum::http::HeaderName, &'static str); 1], Json<Health>) {
    (
        [(
            axum::http::HeaderName::from_static("cross-origin-resource-policy"),
            "cross-origin",
        )],
        Json(Health {
            status: "ok".into(),
            sessions: relay.session_count().await,
        }),
    )
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route; see API.md")
}

fn token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing Authorization header"))?;
    value.to_str().ok().and_then(bearer).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Authorization must be 'Bearer <token>'",
        )
    })
}

/// Checks the operator token, where one is configured.
pub(super) fn operator(relay: &Relay, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &relay.config().operator_token else {
        return Ok(());
    };
    if same_secret(expected, token(headers)?) {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::FORBIDDEN, "wrong operator token"))
    }
}

pub(super) async fn find_session(relay: &Relay, id: &str) -> Result<SessionRef, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(format!(
            "'{id}' is not a session id (32 hex digits)"
        )));
    }
    relay.sessions().find(id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no session '{id}' (never created, deleted, or expired after being idle)"),
        )
    })
}

/// The session and the caller's party, from the bearer token.
async fn party(
    relay: &Relay,
    id: &str,
    headers: &HeaderMap,
) -> Result<(SessionRef, usize), ApiError> {
    let session = find_session(relay, id).await?;
    let me = session.party_of(token(headers)?).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "the token belongs to no party of this session",
        )
    })?;
    crate::guard::caller_is(me);
    Ok((session, me))
}

/// [`party`], for a request of the session's traffic: it must come from the
/// party's latest join (when it says which), and counts as hearing from it.
async fn live_party(
    relay: &Relay,
    id: &str,
    headers: &HeaderMap,
) -> Result<(SessionRef, usize), ApiError> {
    let (session, me) = party(relay, id, headers).await?;
    let epoch = epoch_header(headers)?;
    session.heard_from(me, epoch).await?;
    Ok((session, me))
}

/// The peer named in the path: an existing party other than the caller.
fn peer(session: &SessionRef, me: usize, segment: &str) -> Result<usize, ApiError> {
    let p = parse_party(segment, session.parties())?;
    if p == me {
        return Err(ApiError::bad_request(format!(
            "party {me} cannot send to or receive from itself"
        )));
    }
    Ok(p)
}

pub(super) async fn create_session(
    State(relay): State<Relay>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    operator(&relay, &headers)?;
    if let Err(wait) = relay.may_create() {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "sessions are created at most {} per second on this relay",
                relay.config().create_per_second
            ),
        )
        .retry_after(wait.as_secs().max(1)));
    }
    let request: CreateSession = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("body must be JSON {{\"parties\": n}}: {e}")))?;
    let max = relay
        .config()
        .max_parties
        .min(crate::protocol::MAX_SESSION_PARTIES);
    if request.parties < 2 || request.parties > max {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "parties must be between 2 and {max}, got {}",
                request.parties
            ),
        ));
    }
    let secret = |bytes| {
        random_hex(bytes).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("no randomness for a new secret: {e}"),
            )
        })
    };
    let id = secret(16)?;
    let tokens = (0..request.parties)
        .map(|_| secret(32))
        .collect::<Result<Vec<_>, _>>()?;
    relay
        .sessions()
        .create(NewSession {
            id: id.clone(),
            tokens: tokens.clone(),
        })
        .await?;
    relay.metrics().session_created();
    tracing::info!(session = %id, parties = request.parties, "session created");
    let created = SessionCreated {
        session: id,
        parties: request.parties,
        tokens,
        max_body: relay.config().max_body,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub(super) async fn session_info(
    State(relay): State<Relay>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, ApiError> {
    let (session, me) = party(&relay, &id, &headers).await?;
    let position = session.join(me).await?;
    tracing::info!(session = %id, party = me, epoch = position.epoch, "joined");
    let config = relay.config();
    Ok(Json(SessionInfo {
        session: id,
        parties: session.parties(),
        party: me,
        max_body: config.max_body,
        max_wait_ms: config.max_wait.as_millis() as u64,
        epoch: Some(position.epoch),
        next_send: Some(position.next_send),
        next_recv: Some(position.next_recv),
        heartbeat_ms: Some((config.peer_gone_after.as_millis() as u64 / 4).max(1_000)),
    }))
}

pub(super) async fn alive(
    State(relay): State<Relay>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    live_party(&relay, &id, &headers).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A party's goodbye: it closed its channel (see `protocol::Leave`).
pub(super) async fn leave(
    State(relay): State<Relay>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let (session, me) = live_party(&relay, &id, &headers).await?;
    let leave: crate::protocol::Leave = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "a goodbye is {{\"sent\":[n, ...]}}, one count per party: {e}"
        ))
    })?;
    session.leave(me, leave.sent).await?;
    tracing::info!(session = %id, party = me, "party said goodbye");
    Ok(StatusCode::NO_CONTENT)
}

/// Operator routes on one session: the operator token if configured, else any
/// party token of that session.
async fn operator_or_party(relay: &Relay, id: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    if relay.config().operator_token.is_some() {
        find_session(relay, id).await?;
        operator(relay, headers)
    } else {
        party(relay, id, headers).await.map(|_| ())
    }
}

pub(super) async fn delete_session(
    State(relay): State<Relay>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    operator_or_party(&relay, &id, &headers).await?;
    relay.sessions().delete(&id).await?;
    tracing::info!(session = %id, "session deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn session_stats(
    State(relay): State<Relay>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operator_or_party(&relay, &id, &headers).await?;
    let stats = relay
        .session_stats(&id)
        .await
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no session '{id}'")))?;
    Ok(Json(stats).into_response())
}

pub(super) async fn send(
    State(relay): State<Relay>,
    Path((id, to)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (session, me) = live_party(&relay, &id, &headers).await?;
    let to = peer(&session, me, &to)?;
    let seq = query_u64(&params, "seq")?;
    if session.has_left(to).await? {
        return Err(ApiError::new(
            StatusCode::FAILED_DEPENDENCY,
            format!(
                "party {to} closed its channel (it left the session): nothing sent to it would be read"
            ),
        ));
    }
    let len = body.len();
    let arrival = relay.timed("push", session.push(me, to, seq, body)).await?;
    relay
        .metrics()
        .stored(Route::Http, len, arrival == Arrival::Duplicate);
    tracing::trace!(session = %id, from = me, to, seq, bytes = len, ?arrival, "message in");
    Ok(stored(arrival))
}

pub(super) async fn recv(
    State(relay): State<Relay>,
    Path((id, from)): Path<(String, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (session, me) = live_party(&relay, &id, &headers).await?;
    let from = peer(&session, me, &from)?;
    let seq = query_u64(&params, "seq")?;
    // Acknowledges every chunk before `ack`; without it, before `seq`.
    let ack = match params.get("ack") {
        Some(_) => query_u64(&params, "ack")?,
        None => seq,
    };
    let wait_ms = match params.get("wait_ms") {
        Some(_) => query_u64(&params, "wait_ms")?,
        None => 0,
    };
    let wait = Duration::from_millis(wait_ms).min(relay.config().max_wait);
    let mut arrivals = session
        .arrivals(me)
        .await?
        .ok_or_else(|| ApiError::bad_request("no such party"))?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut shutdown = relay.shutdown_signal_receiver();
    let gone_after = relay.config().peer_gone_after;
    // While this long-poll waits, its party counts as alive.
    let _waiting = Waiting::new(session.clone(), me).await?;
    // A long wait says now and then that its party is alive (a store shared
    // by several relay processes knows only when a party was last heard of).
    let every = (gone_after / 4).max(Duration::from_secs(1));
    let mut alive = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // Bounded by `deadline`: every pass either answers or waits for an arrival,
    // the peer's silence or the deadline, whichever comes first.
    loop {
        // `arrivals` was made before the first look, so an arrival between a
        // look and the wait is not missed.
        if let Some(msg) = relay
            .timed("take", session.take(from, me, seq, ack))
            .await?
        {
            relay.metrics().delivered(Route::Http, msg.len());
            tracing::trace!(session = %id, from, to = me, seq, bytes = msg.len(), "message out");
            let mut response = msg.into_response();
            response
                .headers_mut()
                .insert(HEADER_SEQ, HeaderValue::from(seq));
            return Ok(response);
        }
        if relay.is_shutting_down() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the relay is shutting down",
            )
            .retry_after(1));
        }
        // Everything it sent before its goodbye was taken: nothing more comes.
        if let Some(sent) = session.left_after(from, me).await?
            && seq >= sent
        {
            return Err(ApiError::new(
                StatusCode::FAILED_DEPENDENCY,
                format!(
                    "party {from} closed its channel (it left the session after sending {sent} messages to party {me})"
                ),
            ));
        }
        // Until when the peer could still be alive (it never joined: no bound).
        let alive_until = match session.liveness(from, gone_after).await? {
            Liveness::Gone(silent) => {
                return Err(ApiError::new(
                    StatusCode::FAILED_DEPENDENCY,
                    format!(
                        "party {from} has not been heard from for {} s (its process likely ended)",
                        silent.as_secs()
                    ),
                ));
            }
            Liveness::Alive(left) => deadline.min(tokio::time::Instant::now() + left),
            Liveness::NotJoined => deadline,
        };
        tokio::select! {
            _ = arrivals.changed() => {}
            _ = tokio::time::sleep_until(alive_until) => {
                if tokio::time::Instant::now() >= deadline {
                    return Ok(StatusCode::NO_CONTENT.into_response());
                }
            }
            _ = shutdown.changed() => {}
            _ = alive.tick() => session.touch(me).await?,
        }
    }
}

/// A long-poll of a party while it waits (counted, so the party is alive).
struct Waiting {
    session: SessionRef,
    me: usize,
}

impl Waiting {
    async fn new(session: SessionRef, me: usize) -> Result<Self, ApiError> {
        session.polling(me, true).await?;
        Ok(Self { session, me })
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        // A drop cannot wait: the store is told from a task of its own (on
        // the runtime this request ran on; none is left at a shutdown).
        let (session, me) = (self.session.clone(), self.me);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = session.polling(me, false).await {
                    tracing::warn!(party = me, "a long-poll's end was not recorded: {e}");
                }
            });
        }
    }
}

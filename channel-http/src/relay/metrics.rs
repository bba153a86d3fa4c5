//! The relay's metrics, served at `GET /metrics` in the OpenMetrics text
//! format that Prometheus scrapes (prometheus-client).
//!
//! Counters are counted where things happen; the gauges (sessions, parties
//! connected, bytes held) are read from the sessions when scraped, so they
//! cannot drift. No metric carries a session id or a token: their labels are
//! status codes, close codes and routes, a bounded set.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::Relay;
use crate::api_error::ApiError;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

/// How a chunk reached or left the relay.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    /// The HTTP routes (`POST …/to/{p}`, `GET …/from/{p}`).
    Http,
    /// The WebSocket.
    Socket,
}

impl Route {
    fn label(self) -> RouteLabel {
        RouteLabel {
            route: match self {
                Route::Http => "http",
                Route::Socket => "socket",
            },
        }
    }
}

/// Every metric of one relay.
pub(crate) struct Metrics {
    registry: Registry,
    sessions: Gauge,
    connected: Gauge,
    held_bytes: Gauge,
    created: Counter,
    stored_chunks: Family<RouteLabel, Counter>,
    stored_bytes: Family<RouteLabel, Counter>,
    delivered_chunks: Family<RouteLabel, Counter>,
    delivered_bytes: Family<RouteLabel, Counter>,
    duplicates: Counter,
    throttled: Family<RouteLabel, Counter>,
    refused: Family<StatusLabel, Counter>,
    closed: Family<CodeLabel, Counter>,
    store: Family<OperationLabel, Histogram>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("relay");
        let sessions = Gauge::default();
        let connected = Gauge::default();
        let held_bytes = Gauge::default();
        let created = Counter::default();
        let stored_chunks = Family::<RouteLabel, Counter>::default();
        let stored_bytes = Family::<RouteLabel, Counter>::default();
        let delivered_chunks = Family::<RouteLabel, Counter>::default();
        let delivered_bytes = Family::<RouteLabel, Counter>::default();
        let duplicates = Counter::default();
        let throttled = Family::<RouteLabel, Counter>::default();
        let refused = Family::<StatusLabel, Counter>::default();
        let closed = Family::<CodeLabel, Counter>::default();
        // From 1 µs (an in-memory store) to about 4 s (a store far away or down).
        let store = Family::<OperationLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1e-6, 4.0, 12))
        });
        registry.register("sessions", "Live sessions", sessions.clone());
        registry.register(
            "parties_connected",
            "Parties with an open WebSocket or a waiting long-poll",
            connected.clone(),
        );
        registry.register_with_unit(
            "held",
            "Bytes of chunks held, not yet acknowledged by their receivers",
            Unit::Bytes,
            held_bytes.clone(),
        );
        registry.register("sessions_created", "Sessions created", created.clone());
        registry.register(
            "chunks_stored",
            "Chunks stored (new ones, not duplicates)",
            stored_chunks.clone(),
        );
        registry.register_with_unit(
            "stored",
            "Bytes of chunks stored",
            Unit::Bytes,
            stored_bytes.clone(),
        );
        registry.register(
            "chunks_delivered",
            "Chunks handed to their receivers (a chunk delivered again after a retry counts again)",
            delivered_chunks.clone(),
        );
        registry.register_with_unit(
            "delivered",
            "Bytes of chunks handed to their receivers",
            Unit::Bytes,
            delivered_bytes.clone(),
        );
        registry.register(
            "duplicates",
            "Chunks sent again that the relay already held (a retry), answered as duplicates",
            duplicates.clone(),
        );
        registry.register(
            "throttled",
            "Chunks refused for now because a budget was full (429 over HTTP, FULL over the WebSocket)",
            throttled.clone(),
        );
        registry.register(
            "refused",
            "HTTP requests answered with an error status (4xx, 5xx), by status",
            refused.clone(),
        );
        registry.register(
            "sockets_closed",
            "WebSockets the relay closed for a reason (its close code)",
            closed.clone(),
        );
        registry.register_with_unit(
            "store_operation",
            "Time of the store's operations, by operation",
            Unit::Seconds,
            store.clone(),
        );
        Self {
            registry,
            sessions,
            connected,
            held_bytes,
            created,
            stored_chunks,
            stored_bytes,
            delivered_chunks,
            delivered_bytes,
            duplicates,
            throttled,
            refused,
            closed,
            store,
        }
    }

    pub(crate) fn session_created(&self) {
        self.created.inc();
    }

    /// A chunk of `bytes` arrived over `route`: new, or a duplicate.
    pub(crate) fn stored(&self, route: Route, bytes: usize, duplicate: bool) {
        if duplicate {
            self.duplicates.inc();
        } else {
            self.stored_chunks.get_or_create(&route.label()).inc();
            self.stored_bytes
                .get_or_create(&route.label())
                .inc_by(bytes as u64);
        }
    }

    pub(crate) fn delivered(&self, route: Route, bytes: usize) {
        self.delivered_chunks.get_or_create(&route.label()).inc();
        self.delivered_bytes
            .get_or_create(&route.label())
            .inc_by(bytes as u64);
    }

    pub(crate) fn throttled(&self, route: Route) {
        self.throttled.get_or_create(&route.label()).inc();
    }

    pub(crate) fn socket_closed(&self, code: u16) {
        self.closed.get_or_create(&CodeLabel { code }).inc();
    }

    /// Records how long a store operation took.
    pub(crate) fn store_took(&self, operation: &'static str, took: Duration) {
        self.store
            .get_or_create(&OperationLabel { operation })
            .observe(took.as_secs_f64());
    }

    fn refused(&self, status: StatusCode) {
        self.refused
            .get_or_create(&StatusLabel {
                status: status.as_u16(),
            })
            .inc();
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.throttled(Route::Http);
        }
    }

    /// The text a scrape gets, with the gauges read now.
    async fn render(&self, relay: &Relay) -> Result<String, ApiError> {
        let (sessions, connected) = relay.sessions().census().await?;
        let held = relay.sessions().held_bytes().await?;
        self.sessions.set(to_i64(sessions));
        self.connected.set(to_i64(connected));
        self.held_bytes.set(to_i64(held));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode the metrics: {e}"),
            )
        })?;
        Ok(text)
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Counts every error answer of the relay's HTTP routes by status.
pub(super) async fn count_answers(
    State(relay): State<Relay>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        relay.metrics().refused(status);
    }
    response
}

/// `GET /metrics`: behind the operator token when one is configured.
pub(super) async fn scrape(
    State(relay): State<Relay>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    super::handlers::operator(&relay, &headers)?;
    let text = relay.metrics().render(&relay).await?;
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counters_show_in_the_text_with_their_labels() {
        let relay = Relay::new(super::super::RelayConfig::default());
        let m = relay.metrics();
        m.stored(Route::Http, 10, false);
        m.stored(Route::Socket, 7, false);
        m.stored(Route::Http, 10, true);
        m.delivered(Route::Socket, 7);
        m.refused(StatusCode::TOO_MANY_REQUESTS);
        m.refused(StatusCode::NOT_FOUND);
        m.socket_closed(4401);
        m.store_took("push", Duration::from_micros(3));
        let text = m.render(&relay).await.unwrap();
        for line in [
            "relay_sessions 0",
            "relay_chunks_stored_total{route=\"http\"} 1",
            "relay_stored_bytes_total{route=\"socket\"} 7",
            "relay_duplicates_total 1",
            "relay_delivered_bytes_total{route=\"socket\"} 7",
            "relay_refused_total{status=\"429\"} 1",
            "relay_refused_total{status=\"404\"} 1",
            "relay_throttled_total{route=\"http\"} 1",
            "relay_sockets_closed_total{code=\"4401\"} 1",
            "relay_store_operation_seconds_count{operation=\"push\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line '{line}' in:\n{text}"
            );
        }
    }
}

//! What every request of the servers goes through before and after its
//! handler: bounds checked before anything is read (URI, headers, a declared
//! body length), every error answered as JSON (also the ones axum and its
//! extractors make), and one log line per request (debug) and per refusal
//! (info) with what was wrong, never a token.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api_error::{ApiError, Refusal};
use crate::protocol::ErrorBody;

/// Longest request target (path and query) a server reads.
pub const MAX_URI: usize = 4096;
/// Most bytes of request headers a server reads.
pub const MAX_HEADERS: usize = 16 * 1024;

/// Refuses a request whose target or headers are too long, or whose declared
/// body exceeds `max_body`, before anything of it is read: a client with a
/// 1 GiB `Content-Length` gets `413` at once, not `100 Continue` and a wait.
pub(crate) async fn bounds(max_body: usize, request: Request, next: Next) -> Response {
    let uri = request.uri().to_string().len();
    if uri > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("a request target of {uri} bytes; at most {MAX_URI}"),
        )
        .into_response();
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers > MAX_HEADERS {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("{headers} bytes of headers; at most {MAX_HEADERS}"),
        )
        .into_response();
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|&len| len > max_body as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a body of {len} bytes; this server takes at most {max_body}"),
        )
        .into_response();
    }
    next.run(request).await
}

/// No party authenticated (yet) in this request.
const NOBODY: u64 = u64::MAX;

tokio::task_local! {
    /// The party whose token the request carried, once a handler checked it.
    static CALLER: Arc<AtomicU64>;
}

/// Notes that this request authenticated as `party`, for its log line.
pub(crate) fn caller_is(party: usize) {
    let _ = CALLER.try_with(|caller| caller.store(party as u64, Ordering::Relaxed));
}

/// The session id of a `/v1/sessions/{id}/...` path.
fn session_of(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/sessions/")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
        .filter(|id| !id.is_empty())
}

/// Turns every error answer into the JSON body API.md promises, and logs
/// the request: at debug always, at info when it was refused, with the
/// session, the party its token proved (if any) and the reason.
pub(crate) async fn json_errors_and_logs(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    // The path holds the session id and party indices, the query numbers; the
    // token is in a header and never logged.
    let path = request.uri().path().to_string();
    let caller = Arc::new(AtomicU64::new(NOBODY));
    let response = CALLER.scope(caller.clone(), next.run(request)).await;
    let status = response.status();
    let session = session_of(&path).unwrap_or("-");
    let party = match caller.load(Ordering::Relaxed) {
        NOBODY => None,
        p => Some(p),
    };
    if !status.is_client_error() && !status.is_server_error() {
        tracing::debug!(%method, %path, session, party, status = status.as_u16(), "request");
        return response;
    }
    let (response, reason) = match response.extensions().get::<Refusal>().cloned() {
        Some(Refusal(reason)) => (response, reason),
        // An answer of axum or an extractor: plain text or empty.
        None => rewrap(response).await,
    };
    tracing::info!(%method, %path, session, party, status = status.as_u16(), %reason, "refused");
    response
}

/// The same status with a JSON `{"error": ...}` body made of the original
/// text (or the status's name when there was none).
async fn rewrap(response: Response) -> (Response, String) {
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let reason = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("refused")
            .to_string()
    } else {
        text
    };
    let json = serde_json::to_vec(&ErrorBody {
        error: reason.clone(),
    })
    .unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    (Response::from_parts(parts, Body::from(json)), reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_of_a_path_is_its_third_segment() {
        assert_eq!(session_of("/v1/sessions/ab12/to/1"), Some("ab12"));
        assert_eq!(session_of("/v1/sessions/ab12"), Some("ab12"));
        assert_eq!(session_of("/v1/sessions/"), None);
        assert_eq!(session_of("/v1/sessions"), None);
        assert_eq!(session_of("/health"), None);
    }
}

//! Error answers of the servers: a status code and a JSON `{"error": "..."}` body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::protocol::{ErrorBody, HEADER_DUPLICATE};
use channel_core::transport::seq::{Arrival, SeqError};

/// What a handler's refusal said, kept on the response for the log line
/// (`guard::json_errors_and_logs`).
#[derive(Debug, Clone)]
pub(crate) struct Refusal(pub(crate) String);

/// A request the server refuses, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<SeqError> for ApiError {
    fn from(e: SeqError) -> Self {
        let status = match e {
            SeqError::Gone { .. } => StatusCode::GONE,
            // (`SeqError` is non-exhaustive: anything new is a conflict too.)
            _ => StatusCode::CONFLICT,
        };
        ApiError::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let refusal = Refusal(self.message.clone());
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        response.extensions_mut().insert(refusal);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The answer to a chunk the server accepted: `204`, with `x-duplicate: true`
/// when it already had it.
pub(crate) fn stored(arrival: Arrival) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if arrival == Arrival::Duplicate {
        response
            .headers_mut()
            .insert(HEADER_DUPLICATE, HeaderValue::from_static("true"));
    }
    response
}

/// A non-negative integer written the one canonical way: decimal digits only,
/// no sign, no leading zero (so `+1`, `01` and ` 1` are not party 1).
fn canonical(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = text.len() > 1 && text.starts_with('0');
    if digits_only && !leading_zero {
        text.parse().ok()
    } else {
        None
    }
}

/// Reads a party index from a path segment, checking it against `parties`.
pub(crate) fn parse_party(segment: &str, parties: usize) -> Result<usize, ApiError> {
    let party = canonical(segment)
        .and_then(|p| usize::try_from(p).ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "party '{segment}' is not a party index (decimal digits, no sign or leading zero)"
            ))
        })?;
    if party >= parties {
        return Err(ApiError::bad_request(format!(
            "party {party} does not exist: the session has parties 0..{parties}"
        )));
    }
    Ok(party)
}

/// Reads a required numeric query parameter (canonical decimal).
pub(crate) fn query_u64(
    query: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<u64, ApiError> {
    let raw = query
        .get(name)
        .ok_or_else(|| ApiError::bad_request(format!("query parameter '{name}' is missing")))?;
    canonical(raw).ok_or_else(|| {
        ApiError::bad_request(format!(
            "query parameter '{name}' must be a non-negative integer (decimal digits, no sign or \
             leading zero), got '{raw}'"
        ))
    })
}

/// The join number a request says it comes from (`x-epoch`), if it says.
pub(crate) fn epoch_header(headers: &axum::http::HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(crate::protocol::HEADER_EPOCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(canonical)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("x-epoch must be a join number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_only_in_their_canonical_form() {
        assert_eq!(parse_party("0", 3), Ok(0));
        assert_eq!(parse_party("2", 3), Ok(2));
        for bad in ["+1", "01", " 1", "1 ", "-0", "", "1e0", "0x1", "١"] {
            assert!(parse_party(bad, 3).is_err(), "{bad:?} was taken as a party");
        }
        assert!(parse_party("3", 3).is_err());
        assert!(parse_party("99999999999999999999999", 3).is_err());
        let q = |v: &str| std::collections::HashMap::from([("seq".to_string(), v.to_string())]);
        assert_eq!(query_u64(&q("17"), "seq"), Ok(17));
        assert!(query_u64(&q("017"), "seq").is_err());
        assert!(query_u64(&q("+17"), "seq").is_err());
    }
}

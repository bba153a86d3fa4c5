//! An HTTP answer as the protocol core sees it: the status, the few headers it
//! reads, and how reading the body ended. The I/O layers fill these in from
//! whatever HTTP client they use (reqwest, the browser's fetch), so that every
//! decision about an answer is taken here, once.

use std::time::Duration;

use crate::protocol::{
    ErrorBody, HEADER_CONTENT_LENGTH, HEADER_DUPLICATE, HEADER_RETRY_AFTER, HEADER_SEQ,
};

/// The head of an answer: the status and the headers the protocol reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Head {
    /// The HTTP status code.
    pub status: u16,
    /// `x-seq`: the number of the message in the body (receives).
    pub seq: Option<u64>,
    /// `x-duplicate: true`: the relay already had this message (sends).
    pub duplicate: bool,
    /// `Retry-After` in seconds: when a retry may succeed.
    pub retry_after: Option<Duration>,
    /// `Content-Length`: the length the body claims, checked before reading it.
    pub content_length: Option<u64>,
}

impl Head {
    /// Reads the head from `status` and `header`, which looks a header up by
    /// its lower-case name. Headers that do not parse count as absent.
    ///
    /// ```
    /// use channel_http_proto::answer::Head;
    /// use std::time::Duration;
    ///
    /// let head = Head::read(429, |name| (name == "retry-after").then(|| "2".to_string()));
    /// assert_eq!(head.retry_after, Some(Duration::from_secs(2)));
    /// assert_eq!(head.seq, None);
    /// ```
    pub fn read(status: u16, header: impl Fn(&str) -> Option<String>) -> Self {
        let number = |name: &str| header(name).and_then(|v| v.trim().parse::<u64>().ok());
        Self {
            status,
            seq: number(HEADER_SEQ),
            duplicate: header(HEADER_DUPLICATE).is_some_and(|v| v.trim() == "true"),
            retry_after: number(HEADER_RETRY_AFTER).map(Duration::from_secs),
            content_length: number(HEADER_CONTENT_LENGTH),
        }
    }

    /// Whether the status is a success (2xx).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// How reading a body with a limit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The whole body, within the limit.
    Complete(Vec<u8>),
    /// The body is (or declares to be) larger than the limit; the reader
    /// stopped there, having read at most the limit.
    TooLarge(u64),
    /// The connection failed mid-body (worth asking again).
    Cut(String),
}

impl Body {
    /// A body a reader got whole, held to `limit` (for readers that cannot
    /// stop early, such as the browser's fetch).
    pub fn whole(bytes: Vec<u8>, limit: usize) -> Self {
        if bytes.len() > limit {
            Body::TooLarge(bytes.len() as u64)
        } else {
            Body::Complete(bytes)
        }
    }
}

/// The server's explanation in an error answer: the `error` field of its
/// JSON body, or the start of the body as text, or why there is none.
///
/// ```
/// use channel_http_proto::answer::{Body, explanation};
///
/// assert_eq!(explanation(&Body::Complete(br#"{"error":"wrong token"}"#.to_vec())), "wrong token");
/// assert_eq!(explanation(&Body::Complete(b"Bad Gateway".to_vec())), "Bad Gateway");
/// assert_eq!(explanation(&Body::TooLarge(1 << 30)), "(an error body of 1073741824 bytes, unread)");
/// ```
pub fn explanation(body: &Body) -> String {
    match body {
        Body::Complete(bytes) => serde_json::from_slice::<ErrorBody>(bytes)
            .map(|b| b.error)
            .unwrap_or_else(|_| {
                String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned()
            }),
        Body::TooLarge(n) => format!("(an error body of {n} bytes, unread)"),
        Body::Cut(e) => format!("(no readable body: {e})"),
    }
}

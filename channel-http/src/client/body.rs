//! Reading response bodies with a bound: a relay or peer decides how much it
//! sends, so a client never reads more than it is prepared to hold.

use channel_http_proto::answer::Body;
use reqwest::Response;

/// A reqwest error with its causes, on one line.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    channel_core::error_chain(e)
}

/// The body of `response`, if it holds at most `limit` bytes. A declared
/// length beyond the limit is refused before reading; an undeclared one is
/// read chunk by chunk and refused as soon as it passes the limit.
pub(crate) async fn read_limited(mut response: Response, limit: usize) -> Body {
    if let Some(declared) = response.content_length()
        && declared > limit as u64
    {
        return Body::TooLarge(declared);
    }
    let declared = response.content_length().unwrap_or(0) as usize;
    let mut body = Vec::with_capacity(declared.min(limit));
    // Bounded: every chunk grows `body`, which may not pass `limit`.
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Body::TooLarge((body.len() + chunk.len()) as u64);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Body::Complete(body),
            Err(e) => return Body::Cut(describe(&e)),
        }
    }
}

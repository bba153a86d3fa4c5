//! Reading response bodies with a bound: a relay or peer decides how much it
//! sends, so a client never reads more than it is prepared to hold.

use reqwest::Response;

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// It is (or declares to be) larger than the limit; nothing more was read.
    TooLarge(u64),
    /// The connection failed mid-body (worth asking again).
    Cut(reqwest::Error),
}

/// The body of `response`, if it holds at most `limit` bytes. A declared
/// length beyond the limit is refused before reading; an undeclared one is
/// read chunk by chunk and refused as soon as it passes the limit.
pub(crate) async fn read_limited(
    mut response: Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if let Some(declared) = response.content_length()
        && declared > limit as u64
    {
        return Err(BodyError::TooLarge(declared));
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    // Bounded: every chunk grows `body`, which may not pass `limit`.
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Cut)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge((body.len() + chunk.len()) as u64));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

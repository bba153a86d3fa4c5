//! The browser side of the protocol core: performs the requests that
//! `channel_http_proto`'s operations ask for with `fetch` (gloo-net) and hands
//! back their answers; sleeps on browser timers.

use std::time::Duration;

use channel_http_proto::HttpError;
use channel_http_proto::answer::{Body, Head};
use channel_http_proto::exchange::{Http, NoAnswer};
use channel_http_proto::ops::{Content, Method, Request};
use gloo_net::http::{Request as Fetch, Response};

/// The longest a browser timer waits: `setTimeout` takes at most 2^31 - 1 ms
/// (and gloo-timers panics beyond `u32` ms); longer waits end after this.
pub(crate) const LONGEST_SLEEP: Duration = Duration::from_secs(24 * 3600);

/// Sleeps `delay` on a browser timer, at most [`LONGEST_SLEEP`].
pub(crate) fn sleep(delay: Duration) -> gloo_timers::future::TimeoutFuture {
    gloo_timers::future::sleep(delay.min(LONGEST_SLEEP))
}

/// The relay as the browser's `fetch` reaches it, for one operation of the
/// protocol core: [`FetchClient`](crate::FetchClient) lends it out.
#[derive(Debug)]
pub struct FetchRelay<'a> {
    /// The relay's base URL, without a trailing slash.
    pub(crate) base: &'a str,
    /// `Authorization` of every request, if any.
    pub(crate) auth: Option<&'a str>,
}

impl Http for FetchRelay<'_> {
    type Answer = Response;

    async fn perform(&mut self, request: Request) -> Result<Response, NoAnswer> {
        // (fetch has no request timeout; the relay ends a long-poll itself.)
        let url = format!("{}{}", self.base, request.path);
        let mut builder = match request.method {
            Method::Get => Fetch::get(&url),
            Method::Post => Fetch::post(&url),
        };
        if let Some(auth) = self.auth {
            builder = builder.header("authorization", auth);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let sent = match request.body {
            None => builder.send().await,
            Some((body, content)) => {
                let kind = match content {
                    Content::Json => "application/json",
                    Content::Octets => "application/octet-stream",
                };
                builder
                    .header("content-type", kind)
                    .body(js_sys::Uint8Array::from(&body[..]))
                    .map_err(|e| NoAnswer::Unusable(HttpError::Setup(e.to_string())))?
                    .send()
                    .await
            }
        };
        sent.map_err(|e| NoAnswer::Network(format!("network error: {e}")))
    }

    fn head(&self, response: &Response) -> Head {
        Head::read(response.status(), |name| response.headers().get(name))
    }

    async fn read_body(&mut self, response: Response, limit: usize) -> Body {
        // The browser reads a body whole: refuse a declared length beyond the
        // limit first, then hold what came to it.
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = declared.filter(|&n| n > limit as u64) {
            return Body::TooLarge(n);
        }
        match response.binary().await {
            Ok(bytes) => Body::whole(bytes, limit),
            Err(e) => Body::Cut(format!("network error: {e}")),
        }
    }

    async fn sleep(&mut self, delay: Duration) {
        sleep(delay).await;
    }

    fn unit_random(&mut self) -> f64 {
        js_sys::Math::random()
    }
}

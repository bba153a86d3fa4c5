//! The reqwest side of the protocol core: performs the requests that
//! `channel_http_proto`'s operations ask for, and hands back their answers.

use std::time::Duration;

use channel_http_proto::answer::{Body, Head};
use channel_http_proto::exchange::{Http, NoAnswer};
use channel_http_proto::ops::{Content, Method, Request};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Response};

use super::body::{describe, read_limited};
use crate::HttpError;

/// One server (a relay or a direct-mode peer) as reqwest reaches it, for one
/// operation of the protocol core: [`ReqwestRelay`](crate::ReqwestRelay) lends it out.
pub struct ReqwestServer<'a> {
    pub(crate) client: &'a Client,
    /// The server's base URL, without a trailing slash.
    pub(crate) base: &'a str,
    /// `Authorization` of every request, if any.
    pub(crate) auth: Option<&'a HeaderValue>,
    /// Time limit of one request; a long-poll gets its wait on top.
    pub(crate) timeout: Duration,
}

impl<'a> ReqwestServer<'a> {
    /// The server at `base` for one operation.
    pub(crate) fn new(
        client: &'a Client,
        base: &'a str,
        auth: Option<&'a HeaderValue>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            base,
            auth,
            timeout,
        }
    }
}

/// A uniform number in [0, 1) from the OS (a failure only loses the jitter).
fn unit_random() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

/// Whether `e` comes from TLS (an untrusted or invalid certificate, a
/// protocol mismatch) rather than from the network.
fn is_tls_failure(e: &reqwest::Error) -> bool {
    use tokio_rustls::rustls::Error as Tls;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    // Bounded by the chain, which ends.
    while let Some(s) = source {
        if s.downcast_ref::<Tls>().is_some() {
            return true;
        }
        // io::Error's `source` skips the error it wraps: go inside instead.
        source = match s.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => s.source(),
        };
    }
    false
}

impl Http for ReqwestServer<'_> {
    type Answer = Response;

    async fn perform(&mut self, request: Request) -> Result<Response, NoAnswer> {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = match request.method {
            Method::Get => self.client.get(&url),
            Method::Post => self.client.post(&url),
        }
        .timeout(request.wait + self.timeout);
        if let Some(auth) = self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value.as_str());
        }
        if let Some((body, content)) = request.body {
            let kind = match content {
                Content::Json => "application/json",
                Content::Octets => "application/octet-stream",
            };
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static(kind))
                .body(body);
        }
        builder.send().await.map_err(|e| {
            if is_tls_failure(&e) {
                // A certificate the client does not trust does not get better by waiting.
                NoAnswer::Unusable(HttpError::Setup(format!(
                    "TLS with {url} failed: {}",
                    describe(&e)
                )))
            } else if e.is_builder() {
                NoAnswer::Unusable(HttpError::Setup(format!(
                    "bad request to {url}: {}",
                    describe(&e)
                )))
            } else {
                NoAnswer::Network(describe(&e))
            }
        })
    }

    fn head(&self, response: &Response) -> Head {
        Head::read(response.status().as_u16(), |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
    }

    async fn read_body(&mut self, response: Response, limit: usize) -> Body {
        read_limited(response, limit).await
    }

    async fn sleep(&mut self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }

    fn unit_random(&mut self) -> f64 {
        unit_random()
    }
}

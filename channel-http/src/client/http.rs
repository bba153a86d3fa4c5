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

/// A uniform number in [0, 1) from the OS (a failure only loses the jitter).
fn unit_random() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
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
            if e.is_builder() {
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

//! MPC parties over HTTP: a relay server, a direct server-to-server mode, and a
//! native client, all implementing `channel-core`'s async [`Channel`](channel_core::Channel).
//!
//! - [`relay`]: an axum relay that routes messages between the parties of many
//!   sessions, with per-party tokens, long-poll receives, exactly-once delivery
//!   under retries, and limits with precise status codes. As a library
//!   ([`Relay::router`](relay::Relay::router)) or the `channel-relay` binary.
//! - [`HttpChannel`]: a party of a relay session (reqwest, http or https).
//! - [`direct`]: [`DirectChannel`], for parties that can reach each other's
//!   servers: each serves an endpoint, peers POST to it, pairwise keys
//!   authenticate the sender. No third party.
//! - [`local`]: a relay or direct-mode parties on 127.0.0.1, for tests,
//!   examples and benchmarks.
//! - [`protocol`], [`backoff`], [`HttpError`]: the HTTP API's wire and retry
//!   rules, re-exported from the sans-IO core `channel-http-proto`, which the
//!   native clients here and the browser client (`channel-wasm`) both drive.
//!
//! The API (routes, headers, status codes, curl examples) is in `API.md` next to
//! this crate's `Cargo.toml`.
//!
//! ```
//! use channel_core::reference::secure_sum;
//! use channel_http::relay::{Relay, RelayConfig};
//! use channel_http::{ClientOptions, HttpChannel};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A relay on a free port of 127.0.0.1.
//! let relay = Relay::new(RelayConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(channel_http::serve(listener, relay.router(), relay.shutdown_signal()));
//!
//! // A session of three parties, each joining with its own token.
//! let opts = ClientOptions::default();
//! let session = HttpChannel::create_session(&url, 3, None, &opts).await?;
//! let mut tasks = Vec::new();
//! for token in session.tokens {
//!     let mut ch = HttpChannel::join(&url, &session.session, &token, &opts).await?;
//!     tasks.push(tokio::spawn(async move {
//!         let me = ch.party();
//!         let mut r = me as u64;
//!         secure_sum(&mut ch, me, 3, 10 + me as u64, move || { r += 7; r }).await
//!     }));
//! }
//! for task in tasks {
//!     assert_eq!(task.await??, 33);
//! }
//! # Ok(())
//! # }
//! ```

pub use channel_http_proto::{backoff, protocol};

#[cfg(feature = "server")]
mod api_error;
#[cfg(feature = "server")]
mod auth;
#[cfg(feature = "server")]
pub mod relay;
#[cfg(feature = "server")]
mod serve;
#[cfg(feature = "server")]
mod store;

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub mod direct;
#[cfg(feature = "client")]
pub mod local;

pub use channel_http_proto::{HttpError, RetryPolicy, TransportError};
#[cfg(feature = "client")]
pub use client::{ClientOptions, HttpChannel, ReqwestRelay, ReqwestServer};
#[cfg(feature = "client")]
pub use direct::{DirectChannel, DirectConfig, DirectOptions, DirectPeer};
#[cfg(feature = "server")]
pub use serve::{serve, serve_tls, tls_config};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

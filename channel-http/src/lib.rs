//! MPC parties over HTTP: a relay server, a direct server-to-server mode, and a
//! native client, all implementing `channel-core`'s async [`Channel`](channel_core::Channel).
//!
//! - [`relay`]: an axum relay that routes messages between the parties of many
//!   sessions, with per-party tokens, long-poll receives, exactly-once delivery
//!   under retries, and limits with precise status codes. As a library
//!   ([`Relay::router`](relay::Relay::router)) or the `channel-relay` binary.
//! - [`HttpChannel`]: a party of a relay session (reqwest, http or https),
//!   sealed end to end.
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
//! Every party is sealed end to end (channel-seal): it makes its own key, the
//! application that coordinates the session collects the public keys and
//! hands each party an [`Invitation`](channel_seal::Invitation), and the relay
//! sees only sizes, timing and who talks to whom.
//!
//! ```
//! use channel_core::reference::secure_sum;
//! use channel_http::relay::{Relay, RelayConfig};
//! use channel_http::{ClientOptions, HttpChannel};
//! use channel_seal::PartyKey;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A relay on a free port of 127.0.0.1.
//! let relay = Relay::new(RelayConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", listener.local_addr()?);
//! tokio::spawn(channel_http::serve(listener, relay.router(), relay.shutdown_signal()));
//!
//! // Each party makes its key; the coordinator gets the public keys and invites them.
//! let keys: Vec<PartyKey> = (0..3).map(|_| PartyKey::generate()).collect::<Result<_, _>>()?;
//! let public: Vec<_> = keys.iter().map(PartyKey::public).collect();
//! let opts = ClientOptions::default();
//! let invitations = HttpChannel::invite(&url, &public, None, &opts).await?;
//!
//! // Each party joins with its invitation and its own key (joining waits for the others).
//! let mut tasks = Vec::new();
//! for (invitation, key) in invitations.into_iter().zip(keys) {
//!     let opts = opts.clone();
//!     tasks.push(tokio::spawn(async move {
//!         let mut ch = HttpChannel::join(&invitation, &key, &opts).await?;
//!         let me = ch.party();
//!         let mut r = me as u64;
//!         let sum = secure_sum(&mut ch, me, 3, 10 + me as u64, move || { r += 7; r }).await?;
//!         Ok::<u64, Box<dyn std::error::Error + Send + Sync>>(sum)
//!     }));
//! }
//! for task in tasks {
//!     assert_eq!(task.await?.map_err(|e| e.to_string())?, 33);
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
mod guard;
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
pub use client::{
    ClientOptions, HeartbeatTask, HttpChannel, RelayTransport, ReqwestRelay, ReqwestServer,
};
#[cfg(feature = "client")]
pub use direct::{DirectChannel, DirectConfig, DirectOptions, DirectPeer};
#[cfg(feature = "server")]
pub use serve::{ServeLimits, serve, serve_tls, serve_with, tls_config};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

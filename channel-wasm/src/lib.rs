//! A browser party for MPC: channel-core's async [`Channel`](channel_core::Channel)
//! over the `channel-http` relay, on gloo-net (fetch) and wasm-bindgen.
//!
//! - [`WasmChannel`] for Rust code compiled to `wasm32-unknown-unknown`: the
//!   browser adapter of the relay protocol's sans-IO core (`channel-http-proto`),
//!   which the native `channel_http::HttpChannel` drives too, so both follow the
//!   same wire protocol, authentication, WebSocket and long-poll, retry and
//!   exactly-once rules (the relay's WebSocket by default, the HTTP routes
//!   where it cannot be opened: [`WasmOptions::transport`]); its futures are `!Send`, retries sleep on browser timers, errors
//!   are [`HttpError`].
//! - [`RelayChannel`] for JavaScript: `join(invitation, privateKeyHex)`,
//!   `send(party, bytes, phase)` and `recv(party, phase)` returning Promises,
//!   and `PartyKey.generate()` for a party's key (see `www/index.html`).
//!
//! Both seal every chunk end to end (channel-seal, ChaCha20-Poly1305 in the
//! browser), so the relay sees sizes, timing and who talks to whom, never
//! content.
//!
//! The relay must allow the page's origin (`channel-relay --cors-origin ...`).
//! The crate also builds on the host target (so the workspace's tests and
//! clippy stay simple), but it only works in a browser.

mod channel;
mod fetch;
mod js;
mod socket;

pub use channel::{FetchClient, Heartbeat, WasmChannel, WasmOptions};
pub use channel_http_proto::socket::RelayTransport;
pub use channel_http_proto::{HttpError, RetryPolicy, TransportError};
pub use channel_seal::{Invitation, PartyKey, PublicKey, SealError};
pub use fetch::FetchRelay;
pub use js::{JsPartyKey, RelayChannel};

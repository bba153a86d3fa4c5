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
//! - [`RelayChannel`] for JavaScript: `invite(relayUrl, publicKeys)`,
//!   `join(invitation, privateKeyHex, options)`, `send(party, bytes, phase,
//!   options)`, `recv(party, phase, options)`, `flush()` and `close()`
//!   returning typed Promises, arguments checked (a `TypeError` rather than
//!   a silent conversion), failures a `ChannelError` with `kind`, `party`,
//!   `phase` and `status`, an `AbortSignal` per call; `PartyKey.generate()`
//!   for a party's key; [`BincodeWriter`] and [`BincodeReader`] for the bytes
//!   of typed values exchanged with Rust parties (see `www/index.html` and
//!   the README).
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
pub use js::{BincodeReader, BincodeWriter, JsPartyKey, RelayChannel};

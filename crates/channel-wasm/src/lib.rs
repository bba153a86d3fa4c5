//! A browser party for MPC: channel-core's async [`Channel`](channel_core::Channel)
//! over the `channel-http` relay, on gloo-net (fetch) and wasm-bindgen.
//!
//! - [`WasmChannel`] for Rust code compiled to `wasm32-unknown-unknown`: same wire
//!   protocol, authentication, long-poll and exactly-once rules as the native
//!   `channel_http::HttpChannel`; its futures are `!Send`, retries sleep on
//!   browser timers, errors are `channel_http::HttpError`.
//! - [`RelayChannel`] for JavaScript: `join`, `send(party, bytes, phase)` and
//!   `recv(party, phase)` returning Promises (see `www/index.html`).
//!
//! The relay must allow the page's origin (`channel-relay --cors-origin ...`).
//! The crate also builds on the host target (so the workspace's tests and
//! clippy stay simple), but it only works in a browser.

mod channel;
mod js;

pub use channel::{WasmChannel, WasmOptions};
pub use js::RelayChannel;

//! The sans-IO core of the relay protocol of `channel-http`: everything a relay
//! client decides, with no HTTP client, socket, runtime or clock in it.
//!
//! - [`protocol`]: the wire: paths, headers, JSON bodies, limits, and the checks
//!   of a relay's answers before anything is sized by them.
//! - [`Joined`]: a joined session: who the client is, the relay's limits, the
//!   per-peer message numbers in each direction.
//! - [`ops`]: one state machine per operation ([`ops::Post`], [`ops::Poll`],
//!   [`ops::Setup`]): the next request to make, and what an answer means:
//!   done, ask again, retry after a delay, or a typed [`HttpError`].
//! - [`backoff`]: which failures are retried, capped exponential backoff with
//!   jitter within a bounded total time.
//! - [`exchange()`]: the loop that drives an operation over any client that
//!   implements [`exchange::Http`] (perform a request, read a body within a
//!   limit, sleep).
//! - [`RelayParty`]: a party of a relay session implementing channel-core's
//!   `Channel`, written once, generic over the HTTP [`party::Client`].
//!
//! The native client (`channel_http::HttpChannel`, on reqwest) and the browser
//! client (`channel_wasm::WasmChannel`, on fetch) are thin adapters over this
//! crate, so the numbering, retry and bounds rules are written once and tested
//! here without a server:
//!
//! ```
//! use channel_http_proto::answer::{Body, Head};
//! use channel_http_proto::ops::{AfterHead, Operation, PollTiming, Step};
//! use channel_http_proto::protocol::SessionInfo;
//! use channel_http_proto::{HttpError, Instant, RetryPolicy};
//! use channel_core::RecvInfo;
//! use std::time::Duration;
//!
//! let info = SessionInfo::new("ab", 2, 1, 1024, 100);
//! let mut joined = info.joined()?;
//! let timing = PollTiming { recv_timeout: Duration::from_secs(5), poll_wait: Duration::from_secs(1), retry: RetryPolicy::default() };
//! let mut recv = joined.receive(0, &RecvInfo::new("open", 0, None), timing, Instant::now())?;
//! let request = recv.request(Instant::now())?;
//! assert_eq!(request.path, "/v1/sessions/ab/from/0?seq=0&wait_ms=100");
//!
//! // A relay that answers with another message than the one asked for is caught.
//! let lying = Head { status: 200, seq: Some(7), ..Head::default() };
//! assert!(matches!(recv.on_head(&lying, Instant::now(), 0.5), AfterHead::Step(Step::Fail(HttpError::Protocol(_)))));
//! # Ok::<(), HttpError>(())
//! ```

pub mod answer;
pub mod backoff;
mod error;
pub mod exchange;
mod joined;
pub mod ops;
pub mod party;
pub mod protocol;
pub mod sends;
pub mod socket;

pub use backoff::RetryPolicy;
pub use channel_seal::{Invitation, PartyKey, PublicKey, SealError};
pub use error::{HttpError, TransportError};
pub use exchange::exchange;
pub use joined::{Joined, check_outgoing, oversized};
pub use party::RelayParty;
/// The clock the operations take their `now` from (`std::time::Instant`
/// natively, the browser's clock on wasm32).
pub use web_time::Instant;

//! An application's protocol written once, usable with async channels
//! ([`asynchronous`]: tokio, the relay, p2p, a browser) and with blocking ones
//! ([`blocking`]: std threads), the way `channel-core` offers its own API.
//!
//! `protocol.rs` is compiled twice: [`asynchronous`] includes it with
//! `form = maybe_async::must_be_async` and channel-core's async API,
//! [`blocking`] with `form = maybe_async::must_be_sync`, which strips every
//! `async` and `.await`, and channel-core's blocking API. Both modules exist
//! in one build, so one binary can use either.
//!
//! ```
//! use example_protocol::blocking::vector_sum;
//!
//! // Three parties on threads, each with a vector: they learn the sum.
//! let inputs = [[1u64, 2], [10, 20], [100, 200]];
//! let threads: Vec<_> = channel_std::StdChannel::network(3)
//!     .into_iter()
//!     .enumerate()
//!     .map(|(me, mut ch)| {
//!         let mut r = me as u64;
//!         std::thread::spawn(move || vector_sum(&mut ch, me, 3, &inputs[me], move || { r += 99; r }))
//!     })
//!     .collect();
//! for thread in threads {
//!     assert_eq!(thread.join().unwrap().unwrap(), [111, 222]);
//! }
//! ```

// The same file is compiled once per form: that is the point, not an accident.
#![allow(clippy::duplicate_mod)]

pub mod asynchronous;
pub mod blocking;

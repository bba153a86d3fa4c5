//! WAN emulation for MPC transports, in user space (no root, no `tc netem`).
//!
//! Two tools on one timing model ([`Schedule`]: a bottleneck link with
//! latency, jitter and bandwidth, given by a [`LinkProfile`]):
//!
//! - [`LinkProxy`] ([`proxy`]): a TCP proxy between two endpoints on this
//!   machine that delays and paces every byte like a WAN link, with faults
//!   injected at any time through [`LinkControl`]: stall, cut, reset, resume.
//!   Real transports (HTTP, libp2p, TCP) run through it unchanged, which is
//!   how `cargo xtask bench --wan` and the fault tests measure them. The
//!   `channel-sim` binary runs one from the command line.
//! - [`SimNetwork`] ([`sim`]): `n` in-process parties implementing
//!   [`channel_core::Channel`], each chunk delivered when its link would,
//!   which under tokio's paused clock answers "how long does my protocol take
//!   on a 100 ms WAN, in how many rounds, moving how many bytes" in a moment.
//!
//! ```
//! use channel_core::{recv_bytes, send_bytes};
//! use channel_sim::{LinkProfile, SimNetwork};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), channel_core::Error> {
//! // 16 MiB over 100 Mbit/s, 75 ms away: about 1.42 s, simulated in no time.
//! let mut parties = SimNetwork::new(2, LinkProfile::intercontinental()).parties.into_iter();
//! let (mut a, mut b) = (parties.next().unwrap(), parties.next().unwrap());
//! send_bytes(&mut a, 1, "bulk", &vec![7u8; 16 << 20]).await?;
//! let got = recv_bytes(&mut b, 0, "bulk").await?;
//! assert_eq!(got.len(), 16 << 20);
//! let took = b.now();
//! assert!(took > Duration::from_millis(1415) && took < Duration::from_millis(1420), "{took:?}");
//! # Ok(())
//! # }
//! ```

pub mod profile;
pub mod proxy;
mod schedule;
pub mod sim;

pub use profile::{Bandwidth, LinkProfile, ParseError, parse_duration};
pub use proxy::{Direction, Link, LinkControl, LinkProxy, LinkState};
pub use schedule::Schedule;
pub use sim::{SimBuilder, SimChannel, SimNetwork, SimReport, SimStats};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

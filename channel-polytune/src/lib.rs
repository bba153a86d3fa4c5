//! Runs [Polytune](https://polytune.org/)'s garbled-circuit MPC engine over any
//! mpc-channels transport.
//!
//! Polytune's engine talks to its peers through its own
//! [`polytune::channel::Channel`] trait: `&self` methods that send a whole
//! message to a party and receive one from a party, called for all peers at
//! once (`try_join` over sends and receives). An mpc-channels channel takes
//! `&mut self`, so it cannot be handed over as it is; its per-peer halves can.
//! This crate wraps them:
//!
//! - [`PolytuneChannel`] takes any async channel that implements
//!   [`Split`](channel_core::asynchronous::Split) (channel-tokio, channel-tcp,
//!   channel-http's relay party, channel-seal's `Sealed`, ...), splits it and
//!   serves Polytune from the halves, locked per peer and direction, so
//!   sending to p, sending to q, receiving from p and from q all run at once.
//! - [`BlockingPolytuneChannel`] does the same for a blocking channel
//!   (channel-std, or `OnRuntime`): each operation runs on tokio's blocking
//!   pool.
//!
//! Polytune's messages can be far larger than a transport's chunk: they go
//! through the channels' message helpers (`send_bytes_owned`, `recv_bytes`),
//! which cut them into chunks and join them again, so any message up to the
//! channel's `max_message_size` crosses every transport. The buffer Polytune
//! hands over is moved, not copied.
//!
//! When [`polytune::mpc`] returns, call [`PolytuneChannel::finish`]: it waits
//! until everything sent reached the transport, then drops the channel, which
//! tells the peers this party is done.
//!
//! # Example
//!
//! Three parties over channel-tokio compute which of them holds the largest
//! number, without telling each other their numbers:
//!
//! ```
//! use channel_polytune::PolytuneChannel;
//! use channel_polytune::polytune;
//! use channel_polytune::polytune::garble_lang::compile;
//! use channel_polytune::polytune::garble_lang::register_circuit::Circuit;
//! use channel_tokio::TokioChannel;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let program = compile(
//!     "pub fn main(a: u8, b: u8, c: u8) -> u8 {
//!          if a > b && a > c { 0u8 } else if b > c { 1u8 } else { 2u8 }
//!      }",
//! )
//! .map_err(|e| format!("{e:?}"))?;
//! let circuit: Circuit = program.circuit.clone().unwrap_ssa().into();
//! let numbers = ["7u8", "42u8", "9u8"];
//!
//! let parties = TokioChannel::network(3).into_iter().enumerate().map(|(me, channel)| {
//!     let inputs = program.parse_arg(me, numbers[me]).map(|arg| arg.as_bits());
//!     let circuit = &circuit;
//!     async move {
//!         let inputs = inputs.map_err(|e| format!("{e:?}"))?;
//!         let channel = PolytuneChannel::new(channel);
//!         let output = polytune::mpc(&channel, circuit, &inputs, 0, me, &[0, 1, 2], None)
//!             .await
//!             .map_err(|e| format!("party {me}: {e:?}"))?;
//!         channel.finish().await?;
//!         Ok::<_, Box<dyn std::error::Error>>(output)
//!     }
//! });
//! let outputs = futures::future::try_join_all(parties).await?;
//! for output in outputs {
//!     let winner = program.parse_output(&output).map_err(|e| format!("{e:?}"))?;
//!     assert_eq!(winner.to_string(), "1");
//! }
//! # Ok(())
//! # }
//! ```

mod blocking;
pub mod check;
mod engine;
mod shared;
mod stats;

pub use blocking::BlockingPolytuneChannel;
pub use engine::EngineChannel;
pub use polytune;
pub use shared::PolytuneChannel;
pub use stats::Sent;

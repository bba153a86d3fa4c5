//! The conformance kit: the checks every `Channel` implementation must pass.
//!
//! Enable the `testkit` feature (usually as a dev-dependency) and hand the kit a
//! *factory* that builds `n` connected channels, where element `i` is party `i`.
//! The kit runs each [`Check`] on a fresh set of channels, all parties at once,
//! under a time bound. A failure says which check, which party and which phase;
//! a stall lists what every unfinished party was waiting for.
//!
//! ```
//! use channel_core::testkit::Kit;
//! # use channel_core::{Channel, RecvInfo, SendInfo, transport::{TransportError, check_chunk, check_peer}};
//! # use std::{collections::VecDeque, sync::{Arc, Mutex}};
//! # type Queues = Arc<Mutex<Vec<VecDeque<Vec<u8>>>>>;
//! # struct Mem { me: usize, n: usize, q: Queues }
//! # impl Channel for Mem {
//! #     type SendError = TransportError;
//! #     type RecvError = TransportError;
//! #     async fn send_bytes_to(&mut self, p: usize, msg: Vec<u8>, _: SendInfo) -> Result<(), TransportError> {
//! #         check_peer(self.me, p, self.n)?;
//! #         check_chunk(p, msg.len(), self.chunk_size())?;
//! #         self.q.lock().unwrap()[self.me * self.n + p].push_back(msg);
//! #         Ok(())
//! #     }
//! #     async fn recv_bytes_from(&mut self, p: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
//! #         check_peer(self.me, p, self.n)?;
//! #         loop {
//! #             if let Some(m) = self.q.lock().unwrap()[p * self.n + self.me].pop_front() { return Ok(m); }
//! #             futures_timer::Delay::new(std::time::Duration::from_micros(50)).await;
//! #         }
//! #     }
//! # }
//! # fn network(n: usize) -> Vec<Mem> {
//! #     let q: Queues = Arc::new(Mutex::new(vec![VecDeque::new(); n * n]));
//! #     (0..n).map(|me| Mem { me, n, q: q.clone() }).collect()
//! # }
//! # futures::executor::block_on(async {
//! let report = Kit::new(3)
//!     .with_big_message(1 << 20) // smaller than the default 64 MiB, for this example
//!     .run_async(async |n| Ok(network(n)))
//!     .await
//!     .unwrap_or_else(|failure| panic!("{failure}"));
//! println!("{report}");
//! # });
//! ```
//!
//! The blocking form is [`Kit::run_blocking`], which runs each party on its own thread.
//! The `examples/custom_channel.rs` example of this crate shows a complete transport
//! passing both.

mod board;
mod mux_async;
mod payload;
mod run_async;
#[cfg(not(target_arch = "wasm32"))]
mod run_blocking;
mod split_async;
#[cfg(not(target_arch = "wasm32"))]
mod split_blocking;
mod split_plan;

use std::fmt;
use std::time::Duration;

pub(crate) use board::{Board, Probe};
pub use payload::pattern;
pub(crate) use payload::{PatternStream, difference, splitmix64};

/// One conformance check. [`Check::ALL`] lists them in the order the kit runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// Every pair of parties exchanges a message in both directions.
    Pairwise,
    /// 1000 numbered messages to the next party arrive in order (count configurable).
    Fifo,
    /// Empty and 1-byte messages, through the trait and through the helpers.
    TinyMessages,
    /// Sizes `k·chunk−1`, `k·chunk`, `k·chunk+1` with a small forced chunk size (k = 1..=3)
    /// and with the channel's own chunk size (k = 1, 2).
    ChunkBoundaries,
    /// Parties 0 and 1 exchange one big message (64 MiB by default) in both directions.
    BigMessage,
    /// All parties send a message (8 MiB by default) to all others, and only then receive.
    AllToAll,
    /// Rounds of typed and raw messages in alternating phases to all peers.
    InterleavedPhases,
    /// A vector of structs round-trips; wrong length and wrong type give typed errors.
    TypedStructs,
    /// Out-of-range party and self give errors (not panics), and the channel still works.
    BadParty,
    /// A chunk one byte larger than the channel's chunk size and frame footer,
    /// handed straight to `send_bytes_to`, is refused with an error of kind
    /// [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge), nothing of it
    /// arrives, and the channel still works.
    OversizedChunk,
    /// Messages of 3 MiB, 10 bytes, none, 1 MiB + 1 and 100 bytes, and two
    /// of several small forced chunks, received one after another into one
    /// buffer with `recv_bytes_into` (typed values received between them):
    /// each arrives whole and exact whatever the buffer held before, however
    /// the transport reuses memory ([`Channel::recycle`](crate::Channel::recycle)).
    ReusedBuffers,
    /// The reference secure-sum protocol computes the right sum.
    SecureSum,
    /// Streamed messages ([`send_stream`](crate::send_stream) and friends)
    /// to the next party, between ordinary messages to it and to the
    /// others: parts of uneven sizes arrive in order and exactly once; a
    /// declared stream received whole, a whole message received as a
    /// stream, typed sequences item by item and whole, an empty stream, an
    /// aborted one and a misdeclared one (both an error of kind
    /// [`ErrorKind::Aborted`](crate::ErrorKind::Aborted) at the receiver,
    /// after which the channel goes on).
    StreamedMessages,
    /// Parties 0 and 1 stream one big message (the size of
    /// [`Check::BigMessage`]) to each other, one after the other, neither
    /// side ever holding it whole: beyond every transport's window.
    StreamedBig,
    /// A receiver that does not read holds a stream back: party 0 streams
    /// to party 1, which reads nothing until party 0's sends stop getting
    /// through; by then at most the bound given with
    /// [`Kit::with_stream_hold`] may have been accepted; then everything
    /// arrives. Not in [`Check::ALL`]: the bound depends on how the test
    /// configured the transport's windows.
    StreamHold,
    /// Split channels ([`Kit::run_split_async`]): every party receives from
    /// every peer and sends to every peer at once, the receives started first
    /// (a split that serialises them stalls here); messages of up to three
    /// chunks, FIFO and exactly once per peer.
    ConcurrentPeers,
    /// Split channels: a ping-pong with every peer, all peers at once under one
    /// `try_join`, each pair's rounds in order.
    TryJoinPeers,
    /// Split channels behind [`Shared`](crate::asynchronous::Shared): two
    /// senders to the same peer at once never mix their messages' chunks, each
    /// sender's messages arrive in order, and a bad party index is a typed error.
    SharedChannel,
    /// Sub-channels ([`Kit::run_mux_async`]): every party waits on
    /// sub-channel 1 for messages its peers send only after a whole exchange
    /// on sub-channel 2 (a mux whose waiting receive holds up another
    /// sub-channel stalls here); several messages of up to three chunks per
    /// peer, FIFO per sub-channel, none delivered to the other.
    SubChannelsAtOnce,
    /// Split channels: every party streams a message larger than an
    /// in-process window to every peer and receives one from every peer, all
    /// at once, with ordinary messages before and after each stream (so
    /// streams to one peer run between ordinary messages to the others).
    ConcurrentStreams,
    /// Sub-channels: opening the same number twice or more than the limit
    /// is a typed error, a closed number opens again, and chunks held for a
    /// sub-channel that does not read are bounded (beyond: an error of kind
    /// `QueueFull`).
    SubChannelLimits,
}

impl Check {
    /// Every check, in run order.
    pub const ALL: [Check; 14] = [
        Check::Pairwise,
        Check::Fifo,
        Check::TinyMessages,
        Check::ChunkBoundaries,
        Check::BigMessage,
        Check::AllToAll,
        Check::InterleavedPhases,
        Check::TypedStructs,
        Check::BadParty,
        Check::OversizedChunk,
        Check::ReusedBuffers,
        Check::SecureSum,
        Check::StreamedMessages,
        Check::StreamedBig,
    ];

    /// The extra checks of split channels, in run order
    /// ([`Kit::run_split_async`], [`Kit::run_split_blocking`]).
    pub const SPLIT: [Check; 4] = [
        Check::ConcurrentPeers,
        Check::TryJoinPeers,
        Check::SharedChannel,
        Check::ConcurrentStreams,
    ];

    /// The extra checks of sub-channels, in run order ([`Kit::run_mux_async`]).
    pub const MUX: [Check; 2] = [Check::SubChannelsAtOnce, Check::SubChannelLimits];

    /// A short stable name, used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Check::Pairwise => "pairwise",
            Check::Fifo => "fifo",
            Check::TinyMessages => "tiny-messages",
            Check::ChunkBoundaries => "chunk-boundaries",
            Check::BigMessage => "big-message",
            Check::AllToAll => "all-to-all",
            Check::InterleavedPhases => "interleaved-phases",
            Check::TypedStructs => "typed-structs",
            Check::BadParty => "bad-party",
            Check::OversizedChunk => "oversized-chunk",
            Check::ReusedBuffers => "reused-buffers",
            Check::SecureSum => "secure-sum",
            Check::StreamedMessages => "streamed-messages",
            Check::StreamedBig => "streamed-big",
            Check::StreamHold => "stream-hold",
            Check::ConcurrentStreams => "concurrent-streams",
            Check::ConcurrentPeers => "concurrent-peers",
            Check::TryJoinPeers => "try-join-peers",
            Check::SharedChannel => "shared-channel",
            Check::SubChannelsAtOnce => "sub-channels-at-once",
            Check::SubChannelLimits => "sub-channel-limits",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The conformance kit's settings; build one with [`Kit::new`] and run it.
#[derive(Debug, Clone)]
pub struct Kit {
    pub(crate) parties: usize,
    pub(crate) checks: Vec<Check>,
    pub(crate) timeout: Duration,
    pub(crate) big_message: usize,
    pub(crate) all_to_all_message: usize,
    pub(crate) fifo_messages: usize,
    pub(crate) stream_hold: Option<usize>,
}

impl Kit {
    /// All checks for `parties` parties (at least 2), with the default sizes:
    /// 64 MiB big message, 8 MiB all-to-all, 1000 FIFO messages, 120 s per check.
    pub fn new(parties: usize) -> Self {
        Self {
            parties,
            checks: Check::ALL.to_vec(),
            timeout: Duration::from_secs(120),
            big_message: 64 << 20,
            all_to_all_message: 8 << 20,
            fifo_messages: 1000,
            stream_hold: None,
        }
    }

    /// Runs only these checks (e.g. where a platform cannot run some).
    pub fn with_checks(mut self, checks: &[Check]) -> Self {
        self.checks = checks.to_vec();
        self
    }

    /// The time bound of each check.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Size of the message of [`Check::BigMessage`].
    pub fn with_big_message(mut self, bytes: usize) -> Self {
        self.big_message = bytes;
        self
    }

    /// Size of each message of [`Check::AllToAll`].
    pub fn with_all_to_all_message(mut self, bytes: usize) -> Self {
        self.all_to_all_message = bytes;
        self
    }

    /// The most a stream's sender may get through to a receiver that does
    /// not read, in bytes of chunks (what the transport's windows, as the
    /// test configured them, hold), for [`Check::StreamHold`].
    pub fn with_stream_hold(mut self, bytes: usize) -> Self {
        self.stream_hold = Some(bytes);
        self
    }

    /// Number of messages of [`Check::Fifo`].
    pub fn with_fifo_messages(mut self, count: usize) -> Self {
        self.fifo_messages = count;
        self
    }

    fn check_setup(&self, check: Check, channels: usize) -> Result<(), Failure> {
        if self.parties < 2 {
            return Err(Failure::Setup {
                check,
                error: format!("the kit needs at least 2 parties, got {}", self.parties),
            });
        }
        if channels != self.parties {
            return Err(Failure::Setup {
                check,
                error: format!(
                    "the factory returned {channels} channels for {} parties",
                    self.parties
                ),
            });
        }
        Ok(())
    }
}

/// What one party reports when its part of a check fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyFailure {
    /// The party that noticed.
    pub party: usize,
    /// What it was doing and what went wrong.
    pub error: String,
}

/// Why the kit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The factory failed or returned the wrong number of channels.
    #[error("check '{check}': setting up the channels failed: {error}")]
    Setup {
        /// The check being set up.
        check: Check,
        /// The factory's error.
        error: String,
    },
    /// One or more parties finished with an error.
    #[error("check '{check}' failed with {n} parties:{}", list(failures))]
    Failed {
        /// The check.
        check: Check,
        /// Number of parties.
        n: usize,
        /// Every party that failed.
        failures: Vec<PartyFailure>,
    },
    /// The check did not finish within the time bound.
    #[error(
        "check '{check}' with {n} parties stalled: not done after {after:?}:{}",
        list(waiting)
    )]
    Stalled {
        /// The check.
        check: Check,
        /// Number of parties.
        n: usize,
        /// The time bound.
        after: Duration,
        /// What each unfinished party was doing when time ran out.
        waiting: Vec<PartyFailure>,
    },
}

fn list(items: &[PartyFailure]) -> String {
    items
        .iter()
        .map(|f| format!("\n  party {}: {}", f.party, f.error))
        .collect()
}

/// The checks that passed, with their durations.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Number of parties.
    pub parties: usize,
    /// Each check run, with its wall-clock time (zero where no clock is available).
    pub passed: Vec<(Check, Duration)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "conformance kit, {} parties: {} checks passed",
            self.parties,
            self.passed.len()
        )?;
        for (check, took) in &self.passed {
            writeln!(
                f,
                "  {:<20} {:>8.1} ms",
                check.name(),
                took.as_secs_f64() * 1e3
            )?;
        }
        Ok(())
    }
}

/// The sizes and counts a party needs to play its part.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) check: Check,
    pub(crate) me: usize,
    pub(crate) n: usize,
    pub(crate) big_message: usize,
    pub(crate) all_to_all_message: usize,
    pub(crate) fifo_messages: usize,
    pub(crate) stream_hold: Option<usize>,
}

impl Plan {
    /// Every party but this one, in index order.
    pub(crate) fn peers(&self) -> impl DoubleEndedIterator<Item = usize> + use<> {
        let me = self.me;
        (0..self.n).filter(move |&p| p != me)
    }

    /// The party this one sends to in ring-shaped checks.
    pub(crate) fn next(&self) -> usize {
        (self.me + 1) % self.n
    }

    /// The party this one receives from in ring-shaped checks.
    pub(crate) fn prev(&self) -> usize {
        (self.me + self.n - 1) % self.n
    }

    /// A seed for the content that `from` sends in message `index` of this check.
    pub(crate) fn seed(&self, from: usize, index: usize) -> u64 {
        let mut state = (self.check as u64) << 48 ^ (from as u64) << 24 ^ index as u64;
        splitmix64(&mut state)
    }
}

/// The struct that [`Check::TypedStructs`] sends: strings, vectors, floats and options.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Record {
    id: u64,
    label: String,
    flags: Vec<bool>,
    weight: f64,
    parent: Option<u32>,
}

impl Record {
    pub(crate) fn many(party: usize, count: usize) -> Vec<Record> {
        (0..count)
            .map(|i| Record {
                id: (party * 1_000_000 + i) as u64,
                label: format!("party {party} record {i}"),
                flags: (0..i % 7).map(|b| (b + party).is_multiple_of(2)).collect(),
                weight: i as f64 / 8.0 - party as f64,
                parent: (i % 3 != 0).then_some(i as u32 / 3),
            })
            .collect()
    }
}

pub(crate) use crate::error::error_chain as describe;

impl Kit {
    pub(crate) fn plan(&self, check: Check, me: usize) -> Plan {
        Plan {
            check,
            me,
            n: self.parties,
            big_message: self.big_message,
            all_to_all_message: self.all_to_all_message,
            fifo_messages: self.fifo_messages,
            stream_hold: self.stream_hold,
        }
    }
}

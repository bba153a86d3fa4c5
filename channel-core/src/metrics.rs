//! Counting what a channel moves: bytes, chunks and messages, per peer and per phase.
//!
//! Wrap any channel in [`Metered`]; it implements both forms of the `Channel` trait
//! whenever the inner channel does, and counts every chunk at the byte level (payload
//! plus frame footer, i.e. what the transport was handed). A message is counted once,
//! at its first chunk.
//!
//! ```
//! # futures::executor::block_on(async {
//! use channel_core::{Metered, recv_from, send_to};
//! # use channel_core::{Channel, RecvInfo, SendInfo, transport::TransportError};
//! # /// A loopback "network" of one party talking to a mirror of itself.
//! # struct Echo(std::collections::VecDeque<Vec<u8>>);
//! # impl Channel for Echo {
//! #     type SendError = TransportError;
//! #     type RecvError = TransportError;
//! #     async fn send_bytes_to(&mut self, _: usize, msg: Vec<u8>, _: SendInfo) -> Result<(), TransportError> {
//! #         self.0.push_back(msg); Ok(())
//! #     }
//! #     async fn recv_bytes_from(&mut self, p: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
//! #         self.0.pop_front().ok_or(TransportError::Closed { party: p })
//! #     }
//! # }
//! let mut ch = Metered::new(Echo(Default::default()));
//! send_to(&mut ch, 1, "setup", &vec![7u32; 10]).await?;
//! let back: Vec<u32> = recv_from(&mut ch, 1, "setup").await?;
//! assert_eq!(back, vec![7u32; 10]);
//!
//! let stats = ch.stats();
//! assert_eq!(stats.party(1).messages_sent, 1);
//! assert_eq!(stats.phase("setup").messages_received, 1);
//! println!("{stats}"); // a small table, one row per peer and per phase
//! # Ok::<(), channel_core::Error>(())
//! # }).unwrap();
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::{RecvInfo, SendInfo};

/// Totals for one peer, one phase, or the whole channel.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Bytes handed to the transport (payload and frame footers).
    pub bytes_sent: u64,
    /// Bytes received from the transport.
    pub bytes_received: u64,
    /// Chunks sent.
    pub chunks_sent: u64,
    /// Chunks received.
    pub chunks_received: u64,
    /// Logical messages sent (counted at their first chunk).
    pub messages_sent: u64,
    /// Logical messages received (counted at their first chunk).
    pub messages_received: u64,
}

impl Counters {
    fn add_sent(&mut self, bytes: usize, first_chunk: bool) {
        self.bytes_sent += bytes as u64;
        self.chunks_sent += 1;
        self.messages_sent += u64::from(first_chunk);
    }

    fn add_received(&mut self, bytes: usize, first_chunk: bool) {
        self.bytes_received += bytes as u64;
        self.chunks_received += 1;
        self.messages_received += u64::from(first_chunk);
    }
}

/// A snapshot of everything a [`Metered`] channel counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    per_party: BTreeMap<usize, Counters>,
    per_phase: BTreeMap<Arc<str>, Counters>,
    total: Counters,
}

impl Stats {
    /// Totals for traffic with `party` (zero if there was none).
    pub fn party(&self, party: usize) -> Counters {
        self.per_party.get(&party).copied().unwrap_or_default()
    }

    /// Totals for `phase` (zero if there was none).
    pub fn phase(&self, phase: &str) -> Counters {
        self.per_phase.get(phase).copied().unwrap_or_default()
    }

    /// Totals over all peers and phases.
    pub fn total(&self) -> Counters {
        self.total
    }

    /// Every peer with traffic, in index order.
    pub fn parties(&self) -> impl Iterator<Item = (usize, Counters)> + '_ {
        self.per_party.iter().map(|(p, c)| (*p, *c))
    }

    /// Every phase with traffic, in name order.
    pub fn phases(&self) -> impl Iterator<Item = (&str, Counters)> + '_ {
        self.per_phase.iter().map(|(p, c)| (&**p, *c))
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<24} {:>14} {:>9} {:>14} {:>9}",
            "scope", "bytes sent", "msgs", "bytes recv", "msgs"
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, c: &Counters| {
            writeln!(
                f,
                "{:<24} {:>14} {:>9} {:>14} {:>9}",
                name, c.bytes_sent, c.messages_sent, c.bytes_received, c.messages_received
            )
        };
        for (p, c) in &self.per_party {
            row(f, &format!("party {p}"), c)?;
        }
        for (phase, c) in &self.per_phase {
            row(f, &format!("phase '{phase}'"), c)?;
        }
        row(f, "total", &self.total)
    }
}

/// A channel wrapper that counts traffic; see the [module docs](self).
#[derive(Debug)]
pub struct Metered<C> {
    pub(crate) inner: C,
    stats: Stats,
}

impl<C> Metered<C> {
    /// Wraps `inner`, starting from zero.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            stats: Stats::default(),
        }
    }

    /// What has been counted so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Returns the counts so far and starts again from zero (e.g. between protocol runs).
    pub fn take_stats(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }

    /// The wrapped channel.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The wrapped channel, mutably.
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the channel, dropping the counts.
    pub fn into_inner(self) -> C {
        self.inner
    }

    pub(crate) fn record_sent(&mut self, party: usize, info: &SendInfo, bytes: usize) {
        let first = info.chunk() == 0;
        self.stats
            .per_party
            .entry(party)
            .or_default()
            .add_sent(bytes, first);
        self.stats
            .per_phase
            .entry(info.phase_arc().clone())
            .or_default()
            .add_sent(bytes, first);
        self.stats.total.add_sent(bytes, first);
    }

    pub(crate) fn record_received(&mut self, party: usize, info: &RecvInfo, bytes: usize) {
        let first = info.chunk() == 0;
        self.stats
            .per_party
            .entry(party)
            .or_default()
            .add_received(bytes, first);
        self.stats
            .per_phase
            .entry(info.phase_arc().clone())
            .or_default()
            .add_received(bytes, first);
        self.stats.total.add_received(bytes, first);
    }
}

//! What a party handed to the transport, counted per whole Polytune message.

use std::sync::atomic::{AtomicU64, Ordering};

/// Polytune's messages sent by one party: how many, how many bytes, and the
/// largest (which shows whether messages were larger than a chunk).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Messages sent, to all peers.
    pub messages: u64,
    /// Bytes in them.
    pub bytes: u64,
    /// The largest message, in bytes.
    pub largest: u64,
}

/// The counters behind [`Sent`], updated from concurrent sends.
#[derive(Debug, Default)]
pub(crate) struct SentCounters {
    messages: AtomicU64,
    bytes: AtomicU64,
    largest: AtomicU64,
}

impl SentCounters {
    pub(crate) fn record(&self, len: usize) {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        self.largest.fetch_max(len, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Sent {
        Sent {
            messages: self.messages.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
        }
    }
}

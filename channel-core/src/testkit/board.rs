//! Who is doing what: the kit's view of every party, for stall reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::PartyFailure;

/// One line per party: what it is doing now, or that it finished.
#[derive(Debug, Clone)]
pub(crate) struct Board {
    lines: Arc<Mutex<Vec<Option<String>>>>,
    /// Bytes of chunks each party's transport accepted so far.
    sent: Arc<Vec<AtomicU64>>,
}

impl Board {
    pub(crate) fn new(parties: usize) -> Self {
        Self {
            lines: Arc::new(Mutex::new(vec![Some("starting".into()); parties])),
            sent: Arc::new((0..parties).map(|_| AtomicU64::new(0)).collect()),
        }
    }

    /// Records that `party`'s transport accepted a chunk of `bytes`.
    pub(crate) fn add_sent(&self, party: usize, bytes: usize) {
        if let Some(sent) = self.sent.get(party) {
            sent.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Bytes of chunks `party`'s transport accepted so far.
    pub(crate) fn sent(&self, party: usize) -> u64 {
        self.sent
            .get(party)
            .map_or(0, |sent| sent.load(Ordering::Relaxed))
    }

    /// Records what `party` is about to wait for.
    pub(crate) fn set(&self, party: usize, doing: String) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(line) = lines.get_mut(party) {
            *line = Some(doing);
        }
    }

    /// Marks `party` as finished.
    pub(crate) fn done(&self, party: usize) {
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(line) = lines.get_mut(party) {
            *line = None;
        }
    }

    /// The unfinished parties and their last activity.
    pub(crate) fn unfinished(&self) -> Vec<PartyFailure> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .enumerate()
            .filter_map(|(party, line)| {
                line.as_ref().map(|doing| PartyFailure {
                    party,
                    error: format!("still {doing}"),
                })
            })
            .collect()
    }
}

/// A channel wrapper that writes each party's current transport call to the board.
/// Its `Channel` impls are in the shared source `party.rs`.
pub(crate) struct Probe<C> {
    pub(crate) inner: C,
    pub(crate) me: usize,
    pub(crate) board: Board,
}

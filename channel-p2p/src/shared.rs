//! What the application side ([`P2pChannel`](crate::P2pChannel)) and the link
//! tasks share: per peer the outbound budget, the failure and its signal to
//! every lane, and progress; per lane the inbound budget.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, PoisonError};

use channel_core::transport::QueueBudget;
use tokio::sync::{Notify, watch};

use crate::P2pError;

/// What the application side and the link tasks share about one peer (all its lanes).
#[derive(Clone)]
pub(crate) struct Shared {
    /// Bytes sent by the application and not yet acknowledged by the peer.
    pub(crate) outbound: QueueBudget,
    /// Why the links ended, once they have.
    pub(crate) failure: Arc<Mutex<Option<P2pError>>>,
    /// Set when a lane fails, so that the peer's other lanes end too (order
    /// across lanes cannot survive one of them).
    pub(crate) lost: Arc<watch::Sender<bool>>,
    /// Streams established so far, over all lanes (more than `lanes` means reconnects).
    pub(crate) sessions: Arc<AtomicUsize>,
    /// Signalled when the peer acknowledges chunks and when a link ends
    /// (what [`P2pChannel::flush`](crate::P2pChannel::flush) waits on).
    pub(crate) progress: Arc<Notify>,
}

impl Shared {
    pub(crate) fn new(max_outbound: usize) -> Self {
        Self {
            outbound: QueueBudget::new(Some(max_outbound)),
            failure: Arc::default(),
            lost: Arc::new(watch::channel(false).0),
            sessions: Arc::default(),
            progress: Arc::default(),
        }
    }

    pub(crate) fn failure(&self) -> Option<P2pError> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records why the peer is lost and ends all its lanes.
    pub(crate) fn fail(&self, e: P2pError) {
        self.record(e);
        self.lost.send_replace(true);
    }

    /// Records why the links ended without ending the other lanes.
    pub(crate) fn record(&self, e: P2pError) {
        let mut slot = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(e);
        drop(slot);
        self.progress.notify_waiters();
    }
}

pub(crate) use channel_link::session::Inbound;

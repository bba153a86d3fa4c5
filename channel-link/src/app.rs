//! The application's side of a transport's links to one peer: what a
//! `Channel`'s `send_bytes_to`, `recv_bytes_from` and `flush` do with them.
//!
//! A send only queues (bounded by the outbound budget: bytes sent and not yet
//! acknowledged), so it never waits for the peer to read; a receive takes the
//! next chunk, in the same turn over the lanes as the sends were dealt; flush
//! waits until the peer acknowledged everything. The link tasks (driving
//! [`session`](crate::session)) fill the other ends and report progress and
//! failure through [`Shared`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use channel_core::RecvInfo;
use channel_core::transport::{QueueBudget, TransportError};
use tokio::sync::{Notify, mpsc, watch};

use crate::session::Inbound;

/// A transport's error, as far as the links need it.
pub trait LinkError: Clone + From<TransportError> {
    /// The links to `party` ended, for `reason`.
    fn lost(party: usize, reason: &str) -> Self;
}

/// What the application side and the link tasks share about one peer (all
/// its lanes).
#[derive(Debug)]
pub struct Shared<E> {
    /// Bytes sent by the application and not yet acknowledged by the peer.
    pub outbound: QueueBudget,
    /// Why the links ended, once they have.
    failure: Arc<Mutex<Option<E>>>,
    /// Set when a lane fails, so that the peer's other lanes end too (order
    /// across lanes cannot survive one of them).
    lost: Arc<watch::Sender<bool>>,
    /// Streams established so far, over all lanes (more than the lanes means
    /// reconnects).
    pub sessions: Arc<AtomicUsize>,
    /// Signalled when the peer acknowledges chunks and when a link ends
    /// (what [`PeerLinks::flush`] waits on).
    pub progress: Arc<Notify>,
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Self {
            outbound: self.outbound.clone(),
            failure: self.failure.clone(),
            lost: self.lost.clone(),
            sessions: self.sessions.clone(),
            progress: self.progress.clone(),
        }
    }
}

impl<E: Clone> Shared<E> {
    /// Nothing sent yet; at most `max_outbound` bytes unacknowledged.
    pub fn new(max_outbound: usize) -> Self {
        Self {
            outbound: QueueBudget::new(Some(max_outbound)),
            failure: Arc::default(),
            lost: Arc::new(watch::channel(false).0),
            sessions: Arc::default(),
            progress: Arc::default(),
        }
    }

    /// Why the links ended, if they have.
    pub fn failure(&self) -> Option<E> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records why the peer is lost and ends all its lanes.
    pub fn fail(&self, e: E) {
        self.record(e);
        self.lost.send_replace(true);
    }

    /// Records why the links ended without ending the other lanes (the first
    /// reason stays).
    pub fn record(&self, e: E) {
        let mut slot = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(e);
        drop(slot);
        self.progress.notify_waiters();
    }

    /// Changes to `true` when a lane of the peer failed.
    pub fn lost(&self) -> watch::Receiver<bool> {
        self.lost.subscribe()
    }

    /// The peer acknowledged `bytes`: give them back to the budget.
    pub fn released(&self, bytes: usize) {
        self.outbound.release(bytes);
        self.progress.notify_waiters();
    }
}

/// The application's handles on one lane's link.
#[derive(Debug)]
pub struct Lane {
    /// Chunks to send on the lane.
    pub to_link: mpsc::UnboundedSender<Vec<u8>>,
    /// Chunks the lane delivered.
    pub from_link: mpsc::UnboundedReceiver<Vec<u8>>,
    /// What the lane delivered and the application did not take yet.
    pub inbound: Inbound,
}

/// The application's handles on one peer's lanes.
#[derive(Debug)]
pub struct PeerLinks<E> {
    /// Shared with the peer's link tasks.
    pub shared: Shared<E>,
    lanes: Vec<Lane>,
    /// Chunks sent and received so far: chunk n travels on lane n mod lanes.
    sent: usize,
    received: usize,
}

impl<E: LinkError> PeerLinks<E> {
    /// The handles on `lanes` (at least one).
    pub fn new(shared: Shared<E>, lanes: Vec<Lane>) -> Self {
        Self {
            shared,
            lanes,
            sent: 0,
            received: 0,
        }
    }

    /// How many lanes the peer's links use.
    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Times a stream to the peer was re-established after a drop.
    pub fn reconnects(&self) -> usize {
        self.shared
            .sessions
            .load(Ordering::Acquire)
            .saturating_sub(self.lanes.len())
    }

    /// Queues `msg` for `party` (this peer), at most `limit` bytes.
    pub fn send(&mut self, party: usize, msg: Vec<u8>, limit: usize) -> Result<(), E> {
        if let Some(e) = self.shared.failure() {
            return Err(e);
        }
        if msg.len() > limit {
            return Err(TransportError::ChunkTooLarge {
                party,
                size: msg.len(),
                limit,
            }
            .into());
        }
        let len = msg.len();
        let lane = self
            .lanes
            .get(self.sent % self.lanes.len().max(1))
            .ok_or(TransportError::Closed { party })?;
        self.shared.outbound.reserve(party, len)?;
        if lane.to_link.send(msg).is_err() {
            self.shared.outbound.release(len);
            return Err(self.lost_error(party));
        }
        self.sent += 1;
        Ok(())
    }

    /// The next chunk from `party` (this peer), waiting at most `after`.
    pub async fn recv(
        &mut self,
        party: usize,
        after: Duration,
        info: &RecvInfo,
    ) -> Result<Vec<u8>, E> {
        let lanes = self.lanes.len().max(1);
        let lane = self
            .lanes
            .get_mut(self.received % lanes)
            .ok_or(TransportError::Closed { party })?;
        match tokio::time::timeout(after, lane.from_link.recv()).await {
            Ok(Some(msg)) => {
                lane.inbound.bytes.fetch_sub(msg.len(), Ordering::AcqRel);
                lane.inbound.space.notify_one();
                self.received += 1;
                Ok(msg)
            }
            Ok(None) => Err(self.lost_error(party)),
            Err(_) => Err(TransportError::timeout(party, after, info).into()),
        }
    }

    /// Waits until `party` (this peer) acknowledged everything sent, until
    /// `deadline`; `after` is the bound reported on a timeout.
    pub async fn flush(
        &self,
        party: usize,
        deadline: tokio::time::Instant,
        after: Duration,
    ) -> Result<(), E> {
        // Bounded by the deadline: each pass waits for progress or gives up.
        loop {
            let progress = self.shared.progress.notified();
            tokio::pin!(progress);
            // Register before checking, so no acknowledgement slips between.
            progress.as_mut().enable();
            if self.shared.outbound.queued() == 0 {
                return Ok(());
            }
            if let Some(e) = self.shared.failure() {
                return Err(e);
            }
            if tokio::time::timeout_at(deadline, progress).await.is_err() {
                return Err(TransportError::Timeout {
                    party,
                    after,
                    waiting_for: format!(
                        "acknowledgement of {} bytes sent to it",
                        self.shared.outbound.queued()
                    ),
                }
                .into());
            }
        }
    }

    fn lost_error(&self, party: usize) -> E {
        self.shared
            .failure()
            .unwrap_or_else(|| E::lost(party, "the link ended"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum TestError {
        Transport(TransportError),
        Lost(usize, String),
    }

    impl From<TransportError> for TestError {
        fn from(e: TransportError) -> Self {
            TestError::Transport(e)
        }
    }

    impl LinkError for TestError {
        fn lost(party: usize, reason: &str) -> Self {
            TestError::Lost(party, reason.into())
        }
    }

    /// Two lanes; the test plays the link tasks' ends.
    fn peer(max_outbound: usize) -> (PeerLinks<TestError>, Vec<LaneEnds>) {
        let mut lanes = Vec::new();
        let mut ends = Vec::new();
        for _ in 0..2 {
            let (to_link, link_rx) = mpsc::unbounded_channel();
            let (link_tx, from_link) = mpsc::unbounded_channel();
            lanes.push(Lane {
                to_link,
                from_link,
                inbound: Inbound::default(),
            });
            ends.push(LaneEnds { link_rx, link_tx });
        }
        (PeerLinks::new(Shared::new(max_outbound), lanes), ends)
    }

    struct LaneEnds {
        link_rx: mpsc::UnboundedReceiver<Vec<u8>>,
        link_tx: mpsc::UnboundedSender<Vec<u8>>,
    }

    fn info() -> RecvInfo {
        RecvInfo::new("test", 0, None)
    }

    #[tokio::test]
    async fn chunks_are_dealt_to_the_lanes_in_turn_and_collected_in_the_same_turn() {
        let (mut links, mut ends) = peer(1 << 20);
        for i in 0..4u8 {
            links.send(1, vec![i], 100).unwrap();
        }
        assert_eq!(ends[0].link_rx.try_recv().unwrap(), vec![0]);
        assert_eq!(ends[1].link_rx.try_recv().unwrap(), vec![1]);
        assert_eq!(ends[0].link_rx.try_recv().unwrap(), vec![2]);
        // Deliveries arrive on lane 1 first; the receive still takes lane 0's.
        ends[1].link_tx.send(vec![11]).unwrap();
        ends[0].link_tx.send(vec![10]).unwrap();
        let after = Duration::from_secs(1);
        assert_eq!(links.recv(1, after, &info()).await.unwrap(), vec![10]);
        assert_eq!(links.recv(1, after, &info()).await.unwrap(), vec![11]);
    }

    #[tokio::test]
    async fn limits_are_typed_errors_naming_the_peer() {
        let (mut links, _ends) = peer(10);
        assert!(matches!(
            links.send(1, vec![0; 101], 100),
            Err(TestError::Transport(TransportError::ChunkTooLarge {
                party: 1,
                size: 101,
                limit: 100
            }))
        ));
        links.send(1, vec![0; 10], 100).unwrap();
        assert!(matches!(
            links.send(1, vec![0; 1], 100),
            Err(TestError::Transport(TransportError::QueueFull {
                party: 1,
                ..
            }))
        ));
        let e = links
            .recv(1, Duration::from_millis(10), &info())
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                TestError::Transport(TransportError::Timeout { party: 1, .. })
            ),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn flush_waits_for_the_acknowledgements_and_reports_a_failure() {
        let (mut links, _ends) = peer(1 << 20);
        links.send(1, vec![0; 100], 1000).unwrap();
        let shared = links.shared.clone();
        let acker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            shared.released(100);
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        links
            .flush(1, deadline, Duration::from_secs(5))
            .await
            .unwrap();
        acker.await.unwrap();

        // Unacknowledged bytes and a link that fails: flush says why.
        links.send(1, vec![0; 100], 1000).unwrap();
        links.shared.fail(TestError::lost(1, "cut"));
        let e = links
            .flush(1, deadline, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(e, TestError::Lost(1, "cut".into()));
        assert!(*links.shared.lost().borrow(), "the other lanes are told");
        assert_eq!(
            links.send(1, vec![1], 1000).unwrap_err(),
            TestError::Lost(1, "cut".into())
        );
    }

    #[tokio::test]
    async fn a_flush_that_gets_no_acknowledgement_times_out_naming_the_bytes() {
        let (mut links, _ends) = peer(1 << 20);
        links.send(1, vec![0; 7], 1000).unwrap();
        let after = Duration::from_millis(20);
        let e = links
            .flush(1, tokio::time::Instant::now() + after, after)
            .await
            .unwrap_err();
        match e {
            TestError::Transport(TransportError::Timeout {
                party: 1,
                waiting_for,
                ..
            }) => {
                assert!(waiting_for.contains("7 bytes"), "{waiting_for}");
            }
            other => panic!("{other:?}"),
        }
    }
}

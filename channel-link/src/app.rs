//! The application's side of a transport's links to one peer: what a
//! `Channel`'s `send_bytes_to`, `recv_bytes_from` and `flush` do with them.
//!
//! A send only queues, bounded by the outbound budget (bytes sent and not yet
//! acknowledged; a send beyond it waits for acknowledgements, which the peer's
//! link gives as it takes chunks in, without waiting for its application); a
//! receive takes the
//! next chunk, in the same turn over the lanes as the sends were dealt; flush
//! waits until the peer acknowledged everything. The link tasks (driving
//! [`session`](crate::session)) fill the other ends and report progress and
//! failure through [`Shared`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use channel_core::RecvInfo;
use channel_core::transport::{BufferPool, QueueBudget, TransportError};
use tokio::sync::{Notify, mpsc, watch};

use crate::session::{Delivery, Inbound};

/// Why a peer's links end when it said goodbye.
pub const GOODBYE: &str = "it closed its channel";

/// The default outbound budget per peer (bytes sent and not yet
/// acknowledged): a few chunks in flight keep a path busy (it is well above
/// a WAN's bandwidth-delay product), and a sender of a large message holds
/// only this much beyond the message itself.
pub const DEFAULT_MAX_OUTBOUND: usize = 32 << 20;

/// The default bound on what one peer's link takes in that the application
/// has not read yet: a whole message of the helpers' largest size
/// (`channel_core::DEFAULT_MAX_MESSAGE_SIZE`), so "everyone sends, then
/// everyone receives" works at every message size the helpers accept. Only a
/// peer's (authenticated) data fills it, and only while the application does
/// not read.
pub const DEFAULT_MAX_INBOUND: usize = channel_core::DEFAULT_MAX_MESSAGE_SIZE;

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
    /// Set when the peer said goodbye (its channel is gone): sends fail from
    /// then on, while what is in flight is still acknowledged.
    goodbye: Arc<Mutex<Option<E>>>,
    /// Set when a lane fails, so that the peer's other lanes end too (order
    /// across lanes cannot survive one of them).
    lost: Arc<watch::Sender<bool>>,
    /// Streams established so far, over all lanes (more than the lanes means
    /// reconnects).
    pub sessions: Arc<AtomicUsize>,
    /// Signalled when the peer acknowledges chunks and when a link ends
    /// (what [`PeerLinks::flush`] waits on).
    pub progress: Arc<Notify>,
    /// Chunk buffers to reuse, both directions: acknowledged chunks and
    /// chunks the application consumed go in; the application's next chunk
    /// and the next payload read from the peer come out. Reusing them
    /// spares the allocator and the kernel a fresh mapping (page faults) per
    /// chunk.
    pub buffers: BufferPool,
}

impl<E> Clone for Shared<E> {
    fn clone(&self) -> Self {
        Self {
            outbound: self.outbound.clone(),
            failure: self.failure.clone(),
            goodbye: self.goodbye.clone(),
            lost: self.lost.clone(),
            sessions: self.sessions.clone(),
            progress: self.progress.clone(),
            buffers: self.buffers.clone(),
        }
    }
}

impl<E: Clone> Shared<E> {
    /// Nothing sent yet; at most `max_outbound` bytes unacknowledged.
    pub fn new(max_outbound: usize) -> Self {
        Self {
            outbound: QueueBudget::new(Some(max_outbound)),
            failure: Arc::default(),
            goodbye: Arc::default(),
            lost: Arc::new(watch::channel(false).0),
            sessions: Arc::default(),
            progress: Arc::default(),
            buffers: BufferPool::default(),
        }
    }

    /// Why the links ended, if they have.
    pub fn failure(&self) -> Option<E> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The peer said goodbye: later sends fail with `e` (its receives end
    /// through the lanes, after everything the peer sent).
    pub fn said_goodbye(&self, e: E) {
        let mut slot = self.goodbye.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(e);
        drop(slot);
        // A send waiting for room learns it at once.
        self.progress.notify_waiters();
    }

    /// The peer's goodbye, if it said it.
    pub fn goodbye(&self) -> Option<E> {
        self.goodbye
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Why sends to the peer fail: its links ended, or it said goodbye.
    fn refusal(&self) -> Option<E> {
        self.failure().or_else(|| self.goodbye())
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

    /// Asks `check` again after every progress (an acknowledgement, a
    /// failure, a goodbye) until it answers; `None` once `deadline` passes
    /// without an answer.
    async fn until_progress<T>(
        &self,
        deadline: tokio::time::Instant,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        // Most calls (a send with room, a flush with nothing in flight) are
        // answered at once, without registering for progress.
        if let Some(answer) = check() {
            return Some(answer);
        }
        // Bounded by the deadline: each pass waits for progress or gives up.
        loop {
            let progress = self.progress.notified();
            tokio::pin!(progress);
            // Register before checking, so no progress slips between.
            progress.as_mut().enable();
            if let Some(answer) = check() {
                return Some(answer);
            }
            if tokio::time::timeout_at(deadline, progress).await.is_err() {
                return None;
            }
        }
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
    /// Chunks the lane delivered, then the peer's goodbye.
    pub from_link: mpsc::UnboundedReceiver<Delivery>,
    /// What the lane delivered and the application did not take yet.
    pub inbound: Inbound,
}

/// The application's handles on one peer's lanes: a sending and a receiving
/// part, which [`into_halves`](Self::into_halves) hands out separately so
/// that a send and a receive with this peer can run at the same time.
#[derive(Debug)]
pub struct PeerLinks<E> {
    /// Shared with the peer's link tasks.
    pub shared: Shared<E>,
    send: PeerSend<E>,
    recv: PeerRecv<E>,
}

/// Sending to one peer: chunk n goes on lane n mod lanes.
#[derive(Debug)]
pub struct PeerSend<E> {
    shared: Shared<E>,
    to_links: Vec<mpsc::UnboundedSender<Vec<u8>>>,
    sent: usize,
}

/// Receiving from one peer, in the same turn over the lanes as the sends.
#[derive(Debug)]
pub struct PeerRecv<E> {
    shared: Shared<E>,
    from_links: Vec<(mpsc::UnboundedReceiver<Delivery>, Inbound)>,
    received: usize,
    /// Set once the peer said goodbye: every later receive fails at once.
    goodbye: Option<E>,
    /// The lanes' senders too: a link says goodbye when its sending queue
    /// closes, which must wait until this party is done with the peer in
    /// both directions (a dropped sending half alone must not end receiving).
    _keep_open: Vec<mpsc::UnboundedSender<Vec<u8>>>,
}

impl<E: LinkError> PeerLinks<E> {
    /// The handles on `lanes` (at least one).
    pub fn new(shared: Shared<E>, lanes: Vec<Lane>) -> Self {
        let to_links: Vec<_> = lanes.iter().map(|l| l.to_link.clone()).collect();
        let keep_open = to_links.clone();
        let from_links = lanes
            .into_iter()
            .map(|l| (l.from_link, l.inbound))
            .collect();
        Self {
            send: PeerSend {
                shared: shared.clone(),
                to_links,
                sent: 0,
            },
            recv: PeerRecv {
                shared: shared.clone(),
                from_links,
                received: 0,
                goodbye: None,
                _keep_open: keep_open,
            },
            shared,
        }
    }

    /// How many lanes the peer's links use.
    pub fn lanes(&self) -> usize {
        self.send.to_links.len()
    }

    /// Times a stream to the peer was re-established after a drop.
    pub fn reconnects(&self) -> usize {
        self.shared
            .sessions
            .load(Ordering::Acquire)
            .saturating_sub(self.lanes())
    }

    /// See [`PeerSend::send`].
    pub async fn send(
        &mut self,
        party: usize,
        msg: Vec<u8>,
        limit: usize,
        deadline: tokio::time::Instant,
        after: Duration,
    ) -> Result<(), E> {
        self.send.send(party, msg, limit, deadline, after).await
    }

    /// See [`PeerRecv::recv`].
    pub async fn recv(
        &mut self,
        party: usize,
        after: Duration,
        info: &RecvInfo,
    ) -> Result<Vec<u8>, E> {
        self.recv.recv(party, after, info).await
    }

    /// See [`PeerSend::flush`].
    pub async fn flush(
        &self,
        party: usize,
        deadline: tokio::time::Instant,
        after: Duration,
    ) -> Result<(), E> {
        self.send.flush(party, deadline, after).await
    }

    /// See [`PeerSend::chunk_buffer`].
    pub fn chunk_buffer(&self, capacity: usize) -> Vec<u8> {
        self.send.chunk_buffer(capacity)
    }

    /// See [`PeerRecv::recycle`].
    pub fn recycle(&self, buf: Vec<u8>) {
        self.recv.recycle(buf)
    }

    /// The sending and the receiving part, to be used at the same time.
    pub fn into_halves(self) -> (PeerSend<E>, PeerRecv<E>) {
        (self.send, self.recv)
    }
}

impl<E: LinkError> PeerSend<E> {
    /// An empty buffer for a chunk of up to `capacity` bytes: the memory of
    /// an acknowledged or consumed chunk when one fits, else a fresh one.
    pub fn chunk_buffer(&self, capacity: usize) -> Vec<u8> {
        self.shared.buffers.take(capacity)
    }

    /// Queues `msg` for `party` (this peer), a chunk of at most `limit` bytes.
    ///
    /// While the outbound budget (bytes sent and not yet acknowledged) has no
    /// room for it, waits for acknowledgements until `deadline` (`after` is the
    /// bound reported on a timeout): the sender is held back to the pace of the
    /// peer instead of queueing without bound. A chunk larger than the whole
    /// budget fails at once with `TransportError::QueueFull`.
    pub async fn send(
        &mut self,
        party: usize,
        msg: Vec<u8>,
        limit: usize,
        deadline: tokio::time::Instant,
        after: Duration,
    ) -> Result<(), E> {
        if msg.len() > limit {
            return Err(TransportError::ChunkTooLarge {
                party,
                size: msg.len(),
                limit,
            }
            .into());
        }
        let len = msg.len();
        let lane = self.sent % self.to_links.len().max(1);
        self.reserve(party, len, deadline, after).await?;
        let Some(lane) = self.to_links.get(lane) else {
            self.shared.outbound.release(len);
            return Err(TransportError::Closed { party }.into());
        };
        if lane.send(msg).is_err() {
            self.shared.outbound.release(len);
            return Err(self.shared.lost_error(party));
        }
        self.sent += 1;
        Ok(())
    }

    /// Takes `len` bytes of the outbound budget, waiting for room until `deadline`.
    async fn reserve(
        &self,
        party: usize,
        len: usize,
        deadline: tokio::time::Instant,
        after: Duration,
    ) -> Result<(), E> {
        let budget = &self.shared.outbound;
        let answer = self
            .shared
            .until_progress(deadline, || {
                if let Some(e) = self.shared.refusal() {
                    return Some(Err(e));
                }
                match budget.reserve(party, len) {
                    Ok(()) => Some(Ok(())),
                    Err(full @ TransportError::QueueFull { .. })
                        if budget.limit().is_some_and(|l| len > l) =>
                    {
                        Some(Err(full.into()))
                    }
                    Err(TransportError::QueueFull { .. }) => None,
                    Err(e) => Some(Err(e.into())),
                }
            })
            .await;
        answer.unwrap_or_else(|| {
            Err(TransportError::Timeout {
                party,
                after,
                waiting_for: format!(
                    "room to queue {len} bytes: {} bytes sent to it are not acknowledged yet \
                     (the limit is {})",
                    budget.queued(),
                    budget.limit().unwrap_or(usize::MAX)
                ),
            }
            .into())
        })
    }

    /// Waits until `party` (this peer) acknowledged everything sent, until
    /// `deadline`; `after` is the bound reported on a timeout.
    pub async fn flush(
        &self,
        party: usize,
        deadline: tokio::time::Instant,
        after: Duration,
    ) -> Result<(), E> {
        let answer = self
            .shared
            .until_progress(deadline, || {
                if self.shared.outbound.queued() == 0 {
                    return Some(Ok(()));
                }
                self.shared.failure().map(Err)
            })
            .await;
        answer.unwrap_or_else(|| {
            Err(TransportError::Timeout {
                party,
                after,
                waiting_for: format!(
                    "acknowledgement of {} bytes sent to it",
                    self.shared.outbound.queued()
                ),
            }
            .into())
        })
    }
}

impl<E: LinkError> PeerRecv<E> {
    /// Gives back a chunk the application is done with, for its memory to
    /// hold a later chunk (see [`PeerSend::chunk_buffer`]).
    pub fn recycle(&self, buf: Vec<u8>) {
        self.shared.buffers.give(buf);
    }

    /// The next chunk from `party` (this peer), waiting at most `after`.
    pub async fn recv(
        &mut self,
        party: usize,
        after: Duration,
        info: &RecvInfo,
    ) -> Result<Vec<u8>, E> {
        if let Some(e) = &self.goodbye {
            return Err(e.clone());
        }
        let lanes = self.from_links.len().max(1);
        let (from_link, inbound) = self
            .from_links
            .get_mut(self.received % lanes)
            .ok_or(TransportError::Closed { party })?;
        match tokio::time::timeout(after, from_link.recv()).await {
            Ok(Some(Delivery::Chunk(msg))) => {
                inbound.bytes.fetch_sub(msg.len(), Ordering::AcqRel);
                inbound.space.notify_one();
                self.received += 1;
                Ok(msg)
            }
            // Everything the peer sent came before its goodbye.
            Ok(Some(Delivery::Goodbye)) => {
                let e = E::lost(party, GOODBYE);
                self.goodbye = Some(e.clone());
                Err(e)
            }
            Ok(None) => Err(self.shared.lost_error(party)),
            Err(_) => Err(TransportError::timeout(party, after, info).into()),
        }
    }
}

impl<E: LinkError> Shared<E> {
    /// Why the links to `party` ended, as far as known.
    fn lost_error(&self, party: usize) -> E {
        self.failure()
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
        link_tx: mpsc::UnboundedSender<Delivery>,
    }

    fn info() -> RecvInfo {
        RecvInfo::new("test", 0, None)
    }

    /// Sends with a wait for budget room of at most `wait`.
    async fn put(
        links: &mut PeerLinks<TestError>,
        msg: Vec<u8>,
        limit: usize,
        wait: Duration,
    ) -> Result<(), TestError> {
        let deadline = tokio::time::Instant::now() + wait;
        links.send(1, msg, limit, deadline, wait).await
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test]
    async fn chunks_are_dealt_to_the_lanes_in_turn_and_collected_in_the_same_turn() {
        let (mut links, mut ends) = peer(1 << 20);
        for i in 0..4u8 {
            put(&mut links, vec![i], 100, SECOND).await.unwrap();
        }
        assert_eq!(ends[0].link_rx.try_recv().unwrap(), vec![0]);
        assert_eq!(ends[1].link_rx.try_recv().unwrap(), vec![1]);
        assert_eq!(ends[0].link_rx.try_recv().unwrap(), vec![2]);
        // Deliveries arrive on lane 1 first; the receive still takes lane 0's.
        ends[1].link_tx.send(Delivery::Chunk(vec![11])).unwrap();
        ends[0].link_tx.send(Delivery::Chunk(vec![10])).unwrap();
        let after = Duration::from_secs(1);
        assert_eq!(links.recv(1, after, &info()).await.unwrap(), vec![10]);
        assert_eq!(links.recv(1, after, &info()).await.unwrap(), vec![11]);
    }

    #[tokio::test]
    async fn a_goodbye_ends_the_receives_after_everything_sent_before_it() {
        let (mut links, ends) = peer(1 << 20);
        ends[0].link_tx.send(Delivery::Chunk(vec![1])).unwrap();
        ends[1].link_tx.send(Delivery::Chunk(vec![2])).unwrap();
        ends[0].link_tx.send(Delivery::Goodbye).unwrap();
        assert_eq!(links.recv(1, SECOND, &info()).await.unwrap(), vec![1]);
        assert_eq!(links.recv(1, SECOND, &info()).await.unwrap(), vec![2]);
        let started = std::time::Instant::now();
        for _ in 0..2 {
            // At once, not at the receive timeout, and every time after.
            let e = links
                .recv(1, Duration::from_secs(60), &info())
                .await
                .unwrap_err();
            assert_eq!(e, TestError::Lost(1, GOODBYE.into()));
        }
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[tokio::test]
    async fn limits_are_typed_errors_naming_the_peer() {
        let (mut links, _ends) = peer(10);
        assert!(matches!(
            put(&mut links, vec![0; 101], 100, SECOND).await,
            Err(TestError::Transport(TransportError::ChunkTooLarge {
                party: 1,
                size: 101,
                limit: 100
            }))
        ));
        // Larger than the whole budget: it could never fit, so no wait.
        let started = std::time::Instant::now();
        assert!(matches!(
            put(&mut links, vec![0; 11], 100, Duration::from_secs(60)).await,
            Err(TestError::Transport(TransportError::QueueFull {
                party: 1,
                adding: 11,
                limit: 10,
                ..
            }))
        ));
        assert!(started.elapsed() < Duration::from_secs(30));
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
    async fn a_full_budget_holds_the_sender_until_acknowledgements_make_room() {
        let (mut links, mut ends) = peer(10);
        put(&mut links, vec![0; 10], 100, SECOND).await.unwrap();
        // Nothing acknowledged: the send waits, then names the peer and the bytes.
        let e = put(&mut links, vec![1; 4], 100, Duration::from_millis(20))
            .await
            .unwrap_err();
        match e {
            TestError::Transport(TransportError::Timeout {
                party: 1,
                waiting_for,
                ..
            }) => assert!(
                waiting_for.contains("10 bytes") && waiting_for.contains("limit is 10"),
                "{waiting_for}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(ends[1].link_rx.try_recv().ok(), None, "nothing was queued");
        // An acknowledgement arrives while the sender waits: the send completes.
        let shared = links.shared.clone();
        let acker = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            shared.released(6);
        });
        put(&mut links, vec![2; 4], 100, Duration::from_secs(5))
            .await
            .unwrap();
        acker.await.unwrap();
        assert_eq!(ends[0].link_rx.try_recv().unwrap(), vec![0; 10]);
        assert_eq!(ends[1].link_rx.try_recv().unwrap(), vec![2; 4]);
        assert_eq!(links.shared.outbound.queued(), 8);
        // A link that fails while the sender waits: the send says why.
        let shared = links.shared.clone();
        let failer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            shared.fail(TestError::lost(1, "cut"));
        });
        let e = put(&mut links, vec![3; 4], 100, Duration::from_secs(5))
            .await
            .unwrap_err();
        failer.await.unwrap();
        assert_eq!(e, TestError::Lost(1, "cut".into()));
    }

    #[tokio::test]
    async fn flush_waits_for_the_acknowledgements_and_reports_a_failure() {
        let (mut links, _ends) = peer(1 << 20);
        put(&mut links, vec![0; 100], 1000, SECOND).await.unwrap();
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
        put(&mut links, vec![0; 100], 1000, SECOND).await.unwrap();
        links.shared.fail(TestError::lost(1, "cut"));
        let e = links
            .flush(1, deadline, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(e, TestError::Lost(1, "cut".into()));
        assert!(*links.shared.lost().borrow(), "the other lanes are told");
        assert_eq!(
            put(&mut links, vec![1], 1000, SECOND).await.unwrap_err(),
            TestError::Lost(1, "cut".into())
        );
    }

    #[tokio::test]
    async fn a_flush_that_gets_no_acknowledgement_times_out_naming_the_bytes() {
        let (mut links, _ends) = peer(1 << 20);
        put(&mut links, vec![0; 7], 1000, SECOND).await.unwrap();
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

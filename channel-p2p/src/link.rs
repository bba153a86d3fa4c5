//! One task per lane of a peer: owns one long-lived stream to that peer (on a
//! connection of its own), re-establishes it when the connection drops, and
//! drives the lane's protocol state (`link_state.rs`: numbering, acknowledging,
//! resending what the peer has not acknowledged; exactly once, in order, per
//! lane; the channel deals chunks to the lanes in turn and collects them in
//! the same turn) with the stream's frames and the application's chunks.

use std::sync::atomic::Ordering;
use std::time::Duration;

use libp2p::{PeerId, StreamProtocol};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

/// A lane's libp2p stream, seen through tokio's I/O traits (what channel-link drives).
pub(crate) type Stream = Compat<libp2p::Stream>;

use channel_core::transport::liveness::KeepAlive;

use crate::P2pError;
use channel_link::link_state::{LinkState, Violation};
use channel_link::reconnect::Period;
use channel_link::session::{self, AppEnds, Events, Inbound, Interrupt, Limits};

use crate::shared::Shared;

/// Longest wait of one attempt to open the stream (the overall bound is the
/// connect or reconnect timeout).
const OPEN_ATTEMPT: Duration = Duration::from_secs(3);

/// The protocol name of lane `lane`'s stream between two parties. Each lane
/// has its own name, so the accepting side knows which lane a stream serves
/// without reading from it.
pub(crate) fn protocol(lane: usize) -> Result<StreamProtocol, P2pError> {
    StreamProtocol::try_from_owned(format!("/mpc-channels/link/3/lane/{lane}"))
        .map_err(|e| P2pError::Setup(format!("protocol name of lane {lane}: {e}")))
}

/// Everything a link task needs.
pub(crate) struct Link {
    pub(crate) party: usize,
    pub(crate) peer: PeerId,
    pub(crate) addrs: Vec<libp2p::Multiaddr>,
    /// How many lanes each party uses (checked against the peer's HELLO).
    pub(crate) lanes: u16,
    /// This lane's protocol name.
    pub(crate) protocol: StreamProtocol,
    /// The lower-numbered party of a pair opens the stream; the other accepts.
    pub(crate) opener: bool,
    /// The stream control of the swarm that holds this lane's connection.
    pub(crate) control: libp2p_stream::Control,
    pub(crate) incoming: mpsc::Receiver<Stream>,
    /// Changes when the last connection to the peer closes.
    pub(crate) closed: watch::Receiver<u64>,
    pub(crate) app_rx: mpsc::UnboundedReceiver<Vec<u8>>,
    pub(crate) to_app: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) shared: Shared,
    /// Changes when another lane of the peer failed.
    pub(crate) peer_lost: watch::Receiver<bool>,
    pub(crate) inbound: Inbound,
    pub(crate) max_payload: usize,
    pub(crate) max_inbound: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect_timeout: Duration,
    pub(crate) keepalive: KeepAlive,
    pub(crate) established: Option<oneshot::Sender<Result<(), String>>>,
    /// Requests to the swarm; also keeps the swarm alive while this link runs.
    pub(crate) driver: mpsc::UnboundedSender<crate::swarm::Command>,
}

/// How a session on one stream ended.
enum Ended {
    /// The stream broke (or a newer one replaced it): reconnect.
    Broken(String, Option<Stream>),
    /// Both sides are done.
    Finished,
}

impl Link {
    pub(crate) async fn run(mut self) {
        let mut state = LinkState::new(self.lanes);
        let mut next_stream: Option<Stream> = None;
        let mut period =
            Period::connecting(Instant::now(), self.connect_timeout, self.reconnect_timeout);
        let mut last = String::from("no attempt yet");
        // Bounded: every pass either ends the link or waits for a stream until the period's end.
        loop {
            let stream = match next_stream.take() {
                Some(s) => s,
                None => match self.obtain_or_lost(period.ends(), &mut last).await {
                    Ok(Some(s)) => s,
                    Err(e) => {
                        self.give_up(e.clone(), e.to_string());
                        return;
                    }
                    Ok(None) => {
                        let reason =
                            format!("no connection within the time allowed; last problem: {last}");
                        self.give_up(P2pError::lost(self.party, reason.clone()), reason);
                        return;
                    }
                },
            };
            match self.session(stream, &mut state).await {
                Ok(Ended::Finished) => {
                    self.shared.record(P2pError::Transport(
                        channel_core::transport::TransportError::Closed { party: self.party },
                    ));
                    return;
                }
                Ok(Ended::Broken(why, replacement)) => {
                    tracing::debug!(party = self.party, %why, "stream to peer broke; reconnecting");
                    last = why;
                    next_stream = replacement;
                    period.broke(Instant::now(), self.shared.sessions.load(Ordering::Acquire));
                }
                Err(e) => {
                    self.give_up(e.clone(), e.to_string());
                    return;
                }
            }
        }
    }

    fn give_up(&mut self, e: P2pError, reason: String) {
        tracing::debug!(party = self.party, %reason, "link to peer failed");
        self.shared.fail(e);
        if let Some(tx) = self.established.take() {
            let _ = tx.send(Err(reason));
        }
    }

    /// [`obtain_stream`](Self::obtain_stream), unless another lane fails meanwhile.
    async fn obtain_or_lost(
        &mut self,
        deadline: Instant,
        last: &mut String,
    ) -> Result<Option<Stream>, P2pError> {
        let mut peer_lost = self.peer_lost.clone();
        tokio::select! {
            stream = self.obtain_stream(deadline, last) => Ok(stream),
            _ = peer_lost.wait_for(|lost| *lost) => Err(self.peer_failure()),
        }
    }

    /// Why another lane of this peer failed.
    fn peer_failure(&self) -> P2pError {
        self.shared
            .failure()
            .unwrap_or_else(|| P2pError::lost(self.party, "another lane to the peer failed"))
    }

    /// Opens (or waits for) a stream to the peer, until the period's end.
    async fn obtain_stream(&mut self, deadline: Instant, last: &mut String) -> Option<Stream> {
        let mut delay = Duration::from_millis(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            if self.opener {
                let dial = crate::swarm::Command::Dial(self.peer, self.addrs.clone());
                let _ = self.driver.send(dial);
                // One attempt may hang when it raced a closing connection: bound it,
                // and dial again on the next attempt (the dial itself keeps going).
                let attempt = left.min(OPEN_ATTEMPT);
                let opened = self.control.open_stream(self.peer, self.protocol.clone());
                match tokio::time::timeout(attempt, opened).await {
                    Ok(Ok(stream)) => return Some(stream.compat()),
                    Ok(Err(e)) => *last = e.to_string(),
                    Err(_) => *last = format!("opening a stream took longer than {attempt:?}"),
                }
                tokio::time::sleep(delay.min(left)).await;
                delay = (delay * 2).min(Duration::from_secs(1));
            } else {
                return match tokio::time::timeout(left, self.incoming.recv()).await {
                    Ok(Some(stream)) => Some(stream),
                    Ok(None) | Err(_) => {
                        *last = "the peer did not open a stream to us".into();
                        None
                    }
                };
            }
        }
    }

    /// Runs one stream until it breaks, is replaced, or both sides are done
    /// (channel-link's session, with this lane's libp2p events).
    async fn session(&mut self, stream: Stream, state: &mut LinkState) -> Result<Ended, P2pError> {
        // Closures before this stream existed do not concern it.
        self.closed.borrow_and_update();
        let limits = Limits {
            max_payload: self.max_payload,
            keepalive: self.keepalive,
            handshake_timeout: self.reconnect_timeout.max(Duration::from_secs(5)),
        };
        let app = AppEnds {
            from_app: &mut self.app_rx,
            to_app: &self.to_app,
            inbound: &self.inbound,
            max_inbound: self.max_inbound,
        };
        let mut events = LaneEvents {
            party: self.party,
            peer: self.peer,
            closed: &mut self.closed,
            incoming: (!self.opener).then_some(&mut self.incoming),
            peer_lost: self.peer_lost.clone(),
            shared: &self.shared,
            driver: &self.driver,
            established: &mut self.established,
        };
        match session::run(stream, state, app, limits, &mut events).await {
            session::Ended::Finished => Ok(Ended::Finished),
            session::Ended::Broken(why, newer) => Ok(Ended::Broken(why, newer)),
            session::Ended::Lost => Err(self.peer_failure()),
            session::Ended::Violation(v) => Err(self.violation(v)),
        }
    }

    fn violation(&self, violation: Violation) -> P2pError {
        match violation {
            Violation::Lanes { theirs } => P2pError::Setup(format!(
                "party {} uses {theirs} lanes and this party {}: every party needs the same P2pOptions::lanes",
                self.party, self.lanes
            )),
            Violation::Malformed(reason) => self.malformed(reason),
        }
    }

    fn malformed(&self, reason: String) -> P2pError {
        P2pError::Malformed {
            party: self.party,
            reason,
        }
    }
}

/// What only libp2p knows during a lane's session.
struct LaneEvents<'a> {
    party: usize,
    peer: PeerId,
    /// Changes when the last connection to the peer closes.
    closed: &'a mut watch::Receiver<u64>,
    /// Newer streams from the peer, on the accepting side.
    incoming: Option<&'a mut mpsc::Receiver<Stream>>,
    peer_lost: watch::Receiver<bool>,
    shared: &'a Shared,
    driver: &'a mpsc::UnboundedSender<crate::swarm::Command>,
    established: &'a mut Option<oneshot::Sender<Result<(), String>>>,
}

impl Events for LaneEvents<'_> {
    type Stream = Stream;

    async fn interrupted(&mut self) -> Interrupt<Stream> {
        let newer = async {
            match self.incoming.as_mut() {
                Some(incoming) => incoming.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.peer_lost.wait_for(|lost| *lost) => Interrupt::Lost,
            changed = self.closed.changed() => Interrupt::Broken(
                match changed {
                    Ok(()) => "the connection to the peer closed",
                    Err(_) => "the swarm stopped",
                }
                .into(),
                None,
            ),
            newer = newer => match newer {
                Some(stream) => Interrupt::Broken("the peer opened a new stream".into(), Some(stream)),
                None => Interrupt::Broken("no more incoming streams".into(), None),
            },
        }
    }

    fn silent(&mut self) {
        // A dead path keeps a stalled connection open: drop it, so that the
        // reconnect dials afresh.
        let _ = self
            .driver
            .send(crate::swarm::Command::Disconnect(self.peer));
    }

    fn established(&mut self) {
        self.shared.sessions.fetch_add(1, Ordering::AcqRel);
        if let Some(tx) = self.established.take() {
            let _ = tx.send(Ok(()));
        }
    }

    /// Gives acknowledged bytes back to the outbound budget (what `flush` waits on).
    fn released(&mut self, bytes: usize) {
        tracing::trace!(party = self.party, bytes, "acknowledged");
        self.shared.released(bytes);
    }
}

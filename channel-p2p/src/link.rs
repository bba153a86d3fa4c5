//! One task per lane of a peer (channel-link's `LinkTask`) owns one
//! long-lived stream to that peer, on a connection of its own, and
//! re-establishes it when the connection drops; exactly once and in order per
//! lane, and the channel deals chunks to the lanes in turn and collects them
//! in the same turn. What is libp2p's is here: opening or accepting the
//! lane's stream, and the swarm's events during a session.

use std::time::Duration;

use channel_link::link_state::Violation;
use channel_link::session::Interrupt;
use channel_link::task::Connector;
use libp2p::{PeerId, StreamProtocol};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

use crate::P2pError;
use crate::shared::Shared;

/// A lane's libp2p stream, seen through tokio's I/O traits (what channel-link drives).
pub(crate) type Stream = Compat<libp2p::Stream>;

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

/// How one lane to one peer obtains its libp2p stream, and what only libp2p
/// knows during a session, for channel-link's [`LinkTask`](channel_link::task::LinkTask).
pub(crate) struct LaneStreams {
    pub(crate) party: usize,
    pub(crate) peer: PeerId,
    pub(crate) addrs: Vec<libp2p::Multiaddr>,
    /// This lane's protocol name.
    pub(crate) protocol: StreamProtocol,
    /// The lower-numbered party of a pair opens the stream; the other accepts.
    pub(crate) opener: bool,
    /// The stream control of the swarm that holds this lane's connection.
    pub(crate) control: libp2p_stream::Control,
    pub(crate) incoming: mpsc::Receiver<Stream>,
    /// Changes when the last connection to the peer closes.
    pub(crate) closed: watch::Receiver<u64>,
    /// Changes when another lane of the peer failed.
    pub(crate) peer_lost: watch::Receiver<bool>,
    pub(crate) shared: Shared,
    /// Requests to the swarm; also keeps the swarm alive while this link runs.
    pub(crate) driver: mpsc::UnboundedSender<crate::swarm::Command>,
}

impl LaneStreams {
    /// Why another lane of this peer failed.
    fn peer_failure(&self) -> P2pError {
        self.shared
            .failure()
            .unwrap_or_else(|| P2pError::lost(self.party, "another lane to the peer failed"))
    }

    /// Opens (or waits for) a stream to the peer, until `deadline`.
    async fn open(&mut self, deadline: Instant, last: &mut String) -> Option<Stream> {
        let mut delay = Duration::from_millis(20);
        // Bounded by the deadline: every pass opens once or waits until it.
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
}

impl Connector for LaneStreams {
    type Stream = Stream;

    /// Opens (or waits for) a stream, unless another lane fails meanwhile.
    async fn obtain(
        &mut self,
        deadline: Instant,
        last: &mut String,
    ) -> Result<Option<Stream>, P2pError> {
        let mut peer_lost = self.peer_lost.clone();
        tokio::select! {
            stream = self.open(deadline, last) => Ok(stream),
            _ = peer_lost.wait_for(|lost| *lost) => Err(self.peer_failure()),
        }
    }

    /// Closures before this stream existed do not concern it.
    fn starting(&mut self) {
        self.closed.borrow_and_update();
    }

    async fn interrupted(&mut self) -> Interrupt<Stream> {
        let newer = async {
            match (self.opener, &mut self.incoming) {
                (false, incoming) => incoming.recv().await,
                (true, _) => std::future::pending().await,
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

    fn violation(&self, party: usize, lanes: u16, violation: Violation) -> P2pError {
        match violation {
            Violation::Lanes { theirs } => P2pError::Setup(format!(
                "party {party} uses {theirs} lanes and this party {lanes}: every party needs the same P2pOptions::lanes"
            )),
            Violation::Malformed(reason) => P2pError::Malformed { party, reason },
        }
    }

    fn lost(&self, _party: usize) -> P2pError {
        self.peer_failure()
    }
}

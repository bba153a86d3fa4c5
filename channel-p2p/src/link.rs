//! One task per lane of a peer: owns one long-lived stream to that peer (on a
//! connection of its own), re-establishes it when the connection drops, and
//! drives the lane's protocol state (`link_state.rs`: numbering, acknowledging,
//! resending what the peer has not acknowledged; exactly once, in order, per
//! lane; the channel deals chunks to the lanes in turn and collects them in
//! the same turn) with the stream's frames and the application's chunks.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::AsyncReadExt;
use libp2p::{PeerId, Stream, StreamProtocol};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use channel_core::transport::liveness::{Due, KeepAlive, Liveness};

use crate::P2pError;
use channel_link::heard::{Heard, LastHeard};
use channel_link::link_state::{LinkState, Violation};
use channel_link::stream_io::{Writer, next_frame};
use channel_link::wire::{Frame, WireError, read_frame, write_frame};

use crate::shared::{Inbound, Shared};

/// A lane's stream, noting when bytes last arrived.
type LinkStream = Heard<Stream>;

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
        let mut deadline = Instant::now() + self.connect_timeout;
        let mut last = String::from("no attempt yet");
        // Bounded: every pass either ends the link or waits for a stream until `deadline`.
        loop {
            let stream = match next_stream.take() {
                Some(s) => s,
                None => match self.obtain_or_lost(deadline, &mut last).await {
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
                    deadline = Instant::now() + self.reconnect_timeout;
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

    /// Opens (or waits for) a stream to the peer, until `deadline`.
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
                    Ok(Ok(stream)) => return Some(stream),
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

    /// Exchanges HELLOs on a new stream; returns what to (re)send, or how the
    /// session ended.
    async fn handshake(
        &self,
        rd: &mut futures::io::ReadHalf<LinkStream>,
        wr: &mut futures::io::WriteHalf<LinkStream>,
        state: &mut LinkState,
    ) -> Result<Vec<Frame>, Result<Ended, P2pError>> {
        let hello = state.hello();
        let exchange = async {
            write_frame(wr, &hello).await.map_err(WireError::Io)?;
            futures::AsyncWriteExt::flush(wr)
                .await
                .map_err(WireError::Io)?;
            read_frame(rd, self.max_payload).await
        };
        let limit = self.reconnect_timeout.max(Duration::from_secs(5));
        let theirs = match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(frame)) => frame,
            Ok(Err(WireError::Malformed(m))) => return Err(Err(self.malformed(m))),
            Ok(Err(WireError::Io(e))) => {
                return Err(Ok(Ended::Broken(format!("handshake: {e}"), None)));
            }
            Err(_) => return Err(Ok(Ended::Broken("handshake timed out".into(), None))),
        };
        let resume = state.on_hello(theirs).map_err(|v| Err(self.violation(v)))?;
        self.release(resume.released);
        Ok(resume.frames)
    }

    /// Handles one frame read from the peer; `Some` when it ends the session.
    fn on_frame(
        &self,
        frame: Result<Frame, WireError>,
        state: &mut LinkState,
        outbox: &mut Vec<Frame>,
    ) -> Option<Result<Ended, P2pError>> {
        let frame = match frame {
            Ok(frame) => frame,
            Err(WireError::Malformed(m)) => return Some(Err(self.malformed(m))),
            Err(WireError::Io(e)) => return Some(Ok(Ended::Broken(format!("reading: {e}"), None))),
        };
        match state.on_frame(frame, outbox) {
            Ok(received) => {
                self.release(received.released);
                if let Some(chunk) = received.deliver {
                    self.inbound.bytes.fetch_add(chunk.len(), Ordering::AcqRel);
                    // The application may be gone; then nobody needs the chunk.
                    let _ = self.to_app.send(chunk);
                }
                None
            }
            Err(v) => Some(Err(self.violation(v))),
        }
    }

    /// Runs one stream until it breaks, is replaced, or both sides are done.
    async fn session(&mut self, stream: Stream, state: &mut LinkState) -> Result<Ended, P2pError> {
        // Closures before this stream existed do not concern it.
        self.closed.borrow_and_update();
        let heard = LastHeard::new();
        let (mut rd, mut wr) = Heard::new(stream, heard.clone()).split();
        // Frames queue in `outbox` while a write is in flight; first the resends.
        let mut outbox = match self.handshake(&mut rd, &mut wr, state).await {
            Ok(resends) => resends,
            Err(ended) => return ended,
        };
        self.shared.sessions.fetch_add(1, Ordering::AcqRel);
        if let Some(tx) = self.established.take() {
            let _ = tx.send(Ok(()));
        }

        // One read stays in flight across the loop's `select!` (never dropped
        // mid-frame); a new one starts only when the previous frame is complete.
        let max_payload = self.max_payload;
        let mut reading = Box::pin(next_frame(rd, max_payload));
        // Likewise one write (of everything queued when it started) is in flight
        // at a time. It starts with an empty write that hands the write half
        // straight back.
        let writer = Writer::new(wr);
        let mut writing = Box::pin(writer.write(Vec::new()));
        let mut idle_writer: Option<Writer<LinkStream>> = None;

        let mut peer_lost = self.peer_lost.clone();
        let mut liveness = Liveness::new(self.keepalive, heard.now());
        let ended = loop {
            if state.finished() {
                break Ok(Ended::Finished);
            }
            let room = self.inbound.bytes.load(Ordering::Acquire) < self.max_inbound;
            let now = heard.now();
            liveness.heard(heard.get());
            if idle_writer.is_none() {
                // A write in progress is the peer's sign of life.
                liveness.sent(now);
            }
            let check_at = match liveness.due(now, room) {
                Due::Silent { for_ } => {
                    // A dead path keeps a stalled connection open: drop it,
                    // so that the reconnect dials afresh.
                    let _ = self
                        .driver
                        .send(crate::swarm::Command::Disconnect(self.peer));
                    break Ok(Ended::Broken(
                        format!("nothing heard from the peer for {for_:?}"),
                        None,
                    ));
                }
                Due::Ping if outbox.is_empty() && idle_writer.is_some() => {
                    outbox.push(Frame::Ping);
                    liveness.sent(now);
                    now + self.keepalive.interval
                }
                Due::Ping => now + self.keepalive.interval,
                Due::Nothing { until } => until,
            };
            if !outbox.is_empty()
                && let Some(writer) = idle_writer.take()
            {
                writing.set(writer.write(std::mem::take(&mut outbox)));
                liveness.sent(now);
            }
            let busy = idle_writer.is_none();
            let app_done = state.is_app_done();
            tokio::select! {
                () = tokio::time::sleep_until(heard.instant(check_at)) => {}
                msg = self.app_rx.recv(), if !app_done => match msg {
                    Some(chunk) => outbox.push(state.send(chunk)),
                    None => outbox.extend(state.app_finished()),
                },
                (rd, frame) = &mut reading, if room => {
                    reading.set(next_frame(rd, max_payload));
                    if let Some(ended) = self.on_frame(frame, state, &mut outbox) {
                        break ended;
                    }
                },
                () = self.inbound.space.notified(), if !room => {}
                _ = peer_lost.wait_for(|lost| *lost) => break Err(self.peer_failure()),
                changed = self.closed.changed() => {
                    let why = match changed {
                        Ok(()) => "the connection to the peer closed",
                        Err(_) => "the swarm stopped",
                    };
                    break Ok(Ended::Broken(why.into(), None));
                }
                newer = self.incoming.recv(), if !self.opener => match newer {
                    Some(stream) => break Ok(Ended::Broken("the peer opened a new stream".into(), Some(stream))),
                    None => break Ok(Ended::Broken("no more incoming streams".into(), None)),
                },
                (writer, written) = &mut writing, if busy => match written {
                    Ok(()) => idle_writer = Some(writer),
                    Err(e) => break Ok(Ended::Broken(format!("writing: {e}"), None)),
                },
            }
        };
        if matches!(ended, Ok(Ended::Finished)) {
            // Let the last frames (BYE, ACKs) leave, then close our side.
            let last = async {
                let mut writer = match idle_writer.take() {
                    Some(writer) => writer,
                    None => match (&mut writing).await {
                        (writer, Ok(())) => writer,
                        (_, Err(_)) => return,
                    },
                };
                if writer.write_all(&std::mem::take(&mut outbox)).await.is_ok() {
                    let _ = writer.close().await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), last).await;
        }
        ended
    }

    /// Gives acknowledged bytes back to the outbound budget (what `flush` waits on).
    fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.shared.outbound.release(bytes);
            self.shared.progress.notify_waiters();
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

//! The task of one link (one lane to one peer): obtain a stream, run a
//! [`session`](crate::session) on it, and obtain another after it breaks,
//! until both sides are done or the peer is lost. A transport says how it
//! obtains streams and what only it knows during a session ([`Connector`]);
//! the rest (resume numbers across streams, the reconnect period, giving up
//! with an error naming the peer, reporting set-up) is written here once.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use channel_core::transport::TransportError;

use crate::app::Shared;
use crate::error::MeshError;
use crate::link_state::{LinkState, Violation};
use crate::reconnect::Period;
use crate::session::{self, AppEnds, Delivery, Events, Inbound, Interrupt, Limits};

/// What a transport does for one link.
pub trait Connector {
    /// The transport's stream.
    type Stream: AsyncRead + AsyncWrite + Unpin;

    /// Obtains a stream (dial, or wait for the peer's), at most until
    /// `deadline`: `Ok(None)` when none came in time, with the last problem
    /// in `last`; `Err` when the link must end at once (e.g. another lane of
    /// the peer failed).
    fn obtain(
        &mut self,
        deadline: Instant,
        last: &mut String,
    ) -> impl Future<Output = Result<Option<Self::Stream>, MeshError>>;

    /// A session on a new stream starts (e.g. forget events from before it).
    fn starting(&mut self) {}

    /// Resolves when the transport interrupts the session; cancel-safe (see
    /// [`Events::interrupted`]).
    fn interrupted(&mut self) -> impl Future<Output = Interrupt<Self::Stream>>;

    /// The stream went silent beyond the keepalive bound (see [`Events::silent`]).
    fn silent(&mut self) {}

    /// The error for a peer that broke the protocol (`lanes`: this party's).
    fn violation(&self, party: usize, lanes: u16, violation: Violation) -> MeshError {
        match violation {
            Violation::Malformed(reason) => MeshError::Malformed { party, reason },
            Violation::Lanes { theirs } => MeshError::Malformed {
                party,
                reason: format!("the peer says it uses {theirs} lanes, this party {lanes}"),
            },
        }
    }

    /// The error when the transport ended the session ([`Interrupt::Lost`]).
    fn lost(&self, party: usize) -> MeshError {
        MeshError::lost(party, "the link ended")
    }
}

/// Everything one link task needs.
pub struct LinkTask<C> {
    /// The peer.
    pub party: usize,
    /// Lanes per pair of parties (told in HELLO, checked against the peer's).
    pub lanes: u16,
    /// How streams are obtained.
    pub connector: C,
    /// Chunks from the application; closed when it is done.
    pub app_rx: mpsc::UnboundedReceiver<Vec<u8>>,
    /// Chunks (and the peer's goodbye) to the application.
    pub to_app: mpsc::UnboundedSender<Delivery>,
    /// What the application holds of this lane's deliveries.
    pub inbound: Inbound,
    /// The most `inbound` may hold before the link stops reading.
    pub max_inbound: usize,
    /// Shared with the application side and the peer's other lanes.
    pub shared: Shared<MeshError>,
    /// The largest DATA payload accepted.
    pub max_payload: usize,
    /// Keepalive on quiet streams.
    pub keepalive: channel_core::transport::liveness::KeepAlive,
    /// How long set-up may take.
    pub connect_timeout: Duration,
    /// How long a dropped stream may take to come back.
    pub reconnect_timeout: Duration,
    /// Told once the first stream carries the link, or why it never did.
    pub established: Option<oneshot::Sender<Result<(), String>>>,
}

impl<C: Connector> LinkTask<C> {
    /// Runs the link to its end: both sides done (later calls get
    /// `TransportError::Closed`), or the peer lost (they get why).
    pub async fn run(mut self) {
        let mut state = LinkState::new(self.lanes);
        let mut next: Option<C::Stream> = None;
        let mut period =
            Period::connecting(Instant::now(), self.connect_timeout, self.reconnect_timeout);
        let mut last = String::from("no attempt yet");
        // Bounded: every pass either ends the link or waits for a stream until the period's end.
        loop {
            let stream = match next.take() {
                Some(s) => s,
                None => match self.connector.obtain(period.ends(), &mut last).await {
                    Ok(Some(s)) => s,
                    Ok(None) => {
                        let reason =
                            format!("no connection within the time allowed; last problem: {last}");
                        self.give_up(MeshError::lost(self.party, reason.clone()), reason);
                        return;
                    }
                    Err(e) => {
                        self.give_up(e.clone(), e.to_string());
                        return;
                    }
                },
            };
            match self.session(stream, &mut state).await {
                Ok(None) => {
                    self.shared
                        .record(TransportError::Closed { party: self.party }.into());
                    return;
                }
                Ok(Some((why, newer))) => {
                    tracing::debug!(party = self.party, %why, "stream to peer broke; reconnecting");
                    last = why;
                    next = newer;
                    period.broke(Instant::now(), self.shared.sessions.load(Ordering::Acquire));
                }
                Err(e) => {
                    self.give_up(e.clone(), e.to_string());
                    return;
                }
            }
        }
    }

    fn give_up(&mut self, e: MeshError, reason: String) {
        tracing::debug!(party = self.party, %reason, "link to peer failed");
        self.shared.fail(e);
        if let Some(tx) = self.established.take() {
            let _ = tx.send(Err(reason));
        }
    }

    /// Runs one stream; `Ok(None)` when both sides are done, `Ok(Some)` when
    /// it broke (with a newer stream, if one replaced it).
    async fn session(
        &mut self,
        stream: C::Stream,
        state: &mut LinkState,
    ) -> Result<Option<(String, Option<C::Stream>)>, MeshError> {
        self.connector.starting();
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
            buffers: &self.shared.buffers,
        };
        let mut events = SessionEvents {
            party: self.party,
            connector: &mut self.connector,
            shared: &self.shared,
            established: &mut self.established,
        };
        match session::run(stream, state, app, limits, &mut events).await {
            session::Ended::Finished => Ok(None),
            session::Ended::Broken(why, newer) => Ok(Some((why, newer))),
            session::Ended::Lost => Err(self.connector.lost(self.party)),
            session::Ended::Violation(v) => {
                Err(self.connector.violation(self.party, self.lanes, v))
            }
        }
    }
}

/// A session's events: the transport's, plus what every link records.
struct SessionEvents<'a, C> {
    party: usize,
    connector: &'a mut C,
    shared: &'a Shared<MeshError>,
    established: &'a mut Option<oneshot::Sender<Result<(), String>>>,
}

impl<C: Connector> Events for SessionEvents<'_, C> {
    type Stream = C::Stream;

    fn interrupted(&mut self) -> impl Future<Output = Interrupt<C::Stream>> {
        self.connector.interrupted()
    }

    fn silent(&mut self) {
        self.connector.silent();
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

    /// The peer's channel is gone: sends to it fail from now on (its
    /// receives fail once they reach the goodbye, after everything it sent).
    fn goodbye(&mut self) {
        tracing::debug!(party = self.party, "the peer said goodbye");
        self.shared
            .said_goodbye(MeshError::lost(self.party, crate::app::GOODBYE));
    }
}

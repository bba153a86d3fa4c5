//! One task per peer: owns the one TLS connection to that peer, re-establishes
//! it when it drops (the lower-numbered party dials, the other accepts), and
//! runs channel-link's session on each connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use channel_core::transport::TransportError;
use channel_core::transport::liveness::KeepAlive;
use channel_link::link_state::{LinkState, Violation};
use channel_link::reconnect::Period;
use channel_link::session::{self, AppEnds, Events, Inbound, Interrupt, Limits};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::TcpError;

/// A party-to-party connection: TLS over TCP. The socket is read in large
/// gulps (TLS would read it a record header at a time otherwise).
pub(crate) type Stream = tokio_rustls::TlsStream<BufReader<TcpStream>>;

/// How much of the socket one read takes at most.
pub(crate) const READ_BUFFER: usize = 256 * 1024;

/// Per peer, the state the application side and the link share.
pub(crate) type Shared = channel_link::app::Shared<TcpError>;

/// The longest one dial attempt may take (the overall bound is the connect
/// or reconnect timeout).
const DIAL_ATTEMPT: Duration = Duration::from_secs(3);

/// How this party obtains connections to the peer.
pub(crate) enum Obtain {
    /// It dials the peer's address with this TLS configuration.
    Dial(SocketAddr, Arc<ClientConfig>),
    /// The peer dials; its authenticated connections arrive here.
    Accept(mpsc::Receiver<Stream>),
}

/// Everything a link task needs.
pub(crate) struct Link {
    pub(crate) party: usize,
    pub(crate) obtain: Obtain,
    pub(crate) app_rx: mpsc::UnboundedReceiver<Vec<u8>>,
    pub(crate) to_app: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) inbound: Inbound,
    pub(crate) shared: Shared,
    pub(crate) max_payload: usize,
    pub(crate) max_inbound: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect_timeout: Duration,
    pub(crate) keepalive: KeepAlive,
    pub(crate) established: Option<oneshot::Sender<Result<(), String>>>,
}

impl Link {
    pub(crate) async fn run(mut self) {
        let mut state = LinkState::new(1);
        let mut next: Option<Stream> = None;
        let mut period =
            Period::connecting(Instant::now(), self.connect_timeout, self.reconnect_timeout);
        let mut last = String::from("no attempt yet");
        // Bounded: every pass either ends the link or waits for a connection until the period's end.
        loop {
            let stream = match next.take() {
                Some(s) => s,
                None => match self.obtain(period.ends(), &mut last).await {
                    Some(s) => s,
                    None => {
                        let reason =
                            format!("no connection within the time allowed; last problem: {last}");
                        self.give_up(TcpError::lost(self.party, reason.clone()), reason);
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
                    tracing::debug!(party = self.party, %why, "connection to peer broke; reconnecting");
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

    fn give_up(&mut self, e: TcpError, reason: String) {
        tracing::debug!(party = self.party, %reason, "link to peer failed");
        self.shared.fail(e);
        if let Some(tx) = self.established.take() {
            let _ = tx.send(Err(reason));
        }
    }

    /// Dials (or waits for) an authenticated connection to the peer, until the period's end.
    async fn obtain(&mut self, deadline: Instant, last: &mut String) -> Option<Stream> {
        let mut delay = Duration::from_millis(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match &mut self.obtain {
                Obtain::Dial(addr, config) => {
                    let attempt = left.min(DIAL_ATTEMPT);
                    match tokio::time::timeout(attempt, dial(*addr, config.clone())).await {
                        Ok(Ok(stream)) => return Some(stream),
                        Ok(Err(e)) => *last = e,
                        Err(_) => *last = format!("dialing {addr} took longer than {attempt:?}"),
                    }
                    tokio::time::sleep(delay.min(left)).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Obtain::Accept(incoming) => {
                    return match tokio::time::timeout(left, incoming.recv()).await {
                        Ok(Some(stream)) => Some(stream),
                        Ok(None) | Err(_) => {
                            *last = "the peer did not connect to us".into();
                            None
                        }
                    };
                }
            }
        }
    }

    /// Runs one connection; `Ok(None)` when both sides are done, `Ok(Some)`
    /// when it broke (with a newer connection, if one replaced it).
    async fn session(
        &mut self,
        stream: Stream,
        state: &mut LinkState,
    ) -> Result<Option<(String, Option<Stream>)>, TcpError> {
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
        let mut events = PeerEvents {
            incoming: match &mut self.obtain {
                Obtain::Accept(incoming) => Some(incoming),
                Obtain::Dial(..) => None,
            },
            shared: &self.shared,
            established: &mut self.established,
        };
        match session::run(stream, state, app, limits, &mut events).await {
            session::Ended::Finished => Ok(None),
            session::Ended::Broken(why, newer) => Ok(Some((why, newer))),
            session::Ended::Lost => Err(TcpError::lost(self.party, "the link ended")),
            session::Ended::Violation(Violation::Malformed(reason)) => Err(TcpError::Malformed {
                party: self.party,
                reason,
            }),
            session::Ended::Violation(Violation::Lanes { theirs }) => Err(TcpError::Malformed {
                party: self.party,
                reason: format!("the peer says it uses {theirs} lanes; TCP links have one"),
            }),
        }
    }
}

/// Connects to `addr` and proves both keys.
async fn dial(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<Stream, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let name =
        ServerName::try_from(crate::tls::SERVER_NAME).map_err(|e| format!("server name: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, BufReader::with_capacity(READ_BUFFER, tcp))
        .await
        .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
    Ok(tokio_rustls::TlsStream::Client(tls))
}

/// What only this transport knows during a session.
struct PeerEvents<'a> {
    /// Newer connections from the peer, on the accepting side.
    incoming: Option<&'a mut mpsc::Receiver<Stream>>,
    shared: &'a Shared,
    established: &'a mut Option<oneshot::Sender<Result<(), String>>>,
}

impl Events for PeerEvents<'_> {
    type Stream = Stream;

    async fn interrupted(&mut self) -> Interrupt<Stream> {
        match self.incoming.as_mut() {
            // No more connections once the accept loop is gone; the current
            // one carries on.
            Some(incoming) => match incoming.recv().await {
                Some(stream) => Interrupt::Broken("the peer connected anew".into(), Some(stream)),
                None => std::future::pending().await,
            },
            None => std::future::pending().await,
        }
    }

    fn established(&mut self) {
        self.shared.sessions.fetch_add(1, Ordering::AcqRel);
        if let Some(tx) = self.established.take() {
            let _ = tx.send(Ok(()));
        }
    }

    fn released(&mut self, bytes: usize) {
        self.shared.released(bytes);
    }
}

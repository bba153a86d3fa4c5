//! How one peer's link obtains its TLS connection (the lower-numbered party
//! dials, the other accepts) and what only TCP knows during a session; the
//! link task itself, sessions and reconnects, is channel-link's `LinkTask`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use channel_link::session::Interrupt;
use channel_link::task::Connector;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
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

/// How one peer's link obtains its connections, for channel-link's
/// [`LinkTask`](channel_link::task::LinkTask).
pub(crate) struct Connection {
    pub(crate) obtain: Obtain,
}

impl Connector for Connection {
    type Stream = Stream;

    /// Dials (or waits for) an authenticated connection to the peer, until `deadline`.
    async fn obtain(
        &mut self,
        deadline: Instant,
        last: &mut String,
    ) -> Result<Option<Stream>, TcpError> {
        let mut delay = Duration::from_millis(20);
        // Bounded by the deadline: every pass dials once or waits until it.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match &mut self.obtain {
                Obtain::Dial(addr, config) => {
                    let attempt = left.min(DIAL_ATTEMPT);
                    match tokio::time::timeout(attempt, dial(*addr, config.clone())).await {
                        Ok(Ok(stream)) => return Ok(Some(stream)),
                        Ok(Err(e)) => *last = e,
                        Err(_) => *last = format!("dialing {addr} took longer than {attempt:?}"),
                    }
                    tokio::time::sleep(delay.min(left)).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Obtain::Accept(incoming) => {
                    return match tokio::time::timeout(left, incoming.recv()).await {
                        Ok(Some(stream)) => Ok(Some(stream)),
                        Ok(None) | Err(_) => {
                            *last = "the peer did not connect to us".into();
                            Ok(None)
                        }
                    };
                }
            }
        }
    }

    /// On the accepting side, a newer connection from the peer replaces the
    /// current one (the peer saw it break first).
    async fn interrupted(&mut self) -> Interrupt<Stream> {
        match &mut self.obtain {
            // No more connections once the accept loop is gone; the current
            // one carries on.
            Obtain::Accept(incoming) => match incoming.recv().await {
                Some(stream) => Interrupt::Broken("the peer connected anew".into(), Some(stream)),
                None => std::future::pending().await,
            },
            Obtain::Dial(..) => std::future::pending().await,
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

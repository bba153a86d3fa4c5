//! Serving a router so that no client can hold on to it: TCP_NODELAY on every
//! connection, a deadline for a request's headers (which also ends idle
//! keep-alive connections) and for its body, a cap on open connections,
//! optional TLS (rustls) with handshakes off the accept path and bounded in
//! time, and a graceful shutdown with a deadline.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_http::timeout::RequestBodyDeadlineLayer;

/// How long and how much a server holds for its clients. Every field has a
/// safe default; `channel-relay` sets them from its flags.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// A request's headers must have arrived this long after the server
    /// started waiting for them; an idle keep-alive connection is closed
    /// after it too (a client dripping a byte a second, or holding sockets
    /// open, is cut off).
    pub header_timeout: Duration,
    /// A request's whole body must have arrived within this.
    pub body_timeout: Duration,
    /// A TLS handshake must be done within this.
    pub handshake_timeout: Duration,
    /// Connections open at once at most; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// After shutdown is asked for, how long requests in flight may still
    /// finish before their connections are closed.
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` with [`ServeLimits::default`] until
/// `shutdown` resolves, then lets the requests in flight finish (for at most
/// the shutdown grace). Sets TCP_NODELAY on every accepted connection (small
/// messages must not wait for Nagle's algorithm).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, router, None, ServeLimits::default(), shutdown).await
}

/// Like [`serve`], over TLS with the given configuration (see [`tls_config`]).
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: Arc<tokio_rustls::rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(
        listener,
        router,
        Some(tls),
        ServeLimits::default(),
        shutdown,
    )
    .await
}

/// [`serve`] or [`serve_tls`] (with `tls`) under the given limits.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let router = router.layer(RequestBodyDeadlineLayer::new(limits.body_timeout));
    let acceptor = tls.map(TlsAcceptor::from);
    // HTTP/1.1, as the clients speak it (with upgrades, for WebSockets).
    let mut builder = auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    // Bounded: ends when `shutdown` resolves.
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                %peer,
                limit = limits.max_connections,
                "connection cap reached: closing a new connection"
            );
            drop(tcp);
            continue;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
        let service = TowerToHyperService::new(router.clone());
        let (builder, watcher, acceptor) = (builder.clone(), graceful.watcher(), acceptor.clone());
        let handshake_timeout = limits.handshake_timeout;
        let header_timeout = limits.header_timeout;
        connections.spawn(async move {
            let _slot = slot;
            // A connection that sends nothing is closed after the header
            // timeout too (hyper's timer starts only with the first request).
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(header_timeout, tcp.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                tracing::debug!(%peer, "closing a connection that sent nothing");
                return;
            }
            let served = match acceptor {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tcp), service);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    let Some(tls) = handshake(&acceptor, tcp, handshake_timeout, peer).await else {
                        return;
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    watcher.watch(conn.into_owned()).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
    drop(listener);
    // Requests in flight may finish, for a while; then every connection is closed.
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            open = connections.len(),
            "shutdown grace over: closing the connections still open"
        );
    }
    connections.abort_all();
    // Bounded: every task was aborted.
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// A TLS handshake within `timeout`, or `None` (logged).
async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    timeout: Duration,
    peer: std::net::SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(%peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// A rustls server configuration from a PEM certificate chain and a PEM private key.
pub fn tls_config(
    cert_pem: &Path,
    key_pem: &Path,
) -> io::Result<Arc<tokio_rustls::rustls::ServerConfig>> {
    let invalid = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} {}: {e}", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| invalid("cannot read certificates from", cert_pem, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("bad certificate in", cert_pem, &e))?;
    if certs.is_empty() {
        return Err(invalid("no certificate in", cert_pem, &"empty"));
    }
    let key = PrivateKeyDer::from_pem_file(key_pem)
        .map_err(|e| invalid("cannot read a private key from", key_pem, &e))?;
    // An explicit provider: the process-wide default panics if several are linked in.
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("no usable TLS versions for", cert_pem, &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid("certificate and key do not fit:", cert_pem, &e))?;
    Ok(Arc::new(config))
}

//! The native clients' shared parts: options, the HTTP client, and the reqwest
//! adapter of the protocol core (`channel_http_proto`).

mod body;
mod http;
mod relay_channel;
mod socket;

use std::time::Duration;

pub use http::ReqwestServer;
pub use relay_channel::{HeartbeatTask, HttpChannel, ReqwestRelay};

use crate::{HttpError, RetryPolicy};
pub use channel_http_proto::socket::RelayTransport;

/// Options of the native clients; every field has a sensible default.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long a receive waits for a message before [`TransportError::Timeout`](crate::TransportError::Timeout).
    pub recv_timeout: Duration,
    /// Retries on connection errors and retryable statuses.
    pub retry: RetryPolicy,
    /// Time limit of one request (a long-poll gets its wait on top).
    pub request_timeout: Duration,
    /// Time limit of establishing a connection.
    pub connect_timeout: Duration,
    /// Longest wait asked of the relay per long-poll (the relay may grant less).
    pub poll_wait: Duration,
    /// Extra trusted root certificates (PEM), e.g. a private CA for the relay.
    pub root_certificates_pem: Vec<Vec<u8>>,
    /// The largest message the `channel_core` helpers send or accept.
    pub max_message_size: usize,
    /// How a relay party carries its chunks: the relay's WebSocket where it
    /// can be opened (the default), or only one of the two ways.
    pub transport: RelayTransport,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            recv_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            poll_wait: Duration::from_millis(crate::protocol::DEFAULT_MAX_WAIT_MS),
            root_certificates_pem: Vec::new(),
            max_message_size: channel_core::DEFAULT_MAX_MESSAGE_SIZE,
            transport: RelayTransport::Auto,
        }
    }
}

impl ClientOptions {
    /// The TLS configuration of a `wss://` socket: the platform's roots and
    /// the extra ones, as reqwest trusts them.
    pub(crate) fn socket_tls(
        &self,
    ) -> Result<std::sync::Arc<tokio_rustls::rustls::ClientConfig>, HttpError> {
        use tokio_rustls::rustls;
        let mut roots = Vec::new();
        for pem in &self.root_certificates_pem {
            let mut reader = pem.as_slice();
            for cert in rustls_pki_types::pem::PemObject::pem_reader_iter(&mut reader) {
                roots.push(
                    cert.map_err(|e| HttpError::Setup(format!("bad root certificate: {e}")))?,
                );
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(roots, provider.clone())
                .map_err(|e| {
                    HttpError::Setup(format!("cannot set up TLS for the WebSocket: {e}"))
                })?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Setup(format!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
            .with_no_client_auth();
        Ok(std::sync::Arc::new(config))
    }

    pub(crate) fn http_client(&self) -> Result<reqwest::Client, HttpError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90));
        for pem in &self.root_certificates_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| HttpError::Setup(format!("bad root certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        builder
            .build()
            .map_err(|e| HttpError::Setup(format!("cannot build the HTTP client: {e}")))
    }
}

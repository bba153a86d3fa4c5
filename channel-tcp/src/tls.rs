//! TLS 1.3 between parties, both sides authenticated by raw ed25519 public
//! keys (RFC 7250) pinned in the party table: the dialer accepts only the key
//! of the party it dials; the acceptor only the keys of the parties that dial
//! it, and learns from the key which party a connection is. No certificates,
//! no authorities, no names.

use std::sync::Arc;

use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls13_signature_with_raw_key,
};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, SubjectPublicKeyInfoDer,
    UnixTime,
};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName,
    PeerIncompatible, ServerConfig, SignatureScheme,
};

use crate::{PartyKey, PublicKey, TcpError};

/// The name every dialer presents; the pinned key, not the name, is checked.
pub(crate) const SERVER_NAME: &str = "mpc-party";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certified(key: &PartyKey, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, TcpError> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_pkcs8().to_vec()));
    let signer = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| TcpError::Setup(format!("the TLS stack refused the party key: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![CertificateDer::from(key.public().spki())],
        signer,
    )))
}

/// The configuration that dials `peer` (whose key must be `expected`).
pub(crate) fn dialer(key: &PartyKey, expected: PublicKey) -> Result<Arc<ClientConfig>, TcpError> {
    let provider = provider();
    let me = certified(key, &provider)?;
    let verifier = Arc::new(Pinned {
        allowed: vec![expected],
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TcpError::Setup(format!("TLS 1.3: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(
            rustls::client::AlwaysResolvesClientRawPublicKeys::new(me),
        ));
    Ok(Arc::new(config))
}

/// The configuration that accepts the parties whose keys are `dialers`.
pub(crate) fn acceptor(
    key: &PartyKey,
    dialers: Vec<PublicKey>,
) -> Result<Arc<ServerConfig>, TcpError> {
    let provider = provider();
    let me = certified(key, &provider)?;
    let verifier = Arc::new(Pinned {
        allowed: dialers,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TcpError::Setup(format!("TLS 1.3: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(
            rustls::server::AlwaysResolvesServerRawPublicKeys::new(me),
        ));
    Ok(Arc::new(config))
}

/// The key a peer proved in its handshake (the first "certificate", which in
/// raw-public-key mode is its SubjectPublicKeyInfo).
pub(crate) fn proven_key(certs: Option<&[CertificateDer<'_>]>) -> Option<PublicKey> {
    PublicKey::from_spki(certs?.first()?.as_ref())
}

/// Accepts the keys in `allowed`: the one party a dialer dials, or the
/// parties that dial an acceptor. One type serves both sides of the handshake.
#[derive(Debug)]
struct Pinned {
    allowed: Vec<PublicKey>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    /// Whether `cert` (a SubjectPublicKeyInfo in raw-key mode) is an allowed key.
    fn check(&self, cert: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        match PublicKey::from_spki(cert.as_ref()) {
            Some(key) if self.allowed.contains(&key) => Ok(()),
            _ => Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(cert.as_ref()),
            dss,
            &self.algorithms,
        )
    }
}

/// Only TLS 1.3 is configured; a 1.2 signature never gets here.
fn no_tls12() -> Result<HandshakeSignatureValid, rustls::Error> {
    Err(rustls::Error::PeerIncompatible(
        PeerIncompatible::Tls13RequiredForQuic,
    ))
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }

    fn requires_raw_public_keys(&self) -> bool {
        true
    }
}

impl ClientCertVerifier for Pinned {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity)
            .map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }

    fn requires_raw_public_keys(&self) -> bool {
        true
    }
}

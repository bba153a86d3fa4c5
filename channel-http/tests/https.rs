//! The client over https: a relay served with rustls (self-signed certificate
//! trusted through `ClientOptions::root_certificates_pem`) runs the secure sum.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_http::relay::{Relay, RelayConfig};
use channel_http::{ClientOptions, HttpChannel, HttpError, RelayTransport};

/// Writes a fresh self-signed certificate for localhost into a temporary folder.
fn certificate() -> (tempdir::Dir, Vec<u8>) {
    let key =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let dir = tempdir::Dir::new("https-test");
    std::fs::write(dir.path().join("cert.pem"), key.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.signing_key.serialize_pem()).unwrap();
    (dir, key.cert.pem().into_bytes())
}

/// A folder removed when dropped (no extra crate needed).
mod tempdir {
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new(prefix: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "{prefix}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parties_over_https() {
    let (dir, ca_pem) = certificate();
    let tls = channel_http::tls_config(&dir.path().join("cert.pem"), &dir.path().join("key.pem"))
        .unwrap();
    let relay = Relay::new(RelayConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(channel_http::serve_tls(
        listener,
        relay.router(),
        tls,
        relay.shutdown_signal(),
    ));

    // Without trusting the certificate, the client refuses to talk.
    let untrusting = HttpChannel::create_session(&url, 3, None, &ClientOptions::default()).await;
    assert!(
        matches!(untrusting, Err(HttpError::Setup(_))),
        "{untrusting:?}"
    );

    // Over the WebSocket (`wss://`) and over the HTTP routes.
    for way in [RelayTransport::WebSocket, RelayTransport::LongPoll] {
        let opts = ClientOptions {
            root_certificates_pem: vec![ca_pem.clone()],
            transport: way,
            ..ClientOptions::default()
        };
        common::secure_sum_of_three(&url, &opts, opts.transport).await;
    }
    relay.shutdown();
}

#[test]
fn bad_tls_files_are_clear_errors() {
    let dir = tempdir::Dir::new("bad-tls");
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let err = channel_http::tls_config(&cert, &dir.path().join("missing.pem")).unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
}

//! Redis itself restarted under a running session. With its persistence on,
//! the relay answers `503` with `Retry-After` while Redis is down, the
//! clients retry, and nothing is lost or duplicated. With persistence off,
//! the session is gone afterwards: both parties get a typed error, not a
//! hang.
//!
//! Each test runs its own `redis-server` (`CHANNEL_TEST_REDIS_SERVER`, which
//! `cargo xtask test-all` sets in its "relay on Redis" step, where these run
//! with `--include-ignored`); without it they fail, saying so. On 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use channel_core::testkit::pattern;
use channel_core::{Channel, recv_bytes, send_bytes};
use channel_http::relay::{RelayConfig, RelayStore};
use channel_http::{ClientOptions, HttpChannel, RelayTransport, local};

/// A redis-server of this test's own, on a fixed port and folder.
struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    persistent: bool,
}

impl Server {
    fn new(persistent: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("redis-restart-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            child: None,
            port,
            dir,
            persistent,
        };
        server.start();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Starts the server and waits until it takes connections (at most 10 s).
    fn start(&mut self) {
        let binary = std::env::var("CHANNEL_TEST_REDIS_SERVER").unwrap_or_else(|_| {
            panic!("set CHANNEL_TEST_REDIS_SERVER to redis-server (cargo xtask test-all does)")
        });
        let aof = if self.persistent { "yes" } else { "no" };
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", aof, "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not listen on {} within 10 s", self.port);
    }

    /// Kills the server at once (SIGKILL: what it wrote to its log stays).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn parties(
    server: &Server,
) -> (
    channel_http::relay::Relay,
    String,
    Vec<HttpChannel>,
    String,
    String,
) {
    let store = RelayStore::Redis {
        url: server.url(),
        namespace: "restarts".into(),
    };
    let (relay, url) = local::start_relay_on(RelayConfig::default(), &store)
        .await
        .unwrap();
    let opts = |transport| ClientOptions {
        transport,
        recv_timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    };
    let (over_socket, over_polls) = (
        opts(RelayTransport::WebSocket),
        opts(RelayTransport::LongPoll),
    );
    let (keys, table) = local::keys(2).unwrap();
    let invitations = HttpChannel::invite(&url, &table, None, &over_socket)
        .await
        .unwrap();
    let (zero, one) = tokio::join!(
        HttpChannel::join(&invitations[0], &keys[0], &over_socket),
        HttpChannel::join(&invitations[1], &keys[1], &over_polls),
    );
    let (session, token) = (invitations[0].session.clone(), invitations[0].token.clone());
    (
        relay,
        url,
        vec![zero.unwrap(), one.unwrap()],
        session,
        token,
    )
}

const MESSAGES: u64 = 24;

fn message(from: u64, i: u64) -> Vec<u8> {
    pattern(1000 * from + i, 256 << 10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: runs in `cargo xtask test-all` (step \"relay on Redis\")"]
async fn a_persistent_redis_restarted_mid_session_loses_nothing_and_its_outage_is_a_503() {
    let mut server = Server::new(true);
    let (relay, url, mut parties, session, token) = parties(&server).await;
    // The handshakes' chunks are stored already.
    let before = relay.session_stats(&session).await.unwrap().messages;
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    let side = async |ch: &mut HttpChannel, me: u64| {
        let peer = (1 - me) as usize;
        for i in 0..MESSAGES {
            send_bytes(&mut *ch, peer, "m", &message(me, i))
                .await
                .unwrap();
            let got = recv_bytes(&mut *ch, peer, "m").await.unwrap();
            assert!(got == message(1 - me, i), "party {me}: message {i} differs");
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        ch.flush().await.unwrap();
    };
    let outage = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.kill();
        // While Redis is down, a request gets 503 with Retry-After.
        let answer = reqwest::Client::new()
            .get(format!("{url}/v1/sessions/{session}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 503);
        assert!(answer.headers().contains_key("retry-after"));
        tokio::time::sleep(Duration::from_millis(700)).await;
        server.start();
    };
    tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(side(&mut zero, 0), side(&mut one, 1), outage)
    })
    .await
    .expect("no recovery within 120 s");
    let stats = relay.session_stats(&session).await.unwrap();
    assert_eq!(
        stats.messages - before,
        2 * MESSAGES,
        "every chunk (one per message) stored once: {stats:?}"
    );
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server: runs in `cargo xtask test-all` (step \"relay on Redis\")"]
async fn a_redis_that_forgot_everything_is_a_typed_error_not_a_hang() {
    let mut server = Server::new(false);
    let (relay, _url, mut parties, _session, _token) = parties(&server).await;
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    send_bytes(&mut zero, 1, "m", b"before").await.unwrap();
    assert_eq!(recv_bytes(&mut one, 0, "m").await.unwrap(), b"before");
    server.kill();
    server.start();
    // The session is gone with Redis's memory: both parties learn it.
    let bounded = tokio::time::timeout(Duration::from_secs(90), async {
        let sent = async {
            let sent = send_bytes(&mut zero, 1, "m", b"after").await;
            let flushed = zero.flush().await;
            sent.map_err(|e| channel_core::error_chain(&e))
                .and(flushed.map_err(|e| channel_core::error_chain(&e)))
        };
        tokio::join!(sent, recv_bytes(&mut one, 0, "m"))
    });
    let (sent, received) = bounded
        .await
        .expect("a party hung after Redis lost the session");
    let sent = sent.expect_err("a send into a forgotten session succeeded");
    let received = received.expect_err("a receive from a forgotten session succeeded");
    for e in [sent, channel_core::error_chain(&received)] {
        assert!(
            e.contains("404") || e.contains("no session"),
            "not a typed 'no session': {e}"
        );
    }
    relay.shutdown();
}

//! No client can hold on to the relay: headers and bodies dripped a byte at a
//! time and idle sockets are cut off, the connection cap holds while the
//! relay keeps answering, and a shutdown finishes with a request half sent.
//! All on 127.0.0.1, every wait bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::{Duration, Instant};

use channel_http::relay::{Relay, RelayConfig};
use channel_http::{ServeLimits, local};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn limits() -> ServeLimits {
    ServeLimits {
        header_timeout: Duration::from_millis(800),
        body_timeout: Duration::from_millis(1500),
        handshake_timeout: Duration::from_secs(1),
        max_connections: 8,
        shutdown_grace: Duration::from_millis(800),
    }
}

/// A relay served with `limits`; returns it, its address and the server task.
async fn relay(
    limits: ServeLimits,
) -> (Relay, String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let relay = Relay::new(RelayConfig::default());
    let (listener, url) = local::listener().await.unwrap();
    let server = tokio::spawn(channel_http::serve_with(
        listener,
        relay.router(),
        None,
        limits,
        relay.shutdown_signal(),
    ));
    (relay, url.trim_start_matches("http://").to_string(), server)
}

/// Whether the server closes `tcp` within `within` (reads until EOF or error).
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        // Bounded by the timeout around it.
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

async fn health(addr: &str) -> bool {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut answer)).await;
    answer.starts_with(b"HTTP/1.1 200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_dripped_a_byte_at_a_time_is_cut_off() {
    let (relay, addr, _server) = relay(limits()).await;
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let drip = async {
        tcp.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        // Bounded: 40 bytes at most, 100 ms apart.
        for _ in 0..40 {
            if tcp.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    drip.await;
    assert!(closed_within(&mut tcp, Duration::from_secs(3)).await);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert!(health(&addr).await, "the relay still answers");
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_the_cap_holds() {
    let (relay, addr, _server) = relay(limits()).await;
    // Eight idle sockets fill the cap; the ninth is closed at once.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut ninth = TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut ninth, Duration::from_millis(500)).await,
        "the cap did not hold"
    );
    // The idle ones are closed after the header timeout, and the relay answers again.
    for tcp in &mut idle {
        assert!(
            closed_within(tcp, Duration::from_secs(3)).await,
            "an idle socket stayed open"
        );
    }
    assert!(health(&addr).await);
    // A keep-alive connection that goes quiet after a request is closed too.
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await);
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_dripped_a_byte_at_a_time_is_cut_off() {
    let (relay, addr, _server) = relay(limits()).await;
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(
        b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
    )
    .await
    .unwrap();
    let started = Instant::now();
    // Bounded: 60 bytes at most, 100 ms apart (6 s), far beyond the body deadline.
    for _ in 0..60 {
        if tcp.write_all(b" ").await.is_err() || started.elapsed() > Duration::from_secs(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed_within(&mut tcp, Duration::from_secs(3)).await);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_finishes_while_a_request_is_half_sent() {
    let (relay, addr, server) = relay(ServeLimits {
        header_timeout: Duration::from_secs(30),
        ..limits()
    })
    .await;
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    relay.shutdown();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server did not finish within the shutdown grace")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(closed_within(&mut tcp, Duration::from_secs(1)).await);
}

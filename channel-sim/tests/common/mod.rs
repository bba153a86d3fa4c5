//! Endpoints for the proxy tests: an echo server and a sink, on 127.0.0.1.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server on 127.0.0.1 that echoes every byte on every connection.
pub async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            socket.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = socket.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// What a sink saw of one connection: bytes, and when the first and last arrived.
#[derive(Debug)]
pub struct Sunk {
    pub bytes: Vec<u8>,
    pub first: Instant,
    pub last: Instant,
}

/// A server on 127.0.0.1 that reads one connection to its end and reports it.
pub async fn sink() -> (SocketAddr, tokio::sync::oneshot::Receiver<Sunk>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut first = None;
        let mut last = Instant::now();
        loop {
            let n = socket.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            let now = Instant::now();
            first.get_or_insert(now);
            last = now;
            bytes.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(Sunk {
            bytes,
            first: first.unwrap_or(last),
            last,
        });
    });
    (addr, rx)
}

/// Connects and makes one round trip, so that the handshake is behind us.
pub async fn connected(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    round_trip(&mut stream, 1).await;
    stream
}

/// Sends `size` bytes to an echo server and reads them back; the time it took.
pub async fn round_trip(stream: &mut TcpStream, size: usize) -> Duration {
    let msg = vec![0x5Au8; size];
    let mut back = vec![0u8; size];
    let started = Instant::now();
    stream.write_all(&msg).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut back))
        .await
        .expect("the echo did not come back within 10 s")
        .unwrap();
    assert_eq!(back, msg);
    started.elapsed()
}

/// Waits up to `within` for a read on `stream` to see the connection end;
/// the read's result (0 bytes or an error), or `None` if it did not end.
pub async fn ended(stream: &mut TcpStream, within: Duration) -> Option<std::io::Result<usize>> {
    let mut buf = [0u8; 64];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(n)) if n > 0 => continue,
            Ok(result) => return Some(result),
        }
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

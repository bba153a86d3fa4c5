//! Faults injected into a running link: stall, cut, reset, restore, and the
//! proxy's own limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::Duration;

use channel_sim::{Link, LinkProfile, LinkProxy, LinkState};
use common::{connected, echo_server, ended, ms, round_trip};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn proxy() -> LinkProxy {
    LinkProxy::start(
        echo_server().await,
        Link::symmetric(LinkProfile::latency(ms(2))),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_stall_holds_every_byte_without_closing_and_resume_delivers_them_once_in_order() {
    let proxy = proxy().await;
    let link = proxy.control();
    let mut stream = connected(proxy.addr()).await;
    link.stall();
    assert_eq!(link.state(), LinkState::Stalled);
    stream.write_all(b"held back").await.unwrap();
    let mut buf = [0u8; 9];
    // Nothing comes back, and the connection does not end either.
    let waited = tokio::time::timeout(ms(300), stream.read(&mut buf)).await;
    assert!(
        waited.is_err(),
        "a byte or an end passed a stalled link: {waited:?}"
    );
    assert_eq!(link.connections(), 1);
    link.resume();
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf))
        .await
        .expect("nothing after resume")
        .unwrap();
    assert_eq!(&buf, b"held back");
    // Exactly once: the link is quiet again, then carries new bytes.
    assert!(
        tokio::time::timeout(ms(100), stream.read(&mut buf))
            .await
            .is_err()
    );
    round_trip(&mut stream, 1000).await;
}

#[tokio::test]
async fn a_cut_closes_both_sides_refuses_new_connections_and_restore_reopens() {
    let proxy = proxy().await;
    let link = proxy.control();
    let mut stream = connected(proxy.addr()).await;
    link.cut();
    let end = ended(&mut stream, Duration::from_secs(2)).await;
    assert!(end.is_some(), "a cut connection stayed open");
    // New connections are closed at once while the link is cut.
    let mut again = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    let _ = again.write_all(b"x").await;
    assert!(ended(&mut again, Duration::from_secs(2)).await.is_some());
    assert_eq!(link.state(), LinkState::Cut);
    // Bounded: the connection count drops to zero within 2 s.
    for _ in 0..200 {
        if link.connections() == 0 {
            break;
        }
        tokio::time::sleep(ms(10)).await;
    }
    assert_eq!(link.connections(), 0);
    link.restore();
    let mut fresh = connected(proxy.addr()).await;
    round_trip(&mut fresh, 100).await;
}

#[tokio::test]
async fn a_reset_aborts_open_connections_with_an_rst_and_lets_new_ones_in() {
    let proxy = proxy().await;
    let link = proxy.control();
    let mut stream = connected(proxy.addr()).await;
    link.reset();
    let end = ended(&mut stream, Duration::from_secs(2)).await;
    match end {
        Some(Err(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        other => panic!("expected a reset, got {other:?}"),
    }
    let mut fresh = connected(proxy.addr()).await;
    round_trip(&mut fresh, 100).await;
    assert_eq!(link.state(), LinkState::Open);
}

#[tokio::test]
async fn an_unreachable_target_ends_the_clients_connection() {
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let proxy = LinkProxy::start(closed, Link::symmetric(LinkProfile::IDEAL))
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(ended(&mut stream, Duration::from_secs(5)).await.is_some());
    assert_eq!(proxy.control().accepted(), 0);
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let mut link = Link::symmetric(LinkProfile::IDEAL);
    link.max_connections = 2;
    let proxy = LinkProxy::start(echo_server().await, link).await.unwrap();
    let mut one = connected(proxy.addr()).await;
    let mut two = connected(proxy.addr()).await;
    let mut three = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    assert!(ended(&mut three, Duration::from_secs(2)).await.is_some());
    round_trip(&mut one, 10).await;
    round_trip(&mut two, 10).await;
    assert_eq!(proxy.control().connections(), 2);
}

#[tokio::test]
async fn a_half_close_passes_through_after_the_data() {
    let proxy = proxy().await;
    let mut stream = connected(proxy.addr()).await;
    stream.write_all(b"last words").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, b"last words");
}

#[tokio::test]
async fn shutting_the_proxy_down_closes_its_connections() {
    let proxy = proxy().await;
    let addr = proxy.addr();
    let mut stream = connected(addr).await;
    proxy.shutdown();
    assert!(ended(&mut stream, Duration::from_secs(2)).await.is_some());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

//! The link emulator does what its profile says, within generous margins (the
//! bench reports the exact figures): a 500 Mbit/s, 20 ms link carries a 64 MiB
//! stream at about 500 Mbit/s and a 100 B ping-pong takes about 40 ms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::{Duration, Instant};

use channel_sim::{Bandwidth, Direction, Link, LinkProfile, LinkProxy};
use common::{connected, echo_server, median, ms, round_trip, sink};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_stream_runs_at_the_links_bandwidth() {
    let (target, sunk) = sink().await;
    let proxy = LinkProxy::start(target, Link::symmetric(LinkProfile::continental()))
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    // Past the handshake's round trip before the clock starts.
    tokio::time::sleep(ms(100)).await;
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i % 251) as u8).collect();
    let started = Instant::now();
    stream.write_all(&data).await.unwrap();
    stream.shutdown().await.unwrap();
    let sunk = tokio::time::timeout(Duration::from_secs(30), sunk)
        .await
        .expect("64 MiB did not arrive within 30 s")
        .unwrap();
    assert!(sunk.bytes == data, "the stream arrived altered");
    // From the first byte sent to the last received: transmission plus one latency.
    let took = sunk.last - started;
    let mbit = (64u64 << 20) as f64 * 8.0 / took.as_secs_f64() / 1e6;
    println!("64 MiB through 500 Mbit/s, 20 ms: {took:.3?}, {mbit:.1} Mbit/s");
    // Ideal: 1.074 s on the wire + 20 ms = 491 Mbit/s. The link never runs
    // faster than its rate; the lower bound leaves room for a loaded machine.
    assert!(mbit <= 500.0, "faster than the link: {mbit:.1} Mbit/s");
    assert!(mbit >= 425.0, "far below 500 Mbit/s: {mbit:.1} Mbit/s");
    // The receiver saw it spread over the transmission time, not in a burst.
    let spread = sunk.last - sunk.first;
    assert!(spread >= ms(1000), "arrived in {spread:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_byte_ping_pong_takes_two_latencies() {
    let proxy = LinkProxy::start(
        echo_server().await,
        Link::symmetric(LinkProfile::continental()),
    )
    .await
    .unwrap();
    let mut stream = connected(proxy.addr()).await;
    let mut times = Vec::new();
    for _ in 0..25 {
        times.push(round_trip(&mut stream, 100).await);
    }
    let fastest = *times.iter().min().unwrap();
    let typical = median(times);
    println!(
        "100 B round trip through 20 ms each way: median {typical:.2?}, fastest {fastest:.2?}"
    );
    // Each way waits its latency, aiming at most 0.2 ms early.
    assert!(fastest >= Duration::from_micros(39_600), "{fastest:?}");
    // The timer's resolution is 1 ms each way; a loaded machine adds a little.
    assert!(typical <= ms(45), "{typical:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_pays_for_its_handshake() {
    let link = Link::symmetric(LinkProfile::latency(ms(25)));
    let proxy = LinkProxy::start(echo_server().await, link).await.unwrap();
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut stream, 10).await;
    // SYN + SYN-ACK (50 ms), then the data's round trip (50 ms).
    let first = started.elapsed();
    assert!(first >= ms(100) && first < ms(150), "{first:?}");
    let second = round_trip(&mut stream, 10).await;
    assert!(second >= ms(50) && second < ms(75), "{second:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_direction_has_its_own_profile_and_changes_apply_at_once() {
    let link = Link::new(LinkProfile::latency(ms(10)), LinkProfile::latency(ms(50)));
    let proxy = LinkProxy::start(echo_server().await, link).await.unwrap();
    let mut stream = connected(proxy.addr()).await;
    // Each way aims at most 0.2 ms early (as in the symmetric test above).
    let early = Duration::from_micros(400);
    let rtt = round_trip(&mut stream, 100).await;
    assert!(rtt >= ms(60) - early && rtt < ms(80), "{rtt:?}");
    proxy
        .control()
        .set_profile(Direction::Down, LinkProfile::latency(ms(100)));
    let rtt = round_trip(&mut stream, 100).await;
    assert!(rtt >= ms(110) - early && rtt < ms(135), "{rtt:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_delays_within_its_bound_and_never_reorders() {
    let (target, sunk) = sink().await;
    let profile = LinkProfile::latency(ms(5)).with_jitter(ms(20));
    let proxy = LinkProxy::start(target, Link::symmetric(profile))
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    // Bytes 0, 1, 2, ... in separate writes a millisecond apart.
    for i in 0..200u32 {
        stream.write_all(&i.to_le_bytes()).await.unwrap();
        tokio::time::sleep(ms(1)).await;
    }
    stream.shutdown().await.unwrap();
    let sunk = tokio::time::timeout(Duration::from_secs(10), sunk)
        .await
        .unwrap()
        .unwrap();
    let expected: Vec<u8> = (0..200u32).flat_map(u32::to_le_bytes).collect();
    assert!(
        sunk.bytes == expected,
        "bytes were lost, duplicated or reordered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_holds_the_sender_back_instead_of_buffering_everything() {
    // 8 Mbit/s: 1 MiB takes a second. A sender of 16 MiB cannot get far
    // ahead: the proxy holds a bounded amount and TCP's window does the rest.
    let (target, _sunk) = sink().await;
    let profile = LinkProfile::new(ms(5), Bandwidth::mbit(8));
    let proxy = LinkProxy::start(target, Link::symmetric(profile))
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    let data = vec![1u8; 16 << 20];
    let sending = tokio::time::timeout(ms(1500), stream.write_all(&data)).await;
    assert!(
        sending.is_err(),
        "16 MiB went into an 8 Mbit/s link in 1.5 s"
    );
    let forwarded = proxy.control().forwarded(Direction::Up);
    assert!(
        forwarded < 3 << 20,
        "{forwarded} bytes forwarded in 1.5 s at 8 Mbit/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_through_one_link_share_its_bandwidth() {
    // Two 8 MiB streams at once through 100 Mbit/s: 16 MiB take 1.34 s on the
    // path, not 0.67 s each side by side.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut readers = Vec::new();
        for _ in 0..2 {
            let (mut socket, _) = listener.accept().await.unwrap();
            readers.push(tokio::spawn(async move {
                let mut sink = Vec::new();
                tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut sink)
                    .await
                    .unwrap();
                sink.len()
            }));
        }
        let mut total = 0;
        for r in readers {
            total += r.await.unwrap();
        }
        total
    });
    let profile = LinkProfile::new(ms(5), Bandwidth::mbit(100));
    let proxy = LinkProxy::start(target, Link::symmetric(profile))
        .await
        .unwrap();
    let started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..2 {
        let addr = proxy.addr();
        writers.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(&vec![9u8; 8 << 20]).await.unwrap();
            stream.shutdown().await.unwrap();
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let total = tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .unwrap()
        .unwrap();
    let took = started.elapsed();
    assert_eq!(total, 16 << 20);
    println!("2 × 8 MiB through one 100 Mbit/s link: {took:.3?}");
    assert!(
        took >= ms(1300),
        "the connections did not share the link: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
}

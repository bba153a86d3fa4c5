//! Faults between client and server: connections cut mid-transfer by a proxy,
//! a sender flooding a slow receiver, silent and dead peers. Every message must
//! arrive exactly once and in order, or the error must say who and what.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use channel_core::testkit::pattern;
use channel_core::{Channel, Error, Limited, recv_bytes, send_bytes};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpError, RelayTransport, RetryPolicy, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy that cuts each connection after a pseudo-random number of bytes
/// (both directions counted), from `min_cut` to `min_cut + spread`; one connection
/// in three is instead cut when the server starts answering, so the request was
/// processed but its answer is lost (the case that needs deduplication).
struct CuttingProxy {
    url: String,
    cuts: Arc<AtomicUsize>,
}

async fn cutting_proxy(upstream: String, min_cut: u64, spread: u64) -> CuttingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let cuts = Arc::new(AtomicUsize::new(0));
    let counter = cuts.clone();
    let upstream = upstream.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        let mut state = 0x5EED_u64;
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let budget = min_cut + (state >> 33) % spread.max(1);
            let lose_answer = (state >> 20).is_multiple_of(3);
            let Ok(server) = TcpStream::connect(&upstream).await else {
                continue;
            };
            let cuts = counter.clone();
            tokio::spawn(async move {
                if pipe(client, server, budget, lose_answer).await {
                    cuts.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    CuttingProxy { url, cuts }
}

/// Copies both ways until either side closes or `budget` bytes have passed;
/// returns whether the connection was cut.
async fn pipe(
    mut client: TcpStream,
    mut server: TcpStream,
    budget: u64,
    lose_answer: bool,
) -> bool {
    let moved = AtomicU64::new(0);
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let answer_budget = if lose_answer { 0 } else { budget };
    tokio::select! {
        cut = copy_until(&mut cr, &mut sw, &moved, budget) => cut,
        cut = copy_until(&mut sr, &mut cw, &moved, answer_budget) => cut,
    }
}

/// One direction of [`pipe`].
async fn copy_until(
    from: &mut tokio::net::tcp::ReadHalf<'_>,
    to: &mut tokio::net::tcp::WriteHalf<'_>,
    moved: &AtomicU64,
    budget: u64,
) -> bool {
    let mut buf = vec![0u8; 8192];
    // Bounded by the connection's byte budget or its end.
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        let before = moved.fetch_add(n as u64, Ordering::Relaxed);
        if budget == 0 {
            return true;
        }
        if before + n as u64 > budget {
            // Forward only part of this read, then cut.
            let keep = budget.saturating_sub(before) as usize;
            let _ = to.write_all(&buf[..keep]).await;
            return true;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return false;
        }
    }
}

fn quick_retries() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
            give_up_after: Duration::from_secs(30),
        },
        recv_timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    }
}

/// The relay's two ways, each test below runs over both.
const WAYS: [RelayTransport; 2] = [RelayTransport::WebSocket, RelayTransport::LongPoll];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_lose_and_duplicate_nothing() {
    for way in WAYS {
        cut_connections(way).await;
    }
}

async fn cut_connections(way: RelayTransport) {
    let (relay, relay_url) = common::start_relay(RelayConfig::default()).await;
    let proxy = cutting_proxy(relay_url, 2_000, 60_000).await;
    let opts = ClientOptions {
        transport: way,
        ..quick_retries()
    };
    let parties = common::relay_parties(&proxy.url, 2, &opts).await.unwrap();
    assert_eq!(parties[0].transport(), way);
    let session = parties[0].session().to_string();
    let mut it = parties.into_iter();
    // 8 KiB chunks so that every request fits in a connection's byte budget.
    let mut a = Limited::new(it.next().unwrap()).with_chunk_size(8 * 1024);
    let mut b = Limited::new(it.next().unwrap()).with_chunk_size(8 * 1024);
    const MESSAGES: usize = 120;
    let size = |i: usize| (i * 997) % 30_000;

    let sender = async {
        for i in 0..MESSAGES {
            send_bytes(&mut a, 1, "cut", &pattern(i as u64, size(i))).await?;
        }
        Ok::<_, Error>(())
    };
    let receiver = async {
        for i in 0..MESSAGES {
            let got = recv_bytes(&mut b, 0, "cut").await?;
            assert_eq!(
                got,
                pattern(i as u64, size(i)),
                "message {i} lost, duplicated or reordered"
            );
        }
        Ok::<_, Error>(())
    };
    let (sent, received) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(sender, receiver)
    })
    .await
    .expect("the exchange through the cutting proxy stalled");
    sent.unwrap();
    received.unwrap();

    let cuts = proxy.cuts.load(Ordering::Relaxed);
    assert!(
        cuts >= 20,
        "the proxy cut only {cuts} connections: the test proved little"
    );
    let stats = relay.session_stats(&session).await.unwrap();
    let chunks: usize = (0..MESSAGES)
        .map(|i| size(i).div_ceil(8 * 1024).max(1))
        .sum();
    // Plus the sealing handshake's HELLO and WELCOME.
    assert_eq!(
        stats.messages as usize,
        chunks + 2,
        "every chunk stored exactly once"
    );
    // Over HTTP a lost answer makes the client resend what was stored; a
    // socket resumes from the relay's own number, so it need not.
    if way == RelayTransport::LongPoll {
        assert!(
            stats.duplicates > 0,
            "no answer was lost after a store: the dedup path was not exercised"
        );
    }
    println!(
        "{way:?}: {cuts} connections cut; {} resends recognised as duplicates",
        stats.duplicates
    );
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_sender_is_throttled_and_the_relay_stays_bounded() {
    for way in WAYS {
        flooding_sender(way).await;
    }
}

async fn flooding_sender(way: RelayTransport) {
    const LIMIT: usize = 1 << 20;
    let (relay, url) = common::start_relay(RelayConfig {
        max_session_bytes: LIMIT,
        // A chunk must fit a session's bound (the relay checks its limits).
        max_body: 256 * 1024,
        ..RelayConfig::default()
    })
    .await;
    let opts = ClientOptions {
        transport: way,
        ..quick_retries()
    };
    let parties = common::relay_parties(&url, 2, &opts).await.unwrap();
    assert_eq!(parties[0].transport(), way);
    let session = parties[0].session().to_string();
    let mut it = parties.into_iter();
    let mut a = Limited::new(it.next().unwrap()).with_chunk_size(200 * 1024);
    let mut b = it.next().unwrap();
    const MESSAGES: usize = 40; // 40 x 200 KiB = 8 MiB, eight times the bound

    let sender = async {
        for i in 0..MESSAGES {
            send_bytes(&mut a, 1, "flood", &pattern(i as u64, 200 * 1024)).await?;
        }
        Ok::<_, Error>(())
    };
    let receiver = async {
        for i in 0..MESSAGES {
            tokio::time::sleep(Duration::from_millis(15)).await; // a slow reader
            let got = recv_bytes(&mut b, 0, "flood").await?;
            assert_eq!(got, pattern(i as u64, 200 * 1024), "message {i}");
        }
        Ok::<_, Error>(())
    };
    let (sent, received) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(sender, receiver)
    })
    .await
    .expect("the flood stalled");
    sent.unwrap();
    received.unwrap();

    let stats = relay.session_stats(&session).await.unwrap();
    assert!(
        stats.throttled > 0,
        "the sender was never throttled: {stats:?}"
    );
    assert!(
        stats.peak_queued_bytes <= LIMIT,
        "relay held {} bytes > {LIMIT}",
        stats.peak_queued_bytes
    );
    // Every message once, plus the sealing handshake's HELLO and WELCOME.
    assert_eq!(stats.messages as usize, MESSAGES + 2);
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_peer_times_out_naming_peer_and_phase() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions {
        recv_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let mut parties = common::relay_parties(&url, 2, &opts).await.unwrap();
    let started = std::time::Instant::now();
    let err = recv_bytes(&mut parties[0], 1, "open").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let Error::Recv {
        party: 1, source, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    match source.downcast_ref::<HttpError>() {
        Some(HttpError::Transport(TransportError::Timeout {
            party: 1,
            waiting_for,
            ..
        })) => {
            assert_eq!(waiting_for, "phase 'open', chunk 1/?");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Generic code tells a timeout from other failures without knowing HttpError.
    assert_eq!(err.kind(), channel_core::ErrorKind::Timeout);
    assert!(err.is_timeout());
    // `?` on the channel's own calls works in functions returning channel_core::Error.
    async fn finish(ch: &mut channel_http::HttpChannel) -> Result<(), Error> {
        channel_core::Channel::flush(ch).await?;
        Ok(())
    }
    finish(&mut parties[0]).await.unwrap();
    let bad: Error = channel_core::Channel::send_bytes_to(
        &mut parties[0],
        7,
        vec![1],
        channel_core::SendInfo::new("x", 0, 1),
    )
    .await
    .unwrap_err()
    .into();
    assert_eq!(bad.kind(), channel_core::ErrorKind::BadParty);
    assert_eq!(bad.party(), Some(7));
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_direct_peer_is_a_typed_error_not_a_hang() {
    let opts = channel_http::DirectOptions {
        client: ClientOptions {
            retry: RetryPolicy {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(50),
                give_up_after: Duration::from_millis(500),
            },
            ..ClientOptions::default()
        },
        ..channel_http::DirectOptions::default()
    };
    let mut parties = common::direct_parties(2, &opts).await.unwrap();
    common::crash(parties.pop()); // party 1 dies (no goodbye); its endpoint closes
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The send is under way when it returns; the flush reports its failure,
    // and the next send fails at once.
    send_bytes(&mut parties[0], 1, "late", b"anyone?")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let failure = parties[0].flush().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = send_bytes(&mut parties[0], 1, "later", b"?")
        .await
        .unwrap_err();
    assert_eq!(err.party(), Some(1));
    assert!(err.to_string().contains("party 1"), "{err}");
    match &failure {
        HttpError::GaveUp {
            party: 1,
            during,
            attempts,
            ..
        } => {
            assert!(during.contains("phase 'late'"), "{during}");
            assert!(*attempts > 1);
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
}

//! Who may connect, and what happens when connections fail, on 127.0.0.1:
//! an impostor at the right address with the wrong key, a stranger, cuts
//! mid-transfer in both directions (through channel-sim's link emulator), a
//! dead peer. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use channel_core::transport::liveness::KeepAlive;
use channel_core::{recv_bytes, send_bytes};
use channel_sim::{Link, LinkControl, LinkProfile, LinkProxy};
use channel_tcp::{PartyEntry, PartyKey, TcpChannel, TcpError, TcpNode, TcpOptions};

fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn quick() -> TcpOptions {
    TcpOptions {
        connect_timeout: Duration::from_secs(3),
        reconnect_timeout: Duration::from_secs(3),
        recv_timeout: Duration::from_secs(20),
        keepalive: KeepAlive {
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
        },
        ..TcpOptions::default()
    }
}

async fn nodes(n: usize) -> Vec<TcpNode> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(
            TcpNode::bind(PartyKey::generate().unwrap(), localhost())
                .await
                .unwrap(),
        );
    }
    nodes
}

fn table(nodes: &[TcpNode]) -> Vec<PartyEntry> {
    nodes
        .iter()
        .map(|n| PartyEntry {
            public: n.public(),
            addr: n.local_addr(),
        })
        .collect()
}

async fn connect_all(
    nodes: Vec<TcpNode>,
    table: Vec<PartyEntry>,
    options: &TcpOptions,
) -> Vec<Result<TcpChannel, TcpError>> {
    futures::future::join_all(
        nodes
            .into_iter()
            .enumerate()
            .map(|(me, node)| node.connect(me, table.clone(), options.clone())),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_at_the_right_address_with_the_wrong_key_is_refused() {
    let nodes = nodes(2).await;
    let mut table = table(&nodes);
    // Party 0 believes party 1 has another key than the one its node proves.
    let believed = table.clone();
    table[1].public = PartyKey::generate().unwrap().public();
    let mut nodes = nodes.into_iter();
    let (zero, one) = (nodes.next().unwrap(), nodes.next().unwrap());
    let started = Instant::now();
    let (a, b) = tokio::join!(
        zero.connect(0, table.clone(), quick()),
        one.connect(1, believed, quick()),
    );
    let took = started.elapsed();
    match a {
        Err(TcpError::Connect { missing, last, .. }) => {
            assert_eq!(missing, vec![1]);
            assert!(last.contains("TLS"), "{last}");
        }
        other => panic!("party 0 connected to an impostor: {other:?}"),
    }
    // The real party 1 sees party 0 never prove the key it expects.
    assert!(matches!(b, Err(TcpError::Connect { .. })), "{b:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_connection_is_refused_and_the_parties_carry_on() {
    let nodes = nodes(2).await;
    let table = table(&nodes);
    let target = table[1].addr;
    // A stranger (a key not in the table) dials party 1 as if it were party 0,
    // over and over while the parties connect and talk.
    let stranger = PartyKey::generate().unwrap();
    let stranger_table = vec![
        PartyEntry {
            public: stranger.public(),
            addr: localhost(),
        },
        table[1].clone(),
    ];
    let intruder = tokio::spawn(async move {
        let node = TcpNode::bind(stranger, localhost()).await.unwrap();
        node.connect(
            0,
            stranger_table,
            TcpOptions {
                connect_timeout: Duration::from_secs(2),
                ..quick()
            },
        )
        .await
    });
    let mut parties: Vec<TcpChannel> = connect_all(nodes, table, &quick())
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    send_bytes(&mut parties[0], 1, "hello", b"from the real party 0")
        .await
        .unwrap();
    let got = recv_bytes(&mut parties[1], 0, "hello").await.unwrap();
    assert_eq!(got, b"from the real party 0");
    match intruder.await.unwrap() {
        Err(TcpError::Connect { missing, .. }) => assert_eq!(missing, vec![1]),
        other => panic!("the stranger connected to {target}: {other:?}"),
    }
    for party in &parties {
        party.flush().await.unwrap();
    }
}

/// Two parties whose every connection goes through an emulated link, so
/// that the test can cut it.
async fn through_a_link(options: &TcpOptions) -> (Vec<TcpChannel>, LinkControl, LinkProxy) {
    let nodes = nodes(2).await;
    let mut table = table(&nodes);
    // Party 0 dials party 1: route that through the proxy.
    let proxy = LinkProxy::start(table[1].addr, Link::symmetric(LinkProfile::IDEAL))
        .await
        .unwrap();
    table[1].addr = proxy.addr();
    let control = proxy.control();
    let parties = connect_all(nodes, table, options)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    (parties, control, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_mid_transfer_in_both_directions_lose_and_duplicate_nothing() {
    let (mut parties, control, _proxy) = through_a_link(&quick()).await;
    let one = parties.pop().unwrap();
    let zero = parties.pop().unwrap();
    const MESSAGES: u32 = 200;
    let message = |from: u32, i: u32| -> Vec<u8> {
        let mut m = vec![(i % 251) as u8; 64 * 1024];
        m[..4].copy_from_slice(&i.to_le_bytes());
        m[4..8].copy_from_slice(&from.to_le_bytes());
        m
    };
    let cutter = tokio::spawn(async move {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(60)).await;
            control.cut();
            tokio::time::sleep(Duration::from_millis(30)).await;
            control.restore();
        }
    });
    // Both parties send and receive at once: sends run ahead of receives by
    // up to 8 messages, in one task per party.
    let run = |mut ch: TcpChannel, me: u32| async move {
        let peer = 1 - me as usize;
        let mut sent = 0;
        let mut received = 0;
        while received < MESSAGES {
            if sent < MESSAGES {
                send_bytes(&mut ch, peer, "stream", &message(me, sent)).await?;
                sent += 1;
            }
            if sent > received + 8 || sent == MESSAGES {
                let got = recv_bytes(&mut ch, peer, "stream").await?;
                assert_eq!(
                    got,
                    message(peer as u32, received),
                    "message {received} from party {peer}"
                );
                received += 1;
            }
        }
        ch.flush().await?;
        Ok::<_, channel_core::Error>(ch)
    };
    let (a, b) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(tokio::spawn(run(zero, 0)), tokio::spawn(run(one, 1)))
    })
    .await
    .expect("the transfer did not finish within 60 s");
    cutter.await.unwrap();
    let zero = a.unwrap().unwrap();
    let one = b.unwrap().unwrap();
    assert!(
        zero.reconnects(1) >= 1 && one.reconnects(0) >= 1,
        "the cuts reconnected: {} and {}",
        zero.reconnects(1),
        one.reconnects(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_is_a_typed_error_within_the_bound_not_a_hang() {
    let options = quick();
    let (mut parties, control, _proxy) = through_a_link(&options).await;
    // The path dies for good: nothing passes, new connections are refused.
    control.cut();
    let started = Instant::now();
    let e = recv_bytes(&mut parties[0], 1, "never").await.unwrap_err();
    let took = started.elapsed();
    assert!(e.is_peer_gone(), "{e}");
    assert!(channel_core::error_chain(&e).contains("party 1"), "{e}");
    let bound = options.keepalive.timeout + options.reconnect_timeout + Duration::from_secs(2);
    assert!(took < bound, "{took:?} > {bound:?}");
}

/// A receiver that does not read: the sender is held back once its window
/// (`max_outbound_bytes`) and the receiver's bound (`max_inbound_bytes`) are
/// full, and a send that finds no room within `recv_timeout` is a typed error
/// naming the peer; nothing it refused is delivered, nothing it took is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_does_not_read_holds_the_sender_back() {
    let options = TcpOptions {
        chunk_size: 256 << 10,
        max_outbound_bytes: 1 << 20,
        max_inbound_bytes: 1 << 20,
        recv_timeout: Duration::from_secs(1),
        ..quick()
    };
    let mut parties = channel_tcp::local::network(2, &options).await.unwrap();
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    const SIZE: usize = 200 << 10;
    // Bounded: at most 200 messages (40 MiB, far beyond both bounds and the
    // sockets' buffers) before the refusal.
    let mut taken = 0;
    let refusal = loop {
        assert!(taken < 200, "the sender was never held back");
        match send_bytes(&mut zero, 1, "data", &pattern(taken, SIZE)).await {
            Ok(()) => taken += 1,
            Err(e) => break e,
        }
    };
    let chain = channel_core::error_chain(&refusal);
    assert!(
        chain.contains("party 1") && chain.contains("room to queue"),
        "{chain}"
    );
    // Everything taken arrives once and in order, and nothing after it.
    for i in 0..taken {
        let got = recv_bytes(&mut one, 0, "data").await.unwrap();
        assert_eq!(got, pattern(i, SIZE), "message {i}");
    }
    assert!(recv_bytes(&mut one, 0, "data").await.is_err());
    // Once read, the window is open again.
    send_bytes(&mut zero, 1, "after", &pattern(999, SIZE))
        .await
        .unwrap();
    assert_eq!(
        recv_bytes(&mut one, 0, "after").await.unwrap(),
        pattern(999, SIZE)
    );
    zero.flush().await.unwrap();
}

fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed) as u8)
        .collect()
}

/// A party that drops its channel says goodbye: its peers' pending and later
/// receives fail at once with a typed error naming it (after everything it
/// sent), their sends to it fail too, and the other parties carry on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_drops_its_channel_is_reported_at_once_not_at_the_timeout() {
    let options = TcpOptions {
        recv_timeout: Duration::from_secs(120),
        ..quick()
    };
    let mut parties = channel_tcp::local::network(3, &options).await.unwrap();
    let mut two = parties.pop().unwrap();
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    send_bytes(&mut one, 0, "last", b"the last words")
        .await
        .unwrap();
    let started = Instant::now();
    let waiting = tokio::spawn(async move {
        let last = recv_bytes(&mut zero, 1, "last").await.unwrap();
        let pending = recv_bytes(&mut zero, 1, "more").await;
        (zero, last, pending)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(one);
    let (mut zero, last, pending) = waiting.await.unwrap();
    assert_eq!(last, b"the last words");
    let e = pending.unwrap_err();
    let chain = channel_core::error_chain(&e);
    assert!(e.is_peer_gone(), "{chain}");
    assert!(
        chain.contains("party 1") && chain.contains("closed its channel"),
        "{chain}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let e = send_bytes(&mut zero, 1, "after", b"x").await.unwrap_err();
    assert!(e.is_peer_gone(), "{e}");
    let e = recv_bytes(&mut zero, 1, "again").await.unwrap_err();
    assert!(e.is_peer_gone(), "{e}");
    // Parties 0 and 2 are not concerned.
    send_bytes(&mut zero, 2, "on", b"carry on").await.unwrap();
    assert_eq!(recv_bytes(&mut two, 0, "on").await.unwrap(), b"carry on");
}

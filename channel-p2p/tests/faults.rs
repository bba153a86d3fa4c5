//! Impostors, cut connections and dead peers, on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::Duration;

use channel_core::testkit::pattern;
use channel_core::{Error, recv_bytes, recv_from, send_bytes, send_to};
use channel_p2p::{P2pError, P2pNode, P2pOptions, PartyEntry, PartyKey};

fn quick(connect: u64, reconnect: u64) -> P2pOptions {
    P2pOptions {
        connect_timeout: Duration::from_secs(connect),
        reconnect_timeout: Duration::from_secs(reconnect),
        ..P2pOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_at_the_right_address_with_the_wrong_key_is_rejected() {
    // Party 1 is listed with its real peer id, but an impostor holds its address.
    let real_one = PartyKey::generate();
    let impostor = P2pNode::bind(
        &PartyKey::generate(),
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    )
    .await
    .unwrap();
    let zero = P2pNode::bind(
        &PartyKey::generate(),
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    )
    .await
    .unwrap();
    let table = vec![
        PartyEntry {
            peer_id: zero.peer_id(),
            addrs: zero.listen_addrs().to_vec(),
        },
        PartyEntry {
            peer_id: real_one.peer_id(),
            addrs: impostor.listen_addrs().to_vec(),
        },
    ];
    // The impostor plays along as party 1 with its own (different) key in its table.
    let mut impostor_table = table.clone();
    impostor_table[1].peer_id = impostor.peer_id();
    let (zero_result, impostor_result) = tokio::join!(
        zero.connect(0, table, quick(3, 3)),
        impostor.connect(1, impostor_table, quick(3, 3)),
    );
    match zero_result {
        Err(P2pError::Connect { missing, .. }) => assert_eq!(missing, vec![1]),
        other => panic!("party 0 must refuse the impostor, got {other:?}"),
    }
    assert!(
        matches!(impostor_result, Err(P2pError::Connect { .. })),
        "{impostor_result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_reach_a_running_party() {
    let (nodes, table) = common::nodes(2).await.unwrap();
    let connecting = nodes
        .into_iter()
        .enumerate()
        .map(|(me, node)| node.connect(me, table.clone(), P2pOptions::default()));
    let mut parties: Vec<_> = futures::future::join_all(connecting)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    // A stranger knows party 1's public entry and tries to be its party 0.
    let stranger = P2pNode::bind(
        &PartyKey::generate(),
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    )
    .await
    .unwrap();
    let stranger_table = vec![
        PartyEntry {
            peer_id: stranger.peer_id(),
            addrs: stranger.listen_addrs().to_vec(),
        },
        table[1].clone(),
    ];
    let result = stranger.connect(0, stranger_table, quick(2, 2)).await;
    assert!(
        matches!(result, Err(P2pError::Connect { ref missing, .. }) if missing == &vec![1]),
        "{result:?}"
    );

    // The real parties are unaffected, and nothing from the stranger reached party 1.
    send_to(&mut parties[0], 1, "after", &7u32).await.unwrap();
    let got: u32 = recv_from(&mut parties[1], 0, "after").await.unwrap();
    assert_eq!(got, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_killed_mid_transfer_lose_and_duplicate_nothing() {
    cut_mid_transfer(1, Cut::Everything).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_three_lanes_cuts_lose_and_duplicate_nothing() {
    cut_mid_transfer(3, Cut::Everything).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_single_lanes_loses_and_duplicates_nothing() {
    // Only lane 1 or 2 breaks at a time: the accepting party still has other
    // connections to its peer, so it learns of the cut from the new stream.
    cut_mid_transfer(3, Cut::OneLane).await;
}

/// What the parties cut while they exchange.
#[derive(Clone, Copy, PartialEq)]
enum Cut {
    /// Both parties cut all their connections to the other, now and then.
    Everything,
    /// Party 0 (which opens the lanes) cuts lanes 1 and 2 in turn.
    OneLane,
}

/// Two parties exchange 300 messages each way while connections keep being
/// cut; every message must arrive once and in order, and every lane come back.
async fn cut_mid_transfer(lanes: usize, cut: Cut) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let options = P2pOptions {
        chunk_size: 16 * 1024,
        lanes,
        ..quick(10, 10)
    };
    let mut parties = common::parties(2, &options).await.unwrap();
    let mut b = parties.pop().unwrap();
    let mut a = parties.pop().unwrap();
    const MESSAGES: usize = 300;
    let size = |i: usize| 1 + (i * 7919) % 60_000;

    let a_side = async {
        for i in 0..MESSAGES {
            send_bytes(&mut a, 1, "cut", &pattern(i as u64, size(i))).await?;
            if i % 60 == 30 {
                // Cut mid-stream.
                match cut {
                    Cut::Everything => a.disconnect(1).unwrap(),
                    Cut::OneLane => a.disconnect_lane(1, 1 + (i / 60) % (lanes - 1)).unwrap(),
                }
                // Let traffic resume before the next cut, so each cut is its own reconnect.
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            if i % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
        for i in 0..MESSAGES {
            let got = recv_bytes(&mut a, 1, "back").await?;
            assert_eq!(
                got,
                pattern(1000 + i as u64, size(i)),
                "message {i} from party 1"
            );
        }
        Ok::<_, Error>(())
    };
    let b_side = async {
        for i in 0..MESSAGES {
            let got = recv_bytes(&mut b, 0, "cut").await?;
            assert_eq!(
                got,
                pattern(i as u64, size(i)),
                "message {i} lost, duplicated or reordered"
            );
            send_bytes(&mut b, 0, "back", &pattern(1000 + i as u64, size(i))).await?;
            if i % 75 == 40 && cut == Cut::Everything {
                b.disconnect(0).unwrap();
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
        Ok::<_, Error>(())
    };
    let (x, y) = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(a_side, b_side)
    })
    .await
    .expect("the exchange stalled across reconnects");
    x.unwrap();
    y.unwrap();
    let reconnects = a.reconnects(1);
    assert!(
        reconnects >= 3,
        "only {reconnects} reconnects: the cuts did not bite"
    );
    assert_eq!(
        common::settles_at(lanes, || a.connections(1)).await,
        lanes,
        "every lane is back"
    );
    println!("{reconnects} reconnects, every message once and in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_is_a_typed_error_not_a_hang() {
    dead_peer(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_three_lanes_a_dead_peer_is_a_typed_error_not_a_hang() {
    dead_peer(3).await;
}

/// Party 1 dies abruptly; party 0's receive and send must fail with `PeerLost`
/// within the reconnect timeout.
async fn dead_peer(lanes: usize) {
    let options = P2pOptions {
        lanes,
        ..quick(10, 1)
    };
    let (nodes, table) = common::nodes(2).await.unwrap();
    let mut nodes = nodes.into_iter();
    let (zero, one) = (nodes.next().unwrap(), nodes.next().unwrap());
    // Party 1 lives in its own runtime, so that it can die abruptly, like a crashed process.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let table_one = table.clone();
    let options_one = options.clone();
    let one = doomed.spawn(async move { one.connect(1, table_one, options_one).await });
    let mut zero = zero.connect(0, table, options).await.unwrap();
    let one = one.await.unwrap().unwrap();
    doomed.shutdown_background();
    std::mem::forget(one); // its runtime is gone; dropping it would only wake dead tasks

    let started = std::time::Instant::now();
    let err = recv_bytes(&mut zero, 1, "never").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let Error::Recv {
        party: 1, source, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    match source.downcast_ref::<P2pError>() {
        Some(P2pError::PeerLost {
            party: 1, reason, ..
        }) => assert!(!reason.is_empty()),
        other => panic!("expected PeerLost, got {other:?}"),
    }
    assert!(err.is_peer_gone(), "generic code sees a gone peer: {err:?}");
    // Sending to it fails too, with the same cause.
    let err = send_bytes(&mut zero, 1, "late", b"x").await.unwrap_err();
    assert!(matches!(err, Error::Send { party: 1, .. }), "{err:?}");
}

//! Several connections ("lanes") per pair of parties, on 127.0.0.1: the kit
//! passes, each lane is its own TCP connection, mismatched or out-of-range lane
//! counts are clear errors, and a bad frame on one lane ends the whole peer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::{Duration, Instant};

use channel_core::testkit::Kit;
use channel_core::{Channel, RecvInfo};
use channel_p2p::{MAX_LANES, P2pError, P2pNode, P2pOptions, PartyEntry, PartyKey};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};

fn lanes(n: usize) -> P2pOptions {
    P2pOptions {
        lanes: n,
        ..P2pOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_passes_with_three_lanes_between_three_parties() {
    let options = lanes(3);
    let report = Kit::new(3)
        .run_async(async |n| common::parties(n, &options).await)
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
}

/// ESTABLISHED TCP sockets on this host whose local port is `port` (Linux).
#[cfg(target_os = "linux")]
fn established_on(port: u16) -> usize {
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            if local_port == Some(port) && *state == "01" {
                count += 1;
            }
        }
    }
    count
}

#[cfg(target_os = "linux")]
fn port_of(entry: &PartyEntry) -> u16 {
    entry.addrs[0]
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a TCP listen address")
}

// Counts sockets in /proc, so Linux only (CI runs Linux).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lane_is_a_connection_of_its_own() {
    for n in [1, 3] {
        let (nodes, table) = common::nodes(2).await.unwrap();
        let connecting = nodes
            .into_iter()
            .enumerate()
            .map(|(me, node)| node.connect(me, table.clone(), lanes(n)));
        let parties: Vec<_> = futures::future::join_all(connecting)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        // Party 0 dials party 1's listen port once per lane.
        assert_eq!(established_on(port_of(&table[1])), n, "with {n} lane(s)");
        for party in parties {
            party.close().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parties_with_different_lane_counts_get_a_clear_error() {
    let (nodes, table) = common::nodes(2).await.unwrap();
    let mut nodes = nodes.into_iter();
    let (zero, one) = (nodes.next().unwrap(), nodes.next().unwrap());
    let options = |n| P2pOptions {
        connect_timeout: Duration::from_secs(20),
        ..lanes(n)
    };
    let started = Instant::now();
    let (zero, one) = tokio::join!(
        zero.connect(0, table.clone(), options(2)),
        one.connect(1, table, options(1)),
    );
    for result in [zero, one] {
        match result {
            Err(P2pError::Connect { missing, last, .. }) => {
                assert_eq!(missing.len(), 1);
                assert!(last.contains("same P2pOptions::lanes"), "{last}");
            }
            other => panic!("expected a Connect error naming the lanes, got {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the mismatch took {:?} to show, as if it were a timeout",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lane_counts_out_of_range_are_refused() {
    for n in [0, MAX_LANES + 1] {
        let (mut nodes, table) = common::nodes(1).await.unwrap();
        let node = nodes.pop().unwrap();
        match node.connect(0, table, lanes(n)).await {
            Err(P2pError::Setup(why)) => assert!(why.contains("lanes"), "{why}"),
            other => panic!("{n} lanes must be refused, got {other:?}"),
        }
    }
}

/// Wire bytes of a HELLO (see the crate's `wire` module).
fn hello(lanes: u16) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&lanes.to_le_bytes());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_frame_on_one_lane_ends_the_peer_with_a_typed_error() {
    // Party 0 is a hand-made libp2p node with the right key that speaks the
    // protocol correctly on lane 0 and breaks it on lane 1.
    let hostile = libp2p::identity::Keypair::generate_ed25519();
    let one = P2pNode::bind(
        &PartyKey::generate(),
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    )
    .await
    .unwrap();
    let table = vec![
        PartyEntry {
            peer_id: hostile.public().to_peer_id(),
            addrs: vec![],
        },
        PartyEntry {
            peer_id: one.peer_id(),
            addrs: one.listen_addrs().to_vec(),
        },
    ];
    let one_id = one.peer_id();
    let one_addr = one.listen_addrs()[0].clone();
    let options = P2pOptions {
        recv_timeout: Duration::from_secs(60),
        ..lanes(2)
    };
    let one = tokio::spawn(one.connect(1, table, options));

    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(hostile)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default(),
            libp2p::noise::Config::new,
            libp2p::yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| libp2p_stream::Behaviour::new())
        .unwrap()
        .build();
    let mut control = swarm.behaviour().new_control();
    swarm
        .dial(
            libp2p::swarm::dial_opts::DialOpts::peer_id(one_id)
                .addresses(vec![one_addr])
                .build(),
        )
        .unwrap();
    let driver = tokio::spawn(async move {
        // Bounded by the test: aborted at its end.
        loop {
            swarm.select_next_some().await;
        }
    });
    let mut streams = Vec::new();
    for lane in 0..2 {
        let protocol =
            libp2p::StreamProtocol::try_from_owned(format!("/mpc-channels/link/2/lane/{lane}"))
                .unwrap();
        let mut stream = tokio::time::timeout(
            Duration::from_secs(10),
            control.open_stream(one_id, protocol),
        )
        .await
        .expect("opening a stream timed out")
        .unwrap();
        stream.write_all(&hello(2)).await.unwrap();
        stream.flush().await.unwrap();
        let mut theirs = [0u8; 11];
        stream.read_exact(&mut theirs).await.unwrap();
        assert_eq!(theirs.to_vec(), hello(2), "party 1's HELLO on lane {lane}");
        streams.push(stream);
    }
    let mut one = tokio::time::timeout(Duration::from_secs(10), one)
        .await
        .expect("party 1 did not finish connecting")
        .unwrap()
        .unwrap();

    // A DATA frame on lane 1 that claims 4 GiB.
    let mut bad = vec![1u8];
    bad.extend_from_slice(&0u64.to_le_bytes());
    bad.extend_from_slice(&u32::MAX.to_le_bytes());
    streams[1].write_all(&bad).await.unwrap();
    streams[1].flush().await.unwrap();

    // Party 1's next receive is on lane 0, where nothing is wrong and nothing
    // comes: it must still learn of the bad frame, quickly, as a typed error.
    let started = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        one.recv_bytes_from(0, RecvInfo::new("after", 0, None)),
    )
    .await
    .expect("the receive hung")
    .unwrap_err();
    match &err {
        P2pError::Malformed { party: 0, reason } => assert!(reason.contains("exceeds"), "{reason}"),
        other => panic!("expected Malformed from party 0, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // Sending to that peer fails with the same cause.
    let err = one
        .send_bytes_to(0, vec![1, 2, 3], channel_core::SendInfo::new("late", 0, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, P2pError::Malformed { party: 0, .. }),
        "{err:?}"
    );
    driver.abort();
}

//! Table members that break the rules, played by hand-made libp2p nodes with
//! the right keys, on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::{Duration, Instant};

use channel_core::{Channel, RecvInfo, SendInfo, recv_from, send_to};
use channel_p2p::{P2pError, P2pNode, P2pOptions, PartyEntry, PartyKey, PeerId};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::swarm::SwarmEvent;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::{Multiaddr, Stream, StreamProtocol};

/// A libp2p node that speaks the link protocol by hand (see the crate's `wire`
/// module for the bytes), listening on 127.0.0.1.
struct Hostile {
    entry: PartyEntry,
    control: libp2p_stream::Control,
    driver: tokio::task::JoinHandle<()>,
}

impl Hostile {
    /// Starts the node; dials `dial` first if given.
    async fn start(dial: Option<(PeerId, Multiaddr)>) -> Self {
        let key = libp2p::identity::Keypair::generate_ed25519();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key.clone())
            .with_tokio()
            .with_tcp(
                libp2p::tcp::Config::default(),
                libp2p::noise::Config::new,
                libp2p::yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm
            .listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap())
            .unwrap();
        let addr = tokio::time::timeout(Duration::from_secs(10), async {
            // Bounded by the timeout around it.
            loop {
                if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                    return address;
                }
            }
        })
        .await
        .expect("no listen address");
        if let Some((peer, addr)) = dial {
            swarm
                .dial(DialOpts::peer_id(peer).addresses(vec![addr]).build())
                .unwrap();
        }
        let control = swarm.behaviour().new_control();
        let driver = tokio::spawn(async move {
            // Bounded by the test: aborted at its end.
            loop {
                swarm.select_next_some().await;
            }
        });
        Self {
            entry: PartyEntry {
                peer_id: key.public().to_peer_id(),
                addrs: vec![addr],
            },
            control,
            driver,
        }
    }

    /// Opens lane `lane` to `peer` and exchanges HELLOs.
    async fn open(&mut self, peer: PeerId, lane: usize, lanes: u16) -> Stream {
        let mut stream = tokio::time::timeout(
            Duration::from_secs(10),
            self.control.open_stream(peer, protocol(lane)),
        )
        .await
        .expect("opening a stream timed out")
        .unwrap();
        handshake(&mut stream, lanes).await;
        stream
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

fn protocol(lane: usize) -> StreamProtocol {
    StreamProtocol::try_from_owned(format!("/mpc-channels/link/3/lane/{lane}")).unwrap()
}

/// Sends our HELLO and checks the peer's.
async fn handshake(stream: &mut Stream, lanes: u16) {
    let mut hello = vec![0u8];
    hello.extend_from_slice(&0u64.to_le_bytes());
    hello.extend_from_slice(&lanes.to_le_bytes());
    stream.write_all(&hello).await.unwrap();
    stream.flush().await.unwrap();
    let mut theirs = [0u8; 11];
    stream.read_exact(&mut theirs).await.unwrap();
    assert_eq!(theirs.to_vec(), hello, "the peer's HELLO");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_frame_on_one_lane_ends_the_peer_with_a_typed_error() {
    // Party 0 speaks the protocol correctly on lane 0 and breaks it on lane 1.
    let one = P2pNode::bind(
        &PartyKey::generate(),
        "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
    )
    .await
    .unwrap();
    let (one_id, one_addr) = (one.peer_id(), one.listen_addrs()[0].clone());
    let mut zero = Hostile::start(Some((one_id, one_addr))).await;
    let table = vec![
        zero.entry.clone(),
        PartyEntry {
            peer_id: one_id,
            addrs: one.listen_addrs().to_vec(),
        },
    ];
    let options = P2pOptions {
        recv_timeout: Duration::from_secs(60),
        lanes: 2,
        ..P2pOptions::default()
    };
    let one = tokio::spawn(one.connect(1, table, options));
    let _lane0 = zero.open(one_id, 0, 2).await;
    let mut lane1 = zero.open(one_id, 1, 2).await;
    let mut one = tokio::time::timeout(Duration::from_secs(10), one)
        .await
        .expect("party 1 did not finish connecting")
        .unwrap()
        .unwrap();

    // A DATA frame on lane 1 that claims 4 GiB.
    let mut bad = vec![1u8];
    bad.extend_from_slice(&0u64.to_le_bytes());
    bad.extend_from_slice(&u32::MAX.to_le_bytes());
    lane1.write_all(&bad).await.unwrap();
    lane1.flush().await.unwrap();

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
        .send_bytes_to(0, vec![1, 2, 3], SendInfo::new("late", 0, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, P2pError::Malformed { party: 0, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_flooding_us_with_streams_does_not_hold_up_the_others() {
    // Parties 0 and 1 are real; party 2 accepts their streams properly, then
    // opens streams to party 1 that it has no business opening (party 1 opens
    // to party 2), more than any queue holds.
    let (mut nodes, mut table) = common::nodes(2).await.unwrap();
    let mut two = Hostile::start(None).await;
    table.push(two.entry.clone());
    let mut accepted = two.control.accept(protocol(0)).unwrap();
    let answering = tokio::spawn(async move {
        let mut kept = Vec::new();
        for _ in 0..2 {
            let (_, mut stream) = accepted.next().await.unwrap();
            handshake(&mut stream, 1).await;
            kept.push(stream);
        }
        kept
    });
    let options = P2pOptions {
        connect_timeout: Duration::from_secs(10),
        reconnect_timeout: Duration::from_secs(10),
        ..P2pOptions::default()
    };
    let one_node = nodes.pop().unwrap();
    let one_id = one_node.peer_id();
    let (zero, one) = tokio::join!(
        nodes
            .pop()
            .unwrap()
            .connect(0, table.clone(), options.clone()),
        one_node.connect(1, table, options),
    );
    let (mut zero, mut one) = (zero.unwrap(), one.unwrap());
    let _kept = tokio::time::timeout(Duration::from_secs(10), answering)
        .await
        .expect("parties 0 and 1 did not reach party 2")
        .unwrap();

    for _ in 0..12 {
        // Party 1 may refuse or drop these; either is fine.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            two.control.open_stream(one_id, protocol(0)),
        )
        .await;
    }

    // Now party 0's connection to party 1 breaks; its new stream must get through.
    one.disconnect(0).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    send_to(&mut zero, 1, "after the flood", &42u32)
        .await
        .unwrap();
    let got: u32 = tokio::time::timeout(
        Duration::from_secs(30),
        recv_from(&mut one, 0, "after the flood"),
    )
    .await
    .expect("party 1 never heard from party 0 again")
    .unwrap();
    assert_eq!(got, 42);
    assert!(one.reconnects(0) >= 1, "the cut did not bite");
}

//! The simulated network in virtual time: exact timings, rounds, bytes per
//! link and phase, timeouts and closed peers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::{Duration, Instant};

use channel_core::reference::{PHASE_OPEN, PHASE_SHARE, secure_sum};
use channel_core::transport::TransportError;
use channel_core::{Channel, Metered, RecvInfo, SendInfo, recv_bytes, send_bytes};
use channel_sim::{Bandwidth, LinkProfile, SimChannel, SimNetwork};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pair(network: SimNetwork) -> (SimChannel, SimChannel) {
    let mut it = network.parties.into_iter();
    (it.next().unwrap(), it.next().unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_big_message_takes_its_transmission_time_plus_the_latency() {
    let wall = Instant::now();
    let network = SimNetwork::new(2, LinkProfile::intercontinental());
    let stats = network.stats.clone();
    let (mut a, mut b) = pair(network);
    send_bytes(&mut a, 1, "bulk", &vec![3u8; 64 << 20])
        .await
        .unwrap();
    let got = recv_bytes(&mut b, 0, "bulk").await.unwrap();
    assert_eq!(got.len(), 64 << 20);
    let report = stats.report();
    let wire = report.total().bytes as usize;
    let expected = Bandwidth::mbit(100).transmit_time(wire) + ms(75);
    let error = report.elapsed.abs_diff(expected);
    assert!(
        error < Duration::from_micros(10),
        "{:?} vs {expected:?}",
        report.elapsed
    );
    assert_eq!(b.now(), report.elapsed);
    // 5.4 s of WAN, simulated in far less.
    assert!(report.elapsed > Duration::from_secs(5));
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "{:?} of real time",
        wall.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn secure_sum_takes_two_rounds_and_the_report_counts_every_byte() {
    let n = 4;
    let network = SimNetwork::new(n, LinkProfile::continental());
    let (results, report) = network
        .run(move |ch| async move {
            let me = ch.party();
            let mut ch = Metered::new(ch);
            let mut seed = me as u64 + 1;
            let sum = secure_sum(&mut ch, me, n, 100 + me as u64, move || {
                seed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
                seed
            })
            .await
            .unwrap();
            (sum, ch.take_stats())
        })
        .await;
    for (sum, _) in &results {
        assert_eq!(*sum, 406);
    }
    assert_eq!(report.rounds, 2);
    // Two one-way latencies, plus microseconds on the wire.
    assert!(
        report.elapsed >= ms(40) && report.elapsed < ms(41),
        "{:?}",
        report.elapsed
    );
    for phase in [PHASE_SHARE, PHASE_OPEN] {
        let p = report.phase(phase).unwrap();
        assert_eq!(p.rounds, 1, "{phase}");
        assert_eq!(p.traffic.chunks, (n * (n - 1)) as u64);
    }
    // The report's bytes are what every party's Metered counted it sent.
    for (me, (_, sent)) in results.iter().enumerate() {
        for p in (0..n).filter(|&p| p != me) {
            let by_phase: u64 = [PHASE_SHARE, PHASE_OPEN]
                .iter()
                .map(|phase| report.bytes(me, p, phase))
                .sum();
            assert_eq!(by_phase, sent.party(p).bytes_sent, "{me} → {p}");
            assert_eq!(report.links[&(me, p)].bytes, by_phase);
        }
    }
    let text = report.to_string();
    assert!(
        text.contains("4 parties") && text.contains(PHASE_SHARE),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_chain_of_messages_counts_one_round_per_hop() {
    // 0 → 1 → 2 → 3, each forwarding what it got: three rounds, three latencies.
    let network = SimNetwork::new(4, LinkProfile::latency(ms(10)));
    let (_, report) = network
        .run(|mut ch| async move {
            let me = ch.party();
            let token = if me == 0 {
                vec![1u8]
            } else {
                recv_bytes(&mut ch, me - 1, "chain").await.unwrap()
            };
            if me < 3 {
                send_bytes(&mut ch, me + 1, "chain", &token).await.unwrap();
            }
        })
        .await;
    assert_eq!(report.rounds, 3);
    assert_eq!(report.elapsed, ms(30));
}

#[tokio::test(start_paused = true)]
async fn each_directed_link_has_its_own_profile() {
    let slow = LinkProfile::latency(ms(200));
    let network = SimNetwork::builder(2)
        .profile(LinkProfile::latency(ms(5)))
        .link(1, 0, slow)
        .build();
    let (mut a, mut b) = pair(network);
    send_bytes(&mut a, 1, "ping", b"x").await.unwrap();
    recv_bytes(&mut b, 0, "ping").await.unwrap();
    assert_eq!(b.now(), ms(5));
    send_bytes(&mut b, 0, "pong", b"y").await.unwrap();
    recv_bytes(&mut a, 1, "pong").await.unwrap();
    assert_eq!(a.now(), ms(205));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_is_simulated_and_loses_nothing() {
    let network = SimNetwork::builder(2)
        .profile(LinkProfile::latency(Duration::from_secs(90)))
        .recv_timeout(Duration::from_secs(60))
        .build();
    let (mut a, mut b) = pair(network);
    a.send_bytes_to(1, b"late".to_vec(), SendInfo::new("slow", 0, 1))
        .await
        .unwrap();
    let wall = Instant::now();
    let err = b
        .recv_bytes_from(0, RecvInfo::new("slow", 0, None))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Timeout { party: 0, after, .. } if after == Duration::from_secs(60)),
        "{err:?}"
    );
    assert_eq!(b.now(), Duration::from_secs(60));
    // The chunk that was on its way is delivered by the next receive.
    let got = b
        .recv_bytes_from(0, RecvInfo::new("slow", 0, None))
        .await
        .unwrap();
    assert_eq!(got, b"late");
    assert_eq!(b.now(), Duration::from_secs(90));
    assert!(wall.elapsed() < Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_peer_is_closed_after_what_it_sent_arrives() {
    let (mut a, mut b) = pair(SimNetwork::new(2, LinkProfile::latency(ms(50))));
    send_bytes(&mut b, 0, "bye", b"last").await.unwrap();
    drop(b);
    assert_eq!(recv_bytes(&mut a, 1, "bye").await.unwrap(), b"last");
    assert_eq!(a.now(), ms(50));
    let err = a
        .recv_bytes_from(1, RecvInfo::new("x", 0, None))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::Closed { party: 1 });
    let err = a
        .send_bytes_to(1, vec![1], SendInfo::new("x", 0, 1))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::Closed { party: 1 });
    let err = a
        .send_bytes_to(0, vec![1], SendInfo::new("x", 0, 1))
        .await
        .unwrap_err();
    assert_eq!(err, TransportError::ToSelf { party: 0 });
}

#[tokio::test(start_paused = true)]
async fn sends_share_their_links_bandwidth_in_order() {
    // Two 1 MB messages sent at once over 8 Mbit/s: the second waits for the first.
    let network = SimNetwork::builder(2)
        .profile(LinkProfile::new(ms(10), Bandwidth::mbit(8)))
        .chunk_size(1 << 30)
        .build();
    let (mut a, mut b) = pair(network);
    for _ in 0..2 {
        a.send_bytes_to(1, vec![0; 1_000_000], SendInfo::new("bulk", 0, 1))
            .await
            .unwrap();
    }
    for expected in [ms(1010), ms(2010)] {
        b.recv_bytes_from(0, RecvInfo::new("bulk", 0, None))
            .await
            .unwrap();
        assert_eq!(b.now(), expected);
    }
}

#[tokio::test]
async fn on_a_normal_clock_the_network_runs_in_real_time() {
    let (mut a, mut b) = pair(SimNetwork::new(2, LinkProfile::latency(ms(30))));
    let started = Instant::now();
    send_bytes(&mut a, 1, "ping", b"x").await.unwrap();
    recv_bytes(&mut b, 0, "ping").await.unwrap();
    send_bytes(&mut b, 0, "pong", b"y").await.unwrap();
    recv_bytes(&mut a, 1, "pong").await.unwrap();
    let took = started.elapsed();
    assert!(took >= ms(60) && took < ms(500), "{took:?}");
}

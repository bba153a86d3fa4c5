//! Faults on the path between two parties, injected with channel-sim's link
//! emulator: a stall longer than the keepalive timeout is detected and either
//! recovers (every message once, in order) or fails naming the peer within
//! `keepalive.timeout + reconnect_timeout`; a cut and restore in the middle of
//! a 64 MiB message recovers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::{Duration, Instant};

use channel_core::transport::liveness::KeepAlive;
use channel_core::{recv_bytes, send_bytes};
use channel_p2p::{P2pChannel, P2pOptions, local};
use channel_sim::{Bandwidth, Link, LinkControl, LinkProfile, LinkProxy};
use common::settles_at;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn options(reconnect: Duration) -> P2pOptions {
    P2pOptions {
        keepalive: KeepAlive {
            interval: ms(100),
            timeout: ms(500),
        },
        reconnect_timeout: reconnect,
        ..P2pOptions::default()
    }
}

/// Two parties, each reached through a link emulator with `profile`; the
/// proxies (keep them) and their controls.
async fn pair_through(
    profile: LinkProfile,
    options: &P2pOptions,
) -> (P2pChannel, P2pChannel, Vec<LinkProxy>) {
    let mut proxies = Vec::new();
    let parties = local::network_routed(2, options, async |_, addr| {
        let proxy = LinkProxy::start(addr, Link::symmetric(profile)).await?;
        let via = proxy.addr();
        proxies.push(proxy);
        Ok(via)
    })
    .await
    .unwrap();
    let mut it = parties.into_iter();
    (it.next().unwrap(), it.next().unwrap(), proxies)
}

fn controls(proxies: &[LinkProxy]) -> Vec<LinkControl> {
    proxies.iter().map(LinkProxy::control).collect()
}

fn numbered(i: u32) -> Vec<u8> {
    let mut msg = i.to_le_bytes().to_vec();
    msg.resize(1000, i as u8);
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_beyond_the_keepalive_timeout_is_detected_and_recovers_every_message_once_in_order()
{
    let (mut a, mut b, proxies) = pair_through(
        LinkProfile::latency(ms(5)),
        &options(Duration::from_secs(20)),
    )
    .await;
    for i in 0..10 {
        send_bytes(&mut a, 1, "before", &numbered(i)).await.unwrap();
        assert_eq!(recv_bytes(&mut b, 0, "before").await.unwrap(), numbered(i));
    }
    assert_eq!(a.connections(1), 1);
    let links = controls(&proxies);
    links.iter().for_each(LinkControl::stall);
    for i in 10..20 {
        send_bytes(&mut a, 1, "during", &numbered(i)).await.unwrap();
    }
    // The silent connection is noticed and dropped within the 0.5 s timeout
    // (and the reconnect cannot get through the stall).
    assert_eq!(
        settles_at(0, || a.connections(1)).await,
        0,
        "the stall went unnoticed"
    );
    tokio::time::sleep(ms(1000)).await;
    links.iter().for_each(LinkControl::resume);
    for i in 10..20 {
        let got = tokio::time::timeout(Duration::from_secs(15), recv_bytes(&mut b, 0, "during"))
            .await
            .expect("no recovery within 15 s of the stall's end")
            .unwrap();
        assert_eq!(got, numbered(i), "message {i}");
    }
    // Exactly once: the next message is the next one sent, both ways.
    send_bytes(&mut a, 1, "after", b"next").await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "after").await.unwrap(), b"next");
    send_bytes(&mut b, 0, "after", b"back").await.unwrap();
    assert_eq!(recv_bytes(&mut a, 1, "after").await.unwrap(), b"back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_that_outlasts_the_reconnect_timeout_fails_naming_the_peer_within_the_bound() {
    let reconnect = Duration::from_secs(2);
    let opts = P2pOptions {
        recv_timeout: Duration::from_secs(120),
        ..options(reconnect)
    };
    let (mut a, mut b, proxies) = pair_through(LinkProfile::latency(ms(5)), &opts).await;
    send_bytes(&mut a, 1, "before", b"hello").await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "before").await.unwrap(), b"hello");
    controls(&proxies).iter().for_each(LinkControl::stall);
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(30), recv_bytes(&mut b, 0, "silent"))
        .await
        .expect("a dead path hung the receive (the receive timeout is 120 s)")
        .unwrap_err();
    let took = started.elapsed();
    // keepalive.timeout + reconnect_timeout, with slack for the attempts in flight.
    let bound = ms(500) + reconnect + Duration::from_secs(6);
    assert!(
        took < bound,
        "failed after {took:?}, the bound is {bound:?}"
    );
    assert_eq!(err.party(), Some(0), "{err}");
    assert!(err.is_peer_gone(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_and_restore_in_the_middle_of_a_64_mib_message_recovers() {
    let profile = LinkProfile::new(ms(2), Bandwidth::mbit(500));
    let (mut a, mut b, proxies) = pair_through(profile, &options(Duration::from_secs(30))).await;
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i % 253) as u8).collect();
    let expected = big.clone();
    let receiver = tokio::spawn(async move {
        let got = recv_bytes(&mut b, 0, "big").await.unwrap();
        let next = recv_bytes(&mut b, 0, "small").await.unwrap();
        (got, next)
    });
    let links = controls(&proxies);
    let sender = tokio::spawn(async move {
        send_bytes(&mut a, 1, "big", &big).await.unwrap();
        send_bytes(&mut a, 1, "small", b"after").await.unwrap();
        a.flush().await.unwrap();
        a
    });
    // 64 MiB at 500 Mbit/s take about 1.1 s: cut in the middle.
    tokio::time::sleep(ms(400)).await;
    let forwarded = links[1].forwarded(channel_sim::Direction::Up);
    assert!(
        forwarded > 1 << 20 && forwarded < 60 << 20,
        "not in the middle: {forwarded}"
    );
    links.iter().for_each(LinkControl::cut);
    tokio::time::sleep(ms(500)).await;
    links.iter().for_each(LinkControl::restore);
    let (got, next) = tokio::time::timeout(Duration::from_secs(60), receiver)
        .await
        .expect("no recovery within 60 s")
        .unwrap();
    assert!(got == expected, "the 64 MiB message arrived altered");
    assert_eq!(next, b"after");
    let _a = sender.await.unwrap();
    assert!(links[1].accepted() >= 2, "the link did not reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_a_quiet_pair_and_a_busy_receiver_are_not_mistaken_for_a_dead_path() {
    // 20 Mbit/s: a 1 MiB chunk takes 0.4 s on the wire, near the 0.5 s timeout.
    let profile = LinkProfile::new(ms(20), Bandwidth::mbit(20));
    let opts = P2pOptions {
        chunk_size: 1 << 20,
        max_inbound_bytes: 1 << 20,
        ..options(Duration::from_secs(20))
    };
    let (mut a, mut b, proxies) = pair_through(profile, &opts).await;
    // Quiet for 2 s: keepalives only.
    tokio::time::sleep(ms(2000)).await;
    // 6 MiB while the receiver does not read for 2 s (its inbound bound is 1 MiB).
    let msg = vec![7u8; 6 << 20];
    send_bytes(&mut a, 1, "slow", &msg).await.unwrap();
    tokio::time::sleep(ms(2000)).await;
    let got = tokio::time::timeout(Duration::from_secs(30), recv_bytes(&mut b, 0, "slow"))
        .await
        .unwrap()
        .unwrap();
    assert!(got == msg);
    // One connection all along: nothing was taken for dead and reconnected.
    assert_eq!(a.connections(1), 1);
    let accepted: u64 = proxies.iter().map(|p| p.control().accepted()).sum();
    assert_eq!(accepted, 1, "a live connection was dropped and redialed");
}

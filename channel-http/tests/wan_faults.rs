//! Faults on the paths between the parties, injected with channel-sim's link
//! emulator, for the relay and for direct mode: a stall longer than a
//! request's time limit is retried through and recovers (every message once,
//! in order), or fails naming the peer within `request_timeout +
//! retry.give_up_after`; a cut and restore in the middle of a 64 MiB message
//! recovers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::{Duration, Instant};

use channel_core::{Channel, recv_bytes, send_bytes};
use channel_http::relay::{Relay, RelayConfig};
use channel_http::{
    ClientOptions, DirectChannel, DirectOptions, HttpChannel, RelayTransport, RetryPolicy, local,
};
use channel_sim::{Bandwidth, Direction, Link, LinkControl, LinkProfile, LinkProxy};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Short limits, so that the tests see them: 1 s per request, retries for `give_up`.
fn client(give_up: Duration) -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        poll_wait: ms(500),
        recv_timeout: Duration::from_secs(120),
        retry: RetryPolicy {
            initial: ms(20),
            max: ms(250),
            give_up_after: give_up,
        },
        ..ClientOptions::default()
    }
}

/// Proxies with `link` in front of whatever the builders route through them.
#[derive(Default)]
struct Paths {
    proxies: Vec<LinkProxy>,
}

impl Paths {
    async fn route(
        &mut self,
        addr: std::net::SocketAddr,
        link: Link,
    ) -> std::io::Result<std::net::SocketAddr> {
        let proxy = LinkProxy::start(addr, link).await?;
        let via = proxy.addr();
        self.proxies.push(proxy);
        Ok(via)
    }

    fn controls(&self) -> Vec<LinkControl> {
        self.proxies.iter().map(LinkProxy::control).collect()
    }

    fn stall(&self) {
        self.controls().iter().for_each(LinkControl::stall);
    }

    fn resume(&self) {
        self.controls().iter().for_each(LinkControl::resume);
    }
}

/// Two relay parties, each with its own path to the relay (half the latency).
async fn relay_pair(
    profile: LinkProfile,
    options: &ClientOptions,
) -> (HttpChannel, HttpChannel, Relay, Paths) {
    let mut paths = Paths::default();
    let link = Link::symmetric(profile.halved());
    let net = local::relay_network_routed(2, RelayConfig::default(), options, async |_, addr| {
        paths.route(addr, link).await
    })
    .await
    .unwrap();
    let mut it = net.parties.into_iter();
    (it.next().unwrap(), it.next().unwrap(), net.relay, paths)
}

/// Two direct-mode parties, each reached through a path with `profile`; a
/// peer unheard of for `gone_after` is gone.
async fn direct_pair(
    profile: LinkProfile,
    options: &ClientOptions,
    gone_after: Duration,
) -> (DirectChannel, DirectChannel, Paths) {
    let mut paths = Paths::default();
    let link = Link::symmetric(profile);
    let options = DirectOptions {
        client: options.clone(),
        peer_gone_after: gone_after,
        ..DirectOptions::default()
    };
    let parties =
        local::direct_network_routed(2, &options, async |_, addr| paths.route(addr, link).await)
            .await
            .unwrap();
    let mut it = parties.into_iter();
    (it.next().unwrap(), it.next().unwrap(), paths)
}

fn numbered(i: u32) -> Vec<u8> {
    let mut msg = i.to_le_bytes().to_vec();
    msg.resize(1000, i as u8);
    msg
}

/// Ten messages sent while every path stalls for 2.5 s (longer than a
/// request's limit) arrive once and in order after it ends.
async fn stall_is_retried_through(mut a: impl Channel, mut b: impl Channel, paths: &Paths) {
    send_bytes(&mut a, 1, "before", b"warm").await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "before").await.unwrap(), b"warm");
    paths.stall();
    let sending = async {
        for i in 0..10 {
            send_bytes(&mut a, 1, "during", &numbered(i)).await.unwrap();
        }
        a.flush().await.unwrap();
    };
    let receiving = async {
        let mut got = Vec::new();
        for _ in 0..10 {
            got.push(recv_bytes(&mut b, 0, "during").await.unwrap());
        }
        got
    };
    let stall = async {
        tokio::time::sleep(ms(2500)).await;
        paths.resume();
    };
    let ((), got, ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(sending, receiving, stall)
    })
    .await
    .expect("no recovery within 30 s");
    for (i, msg) in got.iter().enumerate() {
        assert_eq!(*msg, numbered(i as u32), "message {i}");
    }
    // Exactly once: the next message is the next one sent, both ways.
    send_bytes(&mut a, 1, "after", b"next").await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "after").await.unwrap(), b"next");
    send_bytes(&mut b, 0, "after", b"back").await.unwrap();
    assert_eq!(recv_bytes(&mut a, 1, "after").await.unwrap(), b"back");
}

/// A stall that never ends fails a send and a receive, each naming the peer,
/// within the bound; the receive's error is returned.
async fn endless_stall_fails_in_time(
    mut a: impl Channel,
    mut b: impl Channel,
    paths: &Paths,
    bound: Duration,
) -> channel_core::Error {
    send_bytes(&mut a, 1, "before", b"warm").await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "before").await.unwrap(), b"warm");
    paths.stall();
    let started = Instant::now();
    let (sent, received) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(
            async {
                send_bytes(&mut a, 1, "lost", b"x").await?;
                a.flush().await.map_err(|e| channel_core::Error::Transport {
                    party: Some(1),
                    source: Box::new(e),
                })
            },
            recv_bytes(&mut b, 0, "lost")
        )
    })
    .await
    .expect("a dead path hung a send or a receive (the receive timeout is 120 s)");
    let took = started.elapsed();
    assert!(
        took < bound,
        "failed after {took:?}, the bound is {bound:?}"
    );
    let sent = sent.unwrap_err();
    let received = received.unwrap_err();
    assert_eq!(sent.party(), Some(1), "{sent}");
    assert_eq!(received.party(), Some(0), "{received}");
    println!(
        "after {took:?}:\n  send: {}\n  receive: {}",
        channel_core::error_chain(&sent),
        channel_core::error_chain(&received)
    );
    received
}

/// The paths are cut while 64 MiB are on their way and restored half a second
/// later: the message and the one after it arrive intact, once, in order.
async fn cut_mid_message_recovers(mut a: impl Channel, mut b: impl Channel, paths: &Paths) {
    let big: Vec<u8> = (0..64u32 << 20).map(|i| (i % 253) as u8).collect();
    let controls = paths.controls();
    let sending = async {
        send_bytes(&mut a, 1, "big", &big).await.unwrap();
        send_bytes(&mut a, 1, "small", b"after").await.unwrap();
        a.flush().await.unwrap();
    };
    let receiving = async {
        let got = recv_bytes(&mut b, 0, "big").await.unwrap();
        let next = recv_bytes(&mut b, 0, "small").await.unwrap();
        (got, next)
    };
    let cut = async {
        tokio::time::sleep(ms(400)).await;
        let forwarded: u64 = controls.iter().map(|c| c.forwarded(Direction::Up)).sum();
        controls.iter().for_each(LinkControl::cut);
        tokio::time::sleep(ms(500)).await;
        controls.iter().for_each(LinkControl::restore);
        forwarded
    };
    let ((), (got, next), forwarded) = tokio::time::timeout(Duration::from_secs(90), async {
        tokio::join!(sending, receiving, cut)
    })
    .await
    .expect("no recovery within 90 s");
    assert!(
        forwarded > 1 << 20 && forwarded < 60 << 20,
        "not cut in the middle: {forwarded}"
    );
    assert!(got == big, "the 64 MiB message arrived altered");
    assert_eq!(next, b"after");
    let accepted: u64 = controls.iter().map(LinkControl::accepted).sum();
    assert!(accepted >= 3, "nothing reconnected after the cut");
}

fn near() -> LinkProfile {
    LinkProfile::latency(ms(4))
}

fn fast() -> LinkProfile {
    LinkProfile::new(ms(4), Bandwidth::mbit(500))
}

/// The relay rows run over both of the relay's ways: the WebSocket and the HTTP routes.
const RELAY_WAYS: [RelayTransport; 2] = [RelayTransport::WebSocket, RelayTransport::LongPoll];

fn over(transport: RelayTransport, options: ClientOptions) -> ClientOptions {
    ClientOptions {
        transport,
        ..options
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_a_stall_beyond_the_request_limit_is_retried_through_once_in_order() {
    for way in RELAY_WAYS {
        let options = over(way, client(Duration::from_secs(30)));
        let (a, b, relay, paths) = relay_pair(near(), &options).await;
        assert_eq!(a.transport(), way);
        stall_is_retried_through(a, b, &paths).await;
        relay.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_an_endless_stall_fails_naming_the_peer_within_the_bound() {
    for way in RELAY_WAYS {
        let give_up = Duration::from_secs(2);
        let (a, b, relay, paths) = relay_pair(near(), &over(way, client(give_up))).await;
        assert_eq!(a.transport(), way);
        // A request's limit (plus a long-poll's wait; over the WebSocket, the
        // silence that takes the relay for gone), then retries for `give_up`.
        let bound = Duration::from_millis(1500) + give_up + Duration::from_secs(3);
        let _ = endless_stall_fails_in_time(a, b, &paths, bound).await;
        relay.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_a_cut_and_restore_in_the_middle_of_a_64_mib_message_recovers() {
    for way in RELAY_WAYS {
        let options = over(way, client(Duration::from_secs(30)));
        let (a, b, relay, paths) = relay_pair(fast(), &options).await;
        assert_eq!(a.transport(), way);
        cut_mid_message_recovers(a, b, &paths).await;
        relay.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_a_stall_beyond_the_request_limit_is_retried_through_once_in_order() {
    let gone_after = Duration::from_secs(20);
    let (a, b, paths) = direct_pair(near(), &client(Duration::from_secs(30)), gone_after).await;
    stall_is_retried_through(a, b, &paths).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_an_endless_stall_fails_naming_the_peer_within_the_bound() {
    // The sender gives up after a request's limit and `give_up` of retries;
    // the receiver hears no heartbeat for `gone_after`.
    let (give_up, gone_after) = (Duration::from_secs(2), Duration::from_secs(2));
    let (a, b, paths) = direct_pair(near(), &client(give_up), gone_after).await;
    let bound = Duration::from_millis(1500) + give_up.max(gone_after) + Duration::from_secs(3);
    let received = endless_stall_fails_in_time(a, b, &paths, bound).await;
    // No heartbeat came through: the peer is gone, not merely late.
    assert!(received.is_peer_gone(), "{received:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_a_quiet_peer_keeps_its_heartbeat_and_is_not_taken_for_gone() {
    let gone_after = Duration::from_millis(800);
    let (mut a, mut b, _paths) =
        direct_pair(near(), &client(Duration::from_secs(30)), gone_after).await;
    // Silent for four times the bound; the heartbeats keep the peer alive.
    let (sent, received) = tokio::join!(
        async {
            tokio::time::sleep(ms(3200)).await;
            send_bytes(&mut a, 1, "late", b"still here").await
        },
        recv_bytes(&mut b, 0, "late")
    );
    sent.unwrap();
    assert_eq!(received.unwrap(), b"still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_a_cut_and_restore_in_the_middle_of_a_64_mib_message_recovers() {
    let gone_after = Duration::from_secs(20);
    let (a, b, paths) = direct_pair(fast(), &client(Duration::from_secs(30)), gone_after).await;
    cut_mid_message_recovers(a, b, &paths).await;
}

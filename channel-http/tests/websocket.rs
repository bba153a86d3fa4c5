//! The relay's WebSocket: a session that mixes WebSocket and long-poll
//! parties, the route's refusals of bad input (each a typed close), a client
//! that never reads, and sockets cut again and again in the middle of
//! transfers both ways. On 127.0.0.1, every wait bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::time::Duration;

use channel_core::testkit::Kit;
use channel_core::{Channel, recv_bytes, send_bytes};
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel, RelayTransport, local};
use channel_http_proto::socket::wire::{Frame, Hello, Welcome};
use channel_sim::{Bandwidth, Direction, Link, LinkControl, LinkProfile, LinkProxy};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Raw =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn over(transport: RelayTransport) -> ClientOptions {
    ClientOptions {
        transport,
        recv_timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_mixing_websocket_and_long_poll_parties_passes_the_kit() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let ways = [
        RelayTransport::WebSocket,
        RelayTransport::LongPoll,
        RelayTransport::WebSocket,
    ];
    let report = Kit::new(3)
        .run_async(async |n| {
            let s = HttpChannel::create_session(&url, n, None, &over(ways[0])).await?;
            let mut parties = Vec::new();
            for (p, token) in s.tokens.iter().enumerate() {
                let options = over(ways[p % ways.len()]);
                let party =
                    HttpChannel::join_plaintext_insecure(&url, &s.session, token, &options).await?;
                assert_eq!(party.transport(), ways[p % ways.len()]);
                parties.push(party);
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(parties)
        })
        .await
        .unwrap_or_else(|failure| panic!("mixed session: {failure}"));
    println!("mixed session: {report}");
    relay.shutdown();
}

/// A session of two and party 0's join: (session, tokens, epoch of party 0).
async fn joined(url: &str) -> (String, Vec<String>, u64) {
    let s = HttpChannel::create_session(url, 2, None, &ClientOptions::default())
        .await
        .unwrap();
    let epoch = join_epoch(url, &s.session, &s.tokens[0]).await;
    (s.session, s.tokens, epoch)
}

/// Joins `session` with `token` over HTTP; the join's number.
async fn join_epoch(url: &str, session: &str, token: &str) -> u64 {
    let info: serde_json::Value = reqwest::Client::new()
        .get(format!("{url}/v1/sessions/{session}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    info["epoch"].as_u64().unwrap()
}

async fn raw_socket(url: &str, session: &str) -> Raw {
    let ws_url = format!(
        "{}/v1/sessions/{session}/socket",
        url.replacen("http://", "ws://", 1)
    );
    let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    socket
}

fn hello(token: &str, epoch: u64) -> Message {
    hello_at(token, epoch, vec![0, 0])
}

/// A hello that has everything below `taken[p]` of each party.
fn hello_at(token: &str, epoch: u64, taken: Vec<u64>) -> Message {
    let hello = Hello {
        token: token.into(),
        epoch,
        receive_from: taken.clone(),
        acked: taken,
        window: 1 << 20,
    };
    Message::text(serde_json::to_string(&hello).unwrap())
}

/// The close code the relay ends `socket` with, within 30 s.
async fn close_code(socket: &mut Raw) -> (u16, String) {
    let bounded = tokio::time::timeout(Duration::from_secs(30), async {
        // Bounded by the timeout.
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                    return (0, "ended without a close frame".into());
                }
                Some(Ok(_)) => {}
            }
        }
    });
    bounded.await.expect("the relay did not close the socket")
}

/// Opens a socket as party 0 and reads the welcome.
async fn welcomed(url: &str, session: &str, token: &str, epoch: u64) -> Raw {
    let mut socket = raw_socket(url, session).await;
    socket.send(hello(token, epoch)).await.unwrap();
    match socket.next().await {
        Some(Ok(Message::Text(text))) => {
            let welcome: Welcome = serde_json::from_str(text.as_str()).unwrap();
            assert_eq!(welcome.next_send, vec![0, 0]);
        }
        other => panic!("no welcome: {other:?}"),
    }
    socket
}

fn binary(frame: Frame<&[u8]>) -> Message {
    Message::binary(frame.encode())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_the_socket_route_gets_a_typed_close() {
    let config = RelayConfig {
        max_body: 64 * 1024,
        ..RelayConfig::default()
    };
    let (relay, url) = common::start_relay(config).await;
    let (session, tokens, epoch) = joined(&url).await;

    // Before the upgrade: no such session, and a plain GET.
    let missing = tokio_tungstenite::connect_async(format!(
        "{}/v1/sessions/{}/socket",
        url.replacen("http://", "ws://", 1),
        "0".repeat(32)
    ))
    .await;
    match missing {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404);
        }
        other => panic!("a socket to no session: {other:?}"),
    }
    let plain = reqwest::get(format!("{url}/v1/sessions/{session}/socket"))
        .await
        .unwrap();
    assert!(plain.status().is_client_error(), "{}", plain.status());

    // The hello: wrong token, stale join, not JSON, binary first, wrong counts.
    let cases: Vec<(Message, u16, &str)> = vec![
        (hello("not-a-token", epoch), 4403, "token"),
        (hello(&tokens[0], epoch + 1), 4412, "joined again"),
        (Message::text("{nope"), 4400, "not JSON"),
        (Message::binary(vec![1, 2, 3]), 4401, "hello"),
        (
            Message::text(
                serde_json::to_string(&Hello {
                    receive_from: vec![0; 3],
                    ..serde_json::from_str::<Hello>(hello(&tokens[0], epoch).to_text().unwrap())
                        .unwrap()
                })
                .unwrap(),
            ),
            4400,
            "each of the 2",
        ),
    ];
    for (first, code, reason) in cases {
        let mut socket = raw_socket(&url, &session).await;
        socket.send(first).await.unwrap();
        let (got, why) = close_code(&mut socket).await;
        assert_eq!(got, code, "{why}");
        assert!(why.contains(reason), "{why}");
    }

    // After the welcome: garbage, frames only the relay sends, a party that
    // is not a peer, a gap in the numbers, an acknowledgement of nothing.
    let cases: Vec<(Message, u16, &str)> = vec![
        (Message::binary(vec![200]), 4400, "unknown kind"),
        (Message::text("hi"), 4400, "text frame"),
        (
            binary(Frame::Stored { party: 1, next: 0 }),
            4400,
            "only the relay",
        ),
        (
            binary(Frame::Data {
                party: 0,
                seq: 0,
                payload: b"me",
            }),
            4400,
            "not a peer",
        ),
        (
            binary(Frame::Data {
                party: 7,
                seq: 0,
                payload: b"x",
            }),
            4400,
            "not a peer",
        ),
        (
            binary(Frame::Data {
                party: 1,
                seq: 5,
                payload: b"x",
            }),
            4422,
            "before chunk 0",
        ),
        (
            binary(Frame::Ack { party: 1, next: 3 }),
            4422,
            "acknowledgement",
        ),
    ];
    for (frame, code, reason) in cases {
        let mut socket = welcomed(&url, &session, &tokens[0], epoch).await;
        socket.send(frame).await.unwrap();
        let (got, why) = close_code(&mut socket).await;
        assert_eq!(got, code, "{why}");
        assert!(why.contains(reason), "{why}");
    }

    // A frame beyond the body limit ends the socket; nothing of it is stored.
    let mut socket = welcomed(&url, &session, &tokens[0], epoch).await;
    let huge = vec![0u8; 64 * 1024 + 100];
    let _ = socket
        .send(binary(Frame::Data {
            party: 1,
            seq: 0,
            payload: &huge,
        }))
        .await;
    let (code, why) = close_code(&mut socket).await;
    assert!(code == 1009 || code == 0, "{code}: {why}");
    assert_eq!(relay.session_stats(&session).await.unwrap().queued_bytes, 0);

    // The relay still serves: a real pair of parties talks over it.
    let mut net = local::join_session(&url, 2, &over(RelayTransport::WebSocket))
        .await
        .unwrap();
    let mut b = net.pop().unwrap();
    let mut a = net.pop().unwrap();
    send_bytes(&mut a, 1, "after", b"still fine").await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "after").await.unwrap(), b"still fine");

    // Every refusal above is counted by its close code.
    for (code, at_least) in [
        (4403, 1.0),
        (4412, 1.0),
        (4401, 1.0),
        (4400, 7.0),
        (4422, 2.0),
    ] {
        let series = format!("relay_sockets_closed_total{{code=\"{code}\"}}");
        let counted = common::metric(&url, &series).await;
        assert!(
            counted >= at_least,
            "{series} is {counted}, expected at least {at_least}"
        );
    }
    assert!(common::metric(&url, "relay_chunks_stored_total{route=\"socket\"}").await >= 1.0);
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_holds_back_its_peer_within_the_session_budget() {
    // A session holds at most 4 MiB: the sender is held back (the relay says
    // "full" and the sender waits), never the relay's memory.
    let config = RelayConfig {
        max_session_bytes: 4 << 20,
        max_body: 1 << 20,
        // A socket that neither reads nor speaks for this long is closed.
        peer_gone_after: Duration::from_secs(2),
        max_wait: Duration::from_secs(1),
        ..RelayConfig::default()
    };
    let (relay, url) = common::start_relay(config).await;
    let s = HttpChannel::create_session(&url, 2, None, &ClientOptions::default())
        .await
        .unwrap();
    // Party 1 is a raw socket that announces a huge window and never reads.
    let epoch = join_epoch(&url, &s.session, &s.tokens[1]).await;
    let mut silent = raw_socket(&url, &s.session).await;
    let greedy = Hello {
        token: s.tokens[1].clone(),
        epoch,
        receive_from: vec![0, 0],
        acked: vec![0, 0],
        window: u64::MAX,
    };
    silent
        .send(Message::text(serde_json::to_string(&greedy).unwrap()))
        .await
        .unwrap();
    let options = ClientOptions {
        recv_timeout: Duration::from_secs(3),
        ..over(RelayTransport::WebSocket)
    };
    let mut sender = HttpChannel::join_plaintext_insecure(&url, &s.session, &s.tokens[0], &options)
        .await
        .unwrap();
    let chunk = vec![7u8; 512 * 1024];
    let mut sent = 0usize;
    let mut refused = None;
    // Bounded: at most 64 chunks of 512 KiB, each send at most 3 s.
    for _ in 0..64 {
        match sender
            .send_bytes_to(1, chunk.clone(), channel_core::SendInfo::new("flood", 0, 1))
            .await
        {
            Ok(()) => sent += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        let stats = relay.session_stats(&s.session).await.unwrap();
        assert!(stats.queued_bytes <= 4 << 20, "{stats:?}");
    }
    let refused = refused.expect("the sender was never held back");
    let text = channel_core::error_chain(&refused);
    assert!(text.contains("room to queue"), "{text}");
    // Everything accepted is either stored or still kept by the sender: the
    // window (8 MiB) plus the session (4 MiB) bound what was accepted.
    assert!(sent * chunk.len() <= 12 << 20, "{sent} chunks accepted");
    assert!(relay.session_stats(&s.session).await.unwrap().queued_bytes <= 4 << 20);
    // The relay gave up on the silent client: reading now finds what was
    // delivered, then the end of the socket (a 4408 close if it fit in).
    let (code, why) = close_code(&mut silent).await;
    assert!(code == 4408 || code == 0, "{code}: {why}");
    relay.shutdown();
}

/// Two WebSocket parties, each reached through its own proxy.
async fn proxied_pair() -> (
    HttpChannel,
    HttpChannel,
    channel_http::relay::Relay,
    Vec<LinkControl>,
) {
    let mut proxies = Vec::new();
    // Slow enough that the cuts fall in the middle of the transfer.
    let link = Link::symmetric(LinkProfile::new(
        Duration::from_millis(1),
        Bandwidth::mbit(200),
    ));
    let net = local::relay_network_routed(
        2,
        RelayConfig::default(),
        &over(RelayTransport::WebSocket),
        async |_, addr| {
            let proxy = LinkProxy::start(addr, link).await?;
            let via = proxy.addr();
            proxies.push(proxy);
            Ok(via)
        },
    )
    .await
    .unwrap();
    let controls = proxies.iter().map(LinkProxy::control).collect();
    // The proxies live as long as the test (they stop when dropped).
    std::mem::forget(proxies);
    let mut it = net.parties.into_iter();
    let (a, b) = (it.next().unwrap(), it.next().unwrap());
    assert_eq!(
        (a.transport(), b.transport()),
        (RelayTransport::WebSocket, RelayTransport::WebSocket)
    );
    (a, b, net.relay, controls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_cut_again_and_again_mid_transfer_both_ways_deliver_everything_once_in_order() {
    let (mut a, mut b, relay, controls) = proxied_pair().await;
    let message = |from: u8, i: u32| -> Vec<u8> {
        let mut m = vec![from; 3 << 20];
        m[..4].copy_from_slice(&i.to_le_bytes());
        m
    };
    const EACH: u32 = 8;
    // Party `me` sends its messages to `peer` and takes the peer's, in turn.
    let side = async |ch: &mut HttpChannel, me: u8, peer: u8| {
        for i in 0..EACH {
            send_bytes(ch, usize::from(peer), "m", &message(me, i))
                .await
                .unwrap();
            let got = recv_bytes(ch, usize::from(peer), "m").await.unwrap();
            assert_eq!(got, message(peer, i), "party {me} got {i}");
        }
        ch.flush().await.unwrap();
    };
    let (a_side, b_side) = (side(&mut a, 0, 1), side(&mut b, 1, 0));
    let cuts = async {
        let mut forwarded = Vec::new();
        // Four cuts, each of every socket (both parties, both directions).
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            forwarded.push(
                controls
                    .iter()
                    .map(|c| c.forwarded(Direction::Up))
                    .sum::<u64>(),
            );
            let before: u64 = controls.iter().map(LinkControl::accepted).sum();
            controls.iter().for_each(LinkControl::cut);
            tokio::time::sleep(Duration::from_millis(100)).await;
            controls.iter().for_each(LinkControl::restore);
            // Both parties open their sockets again before the next cut (a cut
            // during a reconnect's backoff would not make one more).
            for _ in 0..1000 {
                if controls.iter().map(LinkControl::accepted).sum::<u64>() >= before + 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        forwarded
    };
    let ((), (), forwarded) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(a_side, b_side, cuts)
    })
    .await
    .expect("no recovery within 60 s");
    // The cuts fell in the middle of the transfer, not after it.
    let total = 2 * u64::from(EACH) * (3 << 20);
    assert!(
        forwarded.iter().all(|&f| f < total),
        "{forwarded:?} of {total}"
    );
    let accepted: u64 = controls.iter().map(LinkControl::accepted).sum();
    assert!(
        accepted >= 2 + 4 * 2,
        "sockets reconnected {accepted} times"
    );
    // Exactly once: the next message is the next one sent, both ways.
    send_bytes(&mut a, 1, "after", b"next").await.unwrap();
    assert_eq!(recv_bytes(&mut b, 0, "after").await.unwrap(), b"next");
    send_bytes(&mut b, 0, "after", b"back").await.unwrap();
    assert_eq!(recv_bytes(&mut a, 1, "after").await.unwrap(), b"back");
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_closed_by_the_relay_is_reopened_and_nothing_is_lost() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let s = HttpChannel::create_session(&url, 2, None, &ClientOptions::default())
        .await
        .unwrap();
    let options = over(RelayTransport::WebSocket);
    let join =
        |p: usize| HttpChannel::join_plaintext_insecure(&url, &s.session, &s.tokens[p], &options);
    let (mut a, mut b) = (join(0).await.unwrap(), join(1).await.unwrap());
    let epoch_of_b = b.joined().epoch.unwrap();
    // Bounded: three rounds.
    for round in 0..3u8 {
        send_bytes(&mut a, 1, "m", &[round; 1000]).await.unwrap();
        // A second socket of party 1 (same token, same join): the relay
        // closes party 1's socket in favour of it; party 1's client opens a
        // new one, and the relay closes the stray in turn.
        let taken = vec![u64::from(round), 0];
        let mut stray = welcomed_as(&url, &s.session, &s.tokens[1], epoch_of_b, taken).await;
        let (code, why) = close_code(&mut stray).await;
        assert_eq!(code, 4409, "party 1 did not reconnect: {why}");
        assert_eq!(recv_bytes(&mut b, 0, "m").await.unwrap(), [round; 1000]);
        send_bytes(&mut b, 0, "m", &[round; 10]).await.unwrap();
        assert_eq!(recv_bytes(&mut a, 1, "m").await.unwrap(), [round; 10]);
    }
    relay.shutdown();
}

/// A raw socket welcomed as a party (any numbers).
async fn welcomed_as(url: &str, session: &str, token: &str, epoch: u64, taken: Vec<u64>) -> Raw {
    let mut socket = raw_socket(url, session).await;
    socket.send(hello_at(token, epoch, taken)).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
        Ok(Some(Ok(Message::Text(_)))) => socket,
        other => panic!("no welcome: {other:?}"),
    }
}

/// What the evil relay below does to the chunks it delivers over the WebSocket.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// Flips the last byte of every data chunk (beyond the handshakes' small ones).
    Flip,
    /// Delivers the previous data chunk again, renumbered as the next one.
    Replay,
}

/// An evil relay: the real relay's routes, but its WebSocket passes through
/// a man in the middle that alters the chunks it delivers, frame by frame.
async fn evil_relay(attack: Attack) -> (channel_http::relay::Relay, String) {
    use axum::extract::Path;
    use axum::extract::ws::{Message as AxumMessage, WebSocketUpgrade};
    let (relay, real_url) = common::start_relay(RelayConfig::default()).await;
    let real_ws = real_url.replacen("http://", "ws://", 1);
    let socket = move |Path(id): Path<String>, ws: WebSocketUpgrade| {
        let target = format!("{real_ws}/v1/sessions/{id}/socket");
        async move {
            ws.protocols([channel_http_proto::socket::wire::SUBPROTOCOL])
                .on_upgrade(move |client| async move {
                    let Ok((server, _)) = tokio_tungstenite::connect_async(target).await else {
                        return;
                    };
                    let (mut to_server, mut from_server) = server.split();
                    let (mut to_client, mut from_client) = client.split();
                    let up = async {
                        // Bounded by the connection.
                        while let Some(Ok(m)) = from_client.next().await {
                            let m = match m {
                                AxumMessage::Text(t) => Message::text(t.as_str()),
                                AxumMessage::Binary(b) => Message::Binary(b),
                                _ => continue,
                            };
                            if to_server.send(m).await.is_err() {
                                return;
                            }
                        }
                    };
                    let down = async {
                        let mut previous: Option<Vec<u8>> = None;
                        // Bounded by the connection.
                        while let Some(Ok(m)) = from_server.next().await {
                            let m = match m {
                                Message::Text(t) => AxumMessage::Text(t.as_str().into()),
                                Message::Binary(b) if b.first() == Some(&2) && b.len() > 1000 => {
                                    let mut frame = b.to_vec();
                                    match attack {
                                        Attack::Flip => {
                                            if let Some(last) = frame.last_mut() {
                                                *last ^= 1;
                                            }
                                        }
                                        Attack::Replay => {
                                            if let Some(mut old) = previous.replace(frame.clone()) {
                                                // The old chunk under this frame's number.
                                                old[1..13].copy_from_slice(&frame[1..13]);
                                                frame = old;
                                            }
                                        }
                                    }
                                    AxumMessage::Binary(frame.into())
                                }
                                Message::Binary(b) => AxumMessage::Binary(b),
                                _ => continue,
                            };
                            if to_client.send(m).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! { () = up => {}, () = down => {} }
                })
        }
    };
    let app = axum::Router::new()
        .route("/v1/sessions/{session}/socket", axum::routing::get(socket))
        .fallback_service(relay.router());
    let (listener, url) = local::listener().await.unwrap();
    tokio::spawn(channel_http::serve(listener, app, relay.shutdown_signal()));
    (relay, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evil_relay_altering_or_replaying_socket_chunks_is_caught_by_sealing() {
    for attack in [Attack::Flip, Attack::Replay] {
        let (relay, url) = evil_relay(attack).await;
        let opts = over(RelayTransport::WebSocket);
        let mut parties = local::join_session(&url, 2, &opts).await.unwrap();
        let mut b = parties.pop().unwrap();
        let mut a = parties.pop().unwrap();
        assert!(a.is_sealed() && b.transport() == RelayTransport::WebSocket);
        let first = vec![1u8; 4000];
        let second = vec![2u8; 4000];
        send_bytes(&mut a, 1, "m", &first).await.unwrap();
        send_bytes(&mut a, 1, "m", &second).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(20), async {
            (
                recv_bytes(&mut b, 0, "m").await,
                recv_bytes(&mut b, 0, "m").await,
            )
        })
        .await
        .expect("an attack went unnoticed and the receive waited");
        let (one, two) = got;
        let failed = match attack {
            // Every data chunk is altered: the first fails.
            Attack::Flip => one.unwrap_err(),
            // The first is genuine; its replay under the next number fails.
            Attack::Replay => {
                assert_eq!(one.unwrap(), first);
                two.unwrap_err()
            }
        };
        assert_eq!(
            failed.kind(),
            channel_core::ErrorKind::Unauthentic,
            "{attack:?}: {failed}"
        );
        relay.shutdown();
    }
}

/// The numbers of the chunks the relay delivers on `socket` within `wait`
/// (other frames are skipped).
async fn deliveries_within(socket: &mut Raw, wait: Duration) -> Vec<u64> {
    let mut seqs = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        // Bounded by the timeout.
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Binary(bytes) = message
                && let Ok(Frame::Deliver { seq, .. }) = Frame::decode(&bytes, 8 << 20)
            {
                seqs.push(seq);
            }
        }
    })
    .await;
    seqs
}

/// A client that reconnects still holds what the earlier socket delivered
/// and it has not acknowledged: the relay counts that in its window and
/// delivers more only once it is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnected_socket_counts_what_its_client_still_holds_in_the_window() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let s = HttpChannel::create_session(&url, 2, None, &ClientOptions::default())
        .await
        .unwrap();
    let epoch = join_epoch(&url, &s.session, &s.tokens[1]).await;
    let client = reqwest::Client::new();
    for seq in 0..4u8 {
        let sent = client
            .post(format!("{url}/v1/sessions/{}/to/1?seq={seq}", s.session))
            .bearer_auth(&s.tokens[0])
            .body(vec![seq; 700 << 10])
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success(), "{}", sent.status());
    }
    let hello = |receive_from: u64| {
        let hello = Hello {
            token: s.tokens[1].clone(),
            epoch,
            receive_from: vec![receive_from, 0],
            acked: vec![0, 0],
            window: 1 << 20,
        };
        Message::text(serde_json::to_string(&hello).unwrap())
    };
    let open = async |receive_from: u64| {
        let mut socket = raw_socket(&url, &s.session).await;
        socket.send(hello(receive_from)).await.unwrap();
        match socket.next().await {
            Some(Ok(Message::Text(_))) => socket,
            other => panic!("no welcome: {other:?}"),
        }
    };
    // The first socket fills the window of 1 MiB: chunks 0 and 1 (the one
    // that crosses the window is the last).
    let mut first = open(0).await;
    assert_eq!(
        deliveries_within(&mut first, Duration::from_millis(500)).await,
        [0, 1]
    );
    drop(first);
    // The client took neither: the new socket delivers nothing more ...
    let mut second = open(2).await;
    assert_eq!(
        deliveries_within(&mut second, Duration::from_millis(500)).await,
        Vec::<u64>::new()
    );
    // ... until they are acknowledged.
    second
        .send(binary(Frame::Ack { party: 0, next: 2 }))
        .await
        .unwrap();
    assert_eq!(
        deliveries_within(&mut second, Duration::from_millis(500)).await,
        [2, 3]
    );
    relay.shutdown();
}

//! The relay is a blind, untrusted mailbox: it never sees a plaintext, and a
//! relay that tampers with, replays, reorders, drops, truncates or injects a
//! chunk, or passes one party's chunk off as another's, only makes the
//! receiver fail with a typed error. All on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use channel_core::testkit::{Kit, pattern};
use channel_core::{Error, recv_bytes, send_bytes};
use channel_http::relay::{Relay, RelayConfig};
use channel_http::{ClientOptions, HttpChannel, HttpError, local};
use channel_seal::{Invitation, SealError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy in front of `target` that records every byte in both directions.
async fn recording_proxy(target: String) -> (String, Arc<Mutex<Vec<u8>>>) {
    let tape = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let addr = target.trim_start_matches("http://").to_string();
    let recorded = tape.clone();
    tokio::spawn(async move {
        // Ends with the test's runtime.
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&addr).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            tokio::spawn(pump(cr, sw, recorded.clone()));
            tokio::spawn(pump(sr, cw, recorded.clone()));
        }
    });
    (url, tape)
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    tape: Arc<Mutex<Vec<u8>>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    // Bounded by the connection: ends when either side closes.
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        tape.lock().unwrap().extend_from_slice(&buf[..n]);
    }
}

/// Whether any 32-byte window of `secret` occurs in `tape`.
fn leaks(secret: &[u8], tape: &[u8]) -> bool {
    use std::collections::HashSet;
    let windows: HashSet<&[u8]> = secret.windows(32).collect();
    tape.windows(32).any(|w| windows.contains(w))
}

/// Three parties, each sends `secret` to both others; returns the relay's tape.
async fn exchange_through_a_tap(sealed: bool, secret: &[u8]) -> Vec<u8> {
    let (relay, relay_url) = common::start_relay(RelayConfig::default()).await;
    let (url, tape) = recording_proxy(relay_url).await;
    let opts = ClientOptions::default();
    let parties = if sealed {
        local::join_session(&url, 3, &opts).await.unwrap()
    } else {
        local::join_session_plaintext_insecure(&url, 3, &opts)
            .await
            .unwrap()
    };
    let tasks: Vec<_> = parties
        .into_iter()
        .map(|mut ch| {
            let secret = secret.to_vec();
            tokio::spawn(async move {
                let me = ch.party();
                for p in (0..3).filter(|&p| p != me) {
                    send_bytes(&mut ch, p, "secret", &secret).await.unwrap();
                }
                for p in (0..3).filter(|&p| p != me) {
                    assert_eq!(recv_bytes(&mut ch, p, "secret").await.unwrap(), secret);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    relay.shutdown();
    tape.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_sees_no_plaintext() {
    let secret = pattern(0x5EC2E7, 64 * 1024);
    let tape = exchange_through_a_tap(true, &secret).await;
    // Six copies of 64 KiB crossed the tap twice (in and out): it saw the traffic.
    assert!(
        tape.len() > 12 * 64 * 1024,
        "the tap recorded {} bytes",
        tape.len()
    );
    assert!(
        !leaks(&secret, &tape),
        "a 32-byte window of the plaintext crossed the relay"
    );

    // The control: the same exchange unsealed shows the plaintext to the tap.
    let tape = exchange_through_a_tap(false, &secret).await;
    assert!(
        leaks(&secret, &tape),
        "the tap cannot see plaintext: the test proves nothing"
    );
}

/// What the evil relay does to party 0's chunk number `AT` towards party 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    Honest,
    FlipByte,
    Truncate,
    Drop,
    Replay,
    Reorder,
    Inject,
    /// Delivers party 2's chunk (to party 1) in place of party 0's.
    Swap,
}

/// The attacked sequence number on the link 0 -> 1 (0 is the handshake's
/// HELLO; 1, 2, 3, 4 are the four messages): the second message.
const AT: u64 = 2;

/// The evil relay's state: the real relay behind it, the attack, the tokens
/// it learnt (a relay knows every token), and its bookkeeping of the link.
struct Evil {
    inner: Router,
    attack: Attack,
    tokens: Mutex<Vec<String>>,
    /// Added to the sender's numbers on the link 0 -> 1 once the attack ran.
    shift: Mutex<i64>,
    held: Mutex<Option<Bytes>>,
    /// The last chunk party 2 sent to party 1.
    from_two: Mutex<Option<Bytes>>,
    /// The next chunk number of party 0's to party 1 to handle: a client
    /// keeps several sends in flight, and this attacker acts on them one
    /// after another, in the order they were numbered.
    turn: Mutex<u64>,
    turned: tokio::sync::Notify,
}

/// Waits until it is chunk `seq`'s turn; the turn passes on when dropped.
/// A resend of a chunk whose turn is over goes at once.
async fn take_turn(evil: &Evil, seq: u64) -> Option<Turn<'_>> {
    // Bounded: every chunk before `seq` is in flight and takes its turn.
    loop {
        let turned = evil.turned.notified();
        let turn = *evil.turn.lock().unwrap();
        if turn == seq {
            return Some(Turn(evil));
        }
        if turn > seq {
            return None;
        }
        turned.await;
    }
}

struct Turn<'a>(&'a Evil);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.turn.lock().unwrap() += 1;
        self.0.turned.notify_waiters();
    }
}

/// Stores `body` as chunk `seq` from the token's party to `to`, on the real relay.
async fn store(
    evil: &Evil,
    session: &str,
    to: &str,
    seq: i64,
    token: &str,
    body: Bytes,
) -> Response {
    use tower::ServiceExt;
    let request = Request::post(format!("/v1/sessions/{session}/to/{to}?seq={seq}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap();
    evil.inner
        .clone()
        .oneshot(request)
        .await
        .unwrap()
        .into_response()
}

async fn evil_relay(State(evil): State<Arc<Evil>>, request: Request) -> Response {
    use tower::ServiceExt;
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let parts: Vec<&str> = path.split('/').collect();
    // ["", "v1", "sessions", id, "to", to]
    let is_send = request.method() == "POST" && parts.len() == 6 && parts[4] == "to";
    let tokens = evil.tokens.lock().unwrap().clone();
    let from = tokens.iter().position(|t| *t == token);
    if !is_send || tokens.is_empty() {
        return evil
            .inner
            .clone()
            .oneshot(request)
            .await
            .unwrap()
            .into_response();
    }
    let (session, to) = (parts[3].to_string(), parts[5].to_string());
    let seq: i64 = query.trim_start_matches("seq=").parse().unwrap();
    let body = axum::body::to_bytes(request.into_body(), 64 << 20)
        .await
        .unwrap();
    if from == Some(2) && to == "1" {
        *evil.from_two.lock().unwrap() = Some(body.clone());
    }
    if from != Some(0) || to != "1" {
        return store(&evil, &session, &to, seq, &token, body).await;
    }
    let _turn = take_turn(&evil, seq as u64).await;
    let shift = *evil.shift.lock().unwrap();
    if seq as u64 != AT {
        let held = evil.held.lock().unwrap().take();
        if let Some(held) = held {
            // Reorder: the later chunk first, then the held one.
            store(&evil, &session, &to, seq - 1, &token, body).await;
            return store(&evil, &session, &to, seq, &token, held).await;
        }
        return store(&evil, &session, &to, seq + shift, &token, body).await;
    }
    let mut forged = body.to_vec();
    match evil.attack {
        Attack::Honest => {}
        Attack::FlipByte => forged[7] ^= 0x01,
        Attack::Truncate => forged.truncate(forged.len() - 5),
        Attack::Drop => {
            *evil.shift.lock().unwrap() = -1;
            return StatusCode::NO_CONTENT.into_response();
        }
        Attack::Replay => {
            store(&evil, &session, &to, seq, &token, body.clone()).await;
            *evil.shift.lock().unwrap() = 1;
            return store(&evil, &session, &to, seq + 1, &token, body).await;
        }
        Attack::Reorder => {
            *evil.held.lock().unwrap() = Some(body);
            return StatusCode::NO_CONTENT.into_response();
        }
        Attack::Inject => {
            store(
                &evil,
                &session,
                &to,
                seq,
                &token,
                Bytes::from(vec![0x42; body.len()]),
            )
            .await;
            *evil.shift.lock().unwrap() = 1;
            return store(&evil, &session, &to, seq + 1, &token, body).await;
        }
        Attack::Swap => {
            forged = evil.from_two.lock().unwrap().clone().unwrap().to_vec();
        }
    }
    store(&evil, &session, &to, seq, &token, Bytes::from(forged)).await
}

fn message(i: u8) -> Vec<u8> {
    pattern(0xA77AC + u64::from(i), 3000)
}

/// Party 0 sends four messages to party 1 through an evil relay (party 2
/// sends one first); returns what party 1 received of party 0's.
async fn run(attack: Attack) -> Vec<Result<Vec<u8>, Error>> {
    run_with(attack, true).await
}

async fn run_with(attack: Attack, sealed: bool) -> Vec<Result<Vec<u8>, Error>> {
    let relay = Relay::new(RelayConfig::default());
    let evil = Arc::new(Evil {
        inner: relay.router(),
        attack,
        tokens: Mutex::new(Vec::new()),
        shift: Mutex::new(0),
        held: Mutex::new(None),
        from_two: Mutex::new(None),
        turn: Mutex::new(0),
        turned: tokio::sync::Notify::new(),
    });
    let app = Router::new().fallback(evil_relay).with_state(evil.clone());
    let (listener, url) = local::listener().await.unwrap();
    tokio::spawn(channel_http::serve(listener, app, relay.shutdown_signal()));

    // A bound on every wait, should an attack go unnoticed. The evil relay
    // rewrites HTTP bodies, so the parties use the HTTP routes.
    let opts = ClientOptions {
        recv_timeout: Duration::from_secs(20),
        transport: channel_http::RelayTransport::LongPoll,
        ..ClientOptions::default()
    };
    let (keys, public) = local::keys(3).unwrap();
    let invitations = HttpChannel::invite(&url, &public, None, &opts)
        .await
        .unwrap();
    *evil.tokens.lock().unwrap() = invitations.iter().map(|i| i.token.clone()).collect();
    let mut parties = if sealed {
        local::join_all(&invitations, &keys, &opts).await.unwrap()
    } else {
        let mut parties = Vec::new();
        for i in &invitations {
            let joined = HttpChannel::join_plaintext_insecure(&url, &i.session, &i.token, &opts);
            parties.push(joined.await.unwrap());
        }
        parties
    };
    let mut two = parties.pop().unwrap();
    let mut one = parties.pop().unwrap();
    let mut zero = parties.pop().unwrap();
    send_bytes(&mut two, 1, "m", &message(9)).await.unwrap();
    // Stored before party 0 sends (a send returns once on its way), so the
    // swap has party 2's chunk at hand.
    channel_core::Channel::flush(&mut two).await.unwrap();
    for i in 0..4 {
        send_bytes(&mut zero, 1, "m", &message(i)).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(recv_bytes(&mut one, 0, "m").await);
    }
    relay.shutdown();
    got
}

fn seal_error(e: &Error) -> &SealError {
    let Error::Recv {
        source, party: 0, ..
    } = e
    else {
        panic!("expected a receive error from party 0, got {e:?}");
    };
    match source.downcast_ref::<HttpError>() {
        Some(HttpError::Seal(seal)) => seal,
        other => panic!("not a seal error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_relay_delivers_everything() {
    let got = run(Attack::Honest).await;
    for (i, msg) in got.into_iter().enumerate() {
        assert_eq!(msg.unwrap(), message(i as u8));
    }
}

/// The control: without sealing, the same relay delivers altered and
/// reordered data as if nothing happened (so the attacks are real).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evil_relay_really_attacks_plaintext() {
    for attack in [Attack::FlipByte, Attack::Reorder, Attack::Swap] {
        let got = run_with(attack, false).await;
        let wrong = got
            .iter()
            .enumerate()
            .any(|(i, m)| m.as_ref().is_ok_and(|m| *m != message(i as u8)));
        assert!(wrong, "{attack:?} had no effect: the test proves nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_relay_attack_is_a_typed_error_and_nothing_wrong_is_delivered() {
    for attack in [
        Attack::FlipByte,
        Attack::Truncate,
        Attack::Drop,
        Attack::Replay,
        Attack::Reorder,
        Attack::Inject,
        Attack::Swap,
    ] {
        let got = run(attack).await;
        let first_error = got
            .iter()
            .position(Result::is_err)
            .unwrap_or_else(|| panic!("{attack:?} went unnoticed"));
        for (i, msg) in got.iter().enumerate().take(first_error) {
            assert_eq!(
                msg.as_ref().unwrap(),
                &message(i as u8),
                "{attack:?}: message {i}"
            );
        }
        let e = got[first_error].as_ref().unwrap_err();
        assert!(
            matches!(seal_error(e), SealError::Forged { party: 0, .. }),
            "{attack:?}: {e:?}"
        );
        assert_eq!(e.phase(), "m");
        for later in &got[first_error + 1..] {
            let e = later
                .as_ref()
                .expect_err("nothing after a forgery is accepted");
            assert!(
                matches!(seal_error(e), SealError::Broken { party: 0, .. }),
                "{attack:?}: {e:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_public_key_fails_every_join_naming_the_party() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions::default();
    let (keys, public) = local::keys(3).unwrap();
    let mut invitations = HttpChannel::invite(&url, &public, None, &opts)
        .await
        .unwrap();
    // Party 2 was told a wrong key for party 0.
    invitations[2].keys[0] = local::keys(1).unwrap().1[0];
    let started = Instant::now();
    let joining = invitations
        .iter()
        .zip(&keys)
        .map(|(invitation, key)| HttpChannel::join(invitation, key, &opts));
    let results = futures::future::join_all(joining).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let seal = |r: &Result<HttpChannel, HttpError>| match r {
        Err(HttpError::Seal(e)) => format!("{e:?}"),
        other => panic!("expected a seal error, got {other:?}"),
    };
    assert!(
        seal(&results[2]).starts_with("Handshake { party: 0"),
        "{}",
        seal(&results[2])
    );
    assert_eq!(seal(&results[0]), "Refused { party: 2 }");
    assert_eq!(seal(&results[1]), "Refused { party: 2 }");

    // An invitation whose table does not match the session is refused, and
    // the others learn it at once.
    let invitations = HttpChannel::invite(&url, &public, None, &opts)
        .await
        .unwrap();
    let short = Invitation {
        keys: public[..2].to_vec(),
        party: 1,
        ..invitations[1].clone()
    };
    let (zero, one) = tokio::join!(
        HttpChannel::join(&invitations[0], &keys[0], &opts),
        HttpChannel::join(&short, &keys[1], &opts),
    );
    assert!(matches!(one, Err(HttpError::Setup(m)) if m.contains("party 1 of 3")));
    assert!(
        matches!(zero, Err(HttpError::Seal(SealError::Refused { party: 1 }))),
        "{zero:?}"
    );
    relay.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explicit_plaintext_opt_out_still_passes_the_kit() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let opts = ClientOptions::default();
    let report = Kit::new(3)
        .run_async(async |n| Ok(local::join_session_plaintext_insecure(&url, n, &opts).await?))
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    println!("{report}");
    relay.shutdown();
}

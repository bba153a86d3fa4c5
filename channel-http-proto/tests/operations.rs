//! The client state machines against a scripted relay and a fake clock: no
//! server, no sockets, no waiting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::collections::VecDeque;
use std::time::Duration;

use channel_core::{RecvInfo, SendInfo};
use channel_http_proto::answer::{Body, Head};
use channel_http_proto::exchange::{Http, NoAnswer, exchange};
use channel_http_proto::ops::{Method, PollTiming, Post, Request, Setup};
use channel_http_proto::protocol::SessionInfo;
use channel_http_proto::{HttpError, Instant, Joined, RetryPolicy, TransportError};

/// One scripted reply to a request.
enum Reply {
    /// No answer at all (connection refused, cut, ...).
    Network(&'static str),
    /// A request the client cannot make.
    Unusable,
    /// An answer: its head and what reading its body gives.
    Answer(Head, Body),
}

/// A relay that answers from a script, with a clock that moves only when the
/// client sleeps or a long-poll waits.
struct Scripted {
    replies: VecDeque<Reply>,
    requests: Vec<Request>,
    /// The limit of every body read, in order.
    reads: Vec<usize>,
    slept: Duration,
    now: Instant,
}

impl Scripted {
    fn new(replies: impl IntoIterator<Item = Reply>) -> Self {
        Self {
            replies: replies.into_iter().collect(),
            requests: Vec::new(),
            reads: Vec::new(),
            slept: Duration::ZERO,
            now: Instant::now(),
        }
    }
}

impl Http for Scripted {
    type Answer = (Head, Body);

    async fn perform(&mut self, request: Request) -> Result<Self::Answer, NoAnswer> {
        let wait = request.wait;
        self.requests.push(request);
        match self.replies.pop_front() {
            Some(Reply::Network(why)) => Err(NoAnswer::Network(why.into())),
            Some(Reply::Unusable) => Err(NoAnswer::Unusable(HttpError::Setup("bad url".into()))),
            Some(Reply::Answer(head, body)) => {
                if head.status == 204 {
                    // An empty long-poll answers when its wait is over.
                    self.now += wait;
                }
                Ok((head, body))
            }
            None => panic!(
                "the client made request {} and the script has no more answers",
                self.requests.len()
            ),
        }
    }

    fn head(&self, answer: &Self::Answer) -> Head {
        answer.0.clone()
    }

    async fn read_body(&mut self, answer: Self::Answer, limit: usize) -> Body {
        self.reads.push(limit);
        match answer.1 {
            Body::Complete(bytes) => Body::whole(bytes, limit),
            other => other,
        }
    }

    async fn sleep(&mut self, delay: Duration) {
        self.slept += delay;
        self.now += delay;
    }

    fn unit_random(&mut self) -> f64 {
        0.5
    }

    fn now(&self) -> Instant {
        self.now
    }
}

fn head(status: u16) -> Head {
    Head {
        status,
        ..Head::default()
    }
}

fn answer(status: u16, body: &[u8]) -> Reply {
    Reply::Answer(head(status), Body::Complete(body.to_vec()))
}

fn message(seq: u64, body: &[u8]) -> Reply {
    Reply::Answer(
        Head {
            status: 200,
            seq: Some(seq),
            content_length: Some(body.len() as u64),
            ..Head::default()
        },
        Body::Complete(body.to_vec()),
    )
}

fn joined(max_body: usize) -> Joined {
    SessionInfo::new("ab", 3, 0, max_body, 1000)
        .joined()
        .unwrap()
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_secs(1),
        give_up_after: Duration::from_secs(10),
    }
}

fn timing(recv_timeout: Duration) -> PollTiming {
    PollTiming {
        recv_timeout,
        poll_wait: Duration::from_secs(1),
        retry: policy(),
    }
}

fn block<T>(f: impl Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

fn send(relay: &mut Scripted, joined: &mut Joined, p: usize) -> Result<(), HttpError> {
    let op = joined
        .send(
            p,
            b"chunk".to_vec().into(),
            &SendInfo::new("x", 0, 1),
            policy(),
        )
        .unwrap();
    block(exchange(relay, op))
}

fn recv(relay: &mut Scripted, joined: &mut Joined, p: usize) -> Result<Vec<u8>, HttpError> {
    let op = joined
        .receive(
            p,
            &RecvInfo::new("x", 0, None),
            timing(Duration::from_secs(30)),
            relay.now,
        )
        .unwrap();
    let seq = op.seq();
    let got = block(exchange(relay, op));
    if got.is_ok() {
        joined.received(p, seq);
    }
    got
}

#[test]
fn a_resend_answered_as_a_duplicate_counts_once() {
    let mut joined = joined(1024);
    let duplicate = Head {
        status: 204,
        duplicate: true,
        ..Head::default()
    };
    let mut relay = Scripted::new([
        Reply::Network("connection reset"),
        Reply::Answer(duplicate, Body::Complete(Vec::new())),
        answer(204, b""),
    ]);
    send(&mut relay, &mut joined, 1).unwrap();
    assert_eq!(joined.next_send, [0, 1, 0]);
    // Both attempts carried the same number; the next chunk gets the next one.
    assert_eq!(relay.requests[0].path, "/v1/sessions/ab/to/1?seq=0");
    assert_eq!(relay.requests[1].path, relay.requests[0].path);
    assert_eq!(relay.requests[0].method, Method::Post);
    send(&mut relay, &mut joined, 1).unwrap();
    assert_eq!(relay.requests[2].path, "/v1/sessions/ab/to/1?seq=1");
    assert_eq!(joined.next_send, [0, 2, 0]);
}

#[test]
fn conflicts_and_gone_messages_are_refusals_not_retries() {
    let mut joined = joined(1024);
    let mut relay = Scripted::new([answer(409, br#"{"error":"sequence number 5 skips ahead"}"#)]);
    match send(&mut relay, &mut joined, 2) {
        Err(HttpError::Refused {
            party: 2,
            status: 409,
            message,
            during,
        }) => {
            assert_eq!(message, "sequence number 5 skips ahead");
            assert!(during.contains("sending phase 'x'"), "{during}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The number is taken when the send is made (several may be in flight);
    // a party whose send was refused sends nothing more to that peer.
    assert_eq!(joined.next_send, [0, 0, 1]);

    let mut relay = Scripted::new([answer(410, br#"{"error":"already acknowledged"}"#)]);
    match recv(&mut relay, &mut joined, 1) {
        Err(HttpError::Refused { status: 410, .. }) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(relay.requests.len(), 1);
    assert_eq!(
        relay.reads,
        [64 * 1024],
        "error bodies are read with a small bound"
    );
    assert_eq!(joined.next_recv, [0, 0, 0]);
}

#[test]
fn throttling_waits_at_least_the_retry_after_the_policy_allows() {
    let mut joined = joined(1024);
    let throttled = Head {
        status: 429,
        retry_after: Some(Duration::from_secs(3)),
        ..Head::default()
    };
    let mut relay = Scripted::new([
        Reply::Answer(throttled.clone(), Body::Complete(b"{}".to_vec())),
        answer(204, b""),
    ]);
    send(&mut relay, &mut joined, 1).unwrap();
    // Retry-After is honoured up to the policy's longest delay (1 s).
    assert_eq!(relay.slept, Duration::from_secs(1));

    let patient = RetryPolicy {
        max: Duration::from_secs(5),
        ..policy()
    };
    let mut relay = Scripted::new([
        Reply::Answer(throttled, Body::Complete(b"{}".to_vec())),
        answer(204, b""),
    ]);
    let op = joined
        .send(1, b"c".to_vec().into(), &SendInfo::new("x", 1, 2), patient)
        .unwrap();
    block(exchange(&mut relay, op)).unwrap();
    assert_eq!(relay.slept, Duration::from_secs(3));
    assert_eq!(joined.next_send, [0, 2, 0]);
}

#[test]
fn oversized_bodies_are_refused_declared_or_read() {
    let mut joined = joined(1024);
    // Declared beyond the relay's own limit: refused before a byte is read.
    let declared = Head {
        status: 200,
        seq: Some(0),
        content_length: Some(1 << 30),
        ..Head::default()
    };
    let mut relay = Scripted::new([Reply::Answer(declared, Body::Complete(Vec::new()))]);
    match recv(&mut relay, &mut joined, 1) {
        Err(HttpError::Protocol(m)) => {
            assert!(m.contains("1073741824") && m.contains("1024"), "{m}")
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert!(relay.reads.is_empty());

    // Undeclared: read with the relay's limit, refused when it passes it.
    let undeclared = Head {
        status: 200,
        seq: Some(0),
        ..Head::default()
    };
    let mut relay = Scripted::new([Reply::Answer(undeclared, Body::Complete(vec![7; 5000]))]);
    assert!(matches!(
        recv(&mut relay, &mut joined, 1),
        Err(HttpError::Protocol(_))
    ));
    assert_eq!(relay.reads, [1024]);
    assert_eq!(joined.next_recv, [0, 0, 0]);
}

#[test]
fn a_lying_relay_is_caught() {
    let mut joined = joined(1024);
    // Another message than the one asked for.
    let mut relay = Scripted::new([message(3, b"forged")]);
    match recv(&mut relay, &mut joined, 1) {
        Err(HttpError::Protocol(m)) => assert!(m.contains("asked party 1's message 0"), "{m}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    assert_eq!(joined.next_recv, [0, 0, 0]);

    // Impossible sessions, when joining and when creating.
    for info in [
        r#"{"session":"s","parties":1099511627776,"party":0,"max_body":1024,"max_wait_ms":1}"#,
        r#"{"session":"s","parties":2,"party":5,"max_body":1024,"max_wait_ms":1}"#,
        r#"{"session":"s","parties":2,"party":0,"max_body":1099511627776,"max_wait_ms":1}"#,
        r#"not json"#,
    ] {
        let mut relay = Scripted::new([answer(200, info.as_bytes())]);
        let joined = block(exchange(
            &mut relay,
            Setup::join("http://relay", "s", policy()),
        ));
        assert!(
            matches!(joined, Err(HttpError::Protocol(_))),
            "{info}: {joined:?}"
        );
        assert_eq!(
            relay.reads,
            [16 << 20],
            "set-up answers are read with a bound"
        );
    }
    let created = r#"{"session":"s","parties":3,"tokens":["a"],"max_body":1024}"#;
    let mut relay = Scripted::new([answer(201, created.as_bytes())]);
    let op = Setup::create_session("http://relay", 3, policy()).unwrap();
    assert!(matches!(
        block(exchange(&mut relay, op)),
        Err(HttpError::Protocol(_))
    ));
}

#[test]
fn an_empty_long_poll_asks_again_until_the_receive_times_out() {
    let joined = joined(1024);
    let mut relay = Scripted::new((0..40).map(|_| answer(204, b"")));
    let op = joined
        .receive(
            2,
            &RecvInfo::new("open", 1, Some(3)),
            timing(Duration::from_millis(3500)),
            relay.now,
        )
        .unwrap();
    match block(exchange(&mut relay, op)) {
        Err(HttpError::Transport(TransportError::Timeout {
            party: 2,
            waiting_for,
            ..
        })) => assert_eq!(waiting_for, "phase 'open', chunk 2/3"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Long-polls of at most the client's 1 s wait, the last one only what was left.
    let waits: Vec<u64> = relay
        .requests
        .iter()
        .map(|r| r.wait.as_millis() as u64)
        .collect();
    assert_eq!(waits, [1000, 1000, 1000, 500]);
    assert_eq!(
        relay.requests[0].path,
        "/v1/sessions/ab/from/2?seq=0&wait_ms=1000"
    );
    assert_eq!(
        relay.slept,
        Duration::ZERO,
        "an empty long-poll is no failure"
    );
}

#[test]
fn a_body_cut_midway_is_asked_for_again_and_taken_once() {
    let mut joined = joined(1024);
    let cut = Head {
        status: 200,
        seq: Some(0),
        ..Head::default()
    };
    let mut relay = Scripted::new([
        Reply::Answer(cut, Body::Cut("connection reset".into())),
        message(0, b"whole"),
        message(1, b"next"),
    ]);
    assert_eq!(recv(&mut relay, &mut joined, 1).unwrap(), b"whole");
    assert_eq!(recv(&mut relay, &mut joined, 1).unwrap(), b"next");
    assert_eq!(joined.next_recv, [0, 2, 0]);
    let paths: Vec<&str> = relay.requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/sessions/ab/from/1?seq=0&wait_ms=1000",
            "/v1/sessions/ab/from/1?seq=0&wait_ms=1000",
            "/v1/sessions/ab/from/1?seq=1&wait_ms=1000",
        ]
    );
}

#[test]
fn retries_give_up_after_the_policy_with_the_last_reason() {
    let mut joined = joined(1024);
    let mut relay = Scripted::new((0..100).map(|_| Reply::Network("connection refused")));
    match send(&mut relay, &mut joined, 1) {
        Err(HttpError::GaveUp {
            party: 1,
            attempts,
            waited,
            last,
            ..
        }) => {
            assert_eq!(last, "connection refused");
            assert!(waited >= Duration::from_secs(10), "{waited:?}");
            assert_eq!(attempts as usize, relay.requests.len());
        }
        other => panic!("expected to give up, got {other:?}"),
    }
    // Delays grow and are capped by the policy.
    assert!(relay.slept >= Duration::from_secs(10) && relay.slept <= Duration::from_secs(11));
    // The number was taken when the send was made.
    assert_eq!(joined.next_send, [0, 1, 0]);

    // 502-504 are retried the same way; a receive's retries stop at its own deadline.
    let mut relay = Scripted::new((0..100).map(|_| answer(503, b"unavailable")));
    let op = joined
        .receive(
            1,
            &RecvInfo::new("x", 0, None),
            timing(Duration::from_millis(2500)),
            relay.now,
        )
        .unwrap();
    assert!(matches!(
        block(exchange(&mut relay, op)),
        Err(HttpError::Transport(TransportError::Timeout { .. }))
    ));
    assert!(
        relay.slept <= Duration::from_millis(2500),
        "{:?}",
        relay.slept
    );
}

#[test]
fn set_up_is_retried_like_every_request_and_fails_typed() {
    // A relay that is briefly away (refused, then 503) is waited for.
    let info = r#"{"session":"s","parties":2,"party":1,"max_body":1024,"max_wait_ms":1}"#;
    let mut relay = Scripted::new([
        Reply::Network("connection refused"),
        answer(503, br#"{"error":"restarting"}"#),
        answer(200, info.as_bytes()),
    ]);
    let joined = block(exchange(
        &mut relay,
        Setup::join("http://relay", "s", policy()),
    ))
    .unwrap();
    assert_eq!(joined.me, 1);
    assert_eq!(relay.requests.len(), 3);
    assert!(relay.slept > Duration::ZERO);

    // One that stays away: a set-up error with the last reason, once the policy gives up.
    let mut relay = Scripted::new((0..100).map(|_| Reply::Network("connection refused")));
    match block(exchange(
        &mut relay,
        Setup::join("http://127.0.0.1:9", "s", policy()),
    )) {
        Err(HttpError::Setup(m)) => {
            assert!(
                m.starts_with("cannot reach the relay at http://127.0.0.1:9: connection refused (gave up after"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(relay.slept >= Duration::from_secs(10));
    let mut relay = Scripted::new((0..100).map(|_| answer(503, br#"{"error":"full"}"#)));
    let op = Setup::create_session("http://relay", 2, policy()).unwrap();
    match block(exchange(&mut relay, op)) {
        Err(HttpError::Setup(m)) => assert!(
            m.starts_with("creating a session: HTTP 503: full (gave up"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }

    // What retrying cannot fix fails at once.
    let mut relay = Scripted::new([answer(403, br#"{"error":"wrong token"}"#)]);
    match block(exchange(
        &mut relay,
        Setup::join("http://relay", "s", policy()),
    )) {
        Err(HttpError::Refused {
            status: 403,
            message,
            ..
        }) => assert_eq!(message, "wrong token"),
        other => panic!("{other:?}"),
    }
    let mut relay = Scripted::new([Reply::Unusable]);
    assert!(matches!(
        block(exchange(
            &mut relay,
            Setup::join("http://relay", "s", policy())
        )),
        Err(HttpError::Setup(_))
    ));
    assert_eq!(relay.requests.len(), 1);

    let created = r#"{"session":"s","parties":2,"tokens":["a","b"],"max_body":1024}"#;
    let mut relay = Scripted::new([answer(201, created.as_bytes())]);
    let op = Setup::create_session("http://relay", 2, policy()).unwrap();
    let session = block(exchange(&mut relay, op)).unwrap();
    assert_eq!(session.tokens, ["a", "b"]);
    assert_eq!(relay.requests[0].method, Method::Post);
    assert_eq!(relay.requests[0].path, "/v1/sessions");
}

#[test]
fn a_replaced_client_a_conflicting_resend_and_a_gone_peer_are_typed() {
    let mut joined = joined(1024);
    let mut relay = Scripted::new([answer(412, br#"{"error":"party 0 joined again"}"#)]);
    assert!(matches!(
        send(&mut relay, &mut joined, 1),
        Err(HttpError::Replaced { .. })
    ));
    let mut relay = Scripted::new([answer(422, br#"{"error":"other content"}"#)]);
    assert!(matches!(
        send(&mut relay, &mut joined, 1),
        Err(HttpError::ConflictingResend { party: 1, seq: 1 })
    ));
    let mut relay = Scripted::new([answer(
        424,
        br#"{"error":"party 2 has not been heard from for 25 s"}"#,
    )]);
    match recv(&mut relay, &mut joined, 2) {
        Err(HttpError::Transport(TransportError::PeerGone { party: 2, reason })) => {
            assert!(reason.contains("25 s"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(joined.next_send, [0, 2, 0]);
    assert_eq!(joined.next_recv, [0, 0, 0]);
}

#[test]
fn a_joined_party_resumes_where_the_relay_says_and_sends_its_join_number() {
    let info = r#"{"session":"s","parties":3,"party":0,"max_body":1024,"max_wait_ms":100,
        "epoch":2,"next_send":[0,5,1],"next_recv":[0,3,0],"heartbeat_ms":5000}"#;
    let mut relay = Scripted::new([answer(200, info.as_bytes())]);
    let mut joined = block(exchange(
        &mut relay,
        Setup::join("http://relay", "s", policy()),
    ))
    .unwrap();
    assert!(joined.resumes());
    assert_eq!(joined.heartbeat, Some(Duration::from_secs(5)));
    let mut relay = Scripted::new([answer(204, b""), message(3, b"resumed")]);
    send(&mut relay, &mut joined, 1).unwrap();
    assert_eq!(relay.requests[0].path, "/v1/sessions/s/to/1?seq=5");
    assert_eq!(relay.requests[0].headers, [("x-epoch", "2".to_string())]);
    assert_eq!(recv(&mut relay, &mut joined, 1).unwrap(), b"resumed");
    assert_eq!(
        relay.requests[1].path,
        "/v1/sessions/s/from/1?seq=3&wait_ms=100"
    );
    // Positions that do not fit the session are refused.
    let bad = r#"{"session":"s","parties":3,"party":0,"max_body":1024,"max_wait_ms":100,"next_send":[0]}"#;
    let mut relay = Scripted::new([answer(200, bad.as_bytes())]);
    assert!(matches!(
        block(exchange(
            &mut relay,
            Setup::join("http://relay", "s", policy())
        )),
        Err(HttpError::Protocol(_))
    ));
}

#[test]
fn a_post_owns_its_number_and_reports_what_the_server_says() {
    let mut relay = Scripted::new([answer(500, b"boom")]);
    let op = Post::new(
        "/v1/direct/from/0?seq=7".into(),
        b"c".to_vec().into(),
        7,
        channel_http_proto::backoff::Backoff::new(policy(), 1, "sending"),
    );
    assert_eq!(op.seq(), 7);
    assert!(matches!(
        block(exchange(&mut relay, op)),
        Err(HttpError::Refused { status: 500, .. })
    ));
    let mut relay = Scripted::new([answer(204, b"")]);
    let op = Post::new(
        "/v1/direct/from/0?seq=7".into(),
        b"c".to_vec().into(),
        7,
        channel_http_proto::backoff::Backoff::new(policy(), 1, "sending"),
    );
    block(exchange(&mut relay, op)).unwrap();
    assert_eq!(relay.requests[0].path, "/v1/direct/from/0?seq=7");
}

#[test]
fn a_poll_ahead_asks_for_a_later_message_and_acknowledges_only_what_was_received() {
    let mut joined = joined(1024);
    joined.received(1, 4);
    let mut relay = Scripted::new([answer(204, b""), message(7, b"later")]);
    let op = joined
        .receive_ahead(
            1,
            7,
            5,
            &RecvInfo::new("x", 2, None),
            timing(Duration::from_secs(30)),
            relay.now,
        )
        .unwrap();
    assert_eq!(block(exchange(&mut relay, op)).unwrap(), b"later");
    assert_eq!(
        relay.requests[0].path,
        "/v1/sessions/ab/from/1?seq=7&ack=5&wait_ms=1000"
    );
    // The counter moves when the application takes the messages, in order.
    assert_eq!(joined.next_recv, [0, 5, 0]);
    let later = |p| {
        joined.receive_ahead(
            p,
            1,
            0,
            &RecvInfo::new("x", 0, None),
            timing(Duration::from_secs(1)),
            relay.now,
        )
    };
    assert!(later(1).is_ok());
    assert!(later(0).is_err(), "not from itself");
}

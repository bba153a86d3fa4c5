//! Table-driven bad input against the relay: each kind of bad request gets its
//! exact status code, and afterwards a normal exchange still works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use channel_core::{recv_from, send_to};
use channel_http::protocol::SessionCreated;
use channel_http::relay::RelayConfig;
use channel_http::{ClientOptions, HttpChannel};
use reqwest::{Method, StatusCode};

const OPERATOR: &str = "operator-secret";
const MAX_BODY: usize = 64 * 1024;

/// One request of the table.
struct Row {
    what: &'static str,
    method: Method,
    path: String,
    auth: Option<String>,
    body: Vec<u8>,
    expect: StatusCode,
}

fn row(
    what: &'static str,
    method: Method,
    path: String,
    auth: Option<&str>,
    body: &[u8],
    expect: StatusCode,
) -> Row {
    Row {
        what,
        method,
        path,
        auth: auth.map(str::to_string),
        body: body.to_vec(),
        expect,
    }
}

async fn create(url: &str, parties: usize) -> SessionCreated {
    HttpChannel::create_session(url, parties, Some(OPERATOR), &ClientOptions::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_its_status_and_the_relay_keeps_serving() {
    let (relay, url) = common::start_relay(RelayConfig {
        operator_token: Some(OPERATOR.into()),
        max_body: MAX_BODY,
        max_parties: 8,
        max_sessions: 3,
        ..RelayConfig::default()
    })
    .await;
    let s = create(&url, 3).await;
    let other = create(&url, 2).await;
    let (sid, t0, t1) = (
        s.session.as_str(),
        Some(s.tokens[0].as_str()),
        Some(s.tokens[1].as_str()),
    );
    let op = Some(OPERATOR);
    let to = |p: &str, q: &str| format!("/v1/sessions/{sid}/to/{p}{q}");
    let from = |p: &str, q: &str| format!("/v1/sessions/{sid}/from/{p}{q}");
    let unknown = "0123456789abcdef0123456789abcdef";
    use Method as M;
    use StatusCode as S;

    let table = vec![
        row(
            "unknown route",
            M::GET,
            "/nope".into(),
            None,
            b"",
            S::NOT_FOUND,
        ),
        row(
            "wrong method",
            M::PUT,
            "/v1/sessions".into(),
            op,
            b"",
            S::METHOD_NOT_ALLOWED,
        ),
        row(
            "create without operator token",
            M::POST,
            "/v1/sessions".into(),
            None,
            br#"{"parties":2}"#,
            S::UNAUTHORIZED,
        ),
        row(
            "create with wrong operator token",
            M::POST,
            "/v1/sessions".into(),
            Some("guess"),
            br#"{"parties":2}"#,
            S::FORBIDDEN,
        ),
        row(
            "create with bad JSON",
            M::POST,
            "/v1/sessions".into(),
            op,
            b"{parties:",
            S::BAD_REQUEST,
        ),
        row(
            "create with one party",
            M::POST,
            "/v1/sessions".into(),
            op,
            br#"{"parties":1}"#,
            S::UNPROCESSABLE_ENTITY,
        ),
        row(
            "create with too many parties",
            M::POST,
            "/v1/sessions".into(),
            op,
            br#"{"parties":9}"#,
            S::UNPROCESSABLE_ENTITY,
        ),
        row(
            "malformed session id",
            M::GET,
            "/v1/sessions/xyz".into(),
            t0,
            b"",
            S::BAD_REQUEST,
        ),
        row(
            "unknown session",
            M::GET,
            format!("/v1/sessions/{unknown}"),
            t0,
            b"",
            S::NOT_FOUND,
        ),
        row(
            "missing Authorization",
            M::POST,
            to("1", "?seq=0"),
            None,
            b"x",
            S::UNAUTHORIZED,
        ),
        row(
            "non-bearer Authorization",
            M::POST,
            to("1", "?seq=0"),
            Some("ignored"),
            b"x",
            S::UNAUTHORIZED,
        ),
        row(
            "wrong token",
            M::POST,
            to("1", "?seq=0"),
            Some(&"f".repeat(64)),
            b"x",
            S::FORBIDDEN,
        ),
        row(
            "token of another session",
            M::POST,
            to("1", "?seq=0"),
            Some(&other.tokens[0]),
            b"x",
            S::FORBIDDEN,
        ),
        row(
            "party out of range",
            M::POST,
            to("3", "?seq=0"),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        row(
            "party with a sign",
            M::POST,
            to("+1", "?seq=0"),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        row(
            "party with a leading zero",
            M::POST,
            to("01", "?seq=0"),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        row(
            "seq with a leading zero",
            M::POST,
            to("1", "?seq=00"),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        row(
            "party not a number",
            M::POST,
            to("abc", "?seq=0"),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        row(
            "send to self",
            M::POST,
            to("0", "?seq=0"),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        row(
            "missing seq",
            M::POST,
            to("1", ""),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        row(
            "seq not a number",
            M::POST,
            to("1", "?seq=-1"),
            t0,
            b"x",
            S::BAD_REQUEST,
        ),
        // Up to 64 ahead are held (requests in flight overtake each other).
        row(
            "seq gap beyond what is held ahead",
            M::POST,
            to("1", "?seq=64"),
            t0,
            b"x",
            S::CONFLICT,
        ),
        row(
            "oversize body",
            M::POST,
            to("1", "?seq=0"),
            t0,
            &vec![0; MAX_BODY + 1],
            S::PAYLOAD_TOO_LARGE,
        ),
        row(
            "receive from out of range",
            M::GET,
            from("7", "?seq=0"),
            t1,
            b"",
            S::BAD_REQUEST,
        ),
        row(
            "wait_ms not a number",
            M::GET,
            from("0", "?seq=0&wait_ms=soon"),
            t1,
            b"",
            S::BAD_REQUEST,
        ),
        row(
            "receive ahead of the sender",
            M::GET,
            from("0", "?seq=1"),
            t1,
            b"",
            S::CONFLICT,
        ),
        row(
            "ack beyond what is asked for",
            M::GET,
            from("0", "?seq=0&ack=1"),
            t1,
            b"",
            S::CONFLICT,
        ),
        row(
            "receive further ahead of its ack than 64",
            M::GET,
            from("0", "?seq=64&ack=0"),
            t1,
            b"",
            S::CONFLICT,
        ),
        row(
            "ack not a number",
            M::GET,
            from("0", "?seq=0&ack=x"),
            t1,
            b"",
            S::BAD_REQUEST,
        ),
        // A valid message 0, received, then acknowledged by asking for 1 ...
        row(
            "(setup) send message 0",
            M::POST,
            to("1", "?seq=0"),
            t0,
            b"m0",
            S::NO_CONTENT,
        ),
        row(
            "(setup) resend message 0",
            M::POST,
            to("1", "?seq=0"),
            t0,
            b"m0",
            S::NO_CONTENT,
        ),
        row(
            "(setup) receive message 0",
            M::GET,
            from("0", "?seq=0"),
            t1,
            b"",
            S::OK,
        ),
        row(
            "(setup) ask for 1: acknowledges 0",
            M::GET,
            from("0", "?seq=1&wait_ms=0"),
            t1,
            b"",
            S::NO_CONTENT,
        ),
        // ... so asking for 0 again is too late.
        row(
            "receive an acknowledged message",
            M::GET,
            from("0", "?seq=0"),
            t1,
            b"",
            S::GONE,
        ),
        row(
            "(setup) third session",
            M::POST,
            "/v1/sessions".into(),
            op,
            br#"{"parties":2}"#,
            S::CREATED,
        ),
        row(
            "session limit reached",
            M::POST,
            "/v1/sessions".into(),
            op,
            br#"{"parties":2}"#,
            S::SERVICE_UNAVAILABLE,
        ),
        row(
            "stats with a party token when an operator exists",
            M::GET,
            format!("/v1/sessions/{sid}/stats"),
            t0,
            b"",
            S::FORBIDDEN,
        ),
        row(
            "goodbye without a token",
            M::POST,
            format!("/v1/sessions/{sid}/leave"),
            None,
            br#"{"sent":[0,0,0]}"#,
            S::UNAUTHORIZED,
        ),
        row(
            "goodbye with another session's token",
            M::POST,
            format!("/v1/sessions/{sid}/leave"),
            Some(&other.tokens[0]),
            br#"{"sent":[0,0,0]}"#,
            S::FORBIDDEN,
        ),
        row(
            "goodbye that is not JSON",
            M::POST,
            format!("/v1/sessions/{sid}/leave"),
            t1,
            b"bye",
            S::BAD_REQUEST,
        ),
        row(
            "goodbye counting 2 parties of 3",
            M::POST,
            format!("/v1/sessions/{sid}/leave"),
            t1,
            br#"{"sent":[0,0]}"#,
            S::UNPROCESSABLE_ENTITY,
        ),
    ];
    let bad_kinds = table
        .iter()
        .filter(|r| !r.what.starts_with("(setup)"))
        .count();
    assert!(
        bad_kinds >= 12,
        "the table must cover at least 12 kinds of bad request"
    );

    let client = reqwest::Client::new();
    for r in table {
        let mut request = client
            .request(r.method.clone(), format!("{url}{}", r.path))
            .body(r.body);
        if let Some(auth) = &r.auth {
            let value = if auth == "ignored" {
                "Basic abc".to_string()
            } else {
                format!("Bearer {auth}")
            };
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(
            status, r.expect,
            "{}: {} {} answered {text}",
            r.what, r.method, r.path
        );
        if !status.is_success() {
            // Every error answer, also 405 and 413, is JSON as API.md says.
            let json: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{}: error body should be JSON, got {text}", r.what));
            assert!(json["error"].is_string(), "{}: {text}", r.what);
        }
    }

    // The relay still works: the acknowledged message is gone, the duplicate was not stored,
    // and a normal typed exchange goes through.
    let stats = relay.session_stats(sid).await.unwrap();
    assert_eq!(
        (stats.messages, stats.duplicates, stats.queued_bytes),
        (1, 1, 0)
    );
    let opts = ClientOptions::default();
    // (Plaintext: party 0 of this session is the raw requests above.)
    let mut p2 = HttpChannel::join_plaintext_insecure(&url, sid, &s.tokens[2], &opts)
        .await
        .unwrap();
    let mut p1 = HttpChannel::join_plaintext_insecure(&url, sid, &s.tokens[1], &opts)
        .await
        .unwrap();
    send_to(&mut p2, 1, "after", &vec![1u32, 2, 3])
        .await
        .unwrap();
    let got: Vec<u32> = recv_from(&mut p1, 2, "after").await.unwrap();
    assert_eq!(got, vec![1, 2, 3]);
    let health: serde_json::Value = client
        .get(format!("{url}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    relay.shutdown();
}

/// Sends `head` (and nothing more) on a raw connection and returns what the
/// server answers within 5 s.
async fn raw(url: &str, head: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        // Bounded by the timeout around it, and by the server closing.
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_refused_before_reading_and_answered_as_json() {
    let (relay, url) = common::start_relay(RelayConfig::default()).await;
    let s = create_open(&url).await;
    let target = format!("/v1/sessions/{}/to/1?seq=0", s.session);
    let auth = format!("authorization: Bearer {}\r\n", s.tokens[0]);

    // A 1 GB Content-Length: 413 at once, no 100 Continue, nothing read.
    let head = format!(
        "POST {target} HTTP/1.1\r\nhost: x\r\n{auth}content-length: 1000000000\r\nexpect: 100-continue\r\n\r\n"
    );
    let answer = raw(&url, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(answer.contains("{\"error\":"), "{answer}");

    // An over-long target, over-long headers, a path that is not UTF-8.
    let long = format!(
        "GET /v1/sessions/{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(5000)
    );
    let answer = raw(&url, long.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    assert!(answer.contains("{\"error\":"), "{answer}");
    let big = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-junk: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    let answer = raw(&url, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(answer.contains("{\"error\":"), "{answer}");
    let answer = raw(
        &url,
        b"POST /v1/sessions/%FF%FE/to/1?seq=0 HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("{\"error\":"), "{answer}");
    relay.shutdown();
}

async fn create_open(url: &str) -> SessionCreated {
    HttpChannel::create_session(url, 2, None, &ClientOptions::default())
        .await
        .unwrap()
}

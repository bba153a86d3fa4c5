//! A relay that lies: the client bounds what it believes and what it reads
//! (session sizes, body limits, message bodies), on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::get;
use channel_core::{Channel, RecvInfo};
use channel_http::{ClientOptions, HttpChannel, HttpError};

/// Serves `info` as the session answer and `body` (declared or streamed) as
/// every message; returns the relay's URL.
async fn hostile(info: serde_json::Value, body: usize, declared: bool) -> String {
    let message = move || async move {
        let builder = Response::builder().header("x-seq", "0");
        if declared {
            builder.body(Body::from(vec![7u8; body])).unwrap()
        } else {
            let chunks = (0..body / 4096).map(|_| Ok::<_, std::io::Error>(vec![7u8; 4096]));
            builder
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .unwrap()
        }
    };
    let app = Router::new()
        .route(
            "/v1/sessions/{id}",
            get(move || async move { axum::Json(info) }),
        )
        .route("/v1/sessions/{id}/from/{from}", get(message));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn info(parties: u64, party: u64, max_body: u64) -> serde_json::Value {
    serde_json::json!({
        "session": "s", "parties": parties, "party": party,
        "max_body": max_body, "max_wait_ms": 100
    })
}

async fn join(url: &str) -> Result<HttpChannel, HttpError> {
    // The transport's own bounds, beneath sealing (which would refuse a
    // forged message anyway).
    HttpChannel::join_plaintext_insecure(url, "s", "t", &ClientOptions::default()).await
}

#[tokio::test]
async fn impossible_session_answers_are_refused_before_anything_is_sized_by_them() {
    for (what, answer) in [
        ("2^40 parties", info(1 << 40, 0, 1 << 20)),
        ("the caller outside the session", info(3, 3, 1 << 20)),
        ("a 1 TiB body limit", info(2, 0, 1 << 40)),
        ("a body limit below a frame footer", info(2, 0, 10)),
    ] {
        let url = hostile(answer, 0, true).await;
        match join(&url).await {
            Err(HttpError::Protocol(_)) => {}
            other => panic!("{what}: expected a protocol error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_message_beyond_the_announced_body_limit_is_refused_not_read() {
    for declared in [true, false] {
        let url = hostile(info(2, 0, 1024), 1 << 20, declared).await;
        let mut ch = join(&url).await.unwrap();
        let got = ch.recv_bytes_from(1, RecvInfo::new("big", 0, None)).await;
        match got {
            Err(HttpError::Protocol(m)) => assert!(m.contains("1024"), "{m}"),
            other => panic!("declared={declared}: expected a protocol error, got {other:?}"),
        }
    }
}

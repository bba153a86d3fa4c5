//! Direct mode only accepts a chunk "from party i" with the key party i shares
//! with the receiver: a party cannot impersonate another, nor an outsider anyone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::{recv_from, send_to};
use channel_http::{DirectChannel, DirectConfig, DirectOptions};
use reqwest::StatusCode;
use tokio::net::TcpListener;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_right_pairwise_key_is_accepted() {
    let mut listeners = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..3 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push(format!("http://{}", l.local_addr().unwrap()));
        listeners.push(l);
    }
    let (keys, public) = channel_http::local::keys(3).unwrap();
    let tables = DirectConfig::generate(&urls, &public).unwrap();
    let starting = listeners
        .into_iter()
        .zip(tables.clone())
        .zip(&keys)
        .map(|((l, t), key)| DirectChannel::start(l, t, key, DirectOptions::default()));
    let mut parties: Vec<DirectChannel> = futures::future::join_all(starting)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(parties.iter().all(DirectChannel::is_sealed));
    let client = reqwest::Client::new();
    let post = |path: String, key: Option<String>| {
        let mut r = client
            .post(format!("{}{path}", urls[0]))
            .body(b"spoof".to_vec());
        if let Some(key) = key {
            r = r.bearer_auth(key);
        }
        r.send()
    };
    // Party 2 tries to pass as party 1 towards party 0, with the key it shares with 0.
    let key_2_0 = tables[2].peers[0].key.clone();
    assert_eq!(
        post("/v1/direct/from/1?seq=0".into(), Some(key_2_0.clone()))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // ... or with the key it shares with party 1.
    let key_2_1 = tables[2].peers[1].key.clone();
    assert_eq!(
        post("/v1/direct/from/1?seq=0".into(), Some(key_2_1))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    // No key, a made-up key, an unknown party, a sender claiming to be the receiver.
    assert_eq!(
        post("/v1/direct/from/1?seq=0".into(), None)
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post("/v1/direct/from/1?seq=0".into(), Some("0".repeat(64)))
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post("/v1/direct/from/9?seq=0".into(), Some(key_2_0.clone()))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post("/v1/direct/from/0?seq=0".into(), Some(key_2_0.clone()))
            .await
            .unwrap()
            .status(),
        StatusCode::BAD_REQUEST
    );
    // A gap beyond what an endpoint holds ahead (64) is refused even with
    // the right key (the handshake used number 0 of this link).
    assert_eq!(
        post("/v1/direct/from/2?seq=70".into(), Some(key_2_0))
            .await
            .unwrap()
            .status(),
        StatusCode::CONFLICT
    );

    // None of that reached party 0's inbox: the real messages arrive first and intact.
    send_to(&mut parties[1], 0, "real", &11u32).await.unwrap();
    send_to(&mut parties[2], 0, "real", &22u32).await.unwrap();
    let from_1: u32 = recv_from(&mut parties[0], 1, "real").await.unwrap();
    let from_2: u32 = recv_from(&mut parties[0], 2, "real").await.unwrap();
    assert_eq!((from_1, from_2), (11, 22));
}

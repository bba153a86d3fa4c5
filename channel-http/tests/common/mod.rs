//! Loopback fixtures shared by the tests: relays and direct-mode parties on
//! 127.0.0.1 with port 0.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use channel_core::BoxError;
use channel_http::relay::{Relay, RelayConfig};
use channel_http::{ClientOptions, DirectChannel, DirectConfig, DirectOptions, HttpChannel};
use tokio::net::TcpListener;

/// A relay serving on 127.0.0.1; stops when the returned `Relay` is shut down.
pub async fn start_relay(config: RelayConfig) -> (Relay, String) {
    let relay = Relay::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(channel_http::serve(
        listener,
        relay.router(),
        relay.shutdown_signal(),
    ));
    (relay, url)
}

/// `n` parties of a fresh session on the relay at `url`.
pub async fn relay_parties(
    url: &str,
    n: usize,
    opts: &ClientOptions,
) -> Result<Vec<HttpChannel>, BoxError> {
    let session = HttpChannel::create_session(url, n, None, opts).await?;
    let mut parties = Vec::with_capacity(n);
    for token in &session.tokens {
        parties.push(HttpChannel::join(url, &session.session, token, opts).await?);
    }
    Ok(parties)
}

/// `n` direct-mode parties on 127.0.0.1.
pub async fn direct_parties(
    n: usize,
    opts: &DirectOptions,
) -> Result<Vec<DirectChannel>, BoxError> {
    let mut listeners = Vec::with_capacity(n);
    let mut urls = Vec::with_capacity(n);
    for _ in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        urls.push(format!("http://{}", listener.local_addr()?));
        listeners.push(listener);
    }
    let tables = DirectConfig::generate(&urls)?;
    let mut parties = Vec::with_capacity(n);
    for (listener, table) in listeners.into_iter().zip(tables) {
        parties.push(DirectChannel::start(listener, table, opts.clone()).await?);
    }
    Ok(parties)
}

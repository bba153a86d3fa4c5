//! Parties on this machine: a relay, or direct-mode endpoints, on 127.0.0.1
//! with ports the OS picks, and the parties of a fresh session on them,
//! sealed end to end (each with a fresh key) unless a function says
//! `plaintext_insecure`. For tests, examples, demos and benchmarks, so that
//! "n parties on loopback" is written once.
//!
//! ```
//! use channel_core::{recv_from, send_to};
//! use channel_http::local;
//! use channel_http::relay::RelayConfig;
//! use channel_http::ClientOptions;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut net = local::relay_network(2, RelayConfig::default(), &ClientOptions::default()).await?;
//! assert!(net.parties.iter().all(|p| p.is_sealed()));
//! send_to(&mut net.parties[0], 1, "hello", &7u32).await?;
//! let got: u32 = recv_from(&mut net.parties[1], 0, "hello").await?;
//! assert_eq!(got, 7);
//! net.relay.shutdown();
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;

use channel_seal::{Invitation, PartyKey, PublicKey};
use tokio::net::TcpListener;

use crate::relay::{Relay, RelayConfig, RelayStore};
use crate::{ClientOptions, DirectChannel, DirectConfig, DirectOptions, HttpChannel, HttpError};

/// A TCP listener on a free port of 127.0.0.1 and its `http://` URL.
pub async fn listener() -> Result<(TcpListener, String), HttpError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| HttpError::Setup(format!("cannot bind 127.0.0.1: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| HttpError::Setup(format!("no local address: {e}")))?;
    Ok((listener, format!("http://{addr}")))
}

/// The environment variable that puts the relays of [`start_relay`] on a
/// Redis store (`redis://host:port/db`): how `cargo xtask test-all` runs the
/// relay's whole test suite against both stores.
pub const STORE_VARIABLE: &str = "CHANNEL_RELAY_TEST_REDIS";

/// A relay with `config` serving on a free port of 127.0.0.1 (in a task of the
/// current tokio runtime), and its URL. It serves until [`Relay::shutdown`].
///
/// Its sessions are in memory, or in the Redis named by the environment
/// variable [`STORE_VARIABLE`] if set, under a namespace of its own (so that
/// relays started side by side do not share their sessions or budgets).
pub async fn start_relay(config: RelayConfig) -> Result<(Relay, String), HttpError> {
    let store = match std::env::var(STORE_VARIABLE) {
        Ok(url) if !url.is_empty() => {
            let namespace = crate::auth::random_hex(8)
                .map_err(|e| HttpError::Setup(format!("no randomness: {e}")))?;
            RelayStore::Redis {
                url,
                namespace: format!("test-{namespace}"),
            }
        }
        _ => RelayStore::Memory,
    };
    start_relay_on(config, &store).await
}

/// [`start_relay`] with its sessions in `store`.
pub async fn start_relay_on(
    config: RelayConfig,
    store: &RelayStore,
) -> Result<(Relay, String), HttpError> {
    config
        .check()
        .map_err(|e| HttpError::Setup(e.to_string()))?;
    let relay = Relay::with_store(config, store)
        .await
        .map_err(|e| HttpError::Setup(e.to_string()))?;
    let (listener, url) = listener().await?;
    let serving = crate::serve(listener, relay.router(), relay.shutdown_signal());
    tokio::spawn(async move {
        if let Err(e) = serving.await {
            tracing::warn!("the local relay stopped: {e}");
        }
    });
    Ok((relay, url))
}

/// `n` fresh party keys and their table of public keys.
pub fn keys(n: usize) -> Result<(Vec<PartyKey>, Vec<PublicKey>), HttpError> {
    let keys = (0..n)
        .map(|_| PartyKey::generate())
        .collect::<Result<Vec<_>, _>>()?;
    let table = keys.iter().map(PartyKey::public).collect();
    Ok((keys, table))
}

/// Joins every invitation with its key, all at once (each join waits for the
/// others' handshakes); party `i` at index `i`.
pub async fn join_all(
    invitations: &[Invitation],
    keys: &[PartyKey],
    options: &ClientOptions,
) -> Result<Vec<HttpChannel>, HttpError> {
    let joining = invitations
        .iter()
        .zip(keys)
        .map(|(invitation, key)| HttpChannel::join(invitation, key, options));
    futures::future::join_all(joining)
        .await
        .into_iter()
        .collect()
}

/// The `n` sealed parties of a fresh session on the relay at `url`, party `i`
/// at index `i`, each with a fresh key.
pub async fn join_session(
    url: &str,
    n: usize,
    options: &ClientOptions,
) -> Result<Vec<HttpChannel>, HttpError> {
    let (keys, table) = keys(n)?;
    let invitations = HttpChannel::invite(url, &table, None, options).await?;
    join_all(&invitations, &keys, options).await
}

/// The `n` parties of a fresh session on the relay at `url` **without
/// sealing** (see [`HttpChannel::join_plaintext_insecure`]).
pub async fn join_session_plaintext_insecure(
    url: &str,
    n: usize,
    options: &ClientOptions,
) -> Result<Vec<HttpChannel>, HttpError> {
    let session = HttpChannel::create_session(url, n, None, options).await?;
    let mut parties = Vec::with_capacity(n);
    for token in &session.tokens {
        parties.push(
            HttpChannel::join_plaintext_insecure(url, &session.session, token, options).await?,
        );
    }
    Ok(parties)
}

/// A relay on 127.0.0.1 and the parties of one session on it.
#[derive(Debug)]
pub struct RelayNetwork {
    /// The relay; shut it down when done.
    pub relay: Relay,
    /// Its URL.
    pub url: String,
    /// Party `i` of the session at index `i`.
    pub parties: Vec<HttpChannel>,
}

async fn network_with(
    config: RelayConfig,
    join: impl AsyncFnOnce(&str) -> Result<Vec<HttpChannel>, HttpError>,
) -> Result<RelayNetwork, HttpError> {
    let (relay, url) = start_relay(config).await?;
    network_of(relay, url, join).await
}

async fn network_of(
    relay: Relay,
    url: String,
    join: impl AsyncFnOnce(&str) -> Result<Vec<HttpChannel>, HttpError>,
) -> Result<RelayNetwork, HttpError> {
    match join(&url).await {
        Ok(parties) => Ok(RelayNetwork {
            relay,
            url,
            parties,
        }),
        Err(e) => {
            relay.shutdown();
            Err(e)
        }
    }
}

/// A relay with `config` on 127.0.0.1 and the `n` sealed parties of a fresh
/// session on it.
pub async fn relay_network(
    n: usize,
    config: RelayConfig,
    options: &ClientOptions,
) -> Result<RelayNetwork, HttpError> {
    network_with(config, async |url| join_session(url, n, options).await).await
}

/// [`relay_network`] with the relay's sessions in `store`.
pub async fn relay_network_on(
    n: usize,
    config: RelayConfig,
    options: &ClientOptions,
    store: &RelayStore,
) -> Result<RelayNetwork, HttpError> {
    let (relay, url) = start_relay_on(config, store).await?;
    network_of(relay, url, async |url| join_session(url, n, options).await).await
}

/// [`relay_network`] with each party reaching the relay where `route` says:
/// `route(party, relay)` returns the address party `party` connects to
/// instead of the relay's own `relay` (a proxy in front of it, such as
/// channel-sim's link emulator, to put the party on a WAN).
///
/// ```
/// use channel_http::{ClientOptions, local, relay::RelayConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), channel_http::HttpError> {
/// let mut seen = Vec::new();
/// let net = local::relay_network_routed(2, RelayConfig::default(), &ClientOptions::default(),
///     async |party, relay| { seen.push(party); Ok(relay) }).await?;
/// assert_eq!(seen, [0, 1]);
/// net.relay.shutdown();
/// # Ok(())
/// # }
/// ```
pub async fn relay_network_routed(
    n: usize,
    config: RelayConfig,
    options: &ClientOptions,
    mut route: impl AsyncFnMut(usize, SocketAddr) -> std::io::Result<SocketAddr>,
) -> Result<RelayNetwork, HttpError> {
    network_with(config, async |url| {
        let relay = addr_of(url)?;
        let (keys, table) = keys(n)?;
        let mut invitations = HttpChannel::invite(url, &table, None, options).await?;
        for invitation in &mut invitations {
            let via = route(invitation.party, relay).await.map_err(unroutable)?;
            invitation.relay = format!("http://{via}");
        }
        join_all(&invitations, &keys, options).await
    })
    .await
}

/// The address of a local `http://` URL.
fn addr_of(url: &str) -> Result<SocketAddr, HttpError> {
    url.strip_prefix("http://")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
        .ok_or_else(|| HttpError::Setup(format!("'{url}' is not a local http:// address")))
}

fn unroutable(e: std::io::Error) -> HttpError {
    HttpError::Setup(format!("cannot route a party: {e}"))
}

/// [`relay_network`] **without sealing**: the relay sees every chunk.
pub async fn relay_network_plaintext_insecure(
    n: usize,
    config: RelayConfig,
    options: &ClientOptions,
) -> Result<RelayNetwork, HttpError> {
    network_with(config, async |url| {
        join_session_plaintext_insecure(url, n, options).await
    })
    .await
}

/// `n` listeners on 127.0.0.1 and the tables of a direct-mode computation
/// between them, for the public keys `table`; peers reach party `i` at
/// `route(i, its listener's address)`.
async fn direct_tables(
    table: &[PublicKey],
    mut route: impl AsyncFnMut(usize, SocketAddr) -> std::io::Result<SocketAddr>,
) -> Result<(Vec<TcpListener>, Vec<DirectConfig>), HttpError> {
    let mut listeners = Vec::with_capacity(table.len());
    let mut urls = Vec::with_capacity(table.len());
    for party in 0..table.len() {
        let (listener, url) = listener().await?;
        let via = route(party, addr_of(&url)?).await.map_err(unroutable)?;
        listeners.push(listener);
        urls.push(format!("http://{via}"));
    }
    let tables = DirectConfig::generate(&urls, table)?;
    Ok((listeners, tables))
}

/// Peers reach each party at its own listener.
async fn no_route(_: usize, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    Ok(addr)
}

/// `n` sealed direct-mode parties, each serving its endpoint on 127.0.0.1,
/// with a fresh key each and a fresh request key per pair.
pub async fn direct_network(
    n: usize,
    options: &DirectOptions,
) -> Result<Vec<DirectChannel>, HttpError> {
    direct_network_routed(n, options, no_route).await
}

/// [`direct_network`] with peers reaching party `i` where `route(i, addr)`
/// says, instead of at its listener's `addr` (a proxy in front of it, such as
/// channel-sim's link emulator, to put the party on a WAN).
pub async fn direct_network_routed(
    n: usize,
    options: &DirectOptions,
    route: impl AsyncFnMut(usize, SocketAddr) -> std::io::Result<SocketAddr>,
) -> Result<Vec<DirectChannel>, HttpError> {
    let (keys, table) = keys(n)?;
    let (listeners, tables) = direct_tables(&table, route).await?;
    let starting = listeners
        .into_iter()
        .zip(tables)
        .zip(&keys)
        .map(|((listener, config), key)| {
            DirectChannel::start(listener, config, key, options.clone())
        });
    futures::future::join_all(starting)
        .await
        .into_iter()
        .collect()
}

/// [`direct_network`] **without sealing**.
pub async fn direct_network_plaintext_insecure(
    n: usize,
    options: &DirectOptions,
) -> Result<Vec<DirectChannel>, HttpError> {
    let (_, table) = keys(n)?;
    let (listeners, tables) = direct_tables(&table, no_route).await?;
    // All at once: starting asks every peer where its link stands.
    let starting = listeners.into_iter().zip(tables).map(|(listener, config)| {
        DirectChannel::start_plaintext_insecure(listener, config, options.clone())
    });
    futures::future::join_all(starting)
        .await
        .into_iter()
        .collect()
}

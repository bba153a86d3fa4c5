//! Polytune's engine computes real functions over every transport of this
//! workspace that can share its build (channel-p2p cannot: see the README),
//! each output checked against plain Rust, with messages larger than the
//! transports' chunks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::time::Duration;

use channel_polytune::check::{Computation, Run, run};
use channel_polytune::{BlockingPolytuneChannel, EngineChannel, PolytuneChannel, polytune};

/// Small chunks, so that Polytune's larger messages are cut and joined again.
const CHUNK: usize = 16 << 10;
/// Every run is bounded: a hang fails the test instead of holding CI.
const LIMIT: Duration = Duration::from_secs(300);

fn computations() -> Vec<Computation> {
    vec![
        Computation::largest_of(&[3_000_000_000, 17, 3_000_000_001]).unwrap(),
        Computation::dot_product(16, 7).unwrap(),
    ]
}

/// Runs `computation` over `channels` within [`LIMIT`]: `run` checks every
/// output, this that messages did exceed a chunk.
async fn run_chunked<C: EngineChannel>(label: &str, computation: &Computation, channels: Vec<C>) {
    let done = tokio::time::timeout(LIMIT, run(computation, channels))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{label} '{}': not done within {LIMIT:?}",
                computation.name()
            )
        })
        .unwrap_or_else(|e| panic!("{label} '{}': {e}", computation.name()));
    assert_chunked(computation, &done);
}

fn assert_chunked(computation: &Computation, done: &Run) {
    let largest = done.sent.iter().map(|s| s.largest).max().unwrap_or(0);
    assert!(
        largest > CHUNK as u64,
        "'{}': the largest message ({largest} B) should exceed the chunk size ({CHUNK} B)",
        computation.name()
    );
    eprintln!("'{}': {done:?}", computation.name());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_channel_tokio() {
    for computation in computations() {
        let channels = channel_tokio::TokioChannel::builder(computation.parties())
            .chunk_size(CHUNK)
            .build()
            .into_iter()
            .map(PolytuneChannel::new)
            .collect();
        run_chunked("channel-tokio", &computation, channels).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_channel_std_through_the_blocking_path() {
    for computation in computations() {
        let channels = channel_std::StdChannel::builder(computation.parties())
            .chunk_size(CHUNK)
            .build()
            .into_iter()
            .map(BlockingPolytuneChannel::new)
            .collect();
        run_chunked("channel-std", &computation, channels).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_channel_tcp_with_mutual_tls() {
    let options = channel_tcp::TcpOptions {
        chunk_size: CHUNK,
        ..Default::default()
    };
    for computation in computations() {
        let channels = channel_tcp::local::network(computation.parties(), &options)
            .await
            .unwrap()
            .into_iter()
            .map(PolytuneChannel::new)
            .collect();
        run_chunked("channel-tcp", &computation, channels).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_over_channel_tokio() {
    for computation in computations() {
        let n = computation.parties();
        let keys: Vec<_> = (0..n)
            .map(|_| channel_seal::PartyKey::generate().unwrap())
            .collect();
        let table: Vec<_> = keys.iter().map(channel_seal::PartyKey::public).collect();
        let network = channel_tokio::TokioChannel::builder(n)
            .chunk_size(CHUNK)
            .build();
        let sealed =
            futures::future::try_join_all(network.into_iter().enumerate().map(|(me, channel)| {
                channel_seal::Sealed::establish(channel, me, &keys[me], &table, b"polytune")
            }))
            .await
            .unwrap();
        let channels = sealed.into_iter().map(PolytuneChannel::new).collect();
        run_chunked("sealed channel-tokio", &computation, channels).await;
    }
}

/// A party that leaves makes its peers' Polytune runs fail at once, naming
/// it, instead of waiting for the receive timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_leaves_fails_the_others_at_once_over_tcp() {
    let computation = Computation::largest_of(&[1, 2, 3]).unwrap();
    let mut channels = channel_tcp::local::network(3, &channel_tcp::TcpOptions::default())
        .await
        .unwrap();
    drop(channels.pop()); // Party 2 says goodbye.
    let everyone = [0, 1, 2];
    let runs = channels.into_iter().enumerate().map(|(me, channel)| {
        let computation = &computation;
        async move {
            let channel = PolytuneChannel::new(channel);
            polytune::mpc(
                &channel,
                computation.circuit(),
                computation.input(me),
                0,
                me,
                &everyone,
                None,
            )
            .await
        }
    });
    let outcomes = tokio::time::timeout(Duration::from_secs(30), futures::future::join_all(runs))
        .await
        .expect("the others learn of the goodbye well before the 300 s receive timeout");
    let errors: Vec<String> = outcomes
        .into_iter()
        .map(|outcome| {
            format!(
                "{:?}",
                outcome.expect_err("no party can finish without party 2")
            )
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("party: 2") && e.contains("closed its channel")),
        "{errors:#?}"
    );
}

/// The relay, sealed end to end (the relay sees only sizes and timing), over
/// its WebSocket and over its long-poll routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_over_the_relay() {
    use channel_http::relay::RelayConfig;
    use channel_http::{ClientOptions, RelayTransport, local};
    for transport in [RelayTransport::WebSocket, RelayTransport::LongPoll] {
        let options = ClientOptions {
            transport,
            ..ClientOptions::default()
        };
        let config = RelayConfig {
            // Small bodies, so that Polytune's messages take many chunks.
            max_body: CHUNK + 1024,
            ..RelayConfig::default()
        };
        for computation in computations() {
            let net = local::relay_network(computation.parties(), config.clone(), &options)
                .await
                .unwrap();
            assert!(
                net.parties
                    .iter()
                    .all(|p| p.is_sealed() && p.transport() == transport)
            );
            let relay = net.relay;
            let channels = net.parties.into_iter().map(PolytuneChannel::new).collect();
            run_chunked(&format!("{transport:?}"), &computation, channels).await;
            relay.shutdown();
        }
    }
}

/// channel-http's direct mode: each party's own endpoint, sealed end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_over_http_direct_mode() {
    let options = channel_http::DirectOptions {
        max_body: CHUNK + 1024,
        ..Default::default()
    };
    for computation in computations() {
        let parties = channel_http::local::direct_network(computation.parties(), &options)
            .await
            .unwrap();
        assert!(parties.iter().all(channel_http::DirectChannel::is_sealed));
        let channels = parties.into_iter().map(PolytuneChannel::new).collect();
        run_chunked("direct mode", &computation, channels).await;
    }
}

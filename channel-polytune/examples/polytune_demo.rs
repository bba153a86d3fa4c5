//! Polytune's engine over every transport it can share a build with, next to
//! Polytune's own in-memory channel, measured in the same run: the
//! `cargo xtask demo --polytune` table.
//!
//! ```sh
//! cargo run --manifest-path channel-polytune/Cargo.toml --example polytune_demo [-- --quick] [-- --runs N]
//! ```
//!
//! Every output is checked against plain Rust; a wrong one, or a failed run,
//! ends the demo with an error.

use std::time::Duration;

use channel_polytune::check::{Computation, Run, run};
use channel_polytune::polytune::channel::SimpleChannel;
use channel_polytune::{BlockingPolytuneChannel, PolytuneChannel};

type Failure = Box<dyn std::error::Error>;

/// Each transport's parties for a computation of `n` parties, run once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Baseline,
    Tokio,
    Std,
    SealedTokio,
    Tcp,
    RelayWebSocket,
    RelayLongPoll,
    Direct,
}

impl Transport {
    const ALL: [Transport; 8] = [
        Transport::Baseline,
        Transport::Tokio,
        Transport::Std,
        Transport::SealedTokio,
        Transport::Tcp,
        Transport::RelayWebSocket,
        Transport::RelayLongPoll,
        Transport::Direct,
    ];

    fn name(self) -> &'static str {
        match self {
            Transport::Baseline => "Polytune's SimpleChannel",
            Transport::Tokio => "channel-tokio",
            Transport::Std => "channel-std (blocking)",
            Transport::SealedTokio => "channel-seal over tokio",
            Transport::Tcp => "channel-tcp (mutual TLS)",
            Transport::RelayWebSocket => "relay, WebSocket (sealed)",
            Transport::RelayLongPoll => "relay, long-poll (sealed)",
            Transport::Direct => "http direct (sealed)",
        }
    }

    /// Sets up the parties (not timed) and runs `computation` over them.
    async fn run(self, computation: &Computation) -> Result<Run, Failure> {
        let n = computation.parties();
        Ok(match self {
            Transport::Baseline => run(computation, SimpleChannel::channels(n)).await?,
            Transport::Tokio => {
                let parties = channel_tokio::TokioChannel::network(n);
                run(computation, adapt(parties)).await?
            }
            Transport::Std => {
                let parties = channel_std::StdChannel::network(n);
                let parties = parties
                    .into_iter()
                    .map(BlockingPolytuneChannel::new)
                    .collect();
                run(computation, parties).await?
            }
            Transport::SealedTokio => {
                let keys = (0..n)
                    .map(|_| channel_seal::PartyKey::generate())
                    .collect::<Result<Vec<_>, _>>()?;
                let table: Vec<_> = keys.iter().map(channel_seal::PartyKey::public).collect();
                let network = channel_tokio::TokioChannel::network(n);
                let parties = futures::future::try_join_all(network.into_iter().enumerate().map(
                    |(me, channel)| {
                        channel_seal::Sealed::establish(channel, me, &keys[me], &table, b"demo")
                    },
                ))
                .await?;
                run(computation, adapt(parties)).await?
            }
            Transport::Tcp => {
                let options = channel_tcp::TcpOptions::default();
                let parties = channel_tcp::local::network(n, &options).await?;
                run(computation, adapt(parties)).await?
            }
            Transport::RelayWebSocket | Transport::RelayLongPoll => {
                let transport = if self == Transport::RelayWebSocket {
                    channel_http::RelayTransport::WebSocket
                } else {
                    channel_http::RelayTransport::LongPoll
                };
                let options = channel_http::ClientOptions {
                    transport,
                    ..Default::default()
                };
                let config = channel_http::relay::RelayConfig::default();
                let net = channel_http::local::relay_network(n, config, &options).await?;
                let relay = net.relay;
                let done = run(computation, adapt(net.parties)).await;
                relay.shutdown();
                done?
            }
            Transport::Direct => {
                let options = channel_http::DirectOptions::default();
                let parties = channel_http::local::direct_network(n, &options).await?;
                run(computation, adapt(parties)).await?
            }
        })
    }
}

fn adapt<C: channel_core::asynchronous::Split>(
    parties: Vec<C>,
) -> Vec<PolytuneChannel<C::Sender, C::Receiver>> {
    parties.into_iter().map(PolytuneChannel::new).collect()
}

/// The median of `runs` runs (setup excluded).
async fn median(
    transport: Transport,
    computation: &Computation,
    runs: usize,
) -> Result<(Duration, u64), Failure> {
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let done = transport.run(computation).await.map_err(|e| {
            format!(
                "Polytune over {} failed in '{}': {e}",
                transport.name(),
                computation.name()
            )
        })?;
        bytes = done.sent.iter().map(|s| s.bytes).sum();
        times.push(done.took);
    }
    times.sort();
    Ok((times[times.len() / 2], bytes))
}

fn options() -> Result<(bool, usize), Failure> {
    let mut quick = false;
    let mut runs = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--runs" => {
                let value = args.next().ok_or("--runs needs a number")?;
                runs = value
                    .parse::<usize>()
                    .map_err(|e| format!("--runs {value}: {e}"))?
                    .max(1);
            }
            other => return Err(format!("unknown option '{other}' (--quick, --runs N)").into()),
        }
    }
    Ok((quick, if quick { 1 } else { runs }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Failure> {
    let (quick, runs) = options()?;
    let len = if quick { 4 } else { 16 };
    let computations = [
        Computation::largest_of(&[3_000_000_000, 17, 3_000_000_001])?,
        Computation::dot_product(len, 7)?,
    ];
    println!(
        "Polytune 0.2.0-alpha.4, 3 parties (party 0 evaluates, all learn the output), \
         median of {runs} run(s), every output checked against plain Rust"
    );
    println!(
        "'largest of': which party holds the largest u32; 'dot product': two [u16; {len}] vectors \
         and an offset"
    );
    println!(
        "\n{:<28} {:>14} {:>8} {:>14} {:>8} {:>12}",
        "transport", "largest of", "ratio", "dot product", "ratio", "dot: sent"
    );
    // Warm-up: the first run of a process pays for page faults and the like.
    for computation in &computations {
        Transport::Baseline.run(computation).await?;
    }
    let mut baseline: Vec<Duration> = Vec::new();
    for transport in Transport::ALL {
        let mut row = format!("{:<28}", transport.name());
        let mut sent = 0;
        for (i, computation) in computations.iter().enumerate() {
            let (took, bytes) = median(transport, computation, runs).await?;
            if transport == Transport::Baseline {
                baseline.push(took);
            }
            let base = baseline.get(i).copied().unwrap_or(took);
            let ratio = took.as_secs_f64() / base.as_secs_f64().max(1e-9);
            row.push_str(&format!(" {:>12.3} s {:>7.2}x", took.as_secs_f64(), ratio));
            sent = bytes;
        }
        println!("{row} {:>9.1} MB", sent as f64 / 1e6);
    }
    println!(
        "\nratio: the run time over Polytune's own in-memory channel, same computation, same run.\n\
         channel-p2p is not in the table: Polytune and libp2p 0.57 cannot share one Cargo.lock \
         (see channel-polytune's README)."
    );
    Ok(())
}

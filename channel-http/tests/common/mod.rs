//! Loopback fixtures shared by the tests, on `channel_http::local`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use channel_core::BoxError;
use channel_core::reference::secure_sum;
use channel_http::relay::{Relay, RelayConfig};
use channel_http::{
    ClientOptions, DirectChannel, DirectOptions, HttpChannel, RelayTransport, local,
};

/// A relay serving on 127.0.0.1; stops when the returned `Relay` is shut down.
pub async fn start_relay(config: RelayConfig) -> (Relay, String) {
    local::start_relay(config).await.unwrap()
}

/// Three parties of a fresh session on the relay at `url` compute a secure
/// sum (303), each over `transport`.
pub async fn secure_sum_of_three(url: &str, opts: &ClientOptions, transport: RelayTransport) {
    let parties = relay_parties(url, 3, opts).await.unwrap();
    for p in &parties {
        assert_eq!(p.transport(), transport, "party {}", p.party());
    }
    let tasks: Vec<_> = parties
        .into_iter()
        .map(|mut ch| {
            tokio::spawn(async move {
                let me = ch.party();
                let mut r = 17 * me as u64;
                secure_sum(&mut ch, me, 3, 100 + me as u64, move || {
                    r = r.wrapping_mul(31).wrapping_add(7);
                    r
                })
                .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 303);
    }
}

/// `n` parties of a fresh session on the relay at `url`.
pub async fn relay_parties(
    url: &str,
    n: usize,
    opts: &ClientOptions,
) -> Result<Vec<HttpChannel>, BoxError> {
    Ok(local::join_session(url, n, opts).await?)
}

/// `n` direct-mode parties on 127.0.0.1.
pub async fn direct_parties(
    n: usize,
    opts: &DirectOptions,
) -> Result<Vec<DirectChannel>, BoxError> {
    Ok(local::direct_network(n, opts).await?)
}

/// Ends `party` as a crash would: its background work (heartbeats) stops, and
/// it says no goodbye. Dropped on a thread without a tokio runtime, where a
/// goodbye cannot be sent (a dropped channel says goodbye where it can).
#[allow(dead_code)] // Not every test file crashes a party.
pub fn crash<T: Send + 'static>(party: T) {
    std::thread::spawn(move || drop(party))
        .join()
        .expect("dropping the party panicked");
}

/// The value of the metric line `series` (name and labels exactly as the
/// relay at `url` writes them) in a scrape of `GET /metrics`; 0 when the
/// series has no line yet (a counter that never moved).
pub async fn metric(url: &str, series: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.trim().parse::<f64>().unwrap())
        .next()
        .unwrap_or(0.0)
}

/// Kills the relay process even if the test fails.
pub struct Running(pub std::process::Child);

/// Starts the binary with `args` and `env` and waits for the line that says
/// where it listens. Its log (stderr) is piped when `env` sets `RUST_LOG`,
/// for the test to read; otherwise it goes to the test's stderr.
pub async fn start(args: &[&str], env: &[(&str, &str)]) -> (Running, String) {
    let logs_read = env.iter().any(|(k, _)| *k == "RUST_LOG");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_channel-relay"))
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(if logs_read {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::inherit()
        })
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let relay = Running(child);
    let first_line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    });
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), first_line)
        .await
        .expect("the relay printed no address within 30 s")
        .unwrap()
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (relay, url)
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! `cargo xtask relay-load`: many sessions at once against the relay, on its
//! in-memory store (one process) and on Redis (two processes sharing one
//! redis-server, each party served by either). Every party joins, then for
//! a number of rounds sends a small message to each peer and receives each
//! peer's, over the relay's HTTP API; every answer is checked. Reports
//! requests per second, errors and each relay process's peak resident
//! memory. Fails on any error or when a run exceeds its time bound.
//!
//! The relays run as child processes of this binary (`xtask relay-serve`),
//! so their memory is their own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use channel_http::relay::{Relay, RelayConfig, RelayStore};

use crate::flags::RelayLoad;

/// A run that takes longer than this fails.
const RUN_BOUND: Duration = Duration::from_secs(300);
/// Bytes of each message.
const MESSAGE: usize = 100;

/// One relay process; killed when dropped.
pub(crate) struct RelayProcess {
    child: Child,
    pub(crate) url: String,
}

impl RelayProcess {
    /// A relay on `store` (`memory` or a Redis URL) in a child process.
    pub(crate) fn start(store: &str) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find xtask: {e}"))?;
        let mut child = Command::new(exe)
            .args(["relay-serve", store])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a relay: {e}"))?;
        let stdout = child.stdout.take().ok_or("the relay has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("the relay said nothing: {e}"))?;
        let url = line
            .trim()
            .strip_prefix("relay-serve: ")
            .ok_or_else(|| format!("the relay did not start: {line}"))?
            .to_string();
        Ok(Self { child, url })
    }

    /// Its peak resident memory (VmHWM), in bytes.
    pub(crate) fn peak_memory(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib * 1024)
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `xtask relay-serve <store>`: a relay for the load run on 127.0.0.1 with
/// room for its sessions and connections; prints its URL, serves until killed.
pub fn serve(store: &str) -> Result<(), String> {
    let store = match store {
        "memory" => RelayStore::Memory,
        url => RelayStore::Redis {
            url: url.to_string(),
            namespace: "relay-load".into(),
        },
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let config = RelayConfig {
            max_sessions: 4000,
            create_per_second: 100_000,
            ..RelayConfig::default()
        };
        let relay = Relay::with_store(config, &store)
            .await
            .map_err(|e| e.to_string())?;
        let (listener, url) = channel_http::local::listener()
            .await
            .map_err(|e| e.to_string())?;
        println!("relay-serve: {url}");
        let limits = channel_http::ServeLimits {
            max_connections: 16_384,
            ..channel_http::ServeLimits::default()
        };
        channel_http::serve_with(
            listener,
            relay.router(),
            None,
            limits,
            relay.shutdown_signal(),
        )
        .await
        .map_err(|e| e.to_string())
    })
}

/// What one run measured.
struct Outcome {
    requests: u64,
    errors: u64,
    took: Duration,
    first_error: Option<String>,
}

pub fn run(load: &RelayLoad) -> Result<(), String> {
    println!(
        "relay-load: {} sessions x {} parties, {} rounds of {MESSAGE}-byte messages to every peer",
        load.sessions, load.parties, load.rounds
    );
    let mut rows = Vec::new();
    {
        let relay = RelayProcess::start("memory")?;
        let outcome = drive(load, std::slice::from_ref(&relay.url))?;
        rows.push(("memory, 1 process", outcome, vec![relay.peak_memory()]));
    }
    {
        let server = crate::redis_server::ensure()?;
        let redis = crate::redis_server::RedisServer::start(&server)?;
        let relays = [
            RelayProcess::start(&redis.url())?,
            RelayProcess::start(&redis.url())?,
        ];
        let urls: Vec<String> = relays.iter().map(|r| r.url.clone()).collect();
        let outcome = drive(load, &urls)?;
        rows.push((
            "Redis, 2 processes",
            outcome,
            relays.iter().map(RelayProcess::peak_memory).collect(),
        ));
    }
    println!("\n| store | requests | errors | time | requests/s | relay peak RSS |");
    println!("|---|---|---|---|---|---|");
    let mut failed = Vec::new();
    for (name, o, memory) in &rows {
        let rss: Vec<String> = memory
            .iter()
            .map(|m| m.map_or("?".into(), |b| format!("{} MiB", b >> 20)))
            .collect();
        println!(
            "| {name} | {} | {} | {:.1} s | {:.0} | {} |",
            o.requests,
            o.errors,
            o.took.as_secs_f64(),
            o.requests as f64 / o.took.as_secs_f64(),
            rss.join(", ")
        );
        if o.errors > 0 {
            failed.push(format!(
                "{name}: {} errors, the first: {}",
                o.errors,
                o.first_error.as_deref().unwrap_or("?")
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// Every session's parties at once, party `i` of session `s` on relay
/// `(s + i) % relays.len()`.
fn drive(load: &RelayLoad, relays: &[String]) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let requests = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut sessions = Vec::with_capacity(load.sessions);
        for s in 0..load.sessions {
            let relay = &relays[s % relays.len()];
            let created = channel_http::HttpChannel::create_session(
                relay,
                load.parties,
                None,
                &channel_http::ClientOptions::default(),
            )
            .await
            .map_err(|e| format!("session {s}: {e}"))?;
            requests.fetch_add(1, Ordering::Relaxed);
            sessions.push(created);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (s, created) in sessions.into_iter().enumerate() {
            for (me, token) in created.tokens.iter().enumerate() {
                let party = Party {
                    client: client.clone(),
                    relay: relays[(s + me) % relays.len()].clone(),
                    session: created.session.clone(),
                    token: token.clone(),
                    me,
                    parties: load.parties,
                    rounds: load.rounds,
                    requests: requests.clone(),
                };
                tasks.spawn(party.run());
            }
        }
        let (mut errors, mut first_error) = (0, None);
        let all = async {
            while let Some(done) = tasks.join_next().await {
                let result = done.map_err(|e| e.to_string()).and_then(|r| r);
                if let Err(e) = result {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
        };
        tokio::time::timeout(RUN_BOUND, all)
            .await
            .map_err(|_| format!("the run took longer than {} s", RUN_BOUND.as_secs()))?;
        Ok(Outcome {
            requests: requests.load(Ordering::Relaxed),
            errors,
            took: started.elapsed(),
            first_error,
        })
    })
}

/// One party of the load: its relay, session and token.
struct Party {
    client: reqwest::Client,
    relay: String,
    session: String,
    token: String,
    me: usize,
    parties: usize,
    rounds: u64,
    requests: Arc<AtomicU64>,
}

/// What `from` sends `to` in `round` (checked on arrival).
fn message(from: usize, to: usize, round: u64) -> Vec<u8> {
    let mut m = vec![0u8; MESSAGE];
    m[..8].copy_from_slice(&round.to_le_bytes());
    m[8] = from as u8;
    m[9] = to as u8;
    m
}

impl Party {
    fn url(&self, rest: &str) -> String {
        format!("{}/v1/sessions/{}{rest}", self.relay, self.session)
    }

    async fn request(
        &self,
        request: reqwest::RequestBuilder,
        want: u16,
    ) -> Result<Vec<u8>, String> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let answer = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("party {}: {e}", self.me))?;
        let status = answer.status().as_u16();
        let body = answer.bytes().await.map_err(|e| e.to_string())?;
        if status != want {
            return Err(format!(
                "party {} of {}: HTTP {status} where {want} was due: {}",
                self.me,
                self.session,
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body.to_vec())
    }

    /// Message `round` from `p`, asking again (a few times) when a long-poll
    /// ends before it arrived.
    async fn receive(&self, p: usize, round: u64) -> Result<Vec<u8>, String> {
        let url = self.url(&format!("/from/{p}?seq={round}&ack={round}&wait_ms=20000"));
        for _ in 0..5 {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let answer = self
                .client
                .get(&url)
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(|e| format!("party {}: {e}", self.me))?;
            match answer.status().as_u16() {
                200 => {
                    return answer
                        .bytes()
                        .await
                        .map(|b| b.to_vec())
                        .map_err(|e| e.to_string());
                }
                204 => continue,
                status => {
                    let body = answer.text().await.unwrap_or_default();
                    return Err(format!(
                        "party {} of {}: HTTP {status} receiving round {round} from {p}: {body}",
                        self.me, self.session
                    ));
                }
            }
        }
        Err(format!(
            "party {} of {}: round {round} from {p} did not come within 5 long-polls",
            self.me, self.session
        ))
    }

    async fn run(self) -> Result<(), String> {
        self.request(self.client.get(self.url("")), 200).await?;
        let peers: Vec<usize> = (0..self.parties).filter(|&p| p != self.me).collect();
        for round in 0..self.rounds {
            for &p in &peers {
                let send = self
                    .client
                    .post(self.url(&format!("/to/{p}?seq={round}")))
                    .body(message(self.me, p, round));
                self.request(send, 204).await?;
            }
            for &p in &peers {
                let got = self.receive(p, round).await?;
                if got != message(p, self.me, round) {
                    return Err(format!(
                        "party {} of {}: round {round} from {p} is wrong",
                        self.me, self.session
                    ));
                }
            }
        }
        Ok(())
    }
}

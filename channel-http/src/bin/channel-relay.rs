//! `channel-relay`: the mpc-channels HTTP relay as a program.
//!
//! `channel-relay --help` documents every flag. Example (the operator token is
//! read from `CHANNEL_RELAY_OPERATOR_TOKEN`, which keeps it out of process
//! listings):
//!
//! ```text
//! CHANNEL_RELAY_OPERATOR_TOKEN=... channel-relay --listen 0.0.0.0:8443 \
//!     --tls-cert cert.pem --tls-key key.pem --cors-origin https://app.example
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use channel_http::ServeLimits;
use channel_http::relay::{Relay, RelayConfig, RelayStore};
use clap::{Parser, ValueEnum};

/// Relay messages between the parties of MPC sessions over HTTP(S).
///
/// Sessions are created with `POST /v1/sessions` (see API.md); each party then
/// authenticates with its own token. The parties seal their messages end to
/// end: the relay sees sizes, timing and who talks to whom, never content.
/// Stop with Ctrl-C: pending long-polls end at once, requests in flight get
/// --shutdown-grace-secs to finish.
///
/// Logs go to stderr; `RUST_LOG` chooses what (default `info`: start-up and
/// every refused request, with its session, party and reason, never a token;
/// `debug`: every request). `--log-format json` writes one JSON object per event.
///
/// Metrics for Prometheus: `GET /metrics` (OpenMetrics text; behind the
/// operator token when one is set): sessions, parties connected, bytes held,
/// chunks and bytes stored and delivered, duplicates, throttled chunks,
/// refusals by HTTP status, sockets closed by code, store operation times.
#[derive(Debug, Parser)]
#[command(name = "channel-relay", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Largest request body (one chunk plus its 17-byte frame footer), in bytes; at most 1 GiB.
    #[arg(long, default_value_t = channel_http::protocol::DEFAULT_MAX_BODY)]
    max_body: usize,

    /// Unacknowledged bytes one session may hold; sends beyond it get 429 and are retried.
    /// Must hold one round of the protocol's traffic.
    #[arg(long, default_value_t = 1 << 30)]
    max_session_bytes: usize,

    /// Unacknowledged bytes the whole relay holds over all sessions; sends beyond it get 503.
    #[arg(long, default_value_t = 4 << 30)]
    max_total_bytes: usize,

    /// Live sessions at most (503 beyond).
    #[arg(long, default_value_t = 1000)]
    max_sessions: usize,

    /// Parties per session at most (2 to 65536).
    #[arg(long, default_value_t = 256)]
    max_parties: usize,

    /// Seconds without any request after which a session is deleted.
    #[arg(long, default_value_t = 600)]
    session_idle_secs: u64,

    /// Seconds after which a session nobody joined is deleted.
    #[arg(long, default_value_t = 120)]
    unjoined_session_secs: u64,

    /// Longest wait of a long-poll receive, in milliseconds.
    #[arg(long, default_value_t = channel_http::protocol::DEFAULT_MAX_WAIT_MS)]
    max_wait_ms: u64,

    /// Seconds a party may be silent (no request, no heartbeat) before its peers'
    /// receives from it fail with "party p is gone".
    #[arg(long, default_value_t = 20)]
    peer_gone_secs: u64,

    /// Sessions created per second at most (bursts of twice as many; 429 beyond).
    #[arg(long, default_value_t = 20)]
    create_per_second: u32,

    /// Bearer token required to create, inspect and delete sessions. Without it
    /// anyone who can reach the relay may create sessions. Prefer the environment
    /// variable to keep it out of process listings.
    #[arg(long, env = "CHANNEL_RELAY_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,

    /// Let anyone who can reach the relay create sessions although it listens
    /// beyond the loopback interface without an operator token.
    #[arg(long)]
    open_session_creation: bool,

    /// Origin allowed to call the relay from a browser (repeatable; `*` for any).
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,

    /// PEM certificate chain: serve HTTPS instead of HTTP (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Seconds within which a request's headers must arrive (also closes idle connections).
    #[arg(long, default_value_t = 10)]
    header_timeout_secs: u64,

    /// Seconds within which a request's body must arrive.
    #[arg(long, default_value_t = 60)]
    body_timeout_secs: u64,

    /// Connections open at once at most; beyond it new ones are closed.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,

    /// Seconds requests in flight get to finish after Ctrl-C.
    #[arg(long, default_value_t = 10)]
    shutdown_grace_secs: u64,

    /// Where sessions are kept: `memory` (this process only; lost when it ends) or a Redis
    /// URL, `redis://host:port/db` (`rediss://` for TLS). Relay processes on one Redis (and
    /// --store-namespace) serve the same sessions: put them behind one URL, and a restart or
    /// crash of one loses nothing. Only token digests are stored.
    #[arg(long, default_value = "memory")]
    store: String,

    /// Prefix of the relay's keys in Redis: relays with the same one share sessions.
    #[arg(long, default_value = channel_http::relay::RelayStore::NAMESPACE)]
    store_namespace: String,

    /// How log lines are written.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logs(args.log_format);
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("channel-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

/// The store that `--store` names.
fn store(args: &Args) -> Result<RelayStore, String> {
    match args.store.as_str() {
        "memory" => Ok(RelayStore::Memory),
        url if url.starts_with("redis://") || url.starts_with("rediss://") => {
            if args.store_namespace.is_empty() || args.store_namespace.contains(['{', '}']) {
                return Err("--store-namespace must be non-empty, without braces".into());
            }
            Ok(RelayStore::Redis {
                url: url.to_string(),
                namespace: args.store_namespace.clone(),
            })
        }
        other => Err(format!(
            "--store {}: expected `memory` or a redis:// (rediss://) URL",
            RelayStore::shown(other)
        )),
    }
}

/// Seconds from a flag, which must be at least 1.
fn secs(flag: &str, value: u64) -> Result<Duration, String> {
    if value == 0 {
        return Err(format!("--{flag} must be at least 1"));
    }
    Ok(Duration::from_secs(value))
}

/// The flag that sets a [`RelayConfig`] field.
fn flag_of(field: &str) -> &'static str {
    match field {
        "max_body" => "--max-body",
        "max_session_bytes" => "--max-session-bytes",
        "max_total_bytes" => "--max-total-bytes",
        "max_sessions" => "--max-sessions",
        "max_parties" => "--max-parties",
        "session_idle" => "--session-idle-secs",
        "unjoined_ttl" => "--unjoined-session-secs",
        "max_wait" => "--max-wait-ms",
        "peer_gone_after" => "--peer-gone-secs",
        "create_per_second" => "--create-per-second",
        _ => "a flag",
    }
}

fn config(args: &Args) -> Result<(RelayConfig, ServeLimits), String> {
    let config = RelayConfig {
        max_body: args.max_body,
        max_session_bytes: args.max_session_bytes,
        max_total_bytes: args.max_total_bytes,
        max_sessions: args.max_sessions,
        max_parties: args.max_parties,
        session_idle: secs("session-idle-secs", args.session_idle_secs)?,
        unjoined_ttl: secs("unjoined-session-secs", args.unjoined_session_secs)?,
        max_wait: Duration::from_millis(args.max_wait_ms),
        peer_gone_after: secs("peer-gone-secs", args.peer_gone_secs)?,
        create_per_second: args.create_per_second,
        operator_token: args.operator_token.clone(),
        cors_origins: args.cors_origins.clone(),
    };
    config
        .check()
        .map_err(|e| format!("{}: {e}", flag_of(e.field)))?;
    if config.operator_token.as_deref() == Some("") {
        return Err("the operator token is empty".into());
    }
    if !args.listen.ip().is_loopback()
        && config.operator_token.is_none()
        && !args.open_session_creation
    {
        return Err(format!(
            "listening on {} without an operator token would let anyone on the network create \
             sessions: set CHANNEL_RELAY_OPERATOR_TOKEN (or --operator-token), or pass \
             --open-session-creation",
            args.listen
        ));
    }
    if args.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    let limits = ServeLimits {
        header_timeout: secs("header-timeout-secs", args.header_timeout_secs)?,
        body_timeout: secs("body-timeout-secs", args.body_timeout_secs)?,
        handshake_timeout: secs("header-timeout-secs", args.header_timeout_secs)?,
        max_connections: args.max_connections,
        shutdown_grace: secs("shutdown-grace-secs", args.shutdown_grace_secs)?,
    };
    Ok((config, limits))
}

async fn run(args: Args) -> Result<(), String> {
    let (config, limits) = config(&args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(channel_http::tls_config(cert, key).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let store = store(&args)?;
    tracing::info!(?config, ?limits, ?store, "starting");
    let relay = Relay::with_store(config, &store)
        .await
        .map_err(|e| format!("--store {}: {e}", RelayStore::shown(&args.store)))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("channel-relay listening on {scheme}://{addr}");

    let ctrl_c = relay.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("shutting down");
            ctrl_c.shutdown();
        }
    });
    channel_http::serve_with(
        listener,
        relay.router(),
        tls,
        limits,
        relay.shutdown_signal(),
    )
    .await
    .map_err(|e| format!("server error: {e}"))
}

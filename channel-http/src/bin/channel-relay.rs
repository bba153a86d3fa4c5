//! `channel-relay`: the mpc-channels HTTP relay as a program.
//!
//! `channel-relay --help` documents every flag. Example:
//! `channel-relay --listen 0.0.0.0:8443 --operator-token-env --tls-cert cert.pem --tls-key key.pem --cors-origin https://app.example`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use channel_http::relay::{Relay, RelayConfig};
use clap::Parser;

/// Relay messages between the parties of MPC sessions over HTTP(S).
///
/// Sessions are created with `POST /v1/sessions` (see API.md); each party then
/// authenticates with its own token. Stop with Ctrl-C: pending long-polls end at
/// once and requests in flight finish.
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

    /// Live sessions at most (503 beyond).
    #[arg(long, default_value_t = 1000)]
    max_sessions: usize,

    /// Parties per session at most (up to 65536).
    #[arg(long, default_value_t = 256)]
    max_parties: usize,

    /// Seconds without any request after which a session is deleted.
    #[arg(long, default_value_t = 600)]
    session_idle_secs: u64,

    /// Longest wait of a long-poll receive, in milliseconds.
    #[arg(long, default_value_t = channel_http::protocol::DEFAULT_MAX_WAIT_MS)]
    max_wait_ms: u64,

    /// Bearer token required to create, inspect and delete sessions. Without it
    /// anyone who can reach the relay may create sessions. Prefer the environment
    /// variable to keep it out of process listings.
    #[arg(long, env = "CHANNEL_RELAY_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,

    /// Origin allowed to call the relay from a browser (repeatable; `*` for any).
    #[arg(long = "cors-origin")]
    cors_origins: Vec<String>,

    /// PEM certificate chain: serve HTTPS instead of HTTP (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("channel-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    use channel_http::protocol::{MAX_RELAY_BODY, MAX_SESSION_PARTIES};
    let min_body = channel_core::frame::FOOTER_LEN + 1;
    if !(min_body..=MAX_RELAY_BODY).contains(&args.max_body) {
        return Err(format!(
            "--max-body must be between {min_body} and {MAX_RELAY_BODY} (clients refuse more)"
        ));
    }
    if !(2..=MAX_SESSION_PARTIES).contains(&args.max_parties) {
        return Err(format!(
            "--max-parties must be between 2 and {MAX_SESSION_PARTIES} (clients refuse more)"
        ));
    }
    let relay = Relay::new(RelayConfig {
        max_body: args.max_body,
        max_session_bytes: args.max_session_bytes,
        max_sessions: args.max_sessions,
        max_parties: args.max_parties,
        session_idle: Duration::from_secs(args.session_idle_secs),
        max_wait: Duration::from_millis(args.max_wait_ms),
        operator_token: args.operator_token,
        cors_origins: args.cors_origins,
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(channel_http::tls_config(cert, key).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("channel-relay listening on {scheme}://{addr}");

    let ctrl_c = relay.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("channel-relay: shutting down");
            ctrl_c.shutdown();
        }
    });
    let served = match tls {
        Some(tls) => {
            channel_http::serve_tls(listener, relay.router(), tls, relay.shutdown_signal()).await
        }
        None => channel_http::serve(listener, relay.router(), relay.shutdown_signal()).await,
    };
    served.map_err(|e| format!("server error: {e}"))
}

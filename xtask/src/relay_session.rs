//! A relay on 127.0.0.1 that browsers may call, one session on it, and native
//! `channel-http` parties of that session on tasks of their own: the setting
//! of every run with a browser party (the browser tests and the demo's browser
//! row), where the page is one party and these are the others.

use std::time::Duration;

use channel_http::protocol::SessionCreated;
use channel_http::relay::{Relay, RelayConfig};
use channel_http::{ClientOptions, HttpChannel, local};

/// The relay, its runtime, and the session the browser joins.
pub struct RelaySession {
    pub runtime: tokio::runtime::Runtime,
    pub relay: Relay,
    pub url: String,
    pub session: SessionCreated,
}

/// A native party's task.
pub type Native<T> = tokio::task::JoinHandle<Result<T, String>>;

impl RelaySession {
    /// A relay that allows every origin (CORS) and a fresh session of `parties`.
    pub fn start(parties: usize) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
        let (relay, url, session) = runtime.block_on(async {
            let config = RelayConfig {
                cors_origins: vec!["*".into()],
                ..RelayConfig::default()
            };
            let (relay, url) = local::start_relay(config)
                .await
                .map_err(|e| e.to_string())?;
            let session =
                HttpChannel::create_session(&url, parties, None, &ClientOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
            Ok::<_, String>((relay, url, session))
        })?;
        Ok(Self {
            runtime,
            relay,
            url,
            session,
        })
    }

    /// The token of `party`.
    pub fn token(&self, party: usize) -> &str {
        self.session.tokens.get(party).map_or("", String::as_str)
    }

    /// Native parties `parties` of the session, each joining and then doing
    /// `work` on its own task. They wait generously: the wasm build comes first.
    pub fn spawn_natives<T, F, Fut>(
        &self,
        parties: std::ops::Range<usize>,
        work: F,
    ) -> Vec<Native<T>>
    where
        T: Send + 'static,
        F: Fn(HttpChannel, usize) -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = Result<T, String>> + Send,
    {
        let opts = ClientOptions {
            recv_timeout: Duration::from_secs(1800),
            ..ClientOptions::default()
        };
        parties
            .map(|party| {
                let (url, id, token) = (
                    self.url.clone(),
                    self.session.session.clone(),
                    self.token(party).to_string(),
                );
                let (opts, work) = (opts.clone(), work.clone());
                self.runtime.spawn(async move {
                    let ch = HttpChannel::join(&url, &id, &token, &opts)
                        .await
                        .map_err(|e| format!("party {party} cannot join: {e}"))?;
                    work(ch, party).await
                })
            })
            .collect()
    }

    /// The native parties' results, once each finished (at most 60 s after
    /// the browser); then the relay stops.
    pub fn finish<T>(self, natives: Vec<Native<T>>) -> Result<Vec<T>, String> {
        let results = self.runtime.block_on(async {
            let mut out = Vec::with_capacity(natives.len());
            for native in natives {
                let done = tokio::time::timeout(Duration::from_secs(60), native)
                    .await
                    .map_err(|_| "a native party did not finish within 60 s of the browser")?;
                let result = done.map_err(|e| format!("a native party's task failed: {e}"))?;
                out.push(result.map_err(|e| format!("a native party failed: {e}"))?);
            }
            Ok(out)
        });
        self.relay.shutdown();
        results
    }
}

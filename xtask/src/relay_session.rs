//! A relay on 127.0.0.1 that browsers may call, one sealed session on it (a
//! key per party, made here, and their invitations), and native `channel-http`
//! parties of that session on tasks of their own: the setting of every run
//! with a browser party (the browser tests and the demo's browser row), where
//! the page is one party and these are the others.

use std::time::Duration;

use channel_http::relay::{Relay, RelayConfig};
use channel_http::{ClientOptions, HttpChannel, local};
use channel_seal::{Invitation, PartyKey};

/// The relay, its runtime, and the session the browser joins.
pub struct RelaySession {
    pub runtime: tokio::runtime::Runtime,
    pub relay: Relay,
    pub url: String,
    /// Party `i`'s key and invitation at index `i`.
    keys: Vec<PartyKey>,
    invitations: Vec<Invitation>,
}

/// A native party's task.
pub type Native<T> = tokio::task::JoinHandle<Result<T, String>>;

impl RelaySession {
    /// A relay that allows every origin (CORS) and a fresh sealed session of `parties`.
    pub fn start(parties: usize) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
        let (relay, url, keys, invitations) = runtime.block_on(async {
            let config = RelayConfig {
                cors_origins: vec!["*".into()],
                ..RelayConfig::default()
            };
            let (relay, url) = local::start_relay(config)
                .await
                .map_err(|e| e.to_string())?;
            let (keys, public) = local::keys(parties).map_err(|e| e.to_string())?;
            let invitations = HttpChannel::invite(&url, &public, None, &ClientOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((relay, url, keys, invitations))
        })?;
        Ok(Self {
            runtime,
            relay,
            url,
            keys,
            invitations,
        })
    }

    /// The session id.
    pub fn session(&self) -> &str {
        self.invitations.first().map_or("", |i| i.session.as_str())
    }

    /// Party `party`'s invitation, as text, and its private key, as hex: what
    /// the page is handed.
    pub fn credentials(&self, party: usize) -> (String, String) {
        (
            self.invitations
                .get(party)
                .map(Invitation::to_text)
                .unwrap_or_default(),
            self.keys
                .get(party)
                .map(PartyKey::to_hex)
                .unwrap_or_default(),
        )
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
                let invitation = self.invitations.get(party).cloned();
                let key = self.keys.get(party).cloned();
                let (opts, work) = (opts.clone(), work.clone());
                self.runtime.spawn(async move {
                    let (Some(invitation), Some(key)) = (invitation, key) else {
                        return Err(format!("there is no party {party}"));
                    };
                    let ch = HttpChannel::join(&invitation, &key, &opts)
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

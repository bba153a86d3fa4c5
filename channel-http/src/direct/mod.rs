//! Direct mode: parties that can reach each other's servers, no relay.
//!
//! Each party serves its own endpoint; a peer delivers a chunk by POSTing it to
//! `/v1/direct/from/{its index}?seq=k`. Every ordered pair of parties shares a
//! secret key, generated once by [`DirectConfig::generate`] and distributed with
//! the party table; the receiver accepts a chunk as "from party i" only with the
//! key it shares with party i, so a party cannot impersonate another. Sequence
//! numbers make retries exactly-once, as on the relay, and each endpoint bounds
//! the bytes it holds (`429` until its party catches up).
//!
//! Keys travel in the `Authorization` header: use `https://` URLs between
//! machines you do not control the network of.

mod channel;
mod inbox;

use serde::{Deserialize, Serialize};

pub use channel::{DirectChannel, DirectOptions};

use crate::HttpError;
use crate::auth::random_hex;

/// One peer in a party's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectPeer {
    /// Base URL of the peer's endpoint, e.g. `https://p1.example:8443`.
    pub url: String,
    /// The secret this party and that peer share (empty for the party itself).
    pub key: String,
}

/// A party's view of a direct-mode computation: its index and every party's
/// endpoint and shared key. Serialisable, to be handed to each party privately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectConfig {
    /// This party's index.
    pub party: usize,
    /// Every party, indexed by party; `peers[party]` is this party itself.
    pub peers: Vec<DirectPeer>,
}

impl DirectConfig {
    /// Generates the tables of all parties, given each party's endpoint URL,
    /// with a fresh random key for every pair.
    ///
    /// ```
    /// use channel_http::DirectConfig;
    ///
    /// let urls = ["http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9003"];
    /// let tables = DirectConfig::generate(&urls).unwrap();
    /// assert_eq!(tables[0].peers[1].key, tables[1].peers[0].key); // shared by 0 and 1
    /// assert_ne!(tables[0].peers[1].key, tables[0].peers[2].key); // distinct per pair
    /// assert!(tables[2].peers[2].key.is_empty());
    /// ```
    pub fn generate<S: AsRef<str>>(urls: &[S]) -> Result<Vec<DirectConfig>, HttpError> {
        let n = urls.len();
        let mut keys = vec![vec![String::new(); n]; n];
        for (i, j) in (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))) {
            let key = random_hex(32)
                .map_err(|e| HttpError::Setup(format!("no randomness for a key: {e}")))?;
            keys[i][j] = key.clone();
            keys[j][i] = key;
        }
        Ok(keys
            .into_iter()
            .enumerate()
            .map(|(party, row)| DirectConfig {
                party,
                peers: urls
                    .iter()
                    .zip(row)
                    .map(|(url, key)| DirectPeer {
                        url: url.as_ref().to_string(),
                        key,
                    })
                    .collect(),
            })
            .collect())
    }
}

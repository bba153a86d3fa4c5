//! Direct mode: parties that can reach each other's servers, no relay.
//!
//! Each party serves its own endpoint; a peer delivers a chunk by POSTing it to
//! `/v1/direct/from/{its index}?seq=k`. Every ordered pair of parties shares a
//! secret request key, generated once by [`DirectConfig::generate`] and
//! distributed with the party table; an endpoint accepts a chunk as "from
//! party i" only with the key it shares with party i. Sequence numbers make
//! retries exactly-once, as on the relay, and each endpoint bounds the bytes it
//! holds (`429` until its party catches up).
//!
//! On top of that every chunk is sealed end to end (channel-seal): the table
//! lists each party's public key, and [`DirectChannel::start`] runs a Noise
//! handshake with every peer, so that neither the network nor anything between
//! the endpoints (a proxy, plain `http://`) can read or forge a chunk. The
//! request keys travel in the `Authorization` header: with plain `http://`
//! they keep strangers from filling an endpoint, not from reading.

mod channel;
mod halves;
mod inbox;

use channel_seal::PublicKey;
use serde::{Deserialize, Serialize};

pub use channel::{DirectChannel, DirectOptions};
pub use halves::{DirectReceiver, DirectSender};

use crate::HttpError;
use crate::auth::random_hex;

/// One peer in a party's table.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectPeer {
    /// Base URL of the peer's endpoint, e.g. `https://p1.example:8443`.
    pub url: String,
    /// The request key this party and that peer share (empty for the party itself).
    pub key: String,
    /// The peer's public key (its own, for the party itself).
    pub public_key: PublicKey,
}

impl std::fmt::Debug for DirectPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectPeer")
            .field("url", &self.url)
            .field("key", &"<secret>")
            .field("public_key", &self.public_key)
            .finish()
    }
}

/// A party's view of a direct-mode computation: its index, every party's
/// endpoint, request key and public key, and the computation's id (what the
/// handshakes bind). Serialisable, to be handed to each party privately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectConfig {
    /// The computation's id, the same in every party's table.
    pub session: String,
    /// This party's index.
    pub party: usize,
    /// Every party, indexed by party; `peers[party]` is this party itself.
    pub peers: Vec<DirectPeer>,
}

impl DirectConfig {
    /// Generates the tables of all parties, given each party's endpoint URL
    /// and public key (party `i` at index `i`), with a fresh random request key
    /// for every pair and a fresh session id.
    ///
    /// ```
    /// use channel_http::DirectConfig;
    /// use channel_seal::PartyKey;
    ///
    /// let urls = ["http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9003"];
    /// let keys: Vec<_> = (0..3).map(|_| PartyKey::generate().unwrap().public()).collect();
    /// let tables = DirectConfig::generate(&urls, &keys).unwrap();
    /// assert_eq!(tables[0].peers[1].key, tables[1].peers[0].key); // shared by 0 and 1
    /// assert_ne!(tables[0].peers[1].key, tables[0].peers[2].key); // distinct per pair
    /// assert!(tables[2].peers[2].key.is_empty());
    /// assert_eq!(tables[1].peers[2].public_key, keys[2]);
    /// assert_eq!(tables[0].session, tables[2].session);
    /// ```
    pub fn generate<S: AsRef<str>>(
        urls: &[S],
        public_keys: &[PublicKey],
    ) -> Result<Vec<DirectConfig>, HttpError> {
        let n = urls.len();
        if public_keys.len() != n {
            return Err(HttpError::Setup(format!(
                "{n} endpoints but {} public keys",
                public_keys.len()
            )));
        }
        let session = random_hex(16)
            .map_err(|e| HttpError::Setup(format!("no randomness for a session id: {e}")))?;
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
                session: session.clone(),
                party,
                peers: urls
                    .iter()
                    .zip(row)
                    .zip(public_keys)
                    .map(|((url, key), public_key)| DirectPeer {
                        url: url.as_ref().to_string(),
                        key,
                        public_key: *public_key,
                    })
                    .collect(),
            })
            .collect())
    }
}

//! The names of the relay's keys in Redis. A session's keys share the hash
//! tag `{id}`, so that they sit together (one slot) and one script may
//! touch all of them.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}sessions` | sorted set | session ids by expiry deadline (ms since the epoch) |
//! | `{p}held` | string (integer) | bytes of chunks held over all sessions |
//! | `{p}{id}:meta` | hash | `parties`, `nonce`, `deadline`, `joined`, `held`, `peak`, `messages`, `duplicates`, `throttled`, `d0..` (token digests) |
//! | `{p}{id}:party:{i}` | hash | `epoch`, `seen` (ms), `left` (counts, comma-separated), `sockets` |
//! | `{p}{id}:link:{from}:{to}` | hash | `next`, `oldest`, `ver`, `c{seq}` (chunks kept), `e{seq}` (chunks held ahead of a gap) |
//! | `{p}{id}:keys` | set | every other key of the session (its parties, the links used): what deleting it deletes |
//! | channel `{p}wake:{id}:{party}` | pub/sub | a change for that party |

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    pub(super) fn sessions(&self) -> String {
        format!("{}sessions", self.prefix)
    }

    pub(super) fn held(&self) -> String {
        format!("{}held", self.prefix)
    }

    pub(super) fn meta(&self, id: &str) -> String {
        format!("{}{{{id}}}:meta", self.prefix)
    }

    pub(super) fn party(&self, id: &str, party: usize) -> String {
        format!("{}{{{id}}}:party:{party}", self.prefix)
    }

    pub(super) fn link(&self, id: &str, from: usize, to: usize) -> String {
        format!("{}{{{id}}}:link:{from}:{to}", self.prefix)
    }

    /// The set of the session's keys (but `meta` and itself).
    pub(super) fn all(&self, id: &str) -> String {
        format!("{}{{{id}}}:keys", self.prefix)
    }

    pub(super) fn wake(&self, id: &str, party: usize) -> String {
        format!("{}wake:{id}:{party}", self.prefix)
    }

    /// The pattern of every wake channel.
    pub(super) fn wakes(&self) -> String {
        format!("{}wake:*", self.prefix)
    }

    /// The session and party of wake channel `name`.
    pub(super) fn woken<'a>(&self, name: &'a str) -> Option<(&'a str, usize)> {
        let rest = name.strip_prefix(&self.prefix)?.strip_prefix("wake:")?;
        let (id, party) = rest.rsplit_once(':')?;
        Some((id, party.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sessions_keys_share_its_hash_tag_and_wake_channels_parse_back() {
        let k = Keys::new("relay:");
        assert_eq!(k.meta("ab"), "relay:{ab}:meta");
        assert_eq!(k.link("ab", 1, 2), "relay:{ab}:link:1:2");
        assert_eq!(k.party("ab", 3), "relay:{ab}:party:3");
        assert_eq!(k.woken(&k.wake("ab", 7)), Some(("ab", 7)));
        assert_eq!(k.woken("relay:wake:ab"), None);
        assert_eq!(k.woken("other:wake:ab:1"), None);
    }
}

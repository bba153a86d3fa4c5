//! Invitations: the one thing an application hands each party out of band to
//! take part in a sealed computation through a relay.

use std::path::Path;

use data_encoding::BASE64URL_NOPAD;
use serde::{Deserialize, Serialize};

use crate::state::MAX_PARTIES;
use crate::{PublicKey, SealError};

const PREFIX: &str = "mpc-invitation-v1.";
/// An invitation's text at most (a table of 65536 keys fits).
const MAX_TEXT: usize = 8 << 20;

/// Everything one party needs to join a sealed computation on a relay, except
/// its private key (which it holds itself): the relay, the session, its token
/// and index, and every party's public key.
///
/// The application that coordinates a session collects each party's public
/// key, creates the session on the relay, and hands party `i` the invitation
/// for `i` (as [`to_text`](Self::to_text) or a file), over a channel it trusts
/// to keep the token secret and the keys unaltered: the keys are what makes
/// the relay unable to read or forge anything.
///
/// ```
/// use channel_seal::{Invitation, PartyKey};
///
/// let keys: Vec<_> = (0..3).map(|_| PartyKey::generate().unwrap().public()).collect();
/// let invitation = Invitation {
///     relay: "https://relay.example".into(),
///     session: "5f0c".into(),
///     party: 1,
///     token: "a1b2".into(),
///     keys,
/// };
/// let text = invitation.to_text();
/// assert!(text.starts_with("mpc-invitation-v1."));
/// assert_eq!(Invitation::from_text(&text).unwrap(), invitation);
/// assert!(Invitation::from_text("mpc-invitation-v1.garbage").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The relay's base URL.
    pub relay: String,
    /// The session id on the relay.
    pub session: String,
    /// The invited party's index.
    pub party: usize,
    /// The invited party's token on the relay (secret).
    pub token: String,
    /// Every party's public key, party `i` at index `i`.
    pub keys: Vec<PublicKey>,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation")
            .field("relay", &self.relay)
            .field("session", &self.session)
            .field("party", &self.party)
            .field("token", &"<secret>")
            .field("keys", &self.keys)
            .finish()
    }
}

impl Invitation {
    /// Checks that the invitation can be used: 2 to 65536 keys and the party among them.
    pub fn checked(self) -> Result<Self, SealError> {
        if self.keys.len() < 2 || self.keys.len() > MAX_PARTIES {
            return Err(SealError::Setup(format!(
                "the invitation lists {} keys; a session has 2 to {MAX_PARTIES} parties",
                self.keys.len()
            )));
        }
        if self.party >= self.keys.len() {
            return Err(SealError::Setup(format!(
                "the invitation is for party {} of only {}",
                self.party,
                self.keys.len()
            )));
        }
        Ok(self)
    }

    /// The invitation as one line of text (`mpc-invitation-v1.` and base64url
    /// of its JSON), to paste or send.
    pub fn to_text(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{PREFIX}{}", BASE64URL_NOPAD.encode(&json))
    }

    /// Reads [`to_text`](Self::to_text)'s line (surrounding white space allowed).
    pub fn from_text(text: &str) -> Result<Self, SealError> {
        let bad = |why: &str| SealError::Setup(format!("not an invitation: {why}"));
        let text = text.trim();
        if text.len() > MAX_TEXT {
            return Err(bad("too long"));
        }
        let body = text
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("it does not start with 'mpc-invitation-v1.'"))?;
        let json = BASE64URL_NOPAD
            .decode(body.as_bytes())
            .map_err(|_| bad("it is not base64url"))?;
        let invitation: Invitation =
            serde_json::from_slice(&json).map_err(|e| bad(&e.to_string()))?;
        invitation.checked()
    }

    /// Writes the invitation's text to `path`, readable by its owner only (it
    /// holds the token), replacing nothing.
    pub fn write_file(&self, path: &Path) -> Result<(), SealError> {
        use std::io::Write;
        let io =
            |e: std::io::Error| SealError::Setup(format!("cannot write {}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(format!("{}\n", self.to_text()).as_bytes())
            .map_err(io)
    }

    /// Reads an invitation file.
    pub fn read_file(path: &Path) -> Result<Self, SealError> {
        let io =
            |e: std::io::Error| SealError::Setup(format!("cannot read {}: {e}", path.display()));
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_TEXT as u64 {
            return Err(SealError::Setup(format!(
                "{} is not an invitation (too long)",
                path.display()
            )));
        }
        Self::from_text(&std::fs::read_to_string(path).map_err(io)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitations_that_cannot_work_are_refused() {
        let key = crate::PartyKey::generate().unwrap().public();
        let base = Invitation {
            relay: "http://r".into(),
            session: "s".into(),
            party: 0,
            token: "t".into(),
            keys: vec![key, key],
        };
        assert!(base.clone().checked().is_ok());
        assert!(
            Invitation {
                party: 2,
                ..base.clone()
            }
            .checked()
            .is_err()
        );
        assert!(
            Invitation {
                keys: vec![key],
                ..base.clone()
            }
            .checked()
            .is_err()
        );
        let text = Invitation {
            party: 5,
            ..base.clone()
        }
        .to_text();
        assert!(Invitation::from_text(&text).is_err());
        assert!(
            !format!("{base:?}").contains("\"t\""),
            "the token is never printed"
        );
    }
}

//! Party identities: ed25519 key pairs, as bytes or files.

use std::path::Path;

use libp2p::PeerId;
use libp2p::identity::Keypair;

use crate::P2pError;

/// A party's ed25519 identity. Its [`PeerId`] is what the other parties list in
/// their tables; the Noise handshake proves possession of the key.
///
/// ```
/// use channel_p2p::PartyKey;
///
/// let key = PartyKey::generate();
/// let bytes = key.to_bytes().unwrap();
/// let again = PartyKey::from_bytes(&bytes).unwrap();
/// assert_eq!(key.peer_id(), again.peer_id());
/// ```
#[derive(Clone)]
pub struct PartyKey(pub(crate) Keypair);

impl std::fmt::Debug for PartyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "PartyKey({})", self.peer_id())
    }
}

impl PartyKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(Keypair::generate_ed25519())
    }

    /// The peer id derived from the public key.
    pub fn peer_id(&self) -> PeerId {
        self.0.public().to_peer_id()
    }

    /// The key in libp2p's protobuf encoding (secret: store it like a password).
    pub fn to_bytes(&self) -> Result<Vec<u8>, P2pError> {
        self.0
            .to_protobuf_encoding()
            .map_err(|e| P2pError::Setup(format!("cannot encode the key: {e}")))
    }

    /// Reads a key written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, P2pError> {
        Keypair::from_protobuf_encoding(bytes)
            .map(Self)
            .map_err(|e| P2pError::Setup(format!("not a valid key: {e}")))
    }

    /// Writes the key to `path` as one line of hex, readable only by its owner.
    pub fn write_file(&self, path: &Path) -> Result<(), P2pError> {
        let hex: String = self
            .to_bytes()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let io =
            |e: std::io::Error| P2pError::Setup(format!("cannot write {}: {e}", path.display()));
        std::fs::write(path, format!("{hex}\n")).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        Ok(())
    }

    /// Reads a key file written by [`write_file`](Self::write_file).
    pub fn read_file(path: &Path) -> Result<Self, P2pError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| P2pError::Setup(format!("cannot read {}: {e}", path.display())))?;
        let text = text.trim();
        if text.len() % 2 != 0 || text.len() > 4096 {
            return Err(P2pError::Setup(format!(
                "{} is not a key file",
                path.display()
            )));
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| {
                P2pError::Setup(format!("{} is not a key file (not hex)", path.display()))
            })?;
        Self::from_bytes(&bytes)
    }
}

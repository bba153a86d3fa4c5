//! Party identities: an X25519 key pair per party. The private key stays with
//! its party (made there, or handed to it by the application, never by a
//! relay); the public key goes into every party's table.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use curve25519_dalek::montgomery::MontgomeryPoint;
use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::SealError;

/// A party's public key: what the other parties list in their tables. As text,
/// 64 lower-case hex digits.
///
/// ```
/// use channel_seal::{PartyKey, PublicKey};
///
/// let key = PartyKey::generate().unwrap();
/// let text = key.public().to_string();
/// assert_eq!(text.len(), 64);
/// assert_eq!(text.parse::<PublicKey>().unwrap(), key.public());
/// assert!("not a key".parse::<PublicKey>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short fingerprint for people to compare (e.g. over the phone):
    /// the first 8 bytes of the key's SHA-256, in four groups of hex.
    ///
    /// ```
    /// let key = channel_seal::PartyKey::generate().unwrap().public();
    /// let print = key.fingerprint();
    /// assert_eq!(print.len(), 19);
    /// assert_eq!(print.matches('-').count(), 3);
    /// ```
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.0);
        let hex = HEXLOWER.encode(&digest[..8]);
        let groups: Vec<&str> = (0..4).filter_map(|i| hex.get(i * 4..i * 4 + 4)).collect();
        groups.join("-")
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&HEXLOWER.encode(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl FromStr for PublicKey {
    type Err = SealError;

    fn from_str(text: &str) -> Result<Self, SealError> {
        decode_32(text.trim()).map(Self).ok_or_else(|| {
            SealError::Setup(format!("'{text}' is not a public key (64 hex digits)"))
        })
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// 32 bytes from 64 hex digits.
fn decode_32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    HEXLOWER
        .decode(text.to_ascii_lowercase().as_bytes())
        .ok()?
        .try_into()
        .ok()
}

/// A party's private key (an X25519 secret). It never leaves its party: it is
/// made here ([`generate`](Self::generate)) or supplied by the application, kept
/// in a file only its owner can read, and never printed.
///
/// ```
/// use channel_seal::PartyKey;
///
/// let dir = std::env::temp_dir().join(format!("seal-key-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("party0.key");
/// let key = PartyKey::generate().unwrap();
/// key.write_file(&path).unwrap();
/// assert_eq!(PartyKey::read_file(&path).unwrap().public(), key.public());
/// assert!(!format!("{key:?}").contains(&key.to_hex()[..16]));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone)]
pub struct PartyKey {
    secret: Zeroizing<[u8; 32]>,
    public: PublicKey,
}

impl fmt::Debug for PartyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        write!(f, "PartyKey(public {})", self.public.fingerprint())
    }
}

impl PartyKey {
    /// A fresh random key from the operating system's (or browser's) randomness.
    pub fn generate() -> Result<Self, SealError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut())
            .map_err(|e| SealError::Setup(format!("no randomness for a key: {e}")))?;
        Ok(Self::from_secret(*secret))
    }

    /// The key with these 32 secret bytes.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let public = MontgomeryPoint::mul_base_clamped(secret).to_bytes();
        Self {
            secret: Zeroizing::new(secret),
            public: PublicKey(public),
        }
    }

    /// The public key, for the other parties' tables.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The secret as 64 hex digits (store it like a password).
    pub fn to_hex(&self) -> String {
        HEXLOWER.encode(self.secret.as_ref())
    }

    /// A key from [`to_hex`](Self::to_hex)'s text.
    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        let secret = Zeroizing::new(
            decode_32(text.trim())
                .ok_or_else(|| SealError::Setup("not a private key (64 hex digits)".into()))?,
        );
        Ok(Self::from_secret(*secret))
    }

    /// The secret bytes, for the handshake.
    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// Writes the key to `path` as one line of hex; the file is created
    /// readable and writable by its owner only (mode 0600 on Unix) before the
    /// secret is written, and must not exist yet.
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
        let line = Zeroizing::new(format!("{}\n", self.to_hex()));
        file.write_all(line.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads a key file written by [`write_file`](Self::write_file). On Unix, a
    /// file that others can read is refused: the key may have leaked.
    pub fn read_file(path: &Path) -> Result<Self, SealError> {
        let err = |why: String| SealError::Setup(format!("{}: {why}", path.display()));
        let metadata = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if metadata.len() > 1024 {
            return Err(err("not a key file (too long)".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "others may read this key file (mode {:o}); make it 0600 if the key is still secret",
                    mode & 0o777
                )));
            }
        }
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        Self::from_hex(&text).map_err(|_| err("not a key file (64 hex digits)".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_key_is_the_x25519_base_point_multiple() {
        // RFC 7748, section 6.1: Alice's key pair.
        let secret: [u8; 32] = HEXLOWER
            .decode(b"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
            .unwrap()
            .try_into()
            .unwrap();
        let key = PartyKey::from_secret(secret);
        assert_eq!(
            key.public().to_string(),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        assert_eq!(
            PartyKey::from_hex(&key.to_hex()).unwrap().public(),
            key.public()
        );
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("seal-key-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k");
        let key = PartyKey::generate().unwrap();
        key.write_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            key.write_file(&path).is_err(),
            "an existing key file is kept"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = PartyKey::read_file(&path).unwrap_err().to_string();
        assert!(err.contains("others may read"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

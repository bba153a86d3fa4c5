//! Party keys: an ed25519 key pair per party, made by the party itself; the
//! party table pins every party's public key, and TLS proves it (RFC 7250 raw
//! public keys, no certificates or authorities).

use std::path::Path;

use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::TcpError;

/// The DER prefix of an ed25519 SubjectPublicKeyInfo, before the 32 key bytes.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A party's public key: 32 bytes, written as 64 hex digits.
///
/// ```
/// use channel_tcp::PartyKey;
///
/// let key = PartyKey::generate().unwrap();
/// let text = key.public().to_string();
/// assert_eq!(text.parse::<channel_tcp::PublicKey>().unwrap(), key.public());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's 32 bytes.
    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// The key as the SubjectPublicKeyInfo that TLS carries.
    pub(crate) fn spki(&self) -> Vec<u8> {
        let mut der = SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        der
    }

    /// The key of a SubjectPublicKeyInfo, if it is an ed25519 one.
    pub(crate) fn from_spki(der: &[u8]) -> Option<Self> {
        let key = der.strip_prefix(&SPKI_PREFIX[..])?;
        key.try_into().ok().map(Self)
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl std::str::FromStr for PublicKey {
    type Err = TcpError;

    fn from_str(text: &str) -> Result<Self, TcpError> {
        let bad = || TcpError::Setup(format!("not a public key (64 hex digits): {text:?}"));
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Self(bytes))
    }
}

/// A party's own key pair (ed25519). Its private half never leaves the party;
/// its [`public`](Self::public) half goes into everyone's party table.
pub struct PartyKey {
    pkcs8: Vec<u8>,
    public: PublicKey,
}

impl std::fmt::Debug for PartyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartyKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl PartyKey {
    /// A fresh key pair from the operating system's randomness.
    pub fn generate() -> Result<Self, TcpError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| TcpError::Setup("cannot generate an ed25519 key".into()))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// The key pair from its PKCS#8 document.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, TcpError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| TcpError::Setup(format!("not an ed25519 PKCS#8 key: {e}")))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| TcpError::Setup("an ed25519 public key has 32 bytes".into()))?;
        Ok(Self {
            pkcs8: pkcs8.to_vec(),
            public: PublicKey(public),
        })
    }

    /// The public half, for the party table.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// The PKCS#8 document (secret: store it like a password).
    pub fn to_pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Writes the key to `path`, readable by its owner only (0600 on Unix).
    pub fn write_file(&self, path: &Path) -> Result<(), TcpError> {
        let io =
            |e: std::io::Error| TcpError::Setup(format!("cannot write {}: {e}", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        std::io::Write::write_all(&mut file, &self.pkcs8).map_err(io)
    }

    /// Reads a key written by [`write_file`](Self::write_file).
    pub fn read_file(path: &Path) -> Result<Self, TcpError> {
        // Bounded: an ed25519 PKCS#8 document is about 100 bytes.
        let meta = std::fs::metadata(path)
            .map_err(|e| TcpError::Setup(format!("cannot read {}: {e}", path.display())))?;
        if meta.len() > 4096 {
            return Err(TcpError::Setup(format!(
                "{} is {} bytes, not a key",
                path.display(),
                meta.len()
            )));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| TcpError::Setup(format!("cannot read {}: {e}", path.display())))?;
        Self::from_pkcs8(&bytes)
    }
}

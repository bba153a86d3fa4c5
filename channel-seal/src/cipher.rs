//! One direction of a sealed pair: an AEAD key and its chunk counter.
//!
//! A sealed chunk is the chunk encrypted in place, then its 16-byte tag, then
//! one byte saying what it is ([`Kind`]): `ciphertext | tag | kind`. The nonce is
//! the chunk's number in this direction (4 zero bytes, then the number as a
//! 64-bit little-endian integer), never sent: the receiver counts too, so a
//! chunk replayed, reordered, dropped or injected on the way meets the wrong
//! nonce and fails to authenticate. The kind byte is authenticated as
//! associated data. Every [`REKEY_AFTER`] chunks both sides replace the key by
//! Noise's `REKEY()` (the first 32 bytes of encrypting 32 zero bytes under the
//! nonce 2^64 - 1, which no chunk uses), long before a counter could repeat.

use zeroize::Zeroizing;

use crate::SealError;

/// Bytes a sealed chunk adds: the tag and the kind.
pub const OVERHEAD: usize = TAG_LEN + 1;
const TAG_LEN: usize = 16;

/// Chunks sealed under one key before both sides rekey.
pub const REKEY_AFTER: u64 = 1 << 20;

/// The AEAD of a pair's chunks, agreed in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// AES-256-GCM: where both parties' CPUs have AES instructions.
    Aes256Gcm,
    /// ChaCha20-Poly1305: otherwise (and in browsers).
    ChaCha20Poly1305,
}

impl Suite {
    /// The suite for two parties, given whether each has fast AES.
    pub fn agree(ours: bool, theirs: bool) -> Self {
        if ours && theirs {
            Suite::Aes256Gcm
        } else {
            Suite::ChaCha20Poly1305
        }
    }
}

/// Whether this CPU runs AES-GCM in hardware (AES and carry-less multiply).
pub fn aes_is_fast() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// What a sealed chunk carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The initiator's handshake message (not encrypted by this layer).
    Hello = 1,
    /// The responder's handshake message (not encrypted by this layer).
    Welcome = 2,
    /// A party gives up its handshake (not authenticated: it can only stop things).
    Abort = 3,
    /// A chunk of the application, sealed.
    Data = 16,
}

impl Kind {
    pub fn of(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Kind::Hello),
            2 => Some(Kind::Welcome),
            3 => Some(Kind::Abort),
            16 => Some(Kind::Data),
            _ => None,
        }
    }
}

/// One direction's key, suite and chunk counter.
pub struct Direction {
    suite: Suite,
    key: Zeroizing<[u8; 32]>,
    aead: backend::Key,
    /// The number of the next chunk.
    next: u64,
    rekey_after: u64,
}

impl std::fmt::Debug for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direction")
            .field("suite", &self.suite)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

fn nonce(counter: u64) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&counter.to_le_bytes());
    nonce
}

impl Direction {
    pub fn new(suite: Suite, key: [u8; 32]) -> Result<Self, SealError> {
        Self::with_rekey(suite, key, REKEY_AFTER)
    }

    pub(crate) fn with_rekey(
        suite: Suite,
        key: [u8; 32],
        rekey_after: u64,
    ) -> Result<Self, SealError> {
        let key = Zeroizing::new(key);
        Ok(Self {
            suite,
            aead: backend::Key::new(suite, &key)?,
            key,
            next: 0,
            rekey_after: rekey_after.max(1),
        })
    }

    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The number of the next chunk.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Seals `chunk` in place: `chunk | tag | kind`.
    pub fn seal(&mut self, chunk: &mut Vec<u8>, kind: Kind) -> Result<(), SealError> {
        let counter = self.advance()?;
        let tag = self
            .aead
            .seal(nonce(counter), &[kind as u8], chunk)
            .map_err(|()| SealError::Setup("the cipher refused to seal a chunk".into()))?;
        chunk.reserve_exact(OVERHEAD);
        chunk.extend_from_slice(&tag);
        chunk.push(kind as u8);
        self.after(counter)
    }

    /// Opens a sealed `chunk` of `kind` in place (its kind byte already taken
    /// off); `Err` with the chunk's number when it does not authenticate.
    pub fn open(&mut self, chunk: &mut Vec<u8>, kind: Kind) -> Result<(), u64> {
        let counter = self.next;
        let Some(body) = chunk.len().checked_sub(TAG_LEN) else {
            return Err(counter);
        };
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&chunk[body..]);
        chunk.truncate(body);
        if self
            .aead
            .open(nonce(counter), &[kind as u8], chunk, tag)
            .is_err()
        {
            // Nothing of a chunk that failed is kept.
            chunk.clear();
            return Err(counter);
        }
        self.next += 1;
        self.after(counter).map_err(|_| counter)
    }

    /// The number for the chunk being sealed.
    fn advance(&mut self) -> Result<u64, SealError> {
        let counter = self.next;
        // u64::MAX is REKEY's nonce; 2^64 - 1 chunks never happen, but stay exact.
        if counter == u64::MAX {
            return Err(SealError::Setup(
                "2^64 - 1 chunks in one direction: start a new session".into(),
            ));
        }
        self.next += 1;
        Ok(counter)
    }

    /// Rekeys after every `rekey_after`-th chunk.
    fn after(&mut self, counter: u64) -> Result<(), SealError> {
        if !(counter + 1).is_multiple_of(self.rekey_after) {
            return Ok(());
        }
        let mut zeros = vec![0u8; 32];
        let _tag = self
            .aead
            .seal(nonce(u64::MAX), &[], &mut zeros)
            .map_err(|()| SealError::Setup("the cipher refused to rekey".into()))?;
        self.key.copy_from_slice(&zeros);
        zeros.fill(0);
        self.aead = backend::Key::new(self.suite, &self.key)?;
        Ok(())
    }
}

/// aws-lc-rs natively: AES-256-GCM (AES-NI, VAES) and ChaCha20-Poly1305.
#[cfg(not(target_arch = "wasm32"))]
mod backend {
    use aws_lc_rs::aead::{AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

    use super::{Suite, TAG_LEN};
    use crate::SealError;

    pub struct Key(LessSafeKey);

    impl Key {
        pub fn new(suite: Suite, key: &[u8; 32]) -> Result<Self, SealError> {
            let algorithm = match suite {
                Suite::Aes256Gcm => &AES_256_GCM,
                Suite::ChaCha20Poly1305 => &CHACHA20_POLY1305,
            };
            UnboundKey::new(algorithm, key)
                .map(|k| Key(LessSafeKey::new(k)))
                .map_err(|_| SealError::Setup("the cipher refused the key".into()))
        }

        pub fn seal(
            &self,
            nonce: [u8; 12],
            ad: &[u8],
            data: &mut [u8],
        ) -> Result<[u8; TAG_LEN], ()> {
            self.0
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(ad),
                    data,
                )
                .map(|tag| {
                    let mut out = [0u8; TAG_LEN];
                    out.copy_from_slice(tag.as_ref());
                    out
                })
                .map_err(|_| ())
        }

        pub fn open(
            &self,
            nonce: [u8; 12],
            ad: &[u8],
            data: &mut [u8],
            tag: [u8; TAG_LEN],
        ) -> Result<(), ()> {
            self.0
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(ad),
                    &tag,
                    data,
                )
                .map(drop)
                .map_err(|_| ())
        }
    }
}

/// RustCrypto in the browser: ChaCha20-Poly1305 (browsers negotiate no AES).
#[cfg(target_arch = "wasm32")]
mod backend {
    use chacha20poly1305::ChaCha20Poly1305;
    use chacha20poly1305::aead::{AeadInPlace, KeyInit};

    use super::{Suite, TAG_LEN};
    use crate::SealError;

    pub struct Key(ChaCha20Poly1305);

    impl Key {
        pub fn new(suite: Suite, key: &[u8; 32]) -> Result<Self, SealError> {
            match suite {
                Suite::ChaCha20Poly1305 => Ok(Key(ChaCha20Poly1305::new(key.into()))),
                Suite::Aes256Gcm => Err(SealError::Setup(
                    "AES-256-GCM was agreed, but a browser party offers only ChaCha20-Poly1305"
                        .into(),
                )),
            }
        }

        pub fn seal(
            &self,
            nonce: [u8; 12],
            ad: &[u8],
            data: &mut [u8],
        ) -> Result<[u8; TAG_LEN], ()> {
            self.0
                .encrypt_in_place_detached(&nonce.into(), ad, data)
                .map(|tag| tag.into())
                .map_err(|_| ())
        }

        pub fn open(
            &self,
            nonce: [u8; 12],
            ad: &[u8],
            data: &mut [u8],
            tag: [u8; TAG_LEN],
        ) -> Result<(), ()> {
            self.0
                .decrypt_in_place_detached(&nonce.into(), ad, data, &tag.into())
                .map_err(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(suite: Suite, rekey_after: u64) -> (Direction, Direction) {
        let key = [42u8; 32];
        (
            Direction::with_rekey(suite, key, rekey_after).unwrap(),
            Direction::with_rekey(suite, key, rekey_after).unwrap(),
        )
    }

    #[test]
    fn chunks_open_in_order_and_nothing_else_does() {
        for suite in [Suite::Aes256Gcm, Suite::ChaCha20Poly1305] {
            let (mut tx, mut rx) = pair(suite, REKEY_AFTER);
            let mut first = b"first chunk".to_vec();
            let mut second = b"second".to_vec();
            tx.seal(&mut first, Kind::Data).unwrap();
            tx.seal(&mut second, Kind::Data).unwrap();
            assert_eq!(first.len(), 11 + OVERHEAD);
            assert_eq!(first.last(), Some(&(Kind::Data as u8)));
            assert_ne!(&first[..11], b"first chunk", "{suite:?} encrypts");

            // Out of order: the second chunk meets the first one's nonce.
            let mut early = second.clone();
            early.pop();
            assert_eq!(rx.open(&mut early, Kind::Data), Err(0));
            assert!(early.is_empty(), "nothing of a failed chunk is kept");

            let mut one = first.clone();
            one.pop();
            rx.open(&mut one, Kind::Data).unwrap();
            assert_eq!(one, b"first chunk");
            // A replay of the first chunk meets the second one's nonce.
            let mut replay = first.clone();
            replay.pop();
            assert_eq!(rx.open(&mut replay, Kind::Data), Err(1));
            // An altered byte, a cut tag, the wrong kind.
            for mut bad in [
                {
                    let mut b = second.clone();
                    b[0] ^= 1;
                    b
                },
                second[..second.len() - 5].to_vec(),
                Vec::new(),
            ] {
                bad.pop();
                let mut fresh = pair(suite, REKEY_AFTER).1;
                let mut skip = first.clone();
                skip.pop();
                fresh.open(&mut skip, Kind::Data).unwrap();
                assert_eq!(fresh.open(&mut bad, Kind::Data), Err(1));
            }
            let mut wrong_kind = second.clone();
            wrong_kind.pop();
            assert_eq!(
                rx.clone_for_test().open(&mut wrong_kind, Kind::Hello),
                Err(1)
            );
            let mut two = second.clone();
            two.pop();
            rx.open(&mut two, Kind::Data).unwrap();
            assert_eq!(two, b"second");
        }
    }

    #[test]
    fn both_sides_rekey_together_and_the_key_changes() {
        for suite in [Suite::Aes256Gcm, Suite::ChaCha20Poly1305] {
            let (mut tx, mut rx) = pair(suite, 3);
            let before = *tx.key;
            for i in 0..10u8 {
                let mut chunk = vec![i; 100];
                tx.seal(&mut chunk, Kind::Data).unwrap();
                chunk.pop();
                rx.open(&mut chunk, Kind::Data).unwrap();
                assert_eq!(chunk, vec![i; 100]);
            }
            assert_ne!(*tx.key, before, "rekeyed after 3, 6 and 9 chunks");
            assert_eq!(*tx.key, *rx.key);
            // A receiver that did not rekey cannot open what follows.
            let (mut stale_tx, _) = pair(suite, REKEY_AFTER);
            for _ in 0..10 {
                stale_tx.seal(&mut vec![0; 4], Kind::Data).unwrap();
            }
            let mut chunk = vec![9; 10];
            stale_tx.seal(&mut chunk, Kind::Data).unwrap();
            chunk.pop();
            assert_eq!(rx.open(&mut chunk, Kind::Data), Err(10));
        }
    }

    #[test]
    fn the_suites_do_not_open_each_other() {
        let mut aes = Direction::new(Suite::Aes256Gcm, [1; 32]).unwrap();
        let mut chacha = Direction::new(Suite::ChaCha20Poly1305, [1; 32]).unwrap();
        let mut chunk = b"x".to_vec();
        aes.seal(&mut chunk, Kind::Data).unwrap();
        chunk.pop();
        assert_eq!(chacha.open(&mut chunk, Kind::Data), Err(0));
        assert_eq!(Suite::agree(true, true), Suite::Aes256Gcm);
        assert_eq!(Suite::agree(true, false), Suite::ChaCha20Poly1305);
    }

    impl Direction {
        fn clone_for_test(&self) -> Direction {
            let mut copy = Direction::with_rekey(self.suite, *self.key, self.rekey_after).unwrap();
            copy.next = self.next;
            copy
        }
    }
}

//! The handshake of one pair of parties, without I/O: Noise
//! `KK_25519_ChaChaPoly_SHA256` (snow), the lower-numbered party initiating.
//!
//! Why KK: both parties know each other's static public key in advance (it is
//! in the table every party holds), so the pattern that uses exactly that
//! knowledge authenticates both sides in one round trip (`-> e, es, ss` and
//! `<- e, ee, se`), with forward secrecy from the ephemeral keys and one key per
//! direction from Noise's Split(). XX or IK would send or learn static keys in
//! the handshake, which the table makes pointless; NN or N would authenticate
//! nobody.
//!
//! The prologue binds the protocol version, the session, a hash of the whole
//! key table, and the two party indices in their roles, so a handshake (and
//! every chunk after it) cannot be moved to another session, table, pair or
//! direction. Each side's payload says whether its CPU has fast AES, so the
//! pair agrees on AES-256-GCM or ChaCha20-Poly1305 for its chunks.

use sha2::{Digest, Sha256};

use crate::cipher::{Direction, Suite, aes_is_fast};
use crate::{PartyKey, PublicKey, SealError};

const PATTERN: &str = "Noise_KK_25519_ChaChaPoly_SHA256";
const VERSION: u8 = 1;
/// Capability bit: this party's CPU does AES-GCM in hardware.
const CAN_AES: u8 = 1;
/// A KK message here: ephemeral key (32), payload (2) and its tag (16).
const MAX_MESSAGE: usize = 128;

/// The keys of one pair, once its handshake is done.
#[derive(Debug)]
pub struct PairKeys {
    pub send: Direction,
    pub recv: Direction,
}

/// The hash of the key table every party must hold the same of.
pub fn table_hash(keys: &[PublicKey]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(b"mpc-channels/seal/table/v1");
    hash.update((keys.len() as u64).to_le_bytes());
    for key in keys {
        hash.update(key.as_bytes());
    }
    hash.finalize().into()
}

fn prologue(session: &[u8], table: &[u8; 32], initiator: usize, responder: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(64 + session.len());
    p.extend_from_slice(b"mpc-channels/seal/v1");
    p.extend_from_slice(&(session.len() as u64).to_le_bytes());
    p.extend_from_slice(session);
    p.extend_from_slice(table);
    p.extend_from_slice(&(initiator as u64).to_le_bytes());
    p.extend_from_slice(&(responder as u64).to_le_bytes());
    p
}

/// One pair's handshake in progress, seen from party `me`.
pub struct Pairing {
    peer: usize,
    initiator: bool,
    state: snow::HandshakeState,
    aes: bool,
}

impl Pairing {
    /// The handshake of `me` (holding `key`) with `peer` (holding `peer_key`)
    /// in `session`, whose table hashes to `table`.
    pub fn new(
        me: usize,
        peer: usize,
        key: &PartyKey,
        peer_key: &PublicKey,
        session: &[u8],
        table: &[u8; 32],
    ) -> Result<Self, SealError> {
        let initiator = me < peer;
        let (low, high) = if initiator { (me, peer) } else { (peer, me) };
        let prologue = prologue(session, table, low, high);
        let params = PATTERN
            .parse()
            .map_err(|e| SealError::Setup(format!("Noise pattern {PATTERN}: {e}")))?;
        let setup = |e: snow::Error| SealError::handshake(peer, format!("cannot start it: {e}"));
        let builder = snow::Builder::new(params)
            .local_private_key(key.secret())
            .map_err(setup)?
            .remote_public_key(peer_key.as_bytes())
            .map_err(setup)?
            .prologue(&prologue)
            .map_err(setup)?;
        let state = if initiator {
            builder.build_initiator()
        } else {
            builder.build_responder()
        }
        .map_err(setup)?;
        Ok(Self {
            peer,
            initiator,
            state,
            aes: aes_is_fast(),
        })
    }

    /// Whether this side sends the first message.
    #[cfg(test)]
    pub fn is_initiator(&self) -> bool {
        self.initiator
    }

    fn payload(&self) -> [u8; 2] {
        [VERSION, if self.aes { CAN_AES } else { 0 }]
    }

    fn write(&mut self) -> Result<Vec<u8>, SealError> {
        let mut message = vec![0u8; MAX_MESSAGE];
        let len = self
            .state
            .write_message(&self.payload(), &mut message)
            .map_err(|e| SealError::handshake(self.peer, format!("cannot write: {e}")))?;
        message.truncate(len);
        Ok(message)
    }

    /// Reads the peer's message; returns whether it has fast AES.
    fn read(&mut self, message: &[u8]) -> Result<bool, SealError> {
        if message.len() > MAX_MESSAGE {
            return Err(SealError::handshake(
                self.peer,
                format!(
                    "its message has {} bytes, a handshake message at most {MAX_MESSAGE}",
                    message.len()
                ),
            ));
        }
        let mut payload = [0u8; MAX_MESSAGE];
        let len = self.state.read_message(message, &mut payload).map_err(|_| {
            SealError::handshake(
                self.peer,
                "its message does not check out: it does not hold the key our table lists for it, \
                 or it holds another table or session, or the message was altered on the way",
            )
        })?;
        match payload.get(..len) {
            Some([VERSION, caps]) => Ok(caps & CAN_AES != 0),
            Some([version, ..]) => Err(SealError::handshake(
                self.peer,
                format!("it speaks sealing version {version}, this party {VERSION}"),
            )),
            _ => Err(SealError::handshake(
                self.peer,
                "its message carries no version",
            )),
        }
    }

    fn keys(&mut self, peer_aes: bool) -> Result<PairKeys, SealError> {
        let suite = Suite::agree(self.aes, peer_aes);
        let (to_responder, to_initiator) = self.state.dangerously_get_raw_split();
        let (send, recv) = if self.initiator {
            (to_responder, to_initiator)
        } else {
            (to_initiator, to_responder)
        };
        Ok(PairKeys {
            send: Direction::new(suite, send)?,
            recv: Direction::new(suite, recv)?,
        })
    }

    /// The initiator's first message.
    pub fn hello(&mut self) -> Result<Vec<u8>, SealError> {
        self.write()
    }

    /// The responder reads the initiator's message and answers; the pair's
    /// keys are ready.
    pub fn welcome(&mut self, hello: &[u8]) -> Result<(Vec<u8>, PairKeys), SealError> {
        let peer_aes = self.read(hello)?;
        let answer = self.write()?;
        Ok((answer, self.keys(peer_aes)?))
    }

    /// The initiator reads the responder's answer; the pair's keys are ready.
    pub fn finish(&mut self, welcome: &[u8]) -> Result<PairKeys, SealError> {
        let peer_aes = self.read(welcome)?;
        self.keys(peer_aes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::Kind;

    fn keys() -> (PartyKey, PartyKey, [u8; 32]) {
        let (a, b) = (PartyKey::generate().unwrap(), PartyKey::generate().unwrap());
        let table = table_hash(&[a.public(), b.public()]);
        (a, b, table)
    }

    #[test]
    fn a_pair_agrees_on_keys_for_both_directions() {
        let (a, b, table) = keys();
        let mut zero = Pairing::new(0, 1, &a, &b.public(), b"s", &table).unwrap();
        let mut one = Pairing::new(1, 0, &b, &a.public(), b"s", &table).unwrap();
        assert!(zero.is_initiator() && !one.is_initiator());
        let hello = zero.hello().unwrap();
        let (welcome, mut ones) = one.welcome(&hello).unwrap();
        let mut zeros = zero.finish(&welcome).unwrap();
        for (from, to) in [
            (&mut zeros.send, &mut ones.recv),
            (&mut ones.send, &mut zeros.recv),
        ] {
            let mut chunk = b"across".to_vec();
            from.seal(&mut chunk, Kind::Data).unwrap();
            chunk.pop();
            to.open(&mut chunk, Kind::Data).unwrap();
            assert_eq!(chunk, b"across");
        }
        // The two directions have different keys.
        let mut chunk = b"mine".to_vec();
        zeros.send.seal(&mut chunk, Kind::Data).unwrap();
        chunk.pop();
        assert!(zeros.recv.open(&mut chunk, Kind::Data).is_err());
    }

    #[test]
    fn a_wrong_key_session_or_table_fails_the_handshake_on_both_sides() {
        let (a, b, table) = keys();
        let mallory = PartyKey::generate().unwrap();
        // Party 1 expects b's key for itself but the initiator believes 1 holds mallory's.
        let cases: Vec<(&str, PublicKey, &[u8], [u8; 32])> = vec![
            ("wrong responder key", mallory.public(), b"s", table),
            ("other session", b.public(), b"t", table),
            ("other table", b.public(), b"s", table_hash(&[a.public()])),
        ];
        for (what, believed, session, their_table) in cases {
            let mut zero = Pairing::new(0, 1, &a, &believed, session, &their_table).unwrap();
            let mut one = Pairing::new(1, 0, &b, &a.public(), b"s", &table).unwrap();
            let hello = zero.hello().unwrap();
            match one.welcome(&hello) {
                Err(SealError::Handshake { party: 0, .. }) => {}
                other => panic!("{what}: expected a handshake error, got {other:?}"),
            }
        }
        // An impostor initiator: mallory claims to be party 0.
        let mut fake = Pairing::new(0, 1, &mallory, &b.public(), b"s", &table).unwrap();
        let mut one = Pairing::new(1, 0, &b, &a.public(), b"s", &table).unwrap();
        assert!(one.welcome(&fake.hello().unwrap()).is_err());
        // An altered answer fails at the initiator.
        let mut zero = Pairing::new(0, 1, &a, &b.public(), b"s", &table).unwrap();
        let mut one = Pairing::new(1, 0, &b, &a.public(), b"s", &table).unwrap();
        let (mut welcome, _) = one.welcome(&zero.hello().unwrap()).unwrap();
        welcome[40] ^= 1;
        assert!(matches!(
            zero.finish(&welcome),
            Err(SealError::Handshake { party: 1, .. })
        ));
        // Oversized junk is refused before snow sees it.
        let mut one = Pairing::new(1, 0, &b, &a.public(), b"s", &table).unwrap();
        assert!(one.welcome(&[0u8; 4096]).is_err());
    }
}

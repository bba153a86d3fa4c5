//! A party's sealing state, without I/O: the handshakes with every peer while
//! they run ([`Handshakes`]), then one pair of keys per peer ([`SealState`]),
//! which seals what goes out and opens what comes in.

use channel_core::transport::TransportError;

use crate::cipher::{Direction, Kind, OVERHEAD, Suite};
use crate::handshake::{PairKeys, Pairing, table_hash};
use crate::{PartyKey, PublicKey, SealError};

/// The most parties a table may list.
pub const MAX_PARTIES: usize = 1 << 16;

/// Sealing what goes to one peer.
#[derive(Debug)]
pub struct SendKeys {
    send: Direction,
}

impl SendKeys {
    /// The cipher agreed with the peer.
    pub fn suite(&self) -> Suite {
        self.send.suite()
    }

    /// Seals a chunk for the peer.
    pub fn seal(&mut self, mut chunk: Vec<u8>) -> Result<Vec<u8>, SealError> {
        self.send.seal(&mut chunk, Kind::Data)?;
        Ok(chunk)
    }
}

/// Opening what comes from one peer.
#[derive(Debug)]
pub struct RecvKeys {
    p: usize,
    recv: Direction,
    /// A chunk from the peer failed: the first failure and its chunk, for
    /// every later call.
    broken: Option<(String, u64)>,
}

impl RecvKeys {
    /// Fails at once when the stream from the peer is broken (an earlier chunk
    /// did not authenticate), so a receive need not wait for a chunk it would refuse.
    pub fn intact(&self) -> Result<(), SealError> {
        match &self.broken {
            Some((first, chunk)) => Err(broken(self.p, first, *chunk)),
            None => Ok(()),
        }
    }

    /// Opens a chunk from the peer: the chunk, or why it is not one. After a
    /// failure the stream cannot be trusted: every later call fails.
    pub fn open(&mut self, mut chunk: Vec<u8>) -> Result<Vec<u8>, SealError> {
        self.intact()?;
        let p = self.p;
        let forged = SealError::forged(p, self.recv.next());
        let failure = match chunk.pop().map(Kind::of) {
            Some(Some(Kind::Data)) => match self.recv.open(&mut chunk, Kind::Data) {
                Ok(()) => return Ok(chunk),
                Err(_) => forged,
            },
            Some(Some(Kind::Abort)) => SealError::Refused { party: p },
            // Empty, of no kind, or a handshake message where data belongs:
            // as forged as any.
            Some(Some(Kind::Hello | Kind::Welcome) | None) | None => forged,
        };
        self.broken = Some((failure.to_string(), self.recv.next()));
        Err(failure)
    }
}

/// One party's keys for every peer: seals and opens chunks.
pub struct SealState {
    me: usize,
    peers: Vec<Option<(SendKeys, RecvKeys)>>,
}

impl std::fmt::Debug for SealState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealState")
            .field("me", &self.me)
            .field("parties", &self.peers.len())
            .finish_non_exhaustive()
    }
}

/// The error for a receive from `p` after the stream from it broke at `chunk`.
fn broken(p: usize, first: &str, chunk: u64) -> SealError {
    SealError::Broken {
        party: p,
        first: first.to_string(),
        cause: TransportError::Unauthentic { party: p, chunk },
    }
}

/// A chunk's kind byte and the rest.
fn split_kind(party: usize, chunk: &mut Vec<u8>) -> Result<Kind, SealError> {
    let byte = chunk.pop().ok_or(SealError::forged(party, 0))?;
    Kind::of(byte)
        .ok_or_else(|| SealError::handshake(party, format!("a chunk of unknown kind {byte}")))
}

impl SealState {
    /// The party's index.
    pub fn party(&self) -> usize {
        self.me
    }

    fn keys(&mut self, p: usize) -> Result<&mut (SendKeys, RecvKeys), SealError> {
        channel_core::transport::check_peer(self.me, p, self.peers.len())
            .map_err(|e| SealError::transport(p, e))?;
        self.peers
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or_else(|| SealError::Setup(format!("no keys for party {p}")))
    }

    /// Seals a chunk for `p`.
    pub fn seal(&mut self, p: usize, chunk: Vec<u8>) -> Result<Vec<u8>, SealError> {
        self.keys(p)?.0.seal(chunk)
    }

    /// Fails at once when the stream from `p` is broken (an earlier chunk did
    /// not authenticate), so a receive need not wait for a chunk it would refuse.
    pub fn intact(&self, p: usize) -> Result<(), SealError> {
        match self.peers.get(p) {
            Some(Some((_, recv))) => recv.intact(),
            _ => Ok(()),
        }
    }

    /// Opens a chunk from `p`: the chunk, or why it is not one.
    pub fn open(&mut self, p: usize, chunk: Vec<u8>) -> Result<Vec<u8>, SealError> {
        self.keys(p)?.1.open(chunk)
    }

    /// The cipher agreed with `p`.
    pub fn suite(&self, p: usize) -> Option<Suite> {
        self.peers
            .get(p)?
            .as_ref()
            .map(|(send, _)| send.send.suite())
    }

    /// How many bytes a sealed chunk adds.
    pub fn overhead(&self) -> usize {
        OVERHEAD
    }

    /// Each peer's keys, by direction, for halves that run at the same time.
    pub fn into_peers(self) -> Vec<(usize, SendKeys, RecvKeys)> {
        self.peers
            .into_iter()
            .enumerate()
            .filter_map(|(p, keys)| keys.map(|(send, recv)| (p, send, recv)))
            .collect()
    }
}

/// The handshakes of party `me` with every other party, while they run.
///
/// The order in which a driver runs them cannot deadlock, because a send never
/// waits for the peer to read: first a HELLO to every higher-numbered peer, then
/// for every lower-numbered peer its HELLO read and a WELCOME sent back, then
/// the WELCOME of every higher-numbered peer read.
pub struct Handshakes {
    me: usize,
    pairings: Vec<Option<Pairing>>,
    done: Vec<Option<PairKeys>>,
}

impl std::fmt::Debug for Handshakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshakes")
            .field("me", &self.me)
            .field("unfinished", &self.unfinished())
            .finish_non_exhaustive()
    }
}

/// A handshake message for `party`, sealed-chunk framed (`message | kind`).
fn framed(mut message: Vec<u8>, kind: Kind) -> Vec<u8> {
    message.push(kind as u8);
    message
}

/// The abort message: this party gives up the handshake.
pub fn abort() -> Vec<u8> {
    vec![Kind::Abort as u8]
}

impl Handshakes {
    /// Party `me` holding `key`, with the table `keys` (one public key per
    /// party, its own at `me`) in `session`.
    pub fn new(
        me: usize,
        key: &PartyKey,
        keys: &[PublicKey],
        session: &[u8],
    ) -> Result<Self, SealError> {
        if keys.len() < 2 || keys.len() > MAX_PARTIES {
            return Err(SealError::Setup(format!(
                "a table of {} keys; sealing needs 2 to {MAX_PARTIES} parties",
                keys.len()
            )));
        }
        match keys.get(me) {
            None => {
                return Err(SealError::Setup(format!(
                    "party {me} is not in a table of {} parties",
                    keys.len()
                )));
            }
            Some(own) if *own != key.public() => {
                return Err(SealError::Setup(format!(
                    "the table lists key {} for party {me}, but this party's key is {}: wrong key file or wrong index",
                    own.fingerprint(),
                    key.public().fingerprint()
                )));
            }
            Some(_) => {}
        }
        let table = table_hash(keys);
        let pairings = keys
            .iter()
            .enumerate()
            .map(|(p, peer_key)| {
                (p != me)
                    .then(|| Pairing::new(me, p, key, peer_key, session, &table))
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            me,
            pairings,
            done: (0..keys.len()).map(|_| None).collect(),
        })
    }

    /// The peers this party greets first (higher-numbered).
    pub fn higher(&self) -> Vec<usize> {
        (self.me + 1..self.pairings.len()).collect()
    }

    /// The peers that greet this party first (lower-numbered).
    pub fn lower(&self) -> Vec<usize> {
        (0..self.me).collect()
    }

    /// The peers whose handshake is not done, for aborting.
    pub fn unfinished(&self) -> Vec<usize> {
        (0..self.pairings.len())
            .filter(|&p| p != self.me && self.done.get(p).is_some_and(Option::is_none))
            .collect()
    }

    fn pairing(&mut self, p: usize) -> Result<&mut Pairing, SealError> {
        self.pairings
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or_else(|| SealError::Setup(format!("no handshake with party {p}")))
    }

    /// The HELLO for higher-numbered `p`.
    pub fn hello(&mut self, p: usize) -> Result<Vec<u8>, SealError> {
        Ok(framed(self.pairing(p)?.hello()?, Kind::Hello))
    }

    /// Lower-numbered `p`'s HELLO arrived: the WELCOME to send back.
    pub fn welcome(&mut self, p: usize, mut hello: Vec<u8>) -> Result<Vec<u8>, SealError> {
        match split_kind(p, &mut hello)? {
            Kind::Hello => {}
            Kind::Abort => return Err(SealError::Refused { party: p }),
            other => {
                return Err(SealError::handshake(
                    p,
                    format!("expected its HELLO, got {other:?}"),
                ));
            }
        }
        let (welcome, keys) = self.pairing(p)?.welcome(&hello)?;
        self.finished(p, keys);
        Ok(framed(welcome, Kind::Welcome))
    }

    /// Higher-numbered `p`'s WELCOME arrived.
    pub fn finish(&mut self, p: usize, mut welcome: Vec<u8>) -> Result<(), SealError> {
        match split_kind(p, &mut welcome)? {
            Kind::Welcome => {}
            Kind::Abort => return Err(SealError::Refused { party: p }),
            other => {
                return Err(SealError::handshake(
                    p,
                    format!("expected its WELCOME, got {other:?}"),
                ));
            }
        }
        let keys = self.pairing(p)?.finish(&welcome)?;
        self.finished(p, keys);
        Ok(())
    }

    fn finished(&mut self, p: usize, keys: PairKeys) {
        if let Some(slot) = self.done.get_mut(p) {
            *slot = Some(keys);
        }
        if let Some(slot) = self.pairings.get_mut(p) {
            *slot = None;
        }
    }

    /// Every handshake done: the keys.
    pub fn into_state(self) -> Result<SealState, SealError> {
        if let Some(p) = self.unfinished().first() {
            return Err(SealError::Setup(format!(
                "the handshake with party {p} did not run"
            )));
        }
        Ok(SealState {
            me: self.me,
            peers: self
                .done
                .into_iter()
                .enumerate()
                .map(|(p, keys)| {
                    keys.map(|PairKeys { send, recv }| {
                        (
                            SendKeys { send },
                            RecvKeys {
                                p,
                                recv,
                                broken: None,
                            },
                        )
                    })
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the handshakes of `n` parties in the driver's order, in memory.
    fn handshake(n: usize) -> Vec<SealState> {
        let keys: Vec<PartyKey> = (0..n).map(|_| PartyKey::generate().unwrap()).collect();
        let table: Vec<PublicKey> = keys.iter().map(PartyKey::public).collect();
        let mut hs: Vec<Handshakes> = (0..n)
            .map(|me| Handshakes::new(me, &keys[me], &table, b"session").unwrap())
            .collect();
        let mut hellos = vec![vec![None; n]; n];
        for me in 0..n {
            for p in hs[me].higher() {
                hellos[me][p] = Some(hs[me].hello(p).unwrap());
            }
        }
        let mut welcomes = vec![vec![None; n]; n];
        for me in 0..n {
            for p in hs[me].lower() {
                let hello = hellos[p][me].take().unwrap();
                welcomes[me][p] = Some(hs[me].welcome(p, hello).unwrap());
            }
        }
        for me in 0..n {
            for p in hs[me].higher() {
                hs[me].finish(p, welcomes[p][me].take().unwrap()).unwrap();
            }
        }
        hs.into_iter().map(|h| h.into_state().unwrap()).collect()
    }

    #[test]
    fn every_pair_can_talk_after_the_handshakes() {
        let mut states = handshake(3);
        for from in 0..3 {
            for to in (0..3).filter(|&t| t != from) {
                let sealed = states[from].seal(to, vec![from as u8, to as u8]).unwrap();
                assert_eq!(sealed.len(), 2 + OVERHEAD);
                assert_eq!(
                    states[to].open(from, sealed).unwrap(),
                    [from as u8, to as u8]
                );
            }
        }
    }

    #[test]
    fn a_forged_chunk_breaks_the_stream_for_good() {
        let mut states = handshake(2);
        let mut sealed = states[0].seal(1, b"genuine".to_vec()).unwrap();
        sealed[0] ^= 0x80;
        assert!(matches!(
            states[1].open(0, sealed),
            Err(SealError::Forged {
                party: 0,
                chunk: 0,
                ..
            })
        ));
        // Even the genuine chunk is not accepted after that.
        let genuine = states[0].seal(1, b"next".to_vec()).unwrap();
        assert!(matches!(
            states[1].open(0, genuine),
            Err(SealError::Broken { party: 0, .. })
        ));
        // Sending the other way still works.
        let back = states[1].seal(0, b"back".to_vec()).unwrap();
        assert_eq!(states[0].open(1, back).unwrap(), b"back");
        // An abort or a handshake message where data belongs is an error too.
        let mut fresh = handshake(2);
        assert!(matches!(
            fresh[1].open(0, abort()),
            Err(SealError::Refused { party: 0 })
        ));
        let mut fresh = handshake(2);
        assert!(matches!(
            fresh[1].open(0, vec![1, 2, 3, 1]),
            Err(SealError::Forged { .. })
        ));
        let mut fresh = handshake(2);
        assert!(fresh[1].open(0, Vec::new()).is_err());
        assert!(fresh[1].open(1, vec![0; 20]).is_err(), "not from itself");
    }

    #[test]
    fn a_table_that_does_not_fit_is_refused_at_once() {
        let key = PartyKey::generate().unwrap();
        let other = PartyKey::generate().unwrap().public();
        assert!(Handshakes::new(0, &key, &[key.public()], b"s").is_err());
        assert!(Handshakes::new(2, &key, &[key.public(), other], b"s").is_err());
        let err = Handshakes::new(1, &key, &[key.public(), other], b"s").unwrap_err();
        assert!(
            err.to_string().contains("wrong key file or wrong index"),
            "{err}"
        );
    }
}

// Shared source: compiled once as `channel_seal::Sealed` (async) and once as
// `channel_seal::blocking::Sealed`, as channel-core's API is. `form` and
// `channel` come from the including module. (No `.await` inside macros:
// maybe-async does not strip them there.)

use channel_core::{RecvInfo, SendInfo};

use super::channel::{Channel, PeerReceiver, PeerSender, Peers, Split};
use super::form;
use crate::state::{Handshakes, RecvKeys, SealState, SendKeys, abort};
use crate::{PartyKey, PublicKey, SealError};

/// The phase the handshake's chunks travel in (for the transport's logs).
const PHASE: &str = "seal/handshake";

/// Runs party `me`'s handshakes with every other party over `inner` (which
/// carries them as plain chunks) and returns the keys. `keys` is the table
/// (party `i`'s public key at `i`, this party's own at `me`), `session` the id
/// every party of this computation shares (e.g. the relay's session id).
///
/// Returns once every peer has answered, or with the first failure, after
/// telling the peers whose handshake did not finish that this party gave up
/// (so they fail at once instead of waiting). Waits as long as `inner`'s
/// receives do.
#[form]
pub async fn handshake<C: Channel>(
    inner: &mut C,
    me: usize,
    key: &PartyKey,
    keys: &[PublicKey],
    session: &[u8],
) -> Result<SealState, SealError> {
    let mut hs = match Handshakes::new(me, key, keys, session) {
        Ok(hs) => hs,
        Err(e) => {
            // The peers would wait for this party's handshake: tell them.
            refuse(inner, me, keys.len().min(crate::MAX_PARTIES)).await;
            return Err(e);
        }
    };
    let outcome = run(inner, &mut hs).await;
    match outcome {
        Ok(()) => hs.into_state(),
        Err(e) => {
            for p in hs.unfinished() {
                // Best effort: the peer may be gone already.
                let _ = inner
                    .send_bytes_to(p, abort(), SendInfo::new(PHASE, 0, 1))
                    .await;
            }
            Err(e)
        }
    }
}

/// Tells every other party of `parties` that party `me` gives up its
/// handshakes (best effort), so that they fail at once with
/// [`SealError::Refused`] instead of waiting for it.
#[form]
pub async fn refuse<C: Channel>(inner: &mut C, me: usize, parties: usize) {
    for p in (0..parties).filter(|&p| p != me) {
        // Best effort: the peer may be gone already.
        let _ = inner
            .send_bytes_to(p, abort(), SendInfo::new(PHASE, 0, 1))
            .await;
    }
}

/// The handshakes in an order that cannot deadlock (see [`Handshakes`]).
#[form]
async fn run<C: Channel>(inner: &mut C, hs: &mut Handshakes) -> Result<(), SealError> {
    // A hello that cannot be sent (its peer is gone) is reported when that
    // peer's turn to answer comes, as a transport that sends in the
    // background reports it: the handshakes with the parties before it in
    // the order still finish, so a party that gave up does not make this
    // one give up on them too, and they learn which party failed.
    let mut failed: Vec<(usize, SealError)> = Vec::new();
    for p in hs.higher() {
        let hello = hs.hello(p)?;
        if let Err(e) = send_to_peer(inner, p, hello).await {
            failed.push((p, e));
        }
    }
    for p in hs.lower() {
        let hello = inner
            .recv_bytes_from(p, RecvInfo::new(PHASE, 0, Some(1)))
            .await
            .map_err(|e| SealError::transport(p, e))?;
        let welcome = hs.welcome(p, hello)?;
        send_to_peer(inner, p, welcome).await?;
    }
    for p in hs.higher() {
        if let Some(index) = failed.iter().position(|(f, _)| *f == p) {
            return Err(failed.swap_remove(index).1);
        }
        let welcome = inner
            .recv_bytes_from(p, RecvInfo::new(PHASE, 0, Some(1)))
            .await
            .map_err(|e| SealError::transport(p, e))?;
        hs.finish(p, welcome)?;
    }
    Ok(())
}

/// Sends handshake message `message` to `p`. When `p` is gone, the refusal
/// it may have sent before leaving explains that better: it is the error then
/// (a transport that learns of a goodbye early refuses the send at once).
#[form]
async fn send_to_peer<C: Channel>(
    inner: &mut C,
    p: usize,
    message: Vec<u8>,
) -> Result<(), SealError> {
    let Err(e) = inner
        .send_bytes_to(p, message, SendInfo::new(PHASE, 0, 1))
        .await
    else {
        return Ok(());
    };
    if is_peer_gone(&e)
        && let Ok(chunk) = inner
            .recv_bytes_from(p, RecvInfo::new(PHASE, 0, Some(1)))
            .await
        && chunk == abort()
    {
        return Err(SealError::Refused { party: p });
    }
    Err(SealError::transport(p, e))
}

/// Whether `e` or one of its sources says the peer is gone.
fn is_peer_gone(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    // Bounded by the chain, which ends.
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<channel_core::transport::TransportError>() {
            return t.kind() == channel_core::ErrorKind::PeerGone;
        }
        source = s.source();
    }
    false
}

/// A channel whose every chunk is sealed end to end: encrypted and
/// authenticated for its one receiver, so that whatever carries it (a relay,
/// a proxy, a network) sees only sizes and timing, and cannot read, alter,
/// replay, reorder, drop or inject a chunk without the receiver failing with
/// [`SealError`]. See the crate docs for the protocol.
pub struct Sealed<C> {
    inner: C,
    state: SealState,
}

impl<C> std::fmt::Debug for Sealed<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealed")
            .field("party", &self.state.party())
            .finish_non_exhaustive()
    }
}

impl<C: Channel> Sealed<C> {
    /// Runs the [`handshake`] of party `me` over `inner`, then seals every
    /// chunk through it. Every party of the computation must call it (with
    /// the same `keys` and `session`) for any of them to return.
    #[form]
    pub async fn establish(
        mut inner: C,
        me: usize,
        key: &PartyKey,
        keys: &[PublicKey],
        session: &[u8],
    ) -> Result<Self, SealError> {
        let state = handshake(&mut inner, me, key, keys, session).await?;
        Ok(Self { inner, state })
    }

    /// Seals over `inner` with keys a [`handshake`] over it produced.
    pub fn with_state(inner: C, state: SealState) -> Self {
        Self { inner, state }
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.state.party()
    }

    /// The channel underneath (what it carries is sealed).
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

#[form(AFIT)]
impl<C: Channel> Channel for Sealed<C> {
    type SendError = SealError;
    type RecvError = SealError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), SealError> {
        // Refused before sealing: a chunk sealed and then refused would cost
        // its number, and the peer could not open the next one.
        channel_core::transport::check_chunk(p, msg.len(), self.chunk_size())
            .map_err(|e| SealError::transport(p, e))?;
        let sealed = self.state.seal(p, msg)?;
        self.inner
            .send_bytes_to(p, sealed, info)
            .await
            .map_err(|e| SealError::transport(p, e))
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, SealError> {
        self.state.intact(p)?;
        let sealed = self
            .inner
            .recv_bytes_from(p, info)
            .await
            .map_err(|e| SealError::transport(p, e))?;
        self.state.open(p, sealed)
    }

    async fn flush(&mut self) -> Result<(), SealError> {
        let me = self.state.party();
        self.inner
            .flush()
            .await
            .map_err(|e| SealError::transport(me, e))
    }

    /// The inner channel's chunk size less what sealing adds.
    fn chunk_size(&self) -> usize {
        self.inner
            .chunk_size()
            .saturating_sub(self.state.overhead())
            .max(1)
    }

    fn max_message_size(&self) -> usize {
        self.inner.max_message_size()
    }
}

/// Sealed halves over a split channel: each peer's keys are one sending and
/// one receiving direction, so the halves need nothing in common.
impl<C: Split> Split for Sealed<C> {
    type Sender = SealedSender<C::Sender>;
    type Receiver = SealedReceiver<C::Receiver>;

    fn split(self) -> Peers<Self::Sender, Self::Receiver> {
        let (chunk_size, max_message_size) = (self.chunk_size(), self.max_message_size());
        let Sealed { inner, state } = self;
        let peers = inner.split();
        let (me, parties) = (peers.me, peers.parties);
        let mut senders: Vec<Option<C::Sender>> = (0..parties).map(|_| None).collect();
        let mut receivers: Vec<Option<C::Receiver>> = (0..parties).map(|_| None).collect();
        for tx in peers.senders {
            let p = tx.peer();
            if let Some(slot) = senders.get_mut(p) {
                *slot = Some(tx.into_inner());
            }
        }
        for rx in peers.receivers {
            let p = rx.peer();
            if let Some(slot) = receivers.get_mut(p) {
                *slot = Some(rx.into_inner());
            }
        }
        // A peer with keys but no half (or a half but no keys) has no link.
        let halves = state
            .into_peers()
            .into_iter()
            .filter_map(|(p, send, recv)| {
                let tx = senders.get_mut(p)?.take()?;
                let rx = receivers.get_mut(p)?.take()?;
                Some((
                    p,
                    SealedSender {
                        inner: tx,
                        p,
                        keys: send,
                        chunk_size,
                    },
                    SealedReceiver {
                        inner: rx,
                        p,
                        keys: recv,
                    },
                ))
            });
        Peers::new(me, parties, chunk_size, max_message_size, halves)
    }
}

/// Sends sealed chunks to one peer: a half of `Sealed::split`.
#[derive(Debug)]
pub struct SealedSender<S> {
    inner: S,
    p: usize,
    keys: SendKeys,
    /// The sealed channel's chunk size: a larger chunk is refused before sealing.
    chunk_size: usize,
}

/// Receives and opens chunks from one peer: a half of `Sealed::split`.
#[derive(Debug)]
pub struct SealedReceiver<R> {
    inner: R,
    p: usize,
    keys: RecvKeys,
}

#[form(AFIT)]
impl<S: PeerSender> PeerSender for SealedSender<S> {
    type Error = SealError;

    async fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), SealError> {
        let p = self.p;
        channel_core::transport::check_chunk(p, msg.len(), self.chunk_size)
            .map_err(|e| SealError::transport(p, e))?;
        let sealed = self.keys.seal(msg)?;
        self.inner
            .send_chunk(sealed, info)
            .await
            .map_err(|e| SealError::transport(p, e))
    }

    async fn flush(&mut self) -> Result<(), SealError> {
        let p = self.p;
        self.inner
            .flush()
            .await
            .map_err(|e| SealError::transport(p, e))
    }
}

#[form(AFIT)]
impl<R: PeerReceiver> PeerReceiver for SealedReceiver<R> {
    type Error = SealError;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, SealError> {
        self.keys.intact()?;
        let p = self.p;
        let sealed = self
            .inner
            .recv_chunk(info)
            .await
            .map_err(|e| SealError::transport(p, e))?;
        self.keys.open(sealed)
    }
}

// Shared source: compiled once as `channel_seal::Sealed` (async) and once as
// `channel_seal::blocking::Sealed`, as channel-core's API is. `form` and
// `channel` come from the including module. (No `.await` inside macros:
// maybe-async does not strip them there.)

use channel_core::{RecvInfo, SendInfo};

use super::channel::Channel;
use super::form;
use crate::state::{Handshakes, SealState, abort};
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

// Shared source of per-peer halves (see channel.rs for how it is compiled twice).
//
// A `Channel` takes `&mut self`, so one party does one thing at a time: it
// cannot wait for party p while it sends to party q. Engines that run sends and
// receives to all peers at once (`try_join` over peers, or one thread per peer)
// split a channel instead: one sending half per peer and one receiving half per
// peer, each `&mut` on its own, so all of them can be in flight together.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::form;
use super::{
    Channel, ItemReceiver, StreamReceiver, StreamSender, recv_bytes, recv_bytes_into, recv_from,
    recv_vec_from, send_bytes, send_bytes_owned, send_iter, send_to,
};
use crate::split_support::{Limits, WrongDirection};
use crate::{Error, RecvInfo, SendInfo};

/// What a transport implements to send to one peer, on its own: the sending
/// half of [`Split`]. The application uses it through [`ToPeer`].
#[form(AFIT)]
#[allow(async_fn_in_trait)] // No `Send` bound on purpose, as for `Channel`.
pub trait PeerSender {
    /// The error of a send or flush.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sends one chunk to this half's peer (FIFO, exactly once, never waiting
    /// for the peer to read; the rules of [`Channel::send_bytes_to`]).
    async fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), Self::Error>;

    /// Waits until every chunk sent through this half reached the peer's side
    /// of the transport ([`Channel::flush`]).
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    /// An empty buffer for a chunk of up to `capacity` bytes
    /// ([`Channel::chunk_buffer`]); the default allocates.
    fn chunk_buffer(&mut self, capacity: usize) -> Vec<u8> {
        Vec::with_capacity(capacity)
    }
}

/// What a transport implements to receive from one peer, on its own: the
/// receiving half of [`Split`]. The application uses it through [`FromPeer`].
#[form(AFIT)]
#[allow(async_fn_in_trait)] // No `Send` bound on purpose, as for `Channel`.
pub trait PeerReceiver {
    /// The error of a receive.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Receives the next chunk from this half's peer
    /// ([`Channel::recv_bytes_from`]).
    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, Self::Error>;

    /// Hands back a received buffer the caller is done with
    /// ([`Channel::recycle`]); the default drops it.
    fn recycle(&mut self, buf: Vec<u8>) {
        drop(buf);
    }
}

/// A channel that can be cut into per-peer halves whose operations run at the
/// same time: send to p, send to q, receive from p and receive from q may all
/// be awaited at once (or run on four threads, in the blocking form), each
/// peer's messages still FIFO and exactly once.
///
/// The halves keep the channel's limits and its typed helpers. A party that
/// needs `&self` methods (an engine with `&self` send and receive) wraps them in
/// [`Shared`]. The conformance kit checks an implementation with
/// `Kit::run_split_async` / `Kit::run_split_blocking`.
pub trait Split: Channel + Sized {
    /// The sending half towards one peer.
    type Sender: PeerSender<Error = Self::SendError>;
    /// The receiving half from one peer.
    type Receiver: PeerReceiver<Error = Self::RecvError>;

    /// This party's halves: one sender and one receiver per peer.
    fn split(self) -> Peers<Self::Sender, Self::Receiver>;
}

/// One party's per-peer halves, as [`Split::split`] returns them.
///
/// `senders` and `receivers` hold one half per peer in index order (the party
/// itself left out); each knows its [`peer`](ToPeer::peer). They are separate
/// fields so that a sender and a receiver can be borrowed at once.
#[derive(Debug)]
pub struct Peers<S, R> {
    /// This party's index.
    pub me: usize,
    /// The number of parties.
    pub parties: usize,
    /// One sending half per peer, in index order.
    pub senders: Vec<ToPeer<S>>,
    /// One receiving half per peer, in index order.
    pub receivers: Vec<FromPeer<R>>,
}

impl<S, R> Peers<S, R> {
    /// Assembles the halves of party `me` (for transports): `halves` yields a
    /// sender and a receiver for every peer, in index order.
    pub fn new(
        me: usize,
        parties: usize,
        chunk_size: usize,
        max_message_size: usize,
        halves: impl IntoIterator<Item = (usize, S, R)>,
    ) -> Self {
        let limits = Limits {
            chunk_size,
            max_message_size,
        };
        let (senders, receivers) = halves
            .into_iter()
            .map(|(peer, s, r)| {
                (
                    ToPeer {
                        inner: s,
                        peer,
                        limits,
                    },
                    FromPeer {
                        inner: r,
                        peer,
                        limits,
                    },
                )
            })
            .unzip();
        Self {
            me,
            parties,
            senders,
            receivers,
        }
    }

    /// Assembles the halves of party `me` from slots indexed by peer (for
    /// transports whose channel is made of its halves): `senders[p]` and
    /// `receivers[p]` are the halves towards `p`, `None` for the party itself
    /// and for a peer without a link (a peer needs both to be handed out).
    pub fn from_slots(
        me: usize,
        parties: usize,
        chunk_size: usize,
        max_message_size: usize,
        senders: Vec<Option<S>>,
        receivers: Vec<Option<R>>,
    ) -> Self {
        let halves = senders
            .into_iter()
            .zip(receivers)
            .enumerate()
            .filter_map(|(p, (s, r))| Some((p, s?, r?)));
        Self::new(me, parties, chunk_size, max_message_size, halves)
    }

    /// The halves as one `&self` channel, locked per peer and direction.
    pub fn into_shared(self) -> Shared<S, R> {
        Shared::new(self)
    }
}

/// Sending to one peer, with the helpers of the whole channel: messages of
/// any size (chunked), typed values, flush.
#[derive(Debug)]
pub struct ToPeer<S> {
    inner: S,
    peer: usize,
    limits: Limits,
}

#[form]
impl<S: PeerSender> ToPeer<S> {
    /// The peer this half sends to.
    pub fn peer(&self) -> usize {
        self.peer
    }

    /// The channel's [`chunk_size`](Channel::chunk_size).
    pub fn chunk_size(&self) -> usize {
        self.limits.chunk_size
    }

    /// The channel's [`max_message_size`](Channel::max_message_size).
    pub fn max_message_size(&self) -> usize {
        self.limits.max_message_size
    }

    /// Sends `msg`, chunked to the transport's chunk size ([`send_bytes`]).
    pub async fn send_bytes(&mut self, phase: &str, msg: &[u8]) -> Result<(), Error> {
        let p = self.peer;
        send_bytes(&mut self.as_channel(), p, phase, msg).await
    }

    /// Sends `msg` without copying it where it fits one chunk ([`send_bytes_owned`]).
    pub async fn send_bytes_owned(&mut self, phase: &str, msg: Vec<u8>) -> Result<(), Error> {
        let p = self.peer;
        send_bytes_owned(&mut self.as_channel(), p, phase, msg).await
    }

    /// Serialises `msg` with bincode 1.3 and sends it ([`send_to`]).
    pub async fn send<T: Serialize + ?Sized>(&mut self, phase: &str, msg: &T) -> Result<(), Error> {
        let p = self.peer;
        send_to(&mut self.as_channel(), p, phase, msg).await
    }

    /// Starts a streamed message to the peer ([`send_stream`](super::send_stream)).
    pub fn send_stream(
        &mut self,
        phase: &str,
        declared: Option<u64>,
    ) -> StreamSender<SendSide<'_, S>> {
        let p = self.peer;
        StreamSender::new(self.as_channel(), p, phase, declared)
    }

    /// Sends `items` as one streamed message ([`send_iter`]).
    pub async fn send_iter<T, I>(&mut self, phase: &str, items: I) -> Result<u64, Error>
    where
        T: Serialize,
        I: IntoIterator<Item = T>,
        I::IntoIter: ExactSizeIterator,
    {
        let p = self.peer;
        send_iter(&mut self.as_channel(), p, phase, items).await
    }

    /// Waits until everything sent through this half reached the peer's side.
    pub async fn flush(&mut self) -> Result<(), Error> {
        let p = self.peer;
        self.inner.flush().await.map_err(|e| Error::Transport {
            party: Some(p),
            source: Box::new(e),
        })
    }

    /// The transport's half.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The transport's half, for a wrapper that builds halves of its own on it.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn as_channel(&mut self) -> SendSide<'_, S> {
        SendSide {
            inner: &mut self.inner,
            limits: self.limits,
        }
    }
}

/// Receiving from one peer, with the helpers of the whole channel.
#[derive(Debug)]
pub struct FromPeer<R> {
    inner: R,
    peer: usize,
    limits: Limits,
}

#[form]
impl<R: PeerReceiver> FromPeer<R> {
    /// The peer this half receives from.
    pub fn peer(&self) -> usize {
        self.peer
    }

    /// The channel's [`chunk_size`](Channel::chunk_size).
    pub fn chunk_size(&self) -> usize {
        self.limits.chunk_size
    }

    /// Receives one message sent with any of the sending helpers ([`recv_bytes`]).
    pub async fn recv_bytes(&mut self, phase: &str) -> Result<Vec<u8>, Error> {
        let p = self.peer;
        recv_bytes(&mut self.as_channel(), p, phase).await
    }

    /// Receives one message into `buf`, reusing its memory ([`recv_bytes_into`]).
    pub async fn recv_bytes_into(&mut self, phase: &str, buf: &mut Vec<u8>) -> Result<(), Error> {
        let p = self.peer;
        recv_bytes_into(&mut self.as_channel(), p, phase, buf).await
    }

    /// Receives a value of type `T` ([`recv_from`]).
    pub async fn recv<T: DeserializeOwned>(&mut self, phase: &str) -> Result<T, Error> {
        let p = self.peer;
        recv_from(&mut self.as_channel(), p, phase).await
    }

    /// Waits for the first part of a message and returns the receiver of
    /// the rest ([`recv_stream`](super::recv_stream)).
    pub async fn recv_stream(
        &mut self,
        phase: &str,
    ) -> Result<StreamReceiver<RecvSide<'_, R>>, Error> {
        let p = self.peer;
        StreamReceiver::start(self.as_channel(), p, phase).await
    }

    /// Receives a sequence of `T` item by item ([`recv_iter`](super::recv_iter)).
    pub async fn recv_iter<T: DeserializeOwned>(
        &mut self,
        phase: &str,
    ) -> Result<ItemReceiver<RecvSide<'_, R>, T>, Error> {
        let (p, limit) = (self.peer, self.limits.max_message_size);
        let parts = StreamReceiver::start(self.as_channel(), p, phase).await?;
        ItemReceiver::start(parts, limit).await
    }

    /// Receives a vector of exactly `len` elements ([`recv_vec_from`]).
    pub async fn recv_vec<T: DeserializeOwned>(
        &mut self,
        phase: &str,
        len: usize,
    ) -> Result<Vec<T>, Error> {
        let p = self.peer;
        recv_vec_from(&mut self.as_channel(), p, phase, len).await
    }

    /// The transport's half.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The transport's half, for a wrapper that builds halves of its own on it.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn as_channel(&mut self) -> RecvSide<'_, R> {
        RecvSide {
            inner: &mut self.inner,
            limits: self.limits,
        }
    }
}

/// A sending half seen as a channel, so that the helpers serve it unchanged
/// (what [`ToPeer::send_stream`] streams over). Only its send is ever called
/// (the helpers are given the half's own peer).
#[derive(Debug)]
pub struct SendSide<'a, S> {
    inner: &'a mut S,
    limits: Limits,
}

#[form(AFIT)]
impl<S: PeerSender> Channel for SendSide<'_, S> {
    type SendError = S::Error;
    type RecvError = WrongDirection;

    async fn send_bytes_to(
        &mut self,
        _p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), S::Error> {
        self.inner.send_chunk(msg, info).await
    }

    async fn recv_bytes_from(
        &mut self,
        _p: usize,
        _info: RecvInfo,
    ) -> Result<Vec<u8>, WrongDirection> {
        Err(WrongDirection)
    }

    fn chunk_size(&self) -> usize {
        self.limits.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.limits.max_message_size
    }

    fn chunk_buffer(&mut self, _p: usize, capacity: usize) -> Vec<u8> {
        self.inner.chunk_buffer(capacity)
    }
}

/// A receiving half seen as a channel (see [`SendSide`]; what
/// [`FromPeer::recv_stream`] streams over).
#[derive(Debug)]
pub struct RecvSide<'a, R> {
    inner: &'a mut R,
    limits: Limits,
}

#[form(AFIT)]
impl<R: PeerReceiver> Channel for RecvSide<'_, R> {
    type SendError = WrongDirection;
    type RecvError = R::Error;

    async fn send_bytes_to(
        &mut self,
        _p: usize,
        _msg: Vec<u8>,
        _info: SendInfo,
    ) -> Result<(), WrongDirection> {
        Err(WrongDirection)
    }

    async fn recv_bytes_from(&mut self, _p: usize, info: RecvInfo) -> Result<Vec<u8>, R::Error> {
        self.inner.recv_chunk(info).await
    }

    fn chunk_size(&self) -> usize {
        self.limits.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.limits.max_message_size
    }

    fn recycle(&mut self, _p: usize, buf: Vec<u8>) {
        self.inner.recycle(buf)
    }
}

/// One party's halves behind `&self` methods, for engines whose channel
/// methods take `&self` and run sends and receives to all peers at once.
///
/// Each peer's sender and each peer's receiver has its own lock, held for one
/// whole message: two messages sent to the same peer at the same time never
/// mix their chunks (which goes first is up to the caller), while sends and
/// receives to different peers, and a send and a receive with the same peer,
/// run at the same time.
///
/// `Shared` is also a [`Channel`] (`&mut self`, one chunk at a time), so every
/// helper and the conformance kit work on it.
#[derive(Debug)]
pub struct Shared<S, R> {
    me: usize,
    parties: usize,
    limits: Limits,
    senders: Vec<Option<super::Lock<ToPeer<S>>>>,
    receivers: Vec<Option<super::Lock<FromPeer<R>>>>,
}

impl<S, R> Shared<S, R> {
    /// Puts the halves of [`Split::split`] behind locks.
    pub fn new(peers: Peers<S, R>) -> Self {
        let Peers {
            me,
            parties,
            senders,
            receivers,
        } = peers;
        let limits = senders
            .first()
            .map(|s| s.limits)
            .or_else(|| receivers.first().map(|r| r.limits))
            .unwrap_or(Limits {
                chunk_size: crate::DEFAULT_CHUNK_SIZE,
                max_message_size: crate::DEFAULT_MAX_MESSAGE_SIZE,
            });
        let mut by_peer_s: Vec<_> = (0..parties).map(|_| None).collect();
        for s in senders {
            if let Some(slot) = by_peer_s.get_mut(s.peer) {
                *slot = Some(super::Lock::new(s));
            }
        }
        let mut by_peer_r: Vec<_> = (0..parties).map(|_| None).collect();
        for r in receivers {
            if let Some(slot) = by_peer_r.get_mut(r.peer) {
                *slot = Some(super::Lock::new(r));
            }
        }
        Self {
            me,
            parties,
            limits,
            senders: by_peer_s,
            receivers: by_peer_r,
        }
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.me
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// The channel's chunk size.
    pub fn chunk_size(&self) -> usize {
        self.limits.chunk_size
    }

    fn sender(&self, p: usize) -> Result<&super::Lock<ToPeer<S>>, Error> {
        crate::transport::check_peer(self.me, p, self.parties)
            .map_err(|e| crate::split_support::bad_party(p, e))?;
        self.senders
            .get(p)
            .and_then(Option::as_ref)
            .ok_or_else(|| crate::split_support::no_half(p))
    }

    fn receiver(&self, p: usize) -> Result<&super::Lock<FromPeer<R>>, Error> {
        crate::transport::check_peer(self.me, p, self.parties)
            .map_err(|e| crate::split_support::bad_party(p, e))?;
        self.receivers
            .get(p)
            .and_then(Option::as_ref)
            .ok_or_else(|| crate::split_support::no_half(p))
    }
}

#[form]
impl<S: PeerSender, R: PeerReceiver> Shared<S, R> {
    /// Sends `msg` to `p` as one message (see [`ToPeer::send_bytes`]).
    pub async fn send_bytes(&self, p: usize, phase: &str, msg: &[u8]) -> Result<(), Error> {
        let mut tx = super::lock(self.sender(p)?).await;
        tx.send_bytes(phase, msg).await
    }

    /// Sends `msg` to `p` without a copy where it fits one chunk.
    pub async fn send_bytes_owned(&self, p: usize, phase: &str, msg: Vec<u8>) -> Result<(), Error> {
        let mut tx = super::lock(self.sender(p)?).await;
        tx.send_bytes_owned(phase, msg).await
    }

    /// Serialises `msg` with bincode 1.3 and sends it to `p`.
    pub async fn send_to<T: Serialize + ?Sized>(
        &self,
        p: usize,
        phase: &str,
        msg: &T,
    ) -> Result<(), Error> {
        let mut tx = super::lock(self.sender(p)?).await;
        tx.send(phase, msg).await
    }

    /// Receives the next message from `p`.
    pub async fn recv_bytes(&self, p: usize, phase: &str) -> Result<Vec<u8>, Error> {
        let mut rx = super::lock(self.receiver(p)?).await;
        rx.recv_bytes(phase).await
    }

    /// Receives a value of type `T` from `p`.
    pub async fn recv_from<T: DeserializeOwned>(&self, p: usize, phase: &str) -> Result<T, Error> {
        let mut rx = super::lock(self.receiver(p)?).await;
        rx.recv(phase).await
    }

    /// Receives a vector of exactly `len` elements from `p`.
    pub async fn recv_vec_from<T: DeserializeOwned>(
        &self,
        p: usize,
        phase: &str,
        len: usize,
    ) -> Result<Vec<T>, Error> {
        let mut rx = super::lock(self.receiver(p)?).await;
        rx.recv_vec(phase, len).await
    }

    /// Flushes every sending half, one after the other.
    pub async fn flush_all(&self) -> Result<(), Error> {
        for tx in self.senders.iter().flatten() {
            super::lock(tx).await.flush().await?;
        }
        Ok(())
    }
}

#[form(AFIT)]
impl<S: PeerSender, R: PeerReceiver> Channel for Shared<S, R> {
    type SendError = crate::split_support::HalfError<S::Error>;
    type RecvError = crate::split_support::HalfError<R::Error>;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        let tx = crate::split_support::half_mut(&mut self.senders, self.me, p)?;
        crate::transport::check_chunk(p, msg.len(), self.limits.chunk_size)
            .map_err(crate::split_support::HalfError::TooLarge)?;
        super::lock_mut(tx)
            .inner
            .send_chunk(msg, info)
            .await
            .map_err(crate::split_support::HalfError::Transport)
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError> {
        let rx = crate::split_support::half_mut(&mut self.receivers, self.me, p)?;
        super::lock_mut(rx)
            .inner
            .recv_chunk(info)
            .await
            .map_err(crate::split_support::HalfError::Transport)
    }

    async fn flush(&mut self) -> Result<(), Self::SendError> {
        for tx in self.senders.iter_mut().flatten() {
            super::lock_mut(tx)
                .inner
                .flush()
                .await
                .map_err(crate::split_support::HalfError::Transport)?;
        }
        Ok(())
    }

    fn chunk_size(&self) -> usize {
        self.limits.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.limits.max_message_size
    }
}

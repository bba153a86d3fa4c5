// Shared source of sub-channels (see channel.rs for how it is compiled twice).
//
// Two sub-protocols between the same parties (an OT extension beside a
// garbling step, say) each want their own FIFO order, over one connection. A
// `Mux` over a channel's per-peer halves opens numbered sub-channels: each
// chunk carries its sub-channel's number after its frame footer, and the
// receiving side hands it to that sub-channel, holding it (bounded) until that
// sub-channel asks. One sub-channel at a time reads a peer's chunks from the
// transport; the others wait for what it hands them, so a receive on one
// never stops another.

use std::sync::{Arc, Mutex, PoisonError};

use super::form;
use super::split::{PeerReceiver, PeerSender, Peers, Split};
use super::{Channel, Lock, Signal, lock};
use crate::mux_state::{Demux, MuxError, MuxLimits, Open, SubError, TAG_LEN, tag};
use crate::transport::{TransportError, check_chunk, check_peer};
use crate::{RecvInfo, SendInfo};

/// Numbered sub-channels over one channel's per-peer halves.
///
/// Every party opens the same numbers (chosen by the protocol: sub-protocol
/// 1, 2, ...); a [`SubChannel`] is a [`Channel`] of its own (FIFO and exactly
/// once per peer, its own chunk size), and splits into per-peer halves too.
/// Sub-channels run at the same time: a receive waiting on one does not hold
/// up another. Chunks a peer sends on a sub-channel that is not reading wait
/// for it, within [`MuxLimits`].
///
/// ```
/// use channel_core::asynchronous::{Mux, Split};
/// use channel_core::{MuxLimits, recv_from, send_to};
/// # use channel_core::asynchronous::{PeerReceiver, PeerSender, Peers};
/// # use channel_core::{RecvInfo, SendInfo, transport::TransportError};
/// # use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
/// # use futures::StreamExt;
/// # struct Tx(UnboundedSender<Vec<u8>>);
/// # struct Rx(UnboundedReceiver<Vec<u8>>);
/// # impl PeerSender for Tx {
/// #     type Error = TransportError;
/// #     async fn send_chunk(&mut self, m: Vec<u8>, _: SendInfo) -> Result<(), TransportError> {
/// #         self.0.unbounded_send(m).map_err(|_| TransportError::Closed { party: 0 })
/// #     }
/// # }
/// # impl PeerReceiver for Rx {
/// #     type Error = TransportError;
/// #     async fn recv_chunk(&mut self, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
/// #         self.0.next().await.ok_or(TransportError::Closed { party: 0 })
/// #     }
/// # }
/// # fn two_parties() -> (Peers<Tx, Rx>, Peers<Tx, Rx>) {
/// #     let ((a, b), (c, d)) = (unbounded(), unbounded());
/// #     let chunk = channel_core::DEFAULT_CHUNK_SIZE;
/// #     let max = channel_core::DEFAULT_MAX_MESSAGE_SIZE;
/// #     (Peers::new(0, 2, chunk, max, [(1, Tx(a), Rx(d))]), Peers::new(1, 2, chunk, max, [(0, Tx(c), Rx(b))]))
/// # }
/// # futures::executor::block_on(async {
/// let (zero, one) = two_parties(); // e.g. `channel.split()` of each party
/// let (zero, one) = (Mux::new(zero, MuxLimits::default()), Mux::new(one, MuxLimits::default()));
/// let (mut ot, mut garble) = (zero.open(1)?, zero.open(2)?);
/// let (mut ot_1, mut garble_1) = (one.open(1)?, one.open(2)?);
///
/// send_to(&mut ot, 1, "ot", &1u8).await?;
/// send_to(&mut garble, 1, "tables", &2u8).await?;
/// // Party 1 reads sub-channel 2 first: the sub-channels do not wait for each other.
/// assert_eq!(recv_from::<_, u8>(&mut garble_1, 0, "tables").await?, 2);
/// assert_eq!(recv_from::<_, u8>(&mut ot_1, 0, "ot").await?, 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Mux<S, R> {
    inner: Arc<Inner<S, R>>,
}

/// One sub-channel of a [`Mux`]; closed when dropped, or when the last of
/// its halves is (what its peers send on it afterwards waits for it to be
/// opened again, within the limits).
#[derive(Debug)]
pub struct SubChannel<S, R> {
    slot: Arc<Slot<S, R>>,
}

/// Sending to one peer on one sub-channel: a half of [`SubChannel`]'s `Split`.
#[derive(Debug)]
pub struct SubSender<S, R> {
    p: usize,
    slot: Arc<Slot<S, R>>,
}

/// Receiving from one peer on one sub-channel: a half of [`SubChannel`]'s `Split`.
#[derive(Debug)]
pub struct SubReceiver<S, R> {
    p: usize,
    slot: Arc<Slot<S, R>>,
}

/// An open sub-channel: closed when the last of its users is gone.
#[derive(Debug)]
struct Slot<S, R> {
    id: u32,
    inner: Arc<Inner<S, R>>,
}

#[derive(Debug)]
struct Inner<S, R> {
    me: usize,
    parties: usize,
    /// The halves' chunk size less the sub-channel number.
    chunk_size: usize,
    max_message_size: usize,
    limits: MuxLimits,
    open: Mutex<Open>,
    /// Per peer (`None` for this party and peers without a link).
    senders: Vec<Option<Lock<S>>>,
    readers: Vec<Option<Lock<R>>>,
    /// Per peer: what waits for which sub-channel.
    demux: Vec<Mutex<Demux>>,
    /// Per peer: wakes the sub-channels waiting for it when a chunk was
    /// handed over or the reader stopped.
    signals: Vec<Signal>,
}

impl<S: PeerSender, R: PeerReceiver> Mux<S, R> {
    /// Sub-channels over `peers` (a channel's [`Split::split`]).
    pub fn new(peers: Peers<S, R>, limits: MuxLimits) -> Self {
        let Peers {
            me,
            parties,
            senders,
            receivers,
        } = peers;
        let (mut chunk_size, mut max_message_size) =
            (crate::DEFAULT_CHUNK_SIZE, crate::DEFAULT_MAX_MESSAGE_SIZE);
        if let Some(s) = senders.first() {
            (chunk_size, max_message_size) = (s.chunk_size(), s.max_message_size());
        }
        let mut by_peer_s: Vec<Option<Lock<S>>> = (0..parties).map(|_| None).collect();
        for s in senders {
            let p = s.peer();
            if let Some(slot) = by_peer_s.get_mut(p) {
                *slot = Some(Lock::new(s.into_inner()));
            }
        }
        let mut by_peer_r: Vec<Option<Lock<R>>> = (0..parties).map(|_| None).collect();
        for r in receivers {
            let p = r.peer();
            if let Some(slot) = by_peer_r.get_mut(p) {
                *slot = Some(Lock::new(r.into_inner()));
            }
        }
        Self {
            inner: Arc::new(Inner {
                me,
                parties,
                chunk_size: chunk_size.saturating_sub(TAG_LEN).max(1),
                max_message_size,
                limits,
                open: Mutex::new(Open::default()),
                senders: by_peer_s,
                readers: by_peer_r,
                demux: (0..parties)
                    .map(|p| Mutex::new(Demux::new(p, limits)))
                    .collect(),
                signals: (0..parties).map(|_| Signal::default()).collect(),
            }),
        }
    }

    /// Opens sub-channel `id` (the peers open the same number); fails if it
    /// is open already or [`MuxLimits::max_open`] are.
    pub fn open(&self, id: u32) -> Result<SubChannel<S, R>, MuxError> {
        self.inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open(id, self.inner.limits.max_open)?;
        Ok(SubChannel {
            slot: Arc::new(Slot {
                id,
                inner: Arc::clone(&self.inner),
            }),
        })
    }
}

impl<S, R> Mux<S, R> {
    /// This party's index.
    pub fn party(&self) -> usize {
        self.inner.me
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.inner.parties
    }
}

impl<S, R> Drop for Slot<S, R> {
    fn drop(&mut self) {
        self.inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .close(self.id);
        for demux in &self.inner.demux {
            demux
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .forget(self.id);
        }
    }
}

impl<S, R> SubChannel<S, R> {
    /// The sub-channel's number.
    pub fn id(&self) -> u32 {
        self.slot.id
    }
}

/// While a sub-channel reads from a peer's transport half: when it stops
/// (done, failed, or its future dropped), another may read, and the waiting
/// ones look again.
struct Reading<'a> {
    demux: &'a Mutex<Demux>,
    signal: &'a Signal,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.demux
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reading = false;
        self.signal.notify();
    }
}

#[form]
impl<S: PeerSender, R: PeerReceiver> Inner<S, R> {
    async fn send(
        &self,
        id: u32,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), SubError<S::Error>> {
        check_peer(self.me, p, self.parties).map_err(SubError::Refused)?;
        check_chunk(p, msg.len(), self.chunk_size).map_err(SubError::Refused)?;
        let tx = self
            .senders
            .get(p)
            .and_then(Option::as_ref)
            .ok_or(SubError::Refused(TransportError::Closed { party: p }))?;
        // Locked for one chunk: sub-channels' chunks to a peer may interleave.
        let mut tx = lock(tx).await;
        tx.send_chunk(tag(msg, id), info)
            .await
            .map_err(SubError::Transport)
    }

    async fn flush(&self, p: usize) -> Result<(), SubError<S::Error>> {
        let Some(tx) = self.senders.get(p).and_then(Option::as_ref) else {
            return Ok(());
        };
        let mut tx = lock(tx).await;
        tx.flush().await.map_err(SubError::Transport)
    }

    async fn recv(&self, id: u32, p: usize, info: RecvInfo) -> Result<Vec<u8>, SubError<R::Error>> {
        check_peer(self.me, p, self.parties).map_err(SubError::Refused)?;
        let closed = || SubError::Refused(TransportError::Closed { party: p });
        let reader = self
            .readers
            .get(p)
            .and_then(Option::as_ref)
            .ok_or_else(closed)?;
        let demux = self.demux.get(p).ok_or_else(closed)?;
        let signal = self.signals.get(p).ok_or_else(closed)?;
        // Bounded: each pass takes a held chunk, reads one from the
        // transport (within its receive timeout), or waits for whoever reads.
        loop {
            let seen = signal.seen();
            let someone_reads = {
                let mut held = demux.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(chunk) = held.take(id) {
                    return Ok(chunk);
                }
                // Whoever reads first; the others wait for what it hands over.
                std::mem::replace(&mut held.reading, true)
            };
            if someone_reads {
                signal.changed(seen).await;
                continue;
            }
            let reading = Reading { demux, signal };
            let chunk = {
                let mut rx = lock(reader).await;
                rx.recv_chunk(info.clone())
                    .await
                    .map_err(SubError::Transport)?
            };
            let mine = demux
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .arrived(id, chunk)?;
            drop(reading);
            if let Some(chunk) = mine {
                return Ok(chunk);
            }
        }
    }

    async fn flush_all(&self) -> Result<(), SubError<S::Error>> {
        for p in 0..self.parties {
            self.flush(p).await?;
        }
        Ok(())
    }
}

#[form(AFIT)]
impl<S: PeerSender, R: PeerReceiver> Channel for SubChannel<S, R> {
    type SendError = SubError<S::Error>;
    type RecvError = SubError<R::Error>;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        self.slot.inner.send(self.slot.id, p, msg, info).await
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError> {
        self.slot.inner.recv(self.slot.id, p, info).await
    }

    /// Waits until every chunk sent to any peer reached the transport's
    /// other side (all sub-channels share the halves).
    async fn flush(&mut self) -> Result<(), Self::SendError> {
        self.slot.inner.flush_all().await
    }

    fn chunk_size(&self) -> usize {
        self.slot.inner.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.slot.inner.max_message_size
    }
}

#[form(AFIT)]
impl<S: PeerSender, R: PeerReceiver> PeerSender for SubSender<S, R> {
    type Error = SubError<S::Error>;

    async fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), Self::Error> {
        self.slot.inner.send(self.slot.id, self.p, msg, info).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.slot.inner.flush(self.p).await
    }
}

#[form(AFIT)]
impl<S: PeerSender, R: PeerReceiver> PeerReceiver for SubReceiver<S, R> {
    type Error = SubError<R::Error>;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, Self::Error> {
        self.slot.inner.recv(self.slot.id, self.p, info).await
    }
}

/// A sub-channel's per-peer halves; the sub-channel closes when the last of
/// them is dropped.
impl<S: PeerSender, R: PeerReceiver> Split for SubChannel<S, R> {
    type Sender = SubSender<S, R>;
    type Receiver = SubReceiver<S, R>;

    fn split(self) -> Peers<Self::Sender, Self::Receiver> {
        let inner = &self.slot.inner;
        let (me, parties) = (inner.me, inner.parties);
        let (chunk_size, max) = (inner.chunk_size, inner.max_message_size);
        let halves: Vec<_> = (0..parties)
            .filter(|&p| p != me)
            .map(|p| {
                let sender = SubSender {
                    p,
                    slot: Arc::clone(&self.slot),
                };
                let receiver = SubReceiver {
                    p,
                    slot: Arc::clone(&self.slot),
                };
                (p, sender, receiver)
            })
            .collect();
        Peers::new(me, parties, chunk_size, max, halves)
    }
}

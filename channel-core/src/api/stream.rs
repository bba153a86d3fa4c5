// Shared source of streamed messages (see channel.rs for how it is compiled twice).
//
// A streamed message is one logical message sent as parts produced over time:
// a garbled circuit's tables as they are garbled, a file as it is read. Neither
// side holds it whole: the sender hands over parts, the receiver takes them in
// order, and the transport holds a bounded number in between (its window;
// an in-process queue makes a streamed part wait for the receiver to read).
// The wire format and its rules are sans-IO in `frame::stream`.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Channel;
use super::form;
use crate::codec;
use crate::frame::stream::{Part, StreamIn, StreamOut};
use crate::frame::{FOOTER_LEN, FrameError, TRAILER_ROOM};
use crate::{Error, RecvInfo, SendInfo};

/// Sends one message to a peer as parts produced over time; made by
/// [`send_stream`] (or `ToPeer::send_stream`).
///
/// [`write`](Self::write) buffers bytes and sends a part whenever one is full
/// ([`part_size`](Self::part_size), by default 1 MiB or the channel's chunk
/// size if smaller); [`write_owned`](Self::write_owned) sends a buffer as a
/// part without copying it. [`finish`](Self::finish) sends the last part;
/// [`abort`](Self::abort) tells the receiver the message will not be
/// completed ([`Error::Aborted`] there).
///
/// A send waits while the transport holds a window's worth of the message
/// that the receiver has not taken in, so memory stays bounded whatever the
/// message size; it fails with a typed error after the transport's timeout
/// when the receiver does not read at all. While the stream is open it is the
/// only message to its peer in this direction (it borrows the channel); to
/// send to other peers at the same time, split the channel and stream over a
/// `ToPeer` half.
///
/// Dropping a sender that was not finished: in the blocking form the drop
/// sends the abort; in the async form it cannot wait, so it only logs a
/// warning and the receiver waits until its timeout: call `abort` instead.
#[derive(Debug)]
pub struct StreamSender<C: Channel> {
    ch: C,
    p: usize,
    phase: Arc<str>,
    rules: StreamOut,
    pending: Vec<u8>,
    part_size: usize,
}

/// Starts a streamed message to party `p`: `declared` is its total length
/// if known (the receiver can then size its memory, and both sides check
/// it), else `None`.
///
/// Nothing is sent until the first part is full, or the message finished.
pub fn send_stream<'a, C: Channel + ?Sized>(
    ch: &'a mut C,
    p: usize,
    phase: &str,
    declared: Option<u64>,
) -> StreamSender<&'a mut C> {
    StreamSender::new(ch, p, phase, declared)
}

#[form]
impl<C: Channel> StreamSender<C> {
    /// A streamed message to party `p` over `ch` (see [`send_stream`]).
    pub fn new(ch: C, p: usize, phase: &str, declared: Option<u64>) -> Self {
        let part_size = crate::DEFAULT_STREAM_PART.min(ch.chunk_size()).max(1);
        Self {
            ch,
            p,
            phase: phase.into(),
            rules: StreamOut::new(declared),
            pending: Vec::new(),
            part_size,
        }
    }

    /// Parts of `bytes` (at least 1, at most the channel's chunk size) from
    /// now on.
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.clamp(1, self.ch.chunk_size().max(1));
        self
    }

    /// The size of the parts [`write`](Self::write) cuts.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// The peer the message goes to.
    pub fn peer(&self) -> usize {
        self.p
    }

    /// The declared length, if any.
    pub fn declared_len(&self) -> Option<u64> {
        self.rules.declared()
    }

    /// Bytes written so far (sent or buffered).
    pub fn written(&self) -> u64 {
        self.rules.sent().saturating_add(self.pending.len() as u64)
    }

    /// Writes `data`: buffered, each full part sent as it fills.
    pub async fn write(&mut self, mut data: &[u8]) -> Result<(), Error> {
        self.check_room(data.len())?;
        // Bounded: each pass moves at least one byte of `data`.
        while !data.is_empty() {
            if self.pending.capacity() == 0 {
                self.pending = self
                    .ch
                    .chunk_buffer(self.p, self.part_size + FOOTER_LEN + TRAILER_ROOM);
            }
            let room = self.part_size.saturating_sub(self.pending.len()).max(1);
            let (now, rest) = data.split_at(room.min(data.len()));
            self.pending.extend_from_slice(now);
            data = rest;
            if self.pending.len() >= self.part_size {
                self.send_pending(false).await?;
            }
        }
        Ok(())
    }

    /// Sends `part` as a part of its own without copying it (after what
    /// [`write`](Self::write) buffered): the part's footer is appended in
    /// place, free when the vector has [`FOOTER_LEN`] bytes of spare
    /// capacity (and [`TRAILER_ROOM`] more for a sealing transport). A
    /// buffer larger than the channel's chunk size is written as by `write`.
    /// An empty buffer sends nothing.
    pub async fn write_owned(&mut self, part: Vec<u8>) -> Result<(), Error> {
        if part.len() > self.ch.chunk_size() {
            return self.write(&part).await;
        }
        self.check_room(part.len())?;
        if !self.pending.is_empty() {
            self.send_pending(false).await?;
        }
        if part.is_empty() {
            return Ok(());
        }
        self.send_part(part, false).await
    }

    /// Sends what [`write`](Self::write) buffered as a part now, for a
    /// producer that waits for its peer before writing more. It does not
    /// wait for delivery (that is the channel's `flush`).
    pub async fn send_buffered(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.send_pending(false).await
    }

    /// Sends the last part and returns the message's length. A declared
    /// length that was not reached is an [`Error::DeclaredLength`] (the
    /// receiver gets an abort).
    pub async fn finish(mut self) -> Result<u64, Error> {
        if let Some(declared) = self.rules.declared()
            && self.written() != declared
        {
            let written = self.written();
            self.send_abort().await?;
            return Err(self.declared_length(declared, written));
        }
        if !self.rules.ended() {
            self.send_pending(true).await?;
        }
        Ok(self.rules.sent())
    }

    /// Gives up on the message: the receiver's next read fails with
    /// [`Error::Aborted`], and the channel goes on with the next message.
    pub async fn abort(mut self) -> Result<(), Error> {
        self.send_abort().await
    }

    /// Refuses, before buffering, bytes beyond the declared length.
    fn check_room(&mut self, adding: usize) -> Result<(), Error> {
        let written = self.written().saturating_add(adding as u64);
        match self.rules.declared() {
            Some(declared) if written > declared => Err(self.declared_length(declared, written)),
            _ => Ok(()),
        }
    }

    fn declared_length(&self, declared: u64, written: u64) -> Error {
        Error::DeclaredLength {
            party: self.p,
            phase: self.phase.clone(),
            declared,
            written,
        }
    }

    async fn send_pending(&mut self, last: bool) -> Result<(), Error> {
        let payload = std::mem::take(&mut self.pending);
        self.send_part(payload, last).await
    }

    async fn send_part(&mut self, payload: Vec<u8>, last: bool) -> Result<(), Error> {
        let index = self.rules.next_part();
        let frame = self
            .rules
            .seal(payload, last)
            .map_err(|e| Error::from_frame(self.p, self.phase.clone(), e))?;
        let info = SendInfo::stream_part(self.phase.clone(), index, self.rules.ended());
        tracing::trace!(party = self.p, phase = %self.phase, part = index, bytes = frame.len(), "sending streamed part");
        self.send_frame(frame, info).await
    }

    pub(crate) async fn send_abort(&mut self) -> Result<(), Error> {
        if self.rules.ended() {
            return Ok(());
        }
        self.pending.clear();
        let index = self.rules.next_part();
        let frame = self.rules.abort(std::mem::take(&mut self.pending));
        tracing::debug!(party = self.p, phase = %self.phase, part = index, "aborting streamed message");
        // Not marked as a streamed part: the 17 bytes of an abort do not wait
        // for room (a sender that gives up because its receiver stalls must
        // still be able to say so).
        let info = SendInfo::new(self.phase.clone(), index, index + 1);
        self.send_frame(frame, info).await
    }

    async fn send_frame(&mut self, frame: Vec<u8>, info: SendInfo) -> Result<(), Error> {
        self.ch
            .send_bytes_to(self.p, frame, info)
            .await
            .map_err(|e| Error::Send {
                party: self.p,
                phase: self.phase.clone(),
                source: Box::new(e),
            })
    }

    /// Whether the message ended (finished or aborted), for the drop.
    pub(crate) fn ended(&self) -> bool {
        self.rules.ended()
    }
}

/// Receives one message from a peer part by part, as the parts arrive; made
/// by [`recv_stream`] (or `FromPeer::recv_stream`).
///
/// It takes a streamed message ([`send_stream`]) or a whole one (its chunks
/// are its parts), so a receiver can always stream. Parts come in order,
/// each exactly once; [`next_part`](Self::next_part) returns `None` after the
/// last. [`read`](Self::read) copies into a caller's buffer instead.
///
/// Until it has returned `None`, the message is not over: a receiver that
/// stops early must [`skip_rest`](Self::skip_rest), or the next receive from
/// this peer finds the rest of the stream (a typed error there).
#[derive(Debug)]
pub struct StreamReceiver<C: Channel> {
    ch: C,
    p: usize,
    phase: Arc<str>,
    rules: StreamIn,
    /// The part read ahead by [`recv_stream`], not handed out yet.
    ahead: Option<Vec<u8>>,
    /// The part [`read`](Self::read) copies from, and how far.
    current: Vec<u8>,
    offset: usize,
}

/// Waits for the first part of a message from party `p` and returns the
/// receiver of the rest ([`StreamReceiver`]); its declared length, if any,
/// is then known.
#[form(AFIT)]
pub async fn recv_stream<'a, C: Channel + ?Sized>(
    ch: &'a mut C,
    p: usize,
    phase: &str,
) -> Result<StreamReceiver<&'a mut C>, Error> {
    StreamReceiver::start(ch, p, phase).await
}

#[form]
impl<C: Channel> StreamReceiver<C> {
    /// Waits for the first part of a message from party `p` over `ch`
    /// (see [`recv_stream`]).
    pub async fn start(ch: C, p: usize, phase: &str) -> Result<Self, Error> {
        let mut rx = Self {
            ch,
            p,
            phase: phase.into(),
            rules: StreamIn::new(u64::MAX),
            ahead: None,
            current: Vec::new(),
            offset: 0,
        };
        let first = rx.receive_part().await?;
        if !first.payload.is_empty() {
            rx.ahead = Some(first.payload);
        }
        Ok(rx)
    }

    /// The peer the message comes from.
    pub fn peer(&self) -> usize {
        self.p
    }

    /// The message's total length, if the sender declared it (a whole
    /// message always has one).
    pub fn declared_len(&self) -> Option<u64> {
        self.rules.declared()
    }

    /// Bytes received so far (including a part not handed out yet).
    pub fn received(&self) -> u64 {
        self.rules.received()
    }

    /// Whether every part has been handed out.
    pub fn is_done(&self) -> bool {
        self.rules.is_done() && self.ahead.is_none() && self.offset >= self.current.len()
    }

    /// The next part, or `None` once the message is over.
    pub async fn next_part(&mut self) -> Result<Option<Vec<u8>>, Error> {
        if self.offset < self.current.len() {
            let rest = self.current.split_off(self.offset);
            self.offset = 0;
            let done = std::mem::take(&mut self.current);
            self.ch.recycle(self.p, done);
            return Ok(Some(rest));
        }
        if let Some(part) = self.ahead.take() {
            return Ok(Some(part));
        }
        // Bounded: an empty part can only be the last.
        while !self.rules.is_done() {
            let part = self.receive_part().await?;
            if !part.payload.is_empty() {
                return Ok(Some(part.payload));
            }
        }
        Ok(None)
    }

    /// Copies the next bytes of the message into `out`; returns how many
    /// (0 only at the end of the message, or for an empty `out`).
    pub async fn read(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.offset >= self.current.len() {
            let Some(part) = self.next_part().await? else {
                return Ok(0);
            };
            let done = std::mem::replace(&mut self.current, part);
            if done.capacity() > 0 {
                self.ch.recycle(self.p, done);
            }
            self.offset = 0;
        }
        let available = self.current.get(self.offset..).unwrap_or_default();
        let n = available.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.offset += n;
        Ok(n)
    }

    /// Hands a part back to the transport for reuse (see
    /// [`Channel::recycle`]).
    pub fn recycle(&mut self, part: Vec<u8>) {
        self.ch.recycle(self.p, part);
    }

    /// Receives and drops the rest of the message; returns the message's
    /// length.
    pub async fn skip_rest(mut self) -> Result<u64, Error> {
        // Bounded by the stream, which ends or fails.
        while let Some(part) = self.next_part().await? {
            self.ch.recycle(self.p, part);
        }
        Ok(self.rules.received())
    }

    async fn receive_part(&mut self) -> Result<Part, Error> {
        let info = RecvInfo::new(self.phase.clone(), self.rules.next_part(), None);
        let frame = self
            .ch
            .recv_bytes_from(self.p, info)
            .await
            .map_err(|e| Error::Recv {
                party: self.p,
                phase: self.phase.clone(),
                source: Box::new(e),
            })?;
        self.rules
            .push(frame)
            .map_err(|e| Error::from_frame(self.p, self.phase.clone(), e))
    }
}

/// Sends the items of `items` to party `p` as one streamed message, each
/// serialised with bincode 1.3 as it comes: the bytes are those of
/// [`send_to`](super::send_to) with a `Vec<T>` of the same items, so the
/// receiver may take them one by one ([`recv_iter`]) or whole
/// ([`recv_from`](super::recv_from) into a `Vec<T>`, within its maximum
/// message size). Returns the number of items.
///
/// An iterator that yields another number of items than its `len` said is
/// an [`Error::WrongLength`] (the receiver gets an abort).
#[form(AFIT)]
pub async fn send_iter<C, T, I>(ch: &mut C, p: usize, phase: &str, items: I) -> Result<u64, Error>
where
    C: Channel + ?Sized,
    T: Serialize,
    I: IntoIterator<Item = T>,
    I::IntoIter: ExactSizeIterator,
{
    let items = items.into_iter();
    let count = items.len();
    let mut tx = send_stream(ch, p, phase, None);
    tx.write(&(count as u64).to_le_bytes()).await?;
    let mut scratch = Vec::new();
    let mut sent = 0usize;
    // Bounded by `count`: one more item than announced ends the loop.
    for item in items {
        if sent == count {
            sent += 1;
            break;
        }
        scratch.clear();
        if let Err(source) = codec::serialize_into(&mut scratch, &item) {
            tx.abort().await?;
            return Err(Error::Codec {
                party: p,
                phase: phase.into(),
                source,
            });
        }
        tx.write(&scratch).await?;
        sent += 1;
    }
    if sent != count {
        tx.abort().await?;
        return Err(Error::WrongLength {
            party: p,
            phase: phase.into(),
            expected: count,
            actual: sent,
        });
    }
    tx.finish().await?;
    Ok(count as u64)
}

/// Receives items of type `T` one by one as they arrive ([`send_iter`]'s
/// message, or any `Vec<T>` sent with [`send_to`](super::send_to)); made by
/// [`recv_iter`].
///
/// An item may span parts: it is decoded once all its bytes are in, from a
/// buffer that never holds more than one item beyond the part being read
/// (an item larger than the channel's maximum message size is refused).
#[derive(Debug)]
pub struct ItemReceiver<C: Channel, T> {
    parts: StreamReceiver<C>,
    buf: Vec<u8>,
    pos: usize,
    remaining: u64,
    limit: usize,
    ended: bool,
    item: PhantomData<fn() -> T>,
}

/// Waits for the start of a sequence of `T` from party `p` (see
/// [`ItemReceiver`]); its length is then known.
#[form(AFIT)]
pub async fn recv_iter<'a, C: Channel + ?Sized, T: DeserializeOwned>(
    ch: &'a mut C,
    p: usize,
    phase: &str,
) -> Result<ItemReceiver<&'a mut C, T>, Error> {
    let limit = ch.max_message_size();
    let parts = StreamReceiver::start(ch, p, phase).await?;
    ItemReceiver::start(parts, limit).await
}

#[form]
impl<C: Channel, T: DeserializeOwned> ItemReceiver<C, T> {
    /// The items of the message `parts` receives, none larger than `limit`
    /// bytes.
    pub async fn start(parts: StreamReceiver<C>, limit: usize) -> Result<Self, Error> {
        let mut rx = Self {
            parts,
            buf: Vec::new(),
            pos: 0,
            remaining: 0,
            limit,
            ended: false,
            item: PhantomData,
        };
        rx.remaining = rx.decode::<u64>().await?;
        Ok(rx)
    }

    /// Items still to come.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// The next item, or `None` after the last (the message must then end:
    /// trailing bytes are an error).
    pub async fn next_item(&mut self) -> Result<Option<T>, Error> {
        if self.remaining == 0 {
            self.check_end().await?;
            return Ok(None);
        }
        let item = self.decode::<T>().await?;
        self.remaining -= 1;
        Ok(Some(item))
    }

    /// Decodes one value, reading parts until its bytes are in.
    async fn decode<U: DeserializeOwned>(&mut self) -> Result<U, Error> {
        // Bounded: each pass adds a part, and the parts end or exceed `limit`.
        loop {
            let available = self.buf.get(self.pos..).unwrap_or_default();
            match codec::deserialize_prefix::<U>(available) {
                Ok((value, used)) => {
                    self.pos += used;
                    return Ok(value);
                }
                Err(e) if codec::needs_more(&e) && available.len() <= self.limit => {}
                Err(source) => return Err(self.codec_error(source)),
            }
            let Some(part) = self.parts.next_part().await? else {
                let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
                return Err(self.codec_error(Box::new(bincode::ErrorKind::Io(eof))));
            };
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
            self.buf.extend_from_slice(&part);
            self.parts.recycle(part);
        }
    }

    /// After the last item: nothing but the end of the message may follow.
    async fn check_end(&mut self) -> Result<(), Error> {
        if self.ended {
            return Ok(());
        }
        let mut trailing = self.buf.len().saturating_sub(self.pos);
        // Bounded by the stream, which ends.
        while let Some(part) = self.parts.next_part().await? {
            trailing = trailing.saturating_add(part.len());
        }
        self.ended = true;
        if trailing > 0 {
            return Err(Error::Malformed {
                party: self.parts.p,
                phase: self.parts.phase.clone(),
                source: FrameError::DeclaredLength {
                    declared: self.parts.received().saturating_sub(trailing as u64),
                    actual: self.parts.received(),
                },
            });
        }
        Ok(())
    }

    fn codec_error(&self, source: bincode::Error) -> Error {
        Error::Codec {
            party: self.parts.p,
            phase: self.parts.phase.clone(),
            source,
        }
    }
}

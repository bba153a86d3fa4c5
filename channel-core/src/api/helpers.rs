// Shared source of the message helpers (see channel.rs for how it is compiled twice).

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Channel;
use super::form;
use crate::codec;
use crate::error::{check_outgoing_size, chunking_error};
use crate::frame::{self, FOOTER_LEN, Reassembler};
use crate::{Error, RecvInfo, SendInfo};

/// Sends `msg` to party `p`, split into chunks of at most [`Channel::chunk_size`] bytes.
#[form(AFIT)]
pub async fn send_bytes<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &str,
    msg: &[u8],
) -> Result<(), Error> {
    let phase: Arc<str> = phase.into();
    check_outgoing_size(ch.max_message_size(), p, &phase, msg.len() as u64)?;
    let chunk_size = ch.chunk_size();
    let frames =
        frame::frames(msg, chunk_size).map_err(|e| chunking_error(p, &phase, chunk_size, e))?;
    send_frames(ch, p, &phase, frames).await
}

/// Sends `msg` to party `p` like [`send_bytes`], taking the buffer: a message
/// that fits in one chunk goes to the transport without a copy (its footer is
/// appended in place, free when the vector has
/// [`FOOTER_LEN`](crate::frame::FOOTER_LEN) bytes of spare capacity), so an
/// in-process peer receives this very allocation. A longer message is split
/// as by [`send_bytes`].
///
/// Engines that already cut their data into pieces should still send each
/// piece with this (or [`send_bytes`]), not straight through
/// `send_bytes_to`: the helpers frame and split to the transport's
/// [`chunk_size`](Channel::chunk_size), which differs between transports.
#[form(AFIT)]
pub async fn send_bytes_owned<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &str,
    msg: Vec<u8>,
) -> Result<(), Error> {
    let phase: Arc<str> = phase.into();
    check_outgoing_size(ch.max_message_size(), p, &phase, msg.len() as u64)?;
    let chunk_size = ch.chunk_size();
    if msg.len() <= chunk_size {
        return send_single(ch, p, &phase, msg).await;
    }
    let frames =
        frame::frames(&msg, chunk_size).map_err(|e| chunking_error(p, &phase, chunk_size, e))?;
    send_frames(ch, p, &phase, frames).await
}

/// Receives one message sent with [`send_bytes`] (or a typed helper) from party `p`.
#[form(AFIT)]
pub async fn recv_bytes<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &str,
) -> Result<Vec<u8>, Error> {
    let mut reassembler = Reassembler::new(ch.max_message_size());
    receive(ch, p, &phase.into(), &mut reassembler).await
}

/// Receives one message from party `p` like [`recv_bytes`], into `buf`,
/// whose memory it reuses: a message of several chunks is assembled in it, and
/// when the message arrives whole (one chunk) its old memory goes back to the
/// transport ([`Channel::recycle`]), which an in-process transport hands to
/// the sender for a later message. Receiving every message of a stream into
/// the same buffer is the fastest way to move large messages: nothing is
/// allocated per message once the stream runs.
///
/// `buf`'s old contents are dropped; after an error it is empty.
#[form(AFIT)]
pub async fn recv_bytes_into<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &str,
    buf: &mut Vec<u8>,
) -> Result<(), Error> {
    let mut reassembler = Reassembler::with_buffer(ch.max_message_size(), std::mem::take(buf));
    let msg = receive(ch, p, &phase.into(), &mut reassembler).await?;
    let unused = reassembler.take_spare();
    if unused.capacity() > 0 {
        ch.recycle(p, unused);
    }
    *buf = msg;
    Ok(())
}

/// Feeds `reassembler` chunks from `p` until it returns a message.
#[form(AFIT)]
async fn receive<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &Arc<str>,
    reassembler: &mut Reassembler,
) -> Result<Vec<u8>, Error> {
    // Bounded: the first frame fixes the chunk count, and the reassembler rejects any
    // frame beyond it.
    loop {
        let info = RecvInfo::new(
            phase.clone(),
            reassembler.next_chunk(),
            reassembler.total_chunks(),
        );
        let chunk = info.chunk();
        let frame = ch.recv_bytes_from(p, info).await.map_err(|e| Error::Recv {
            party: p,
            phase: phase.clone(),
            source: Box::new(e),
        })?;
        tracing::trace!(party = p, phase = %phase, chunk, bytes = frame.len(), "received chunk");
        let done = reassembler
            .push(frame)
            .map_err(|e| Error::from_frame(p, phase.clone(), e))?;
        // The chunk's bytes are in the message now: its memory can take the
        // transport's next chunk.
        if let Some(spent) = reassembler.take_spent() {
            ch.recycle(p, spent);
        }
        if let Some(msg) = done {
            tracing::debug!(party = p, phase = %phase, bytes = msg.len(), "received message");
            return Ok(msg);
        }
    }
}

/// Serialises `msg` with bincode 1.3 and sends it to party `p`, chunked by bytes.
///
/// A message that fits in one chunk is serialised straight into the buffer that
/// the transport receives; no copy is made.
#[form(AFIT)]
pub async fn send_to<C: Channel + ?Sized, T: Serialize + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &str,
    msg: &T,
) -> Result<(), Error> {
    let phase: Arc<str> = phase.into();
    let limit = ch.max_message_size();
    let codec_err = |source| Error::Codec {
        party: p,
        phase: phase.clone(),
        source,
    };
    let size = codec::serialized_size(msg).map_err(codec_err)?;
    check_outgoing_size(limit, p, &phase, size)?;
    // `size <= limit`, and `limit` is a usize.
    let size = size as usize;
    let chunk_size = ch.chunk_size();
    if size <= chunk_size {
        let mut buf = ch.chunk_buffer(p, size + FOOTER_LEN + crate::frame::TRAILER_ROOM);
        codec::serialize_into(&mut buf, msg).map_err(codec_err)?;
        send_single(ch, p, &phase, buf).await
    } else {
        let mut buf = Vec::with_capacity(size);
        codec::serialize_into(&mut buf, msg).map_err(codec_err)?;
        let frames = frame::frames(&buf, chunk_size)
            .map_err(|e| chunking_error(p, &phase, chunk_size, e))?;
        send_frames(ch, p, &phase, frames).await
    }
}

/// Receives a value of type `T` sent with [`send_to`] by party `p`.
#[form(AFIT)]
pub async fn recv_from<C: Channel + ?Sized, T: DeserializeOwned>(
    ch: &mut C,
    p: usize,
    phase: &str,
) -> Result<T, Error> {
    let bytes = recv_bytes(ch, p, phase).await?;
    let value = codec::deserialize(&bytes).map_err(|source| Error::Codec {
        party: p,
        phase: phase.into(),
        source,
    });
    ch.recycle(p, bytes);
    value
}

/// Receives a vector that must have exactly `len` elements, as protocols usually
/// know how many values each round carries.
#[form(AFIT)]
pub async fn recv_vec_from<C: Channel + ?Sized, T: DeserializeOwned>(
    ch: &mut C,
    p: usize,
    phase: &str,
    len: usize,
) -> Result<Vec<T>, Error> {
    let v: Vec<T> = recv_from(ch, p, phase).await?;
    if v.len() == len {
        Ok(v)
    } else {
        Err(Error::WrongLength {
            party: p,
            phase: phase.into(),
            expected: len,
            actual: v.len(),
        })
    }
}

/// Copies each frame of a message into a buffer from the transport
/// ([`Channel::chunk_buffer`]) and sends it.
#[form(AFIT)]
async fn send_frames<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &Arc<str>,
    mut frames: frame::Frames<'_>,
) -> Result<(), Error> {
    let total = frames.len();
    tracing::debug!(party = p, phase = %phase, chunks = total, "sending message");
    // Bounded by the frame count.
    for chunk in 0..total {
        let Some(capacity) = frames.next_capacity() else {
            break;
        };
        let buf = ch.chunk_buffer(p, capacity);
        let Some(frame) = frames.next_into(buf) else {
            break;
        };
        send_chunk(ch, p, phase, chunk, total, frame).await?;
    }
    Ok(())
}

/// Sends a message that fits one chunk: its footer is appended in place.
#[form(AFIT)]
async fn send_single<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &Arc<str>,
    payload: Vec<u8>,
) -> Result<(), Error> {
    tracing::debug!(party = p, phase = %phase, chunks = 1, "sending message");
    send_chunk(ch, p, phase, 0, 1, frame::seal_single(payload)).await
}

/// Hands one framed chunk to the transport.
#[form(AFIT)]
async fn send_chunk<C: Channel + ?Sized>(
    ch: &mut C,
    p: usize,
    phase: &Arc<str>,
    chunk: usize,
    total: usize,
    frame: Vec<u8>,
) -> Result<(), Error> {
    tracing::trace!(party = p, phase = %phase, chunk, bytes = frame.len(), "sending chunk");
    let info = SendInfo::new(phase.clone(), chunk, total);
    ch.send_bytes_to(p, frame, info)
        .await
        .map_err(|e| Error::Send {
            party: p,
            phase: phase.clone(),
            source: Box::new(e),
        })
}

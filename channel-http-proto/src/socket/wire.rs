//! The frames of the relay's WebSocket (API 1.4, `API.md` § WebSocket): one
//! JSON text frame each way to open, then binary frames of one kind byte and
//! little-endian fields. Every decoder checks the length before reading, and
//! a payload is never larger than the relay's body limit.

use serde::{Deserialize, Serialize};

/// The WebSocket sub-protocol both ends name (`Sec-WebSocket-Protocol`).
pub const SUBPROTOCOL: &str = "channel-relay.v1";

/// Bytes a data frame adds to its chunk (kind, party, number).
pub const DATA_HEADER: usize = 1 + 4 + 8;

/// The client's opening text frame: who it is and where its links stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The party's token (a browser cannot set `Authorization` on a WebSocket).
    pub token: String,
    /// The join this socket belongs to (from `GET /v1/sessions/{s}`).
    pub epoch: u64,
    /// Per party: the number of the next chunk the client wants delivered
    /// (everything below it is with the client already).
    pub receive_from: Vec<u64>,
    /// Per party: everything below this number the client has taken; the relay drops it.
    pub acked: Vec<u64>,
    /// Bytes per peer the relay may deliver ahead of the client's
    /// acknowledgements (at least one chunk is always delivered).
    pub window: u64,
}

/// The relay's opening text frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// Per party: the number of the next chunk the relay expects from this
    /// client; everything below it is stored (the client resends from here).
    pub next_send: Vec<u64>,
    /// The largest chunk the relay takes in one data frame.
    pub max_body: usize,
}

/// What a peer's state is, as the relay tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Heard from recently (or never joined yet).
    Alive,
    /// Silent for this many milliseconds: its process likely ended.
    Gone {
        /// How long it has been silent.
        silent_ms: u64,
    },
    /// It said goodbye after sending this many chunks to the client.
    Left {
        /// Chunks it sent to the client in all.
        sent: u64,
    },
}

/// One binary frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<B> {
    /// Client to relay: chunk `seq` for `party`.
    Data {
        /// The receiver.
        party: u32,
        /// The chunk's number on the link.
        seq: u64,
        /// The chunk.
        payload: B,
    },
    /// Relay to client: chunk `seq` from `party`.
    Deliver {
        /// The sender.
        party: u32,
        /// The chunk's number on the link.
        seq: u64,
        /// The chunk.
        payload: B,
    },
    /// Client to relay: every chunk from `party` below `next` was taken.
    Ack {
        /// The sender of the chunks.
        party: u32,
        /// The first number not taken.
        next: u64,
    },
    /// Relay to client: every chunk to `party` below `next` is stored.
    Stored {
        /// The receiver of the chunks.
        party: u32,
        /// The first number not stored.
        next: u64,
    },
    /// Relay to client: chunks to `party` from `next` on were not stored (the
    /// session's or relay's budget is full); send them again after `retry_ms`.
    Full {
        /// The receiver of the chunks.
        party: u32,
        /// The first number not stored.
        next: u64,
        /// When to send again, at the earliest.
        retry_ms: u32,
    },
    /// Relay to client: `party` changed state.
    Peer {
        /// The peer.
        party: u32,
        /// Its state now.
        state: PeerState,
    },
    /// Relay to client: chunk `seq` to `party` is refused for good (the
    /// party left, the chunk conflicts with one stored under its number...).
    Refused {
        /// The receiver.
        party: u32,
        /// The chunk's number.
        seq: u64,
        /// Why, for people.
        reason: String,
    },
    /// Client to relay: the goodbye, how many chunks went to each party.
    Leave {
        /// Per party, chunks sent to it in all.
        sent: Vec<u64>,
    },
}

const DATA: u8 = 1;
const DELIVER: u8 = 2;
const ACK: u8 = 3;
const STORED: u8 = 4;
const FULL: u8 = 5;
const PEER: u8 = 6;
const REFUSED: u8 = 7;
const LEAVE: u8 = 8;

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad WebSocket frame: {0}")]
pub struct FrameError(pub String);

fn bad(why: impl Into<String>) -> FrameError {
    FrameError(why.into())
}

/// Reads fields off the front of a frame.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FrameError> {
        if self.0.len() < n {
            return Err(bad(format!("it ends inside its {what}")));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self, what: &str) -> Result<u32, FrameError> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self, what: &str) -> Result<u64, FrameError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(b))
    }
    fn end(&self, kind: &str) -> Result<(), FrameError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(bad(format!("{n} bytes after the end of a {kind} frame"))),
        }
    }
}

/// The header of a data or deliver frame, for writing it in front of a
/// payload without copying the payload.
pub fn data_header(deliver: bool, party: u32, seq: u64) -> [u8; DATA_HEADER] {
    let mut h = [0; DATA_HEADER];
    h[0] = if deliver { DELIVER } else { DATA };
    h[1..5].copy_from_slice(&party.to_le_bytes());
    h[5..13].copy_from_slice(&seq.to_le_bytes());
    h
}

impl<B: AsRef<[u8]>> Frame<B> {
    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Frame::Data {
                party,
                seq,
                payload,
            }
            | Frame::Deliver {
                party,
                seq,
                payload,
            } => {
                let payload = payload.as_ref();
                out.reserve(DATA_HEADER + payload.len());
                out.extend_from_slice(&data_header(
                    matches!(self, Frame::Deliver { .. }),
                    *party,
                    *seq,
                ));
                out.extend_from_slice(payload);
            }
            Frame::Ack { party, next } | Frame::Stored { party, next } => {
                out.push(if matches!(self, Frame::Ack { .. }) {
                    ACK
                } else {
                    STORED
                });
                out.extend_from_slice(&party.to_le_bytes());
                out.extend_from_slice(&next.to_le_bytes());
            }
            Frame::Full {
                party,
                next,
                retry_ms,
            } => {
                out.push(FULL);
                out.extend_from_slice(&party.to_le_bytes());
                out.extend_from_slice(&next.to_le_bytes());
                out.extend_from_slice(&retry_ms.to_le_bytes());
            }
            Frame::Peer { party, state } => {
                out.push(PEER);
                out.extend_from_slice(&party.to_le_bytes());
                let (kind, value) = match *state {
                    PeerState::Alive => (0u8, 0),
                    PeerState::Gone { silent_ms } => (1, silent_ms),
                    PeerState::Left { sent } => (2, sent),
                };
                out.push(kind);
                out.extend_from_slice(&value.to_le_bytes());
            }
            Frame::Refused { party, seq, reason } => {
                out.push(REFUSED);
                out.extend_from_slice(&party.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(reason.as_bytes());
            }
            Frame::Leave { sent } => {
                out.push(LEAVE);
                for n in sent {
                    out.extend_from_slice(&n.to_le_bytes());
                }
            }
        }
        out
    }
}

impl<'a> Frame<&'a [u8]> {
    /// Reads one frame; a payload borrows from `bytes`. `max_payload` bounds a
    /// data frame's chunk, `parties` a goodbye's counts.
    pub fn decode(bytes: &'a [u8], max_payload: usize) -> Result<Self, FrameError> {
        let mut c = Cursor(bytes);
        let kind = c.take(1, "kind")?[0];
        let frame = match kind {
            DATA | DELIVER => {
                let party = c.u32("party")?;
                let seq = c.u64("number")?;
                let payload = c.0;
                if payload.len() > max_payload {
                    return Err(bad(format!(
                        "a chunk of {} bytes, beyond the limit of {max_payload}",
                        payload.len()
                    )));
                }
                c.0 = &[];
                if kind == DATA {
                    Frame::Data {
                        party,
                        seq,
                        payload,
                    }
                } else {
                    Frame::Deliver {
                        party,
                        seq,
                        payload,
                    }
                }
            }
            ACK | STORED => {
                let party = c.u32("party")?;
                let next = c.u64("number")?;
                if kind == ACK {
                    Frame::Ack { party, next }
                } else {
                    Frame::Stored { party, next }
                }
            }
            FULL => Frame::Full {
                party: c.u32("party")?,
                next: c.u64("number")?,
                retry_ms: c.u32("retry time")?,
            },
            PEER => {
                let party = c.u32("party")?;
                let state = c.take(1, "state")?[0];
                let value = c.u64("state value")?;
                let state = match state {
                    0 => PeerState::Alive,
                    1 => PeerState::Gone { silent_ms: value },
                    2 => PeerState::Left { sent: value },
                    other => return Err(bad(format!("unknown peer state {other}"))),
                };
                Frame::Peer { party, state }
            }
            REFUSED => {
                let party = c.u32("party")?;
                let seq = c.u64("number")?;
                let reason = String::from_utf8_lossy(c.0).into_owned();
                c.0 = &[];
                Frame::Refused { party, seq, reason }
            }
            LEAVE => {
                if c.0.len() % 8 != 0 || c.0.len() / 8 > crate::protocol::MAX_SESSION_PARTIES {
                    return Err(bad(format!(
                        "a goodbye of {} bytes is not a list of counts",
                        c.0.len()
                    )));
                }
                let sent = c.0.chunks_exact(8).map(|b| {
                    let mut n = [0; 8];
                    n.copy_from_slice(b);
                    u64::from_le_bytes(n)
                });
                let sent = sent.collect();
                c.0 = &[];
                Frame::Leave { sent }
            }
            other => return Err(bad(format!("unknown kind {other}"))),
        };
        c.end("binary")?;
        Ok(frame)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests fail by panicking.
mod tests {
    use super::*;

    #[test]
    fn every_frame_roundtrips() {
        let frames: Vec<Frame<&[u8]>> = vec![
            Frame::Data {
                party: 3,
                seq: 9,
                payload: b"abc",
            },
            Frame::Deliver {
                party: 0,
                seq: u64::MAX,
                payload: b"",
            },
            Frame::Ack { party: 1, next: 4 },
            Frame::Stored { party: 2, next: 5 },
            Frame::Full {
                party: 2,
                next: 5,
                retry_ms: 250,
            },
            Frame::Peer {
                party: 1,
                state: PeerState::Alive,
            },
            Frame::Peer {
                party: 1,
                state: PeerState::Gone { silent_ms: 7 },
            },
            Frame::Peer {
                party: 1,
                state: PeerState::Left { sent: 12 },
            },
            Frame::Refused {
                party: 1,
                seq: 3,
                reason: "party 1 left".into(),
            },
            Frame::Leave {
                sent: vec![0, 3, 9],
            },
        ];
        for frame in frames {
            let bytes = frame.encode();
            assert_eq!(Frame::decode(&bytes, 16).unwrap(), frame, "{bytes:?}");
        }
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "kind"),
            (vec![99], "unknown kind"),
            (vec![ACK, 1, 0], "party"),
            (vec![ACK, 1, 0, 0, 0, 1], "number"),
            (
                Frame::<&[u8]>::Ack { party: 1, next: 2 }
                    .encode()
                    .into_iter()
                    .chain([0])
                    .collect(),
                "after the end",
            ),
            (
                Frame::Data {
                    party: 1,
                    seq: 0,
                    payload: &[0u8; 17][..],
                }
                .encode(),
                "beyond the limit",
            ),
            (
                vec![PEER, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0],
                "unknown peer state",
            ),
            (vec![LEAVE, 1, 2, 3], "not a list"),
        ];
        for (bytes, expected) in cases {
            let e = Frame::decode(&bytes, 16).unwrap_err();
            assert!(e.to_string().contains(expected), "{bytes:?}: {e}");
        }
    }

    #[test]
    fn the_data_header_is_the_front_of_the_frame() {
        let frame = Frame::Data {
            party: 7,
            seq: 8,
            payload: &b"xy"[..],
        }
        .encode();
        assert_eq!(&frame[..DATA_HEADER], &data_header(false, 7, 8));
    }
}

//! Frames on the one long-lived stream between two parties.
//!
//! ```text
//! HELLO  | 0 | next_expected: u64 LE | lanes: u16 LE |       first frame of every session
//! DATA   | 1 | seq: u64 LE | len: u32 LE | payload (len)     one chunk from the application
//! ACK    | 2 | seq: u64 LE |                                 everything up to seq was delivered
//! BYE    | 3 |                                               the sender's channel is gone; do not reconnect
//! PING   | 4 |                                               keepalive: nothing else to send
//! ```
//!
//! Each lane (one stream on its own connection; channel-p2p's
//! `P2pOptions::lanes`, 1 elsewhere) is such a stream on its own. Sequence numbers count DATA frames per lane and
//! direction from 0. HELLO tells the peer where to resume after a reconnect and
//! how many lanes this party uses (both sides must agree); the sender keeps every DATA frame until it
//! is acknowledged and resends the unacknowledged ones, the receiver drops
//! duplicates: every chunk arrives exactly once and in order. `len` is checked
//! against the configured maximum before anything is allocated. PING keeps a
//! quiet stream alive and tells the peer that this side is (see
//! `channel_core::transport::liveness`).

use std::sync::Arc;

use channel_core::transport::BufferPool;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The first frame of every session on a new stream.
    Hello {
        /// The number of the next DATA frame this side expects.
        next_expected: u64,
        /// How many lanes (streams) per pair this side uses.
        lanes: u16,
    },
    /// One chunk from the application.
    Data {
        /// Its number, counted per direction from 0.
        seq: u64,
        /// Its bytes.
        payload: Payload,
    },
    /// Every DATA frame up to `seq` was delivered.
    Ack {
        /// The highest number delivered.
        seq: u64,
    },
    /// The sender is done; do not reconnect for it.
    Bye,
    /// Keepalive: nothing else to send.
    Ping,
}

/// A chunk's bytes, shared between the frame being written and the copy a
/// sender keeps until the peer acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(Arc<Vec<u8>>);

impl Payload {
    /// Takes the bytes without a copy.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Arc::new(bytes))
    }

    /// The bytes, without a copy unless a resend still holds them.
    pub fn into_vec(self) -> Vec<u8> {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }

    /// The bytes if nothing else holds them (for their memory to be reused).
    pub fn try_into_vec(self) -> Option<Vec<u8>> {
        Arc::try_unwrap(self.0).ok()
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// Why reading a frame failed.
#[derive(Debug)]
pub enum WireError {
    /// The stream broke: reconnect.
    Io(std::io::Error),
    /// The peer broke the format: give up on it.
    Malformed(String),
}

/// Reads one frame, refusing a payload above `max_payload` before allocating;
/// a payload goes into a buffer from `buffers` (a spare one when it has one
/// that fits).
pub async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    max_payload: usize,
    buffers: &BufferPool,
) -> Result<Frame, WireError> {
    let mut kind = [0u8; 1];
    rd.read_exact(&mut kind).await.map_err(WireError::Io)?;
    let mut word = [0u8; 8];
    match kind[0] {
        0 => {
            rd.read_exact(&mut word).await.map_err(WireError::Io)?;
            let mut lanes = [0u8; 2];
            rd.read_exact(&mut lanes).await.map_err(WireError::Io)?;
            Ok(Frame::Hello {
                next_expected: u64::from_le_bytes(word),
                lanes: u16::from_le_bytes(lanes),
            })
        }
        2 => {
            rd.read_exact(&mut word).await.map_err(WireError::Io)?;
            Ok(Frame::Ack {
                seq: u64::from_le_bytes(word),
            })
        }
        1 => {
            rd.read_exact(&mut word).await.map_err(WireError::Io)?;
            let mut len = [0u8; 4];
            rd.read_exact(&mut len).await.map_err(WireError::Io)?;
            let len = u32::from_le_bytes(len) as usize;
            if len > max_payload {
                return Err(WireError::Malformed(format!(
                    "a frame of {len} bytes exceeds the maximum of {max_payload}"
                )));
            }
            // Read into spare capacity: no zeroing of what is overwritten anyway.
            let mut payload = buffers.take(len);
            // Bounded: every pass adds at least one byte, or ends.
            while payload.len() < len {
                let want = (len - payload.len()) as u64;
                let got = (&mut *rd)
                    .take(want)
                    .read_buf(&mut payload)
                    .await
                    .map_err(WireError::Io)?;
                if got == 0 {
                    return Err(WireError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
            }
            Ok(Frame::Data {
                seq: u64::from_le_bytes(word),
                payload: Payload::new(payload),
            })
        }
        3 => Ok(Frame::Bye),
        4 => Ok(Frame::Ping),
        other => Err(WireError::Malformed(format!("unknown frame type {other}"))),
    }
}

/// Appends the frame's header (all of it, for frames without payload) to `out`.
pub fn encode_header(frame: &Frame, out: &mut Vec<u8>) -> std::io::Result<()> {
    match frame {
        Frame::Hello {
            next_expected,
            lanes,
        } => {
            out.push(0);
            out.extend_from_slice(&next_expected.to_le_bytes());
            out.extend_from_slice(&lanes.to_le_bytes());
        }
        Frame::Ack { seq } => {
            out.push(2);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        Frame::Data { seq, payload } => {
            let len = u32::try_from(payload.len()).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame larger than 4 GiB")
            })?;
            out.push(1);
            out.extend_from_slice(&seq.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
        }
        Frame::Bye => out.push(3),
        Frame::Ping => out.push(4),
    }
    Ok(())
}

/// Writes one frame and flushes.
pub async fn write_frame<W: AsyncWrite + Unpin>(wr: &mut W, frame: &Frame) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(13);
    encode_header(frame, &mut head)?;
    wr.write_all(&head).await?;
    if let Frame::Data { payload, .. } = frame {
        wr.write_all(payload).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_payload_is_read_into_a_spare_buffer_when_one_fits() {
        let mut wire = Vec::new();
        let frame = Frame::Data {
            seq: 0,
            payload: Payload::new(vec![7; 3 << 20]),
        };
        write_frame(&mut wire, &frame).await.unwrap();
        let buffers = BufferPool::default();
        let spare = Vec::with_capacity(4 << 20);
        let at = spare.as_ptr();
        buffers.give(spare);
        let read = read_frame(&mut std::io::Cursor::new(wire), 4 << 20, &buffers)
            .await
            .unwrap();
        assert_eq!(read, frame);
        let Frame::Data { payload, .. } = read else {
            unreachable!("compared above")
        };
        assert_eq!(payload.as_ptr(), at, "read into the spare buffer");
        assert_eq!(buffers.spare_bytes(), 0);
    }

    #[tokio::test]
    async fn frames_roundtrip_and_bad_ones_are_typed_errors() {
        {
            let frames = vec![
                Frame::Hello {
                    next_expected: 7,
                    lanes: 3,
                },
                Frame::Data {
                    seq: 3,
                    payload: Payload::new(vec![1, 2, 3]),
                },
                Frame::Data {
                    seq: 4,
                    payload: Payload::new(vec![]),
                },
                Frame::Ack { seq: 9 },
                Frame::Bye,
                Frame::Ping,
            ];
            let mut buf = Vec::new();
            for f in &frames {
                write_frame(&mut buf, f).await.unwrap();
            }
            let mut rd = std::io::Cursor::new(buf);
            for f in &frames {
                assert_eq!(
                    &read_frame(&mut rd, 10, &BufferPool::default())
                        .await
                        .unwrap(),
                    f
                );
            }
            assert!(matches!(
                read_frame(&mut rd, 10, &BufferPool::default()).await,
                Err(WireError::Io(_))
            ));

            let mut huge = vec![1u8];
            huge.extend_from_slice(&0u64.to_le_bytes());
            huge.extend_from_slice(&u32::MAX.to_le_bytes());
            let err = read_frame(
                &mut std::io::Cursor::new(huge),
                1 << 20,
                &BufferPool::default(),
            )
            .await;
            assert!(matches!(err, Err(WireError::Malformed(m)) if m.contains("exceeds")));
            // A DATA frame that declares 5 bytes and ends after 2.
            let mut short = vec![1u8];
            short.extend_from_slice(&0u64.to_le_bytes());
            short.extend_from_slice(&5u32.to_le_bytes());
            short.extend_from_slice(&[1, 2]);
            let err =
                read_frame(&mut std::io::Cursor::new(short), 10, &BufferPool::default()).await;
            assert!(
                matches!(&err, Err(WireError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof),
                "{err:?}"
            );
            let err = read_frame(
                &mut std::io::Cursor::new(vec![9u8]),
                10,
                &BufferPool::default(),
            )
            .await;
            assert!(
                matches!(err, Err(WireError::Malformed(m)) if m.contains("unknown frame type 9"))
            );
        }
    }
}

//! Frames on one stream with exactly one operation in flight per direction:
//! each read or write owns its half of the stream and hands it back when done,
//! so the link's `select!` can keep it pending across iterations instead of
//! cancelling it mid-frame.

use channel_core::transport::BufferPool;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::wire::{Frame, WireError, encode_header, read_frame};

/// Reads the next frame and hands the read half back with it.
pub async fn next_frame<S: AsyncRead + AsyncWrite>(
    mut rd: ReadHalf<S>,
    max_payload: usize,
    buffers: BufferPool,
) -> (ReadHalf<S>, Result<Frame, WireError>) {
    let frame = read_frame(&mut rd, max_payload, &buffers).await;
    (rd, frame)
}

/// Frames with payloads up to this size are copied into the batch buffer.
const SMALL_PAYLOAD: usize = 64 * 1024;
/// The batch buffer is written out once it holds this much.
const BATCH: usize = 256 * 1024;

/// The write half of a stream and the buffer that batches small frames.
pub struct Writer<S> {
    wr: WriteHalf<S>,
    batch: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite> Writer<S> {
    /// A writer on the write half of a stream.
    pub fn new(wr: WriteHalf<S>) -> Self {
        Self {
            wr,
            batch: Vec::new(),
        }
    }

    /// Closes our side of the stream.
    pub async fn close(&mut self) -> std::io::Result<()> {
        self.wr.shutdown().await
    }

    /// Writes `frames` and flushes, then hands itself back (so the session can
    /// keep exactly one write in flight).
    pub async fn write(mut self, frames: Vec<Frame>) -> (Self, std::io::Result<()>) {
        let result = self.write_all(&frames).await;
        (self, result)
    }

    /// Headers, acknowledgements and small chunks are gathered into one buffer
    /// and written together, because every write on a Yamux stream becomes its
    /// own Yamux frame and Noise message; large payloads go straight through.
    pub async fn write_all(&mut self, frames: &[Frame]) -> std::io::Result<()> {
        for frame in frames {
            encode_header(frame, &mut self.batch)?;
            if let Frame::Data { payload, .. } = frame {
                if payload.len() <= SMALL_PAYLOAD {
                    self.batch.extend_from_slice(payload);
                } else {
                    self.wr.write_all(&self.batch).await?;
                    self.batch.clear();
                    self.wr.write_all(payload).await?;
                }
            }
            if self.batch.len() >= BATCH {
                self.wr.write_all(&self.batch).await?;
                self.batch.clear();
            }
        }
        if !self.batch.is_empty() {
            self.wr.write_all(&self.batch).await?;
            self.batch.clear();
        }
        self.wr.flush().await
    }
}

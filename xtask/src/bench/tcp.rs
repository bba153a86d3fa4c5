//! The socket baseline: two parties on one loopback TCP connection with 4-byte
//! length-prefixed frames and TCP_NODELAY. Throughput is measured at the socket's
//! limit (frames written from one buffer and read into one reused buffer, so no
//! per-message allocation or copy); the ping-pong drives it as an async `Channel`,
//! exactly like the transports it is compared with.

use channel_core::transport::TransportError;
use channel_core::{Channel, RecvInfo, SendInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Largest frame the baseline accepts (bounded before allocating, like everything here).
const MAX_FRAME: usize = 1 << 30;

pub struct TcpChannel {
    me: usize,
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

/// Two connected parties on 127.0.0.1.
pub async fn pair() -> std::io::Result<(TcpChannel, TcpChannel)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, (server, _)) = (client?, server?);
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let make = |me, stream: TcpStream| {
        let (r, w) = stream.into_split();
        TcpChannel {
            me,
            read: BufReader::with_capacity(1 << 16, r),
            write: w,
        }
    };
    Ok((make(0, client), make(1, server)))
}

impl TcpChannel {
    /// Writes one frame straight from `msg`.
    async fn write_frame(&mut self, msg: &[u8]) -> std::io::Result<()> {
        let len =
            u32::try_from(msg.len()).map_err(|_| std::io::Error::other("a frame beyond 4 GiB"))?;
        self.write.write_all(&len.to_le_bytes()).await?;
        self.write.write_all(msg).await
    }

    /// Reads one frame into `buf`, reusing its allocation.
    async fn read_frame_into(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        let mut len = [0u8; 4];
        self.read.read_exact(&mut len).await?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(std::io::Error::other("a frame beyond the bound"));
        }
        buf.resize(len, 0);
        self.read.read_exact(buf).await.map(drop)
    }
}

/// Sender side of a throughput point at the socket's limit: `reps` frames of
/// `msg`, then waits for the receiver's one-byte frame.
pub async fn source(a: &mut TcpChannel, msg: &[u8], reps: usize) -> std::io::Result<()> {
    for _ in 0..reps {
        a.write_frame(msg).await?;
    }
    a.read_frame_into(&mut Vec::new()).await
}

/// Receiver side: every frame into `buf`, reused, then a one-byte frame back.
pub async fn sink(
    b: &mut TcpChannel,
    buf: &mut Vec<u8>,
    size: usize,
    reps: usize,
) -> std::io::Result<()> {
    for _ in 0..reps {
        b.read_frame_into(buf).await?;
        if buf.len() != size {
            return Err(std::io::Error::other("a frame of the wrong size"));
        }
    }
    b.write_frame(&[1]).await
}

/// A broken connection: the bench only needs to know that it failed.
fn io_error(party: usize, _: std::io::Error) -> TransportError {
    TransportError::Closed { party }
}

impl Channel for TcpChannel {
    type SendError = TransportError;
    type RecvError = TransportError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        _: SendInfo,
    ) -> Result<(), TransportError> {
        channel_core::transport::check_peer(self.me, p, 2)?;
        let len = u32::try_from(msg.len()).map_err(|_| TransportError::QueueFull {
            party: p,
            queued: 0,
            adding: msg.len(),
            limit: u32::MAX as usize,
        })?;
        self.write
            .write_all(&len.to_le_bytes())
            .await
            .map_err(|e| io_error(p, e))?;
        self.write.write_all(&msg).await.map_err(|e| io_error(p, e))
    }

    async fn recv_bytes_from(&mut self, p: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
        channel_core::transport::check_peer(self.me, p, 2)?;
        let mut len = [0u8; 4];
        self.read
            .read_exact(&mut len)
            .await
            .map_err(|e| io_error(p, e))?;
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(TransportError::Closed { party: p });
        }
        let mut buf = vec![0u8; len];
        self.read
            .read_exact(&mut buf)
            .await
            .map_err(|e| io_error(p, e))?;
        Ok(buf)
    }

    fn chunk_size(&self) -> usize {
        MAX_FRAME - channel_core::frame::FOOTER_LEN
    }
}

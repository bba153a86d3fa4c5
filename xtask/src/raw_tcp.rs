//! The socket baseline: two parties on one loopback TCP connection with 4-byte
//! length-prefixed frames and TCP_NODELAY. The bench measures it at the socket's
//! limit through its `FrameStream` (frames from one buffer into one reused
//! buffer); the memory probe drives it as an async `Channel`, like the transports.
//! Its forwarded form (`raw-tcp-forwarded`) passes through a byte forwarder:
//! the two hops every relay row has.

use std::io;
use std::net::SocketAddr;

use channel_core::transport::TransportError;
use channel_core::{Channel, RecvInfo, SendInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// Largest frame the baseline accepts (bounded before allocating, like everything here).
pub const MAX_FRAME: usize = 1 << 30;

/// Checks a frame's length before anything is allocated for it.
pub fn checked_len(word: [u8; 4], max: usize) -> io::Result<usize> {
    let len = u32::from_le_bytes(word) as usize;
    if len > max {
        return Err(io::Error::other(format!(
            "a frame of {len} bytes, more than {max}"
        )));
    }
    Ok(len)
}

/// The frame's length prefix, or an error beyond 4 GiB.
pub fn len_prefix(msg: &[u8]) -> io::Result<[u8; 4]> {
    u32::try_from(msg.len())
        .map(u32::to_le_bytes)
        .map_err(|_| io::Error::other("a frame beyond 4 GiB"))
}

/// One end of the connection.
pub struct TcpChannel {
    me: usize,
    pub(crate) read: BufReader<OwnedReadHalf>,
    pub(crate) write: OwnedWriteHalf,
}

/// Two connected parties on 127.0.0.1.
pub async fn pair() -> std::io::Result<(TcpChannel, TcpChannel)> {
    pair_via(async |addr| Ok(addr)).await
}

/// Two connected parties, party 0 connecting to party 1 at `route(addr)`
/// instead of its listener's `addr` (a link emulator in front of it, say).
pub async fn pair_via(
    route: impl AsyncFnOnce(SocketAddr) -> std::io::Result<SocketAddr>,
) -> std::io::Result<(TcpChannel, TcpChannel)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let via = route(listener.local_addr()?).await?;
    let (client, server) = tokio::join!(TcpStream::connect(via), listener.accept());
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

/// Two connected parties whose connection passes through a byte forwarder
/// on 127.0.0.1: two TCP hops and one copy in between, as through a relay
/// that stores nothing. The limit of any relay on this machine.
pub async fn forwarded_pair() -> std::io::Result<(TcpChannel, TcpChannel)> {
    pair_via(async |to| {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let at = listener.local_addr()?;
        tokio::spawn(async move {
            let (mut inbound, _) = listener.accept().await?;
            let mut outbound = TcpStream::connect(to).await?;
            inbound.set_nodelay(true)?;
            outbound.set_nodelay(true)?;
            // Buffers as large as a relay's reads, so the copy is not what limits it.
            tokio::io::copy_bidirectional_with_sizes(&mut inbound, &mut outbound, 1 << 18, 1 << 18)
                .await
                .map(drop)
        });
        Ok(at)
    })
    .await
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
        if msg.len() > MAX_FRAME {
            return Err(TransportError::ChunkTooLarge {
                party: p,
                size: msg.len(),
                limit: MAX_FRAME,
            });
        }
        let len = len_prefix(&msg).map_err(|e| io_error(p, e))?;
        self.write
            .write_all(&len)
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
        let len = checked_len(len, MAX_FRAME).map_err(|e| io_error(p, e))?;
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

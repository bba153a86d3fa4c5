//! One direction of one proxied connection: a reader that stamps each piece it
//! reads with its arrival time (from the link's [`Schedule`](crate::Schedule)
//! of that direction, which every connection shares) and a writer that holds
//! it until then. Between them a bounded queue: when the link is saturated the
//! reader stops reading and the sender's TCP window closes, as behind a real
//! bottleneck.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::control::{Direction, Faults, LinkControl};

/// Bytes read at a time: small enough that a piece's serialization time stays
/// well under a millisecond at the bench's rates, large enough to be cheap.
pub(crate) const READ_SIZE: usize = 32 << 10;

/// The bytes a direction holds at least between reading and delivering, so
/// that links without a rate limit are bounded too.
const MIN_IN_FLIGHT: u64 = 1 << 20;

/// A piece of the stream and when it arrives; empty: the end of the stream.
struct Piece {
    at: Duration,
    bytes: Vec<u8>,
}

/// One direction of a connection.
pub(crate) struct Pump {
    pub direction: Direction,
    pub control: LinkControl,
    /// Nothing of this connection goes on the wire before this link time
    /// (its TCP handshake).
    pub hold: Duration,
}

impl Pump {
    /// Moves `src` to `dst` until `src` ends (then ends `dst` with a FIN) or
    /// either fails.
    pub async fn run(
        self,
        mut src: impl AsyncRead + Unpin,
        mut dst: impl AsyncWrite + Unpin,
    ) -> io::Result<()> {
        let profile = self.control.profile(self.direction);
        // Twice the bandwidth-delay product in flight keeps the link busy
        // while a sender's next burst is read; more would only add queueing.
        let in_flight = (2 * profile.bandwidth_delay_product()).max(MIN_IN_FLIGHT);
        let slots = usize::try_from(in_flight).unwrap_or(usize::MAX) / READ_SIZE + 1;
        let (tx, mut rx) = mpsc::channel::<Piece>(slots);
        let direction = self.direction;

        let mut faults = self.control.subscribe();
        let link = self.control.clone();
        let read = async move {
            loop {
                flowing(&mut faults).await?;
                let mut bytes = vec![0u8; READ_SIZE];
                let n = src.read(&mut bytes).await?;
                bytes.truncate(n);
                let at = link.transmit(direction, link.now().max(self.hold), n);
                if tx.send(Piece { at, bytes }).await.is_err() || n == 0 {
                    return Ok::<(), io::Error>(());
                }
            }
        };

        let mut faults = self.control.subscribe();
        let control = self.control.clone();
        let write = async move {
            while let Some(piece) = rx.recv().await {
                super::clock::sleep_until(control.instant(piece.at)).await;
                flowing(&mut faults).await?;
                if piece.bytes.is_empty() {
                    dst.shutdown().await?;
                    return Ok(());
                }
                dst.write_all(&piece.bytes).await?;
                control.count_forwarded(direction, piece.bytes.len());
            }
            Ok::<(), io::Error>(())
        };
        tokio::try_join!(read, write).map(|_| ())
    }
}

/// Returns once the link is not stalled.
async fn flowing(faults: &mut watch::Receiver<Faults>) -> io::Result<()> {
    faults
        .wait_for(|f| !f.stalled)
        .await
        .map(|_| ())
        .map_err(|_| io::Error::other("the proxy stopped"))
}

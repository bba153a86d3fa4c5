//! Polytune over a blocking channel's per-peer halves, each call on tokio's
//! blocking pool.

use std::sync::Arc;

use channel_core::Error;
use channel_core::blocking::{PeerReceiver, PeerSender, Shared, Split};

use crate::stats::{Sent, SentCounters};

/// A blocking mpc-channels channel (channel-std, `OnRuntime`, ...) as
/// Polytune's [`Channel`](polytune::channel::Channel).
///
/// Polytune is async; each send and receive here runs as its own
/// `spawn_blocking` task, so a receive that waits for a slow peer holds a
/// thread of tokio's blocking pool, not the runtime. Run Polytune on a tokio
/// runtime (any flavour).
///
/// ```
/// use channel_polytune::BlockingPolytuneChannel;
/// use channel_polytune::polytune::channel::Channel as _;
/// use channel_std::StdChannel;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), channel_core::Error> {
/// let mut parties = StdChannel::network(2).into_iter().map(BlockingPolytuneChannel::new);
/// let (zero, one) = (parties.next().unwrap(), parties.next().unwrap());
/// let (sent, got) = futures::join!(
///     zero.send_bytes_to(1, vec![7; 100_000], "hello"),
///     one.recv_bytes_from(0, "hello"),
/// );
/// sent?;
/// assert_eq!(got?, vec![7; 100_000]);
/// zero.finish().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct BlockingPolytuneChannel<S, R> {
    shared: Arc<Shared<S, R>>,
    sent: SentCounters,
}

impl<S, R> BlockingPolytuneChannel<S, R>
where
    S: PeerSender + Send + 'static,
    R: PeerReceiver + Send + 'static,
{
    /// Splits `channel` into its per-peer halves and serves Polytune from them.
    pub fn new<C>(channel: C) -> Self
    where
        C: Split<Sender = S, Receiver = R>,
    {
        Self {
            shared: Arc::new(channel.split().into_shared()),
            sent: SentCounters::default(),
        }
    }

    /// What this party has sent through Polytune so far.
    pub fn sent(&self) -> Sent {
        self.sent.get()
    }

    /// Waits until everything sent reached the transport, then drops the
    /// channel; call it when `polytune::mpc` has returned.
    pub async fn finish(self) -> Result<Sent, Error> {
        let shared = Arc::clone(&self.shared);
        off_runtime(None, move || shared.flush_all()).await?;
        Ok(self.sent.get())
    }
}

/// Runs a blocking channel call (about `party`, if one) on tokio's blocking pool.
async fn off_runtime<T: Send + 'static>(
    party: Option<usize>,
    call: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| Error::Transport {
            party,
            source: Box::new(e),
        })?
}

impl<S, R> polytune::channel::Channel for BlockingPolytuneChannel<S, R>
where
    S: PeerSender + Send + 'static,
    R: PeerReceiver + Send + 'static,
{
    type SendError = Error;
    type RecvError = Error;

    async fn send_bytes_to(&self, party: usize, data: Vec<u8>, phase: &str) -> Result<(), Error> {
        let (shared, phase, len) = (Arc::clone(&self.shared), phase.to_owned(), data.len());
        off_runtime(Some(party), move || {
            shared.send_bytes_owned(party, &phase, data)
        })
        .await?;
        self.sent.record(len);
        Ok(())
    }

    async fn recv_bytes_from(&self, party: usize, phase: &str) -> Result<Vec<u8>, Error> {
        let (shared, phase) = (Arc::clone(&self.shared), phase.to_owned());
        off_runtime(Some(party), move || shared.recv_bytes(party, &phase)).await
    }
}

impl<S, R> crate::EngineChannel for BlockingPolytuneChannel<S, R>
where
    S: PeerSender + Send + 'static,
    R: PeerReceiver + Send + 'static,
{
    fn sent(&self) -> Sent {
        self.sent.get()
    }

    async fn finish(self) -> Result<Sent, Error> {
        Self::finish(self).await
    }
}

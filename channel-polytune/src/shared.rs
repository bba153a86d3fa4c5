//! Polytune over an async channel's per-peer halves.

use channel_core::Error;
use channel_core::asynchronous::{PeerReceiver, PeerSender, Shared, Split};

use crate::stats::{Sent, SentCounters};

/// An async mpc-channels channel as Polytune's [`Channel`](polytune::channel::Channel):
/// see the [crate docs](crate) for an example.
///
/// Party indices are the channel's own. Sends and receives to different peers
/// and in different directions run at the same time; each peer's messages stay
/// in order. Errors are the channel's [`Error`], naming the peer and Polytune's
/// phase.
#[derive(Debug)]
pub struct PolytuneChannel<S, R> {
    shared: Shared<S, R>,
    sent: SentCounters,
}

impl<S: PeerSender, R: PeerReceiver> PolytuneChannel<S, R> {
    /// Splits `channel` into its per-peer halves and serves Polytune from them.
    pub fn new<C>(channel: C) -> Self
    where
        C: Split<Sender = S, Receiver = R>,
    {
        Self::from_shared(channel.split().into_shared())
    }

    /// Serves Polytune from halves already shared (for example after some
    /// messages of the application's own went through them).
    pub fn from_shared(shared: Shared<S, R>) -> Self {
        Self {
            shared,
            sent: SentCounters::default(),
        }
    }

    /// The shared halves, for messages of the application's own between
    /// Polytune's runs.
    pub fn shared(&self) -> &Shared<S, R> {
        &self.shared
    }

    /// What this party has sent through Polytune so far.
    pub fn sent(&self) -> Sent {
        self.sent.get()
    }

    /// Waits until everything sent reached the transport, then drops the
    /// channel (which tells the peers that this party is done). Call it when
    /// `polytune::mpc` has returned: the engine itself never flushes.
    pub async fn finish(self) -> Result<Sent, Error> {
        self.shared.flush_all().await?;
        Ok(self.sent.get())
    }
}

impl<S: PeerSender, R: PeerReceiver> polytune::channel::Channel for PolytuneChannel<S, R> {
    type SendError = Error;
    type RecvError = Error;

    async fn send_bytes_to(&self, party: usize, data: Vec<u8>, phase: &str) -> Result<(), Error> {
        let len = data.len();
        self.shared.send_bytes_owned(party, phase, data).await?;
        self.sent.record(len);
        Ok(())
    }

    async fn recv_bytes_from(&self, party: usize, phase: &str) -> Result<Vec<u8>, Error> {
        self.shared.recv_bytes(party, phase).await
    }
}

impl<S: PeerSender, R: PeerReceiver> crate::EngineChannel for PolytuneChannel<S, R> {
    fn sent(&self) -> Sent {
        self.sent.get()
    }

    async fn finish(self) -> Result<Sent, Error> {
        Self::finish(self).await
    }
}

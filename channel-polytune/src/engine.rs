//! What the adapters have in common beyond Polytune's own trait.

use channel_core::Error;
use polytune::channel::SimpleChannel;

use crate::Sent;

/// A Polytune channel that can report its traffic and be finished after a
/// run: both adapters, and Polytune's own in-memory `SimpleChannel` (the
/// baseline of the demo).
#[allow(async_fn_in_trait)] // Polytune's futures carry no `Send` bound either.
pub trait EngineChannel: polytune::channel::Channel {
    /// What this party has sent so far.
    fn sent(&self) -> Sent;

    /// Waits until everything sent reached the transport, then drops the
    /// channel.
    async fn finish(self) -> Result<Sent, Error>;
}

impl EngineChannel for SimpleChannel {
    fn sent(&self) -> Sent {
        // SimpleChannel counts bytes only.
        Sent {
            bytes: self.bytes_sent(),
            ..Sent::default()
        }
    }

    async fn finish(self) -> Result<Sent, Error> {
        Ok(EngineChannel::sent(&self))
    }
}

//! The async form of the API (also re-exported at the crate root).
//!
//! ```
//! use channel_core::asynchronous::{Channel, recv_vec_from, send_to};
//!
//! /// A protocol step written once against any async transport.
//! async fn exchange<C: Channel>(ch: &mut C, peer: usize) -> Result<Vec<u64>, channel_core::Error> {
//!     send_to(ch, peer, "exchange", &vec![1u64, 2, 3]).await?;
//!     recv_vec_from(ch, peer, "exchange", 3).await
//! }
//! ```

use maybe_async::must_be_async as form;

#[path = "api/channel.rs"]
mod channel;
#[path = "api/helpers.rs"]
mod helpers;
/// The reference 3-party (or n-party) secure-sum protocol, async form.
#[path = "api/reference.rs"]
pub mod reference;
#[path = "api/split.rs"]
mod split;
#[path = "api/wrappers.rs"]
mod wrappers;

/// The lock of [`Shared`]'s halves: async, so a waiting task does not block its thread.
type Lock<T> = futures::lock::Mutex<T>;

async fn lock<T>(m: &Lock<T>) -> futures::lock::MutexGuard<'_, T> {
    m.lock().await
}

fn lock_mut<T>(m: &mut Lock<T>) -> &mut T {
    m.get_mut()
}

#[cfg(feature = "testkit")]
#[path = "testkit/party.rs"]
pub(crate) mod kit_party;

pub use channel::Channel;
pub use helpers::{recv_bytes, recv_from, recv_vec_from, send_bytes, send_bytes_owned, send_to};
pub use split::{FromPeer, PeerReceiver, PeerSender, Peers, Shared, Split, ToPeer};

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
#[path = "api/mux.rs"]
mod mux;
/// The reference 3-party (or n-party) secure-sum protocol, async form.
#[path = "api/reference.rs"]
pub mod reference;
#[path = "api/split.rs"]
mod split;
#[path = "api/stream.rs"]
mod stream;
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

/// What sub-channels wait on: a count of changes, and the tasks to wake at
/// the next one (each task once).
#[derive(Debug, Default)]
struct Signal {
    state: std::sync::Mutex<(u64, Vec<std::task::Waker>)>,
}

impl Signal {
    fn state(&self) -> std::sync::MutexGuard<'_, (u64, Vec<std::task::Waker>)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The changes so far: read before looking, then wait for another.
    fn seen(&self) -> u64 {
        self.state().0
    }

    /// Something changed: wakes every waiter.
    fn notify(&self) {
        let wakers = {
            let mut state = self.state();
            state.0 = state.0.wrapping_add(1);
            std::mem::take(&mut state.1)
        };
        wakers.into_iter().for_each(std::task::Waker::wake);
    }

    /// Waits until something changed since `seen`.
    async fn changed(&self, seen: u64) {
        std::future::poll_fn(|cx| {
            let mut state = self.state();
            if state.0 != seen {
                return std::task::Poll::Ready(());
            }
            // Bounded by the tasks waiting: each is kept once.
            if !state.1.iter().any(|w| w.will_wake(cx.waker())) {
                state.1.push(cx.waker().clone());
            }
            std::task::Poll::Pending
        })
        .await;
    }
}

#[cfg(feature = "testkit")]
#[path = "testkit/party.rs"]
pub(crate) mod kit_party;
#[cfg(feature = "testkit")]
#[path = "testkit/stream_party.rs"]
pub(crate) mod kit_stream;

/// The kit's pause (runtime-independent, so it runs in a browser too).
#[cfg(feature = "testkit")]
async fn kit_sleep(d: std::time::Duration) {
    futures_timer::Delay::new(d).await;
}

pub use channel::Channel;
pub use helpers::{
    recv_bytes, recv_bytes_into, recv_from, recv_vec_from, send_bytes, send_bytes_owned, send_to,
};
pub use mux::{Mux, SubChannel, SubReceiver, SubSender};
pub use split::{
    FromPeer, PeerReceiver, PeerSender, Peers, RecvSide, SendSide, Shared, Split, ToPeer,
};
pub use stream::{
    ItemReceiver, StreamReceiver, StreamSender, recv_iter, recv_stream, send_iter, send_stream,
};

/// An async stream sender cannot send its abort from its drop: a sender
/// dropped unfinished leaves its receiver waiting until its timeout, so it
/// says so in the log (call [`StreamSender::abort`]).
impl<C: Channel> Drop for StreamSender<C> {
    fn drop(&mut self) {
        if !self.ended() {
            tracing::warn!(
                party = self.peer(),
                "a streamed message was dropped unfinished: its receiver waits until its \
                 timeout (call StreamSender::abort to tell it at once)"
            );
        }
    }
}

//! The blocking form of the API: the same trait and helpers without `async`.
//!
//! Generated from the same source as [`asynchronous`](crate::asynchronous), so the
//! two can never drift apart, and usable in the same build.
//!
//! ```
//! use channel_core::blocking::{Channel, recv_vec_from, send_to};
//!
//! /// The same protocol step as in the async docs, for threads.
//! fn exchange<C: Channel>(ch: &mut C, peer: usize) -> Result<Vec<u64>, channel_core::Error> {
//!     send_to(ch, peer, "exchange", &vec![1u64, 2, 3])?;
//!     recv_vec_from(ch, peer, "exchange", 3)
//! }
//! ```

use maybe_async::must_be_sync as form;

#[path = "api/channel.rs"]
mod channel;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/mux.rs"]
mod mux;
/// The reference 3-party (or n-party) secure-sum protocol, blocking form.
#[path = "api/reference.rs"]
pub mod reference;
#[path = "api/split.rs"]
mod split;
#[path = "api/stream.rs"]
mod stream;
#[path = "api/wrappers.rs"]
mod wrappers;

/// The lock of [`Shared`]'s halves.
type Lock<T> = std::sync::Mutex<T>;

/// A half whose holder panicked mid-message is still handed out: the peer then
/// sees a malformed message, which is a typed error there.
fn lock<T>(m: &Lock<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock_mut<T>(m: &mut Lock<T>) -> &mut T {
    m.get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What sub-channels wait on: a count of changes and a condition variable.
#[derive(Debug, Default)]
struct Signal {
    changes: std::sync::Mutex<u64>,
    changed: std::sync::Condvar,
}

impl Signal {
    fn changes(&self) -> std::sync::MutexGuard<'_, u64> {
        self.changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The changes so far: read before looking, then wait for another.
    fn seen(&self) -> u64 {
        *self.changes()
    }

    /// Something changed: wakes every waiter.
    fn notify(&self) {
        let mut changes = self.changes();
        *changes = changes.wrapping_add(1);
        self.changed.notify_all();
    }

    /// Waits until something changed since `seen`.
    fn changed(&self, seen: u64) {
        let mut changes = self.changes();
        // Bounded by the next change, which a reader always makes.
        while *changes == seen {
            changes = self
                .changed
                .wait(changes)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
}

#[cfg(feature = "testkit")]
#[path = "testkit/party.rs"]
// The blocking kit runs parties on threads, which a browser does not have.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) mod kit_party;
#[cfg(feature = "testkit")]
#[path = "testkit/stream_party.rs"]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) mod kit_stream;

/// The kit's pause.
#[cfg(feature = "testkit")]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
fn kit_sleep(d: std::time::Duration) {
    std::thread::sleep(d);
}

#[cfg(all(feature = "tokio", not(target_arch = "wasm32")))]
pub use crate::on_runtime::{OnRuntime, OnRuntimeError, OnRuntimeHalf, OnRuntimeSetupError};
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

/// A blocking stream sender that was not finished tells its receiver: it
/// sends the abort (an async one cannot wait in its drop).
impl<C: Channel> Drop for StreamSender<C> {
    fn drop(&mut self) {
        if !self.ended() && self.send_abort().is_err() {
            tracing::warn!(
                party = self.peer(),
                "a streamed message was dropped unfinished and its abort could not be sent"
            );
        }
    }
}

/// Bytes written go out as parts ([`StreamSender::write`]); `flush` sends
/// what is buffered as a part ([`StreamSender::send_buffered`]). Serialise
/// into it as into any writer, e.g. `bincode::serialize_into`.
impl<C: Channel> std::io::Write for StreamSender<C> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        StreamSender::write(self, buf).map_err(io_error)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send_buffered().map_err(io_error)
    }
}

/// Reads the message's bytes as they arrive ([`StreamReceiver::read`]).
impl<C: Channel> std::io::Read for StreamReceiver<C> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        StreamReceiver::read(self, out).map_err(io_error)
    }
}

/// The items of a sequence, each decoded as its bytes arrive
/// ([`ItemReceiver::next_item`]).
impl<C: Channel, T: serde::de::DeserializeOwned> Iterator for ItemReceiver<C, T> {
    type Item = Result<T, crate::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// The I/O error of a stream's failure, keeping it as its source.
fn io_error(e: crate::Error) -> std::io::Error {
    use crate::ErrorKind;
    let kind = match e.kind() {
        ErrorKind::Timeout => std::io::ErrorKind::TimedOut,
        ErrorKind::PeerGone => std::io::ErrorKind::ConnectionAborted,
        ErrorKind::Aborted => std::io::ErrorKind::ConnectionReset,
        ErrorKind::Malformed | ErrorKind::Unauthentic => std::io::ErrorKind::InvalidData,
        ErrorKind::TooLarge | ErrorKind::BadParty => std::io::ErrorKind::InvalidInput,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, e)
}

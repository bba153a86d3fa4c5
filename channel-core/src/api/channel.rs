// Shared source: compiled once as `channel_core::asynchronous` and once as
// `channel_core::blocking`. `form` is `maybe_async::must_be_async` in the first and
// `maybe_async::must_be_sync` in the second, which strips `async` and `.await`.
// Rustdoc examples live in the two form modules, since the same text cannot be
// valid async and blocking code at once.

use super::form;
use crate::{RecvInfo, SendInfo};

/// The transport between the parties of one computation, as seen by one party.
///
/// A transport implements two methods that move opaque byte vectors to and from
/// peer `p` (a party index in `0..n`, never the party itself). Everything else —
/// chunking, typed messages, limits, metrics — is built on top by this crate.
///
/// Contract for implementers (checked by the conformance kit in [`testkit`](crate::testkit)):
/// - **FIFO per peer:** the byte vectors sent to `p` arrive at `p` in order, each
///   exactly once, including empty ones.
/// - **A send never waits for the peer to read.** If `send_bytes_to` could block
///   until `p` calls `recv_bytes_from`, then "every party sends to every party,
///   then every party receives" deadlocks. Buffer (with a bound that yields an
///   error rather than a hang) instead.
/// - **Bad input is an error, not a panic:** a peer index out of range or equal to
///   the own index, a closed connection, a timeout, or a malformed frame each yield
///   the backend's `SendError`/`RecvError`.
/// - The [`SendInfo`]/[`RecvInfo`] arguments are for logs, metrics and errors; a
///   transport need not send them over the wire.
///
/// The async form's futures carry no `Send` bound, so that a browser backend whose
/// futures hold JavaScript values can implement it. See the crate docs, "Running
/// parties on a multi-threaded runtime", for what that means for native users.
#[form(AFIT)]
#[allow(async_fn_in_trait)] // No `Send` bound on purpose: browser futures are `!Send`.
pub trait Channel {
    /// The error of [`send_bytes_to`](Self::send_bytes_to).
    type SendError: std::error::Error + Send + Sync + 'static;
    /// The error of [`recv_bytes_from`](Self::recv_bytes_from).
    type RecvError: std::error::Error + Send + Sync + 'static;

    /// Sends one chunk `msg` to party `p`.
    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError>;

    /// Receives the next chunk from party `p`.
    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError>;

    /// Waits until every chunk sent so far has reached its peer's side of the
    /// transport (not necessarily its application), or fails. A party calls it
    /// before its work ends, so that nothing still queued is lost when the
    /// process or runtime stops.
    ///
    /// The default does nothing, which is right for transports whose sends
    /// complete on delivery; transports whose sends return once queued (e.g.
    /// `channel-p2p`) override it.
    async fn flush(&mut self) -> Result<(), Self::SendError> {
        Ok(())
    }

    /// The largest chunk payload the helpers hand to this transport, in bytes.
    ///
    /// Override it to match the transport's natural frame or body limit.
    fn chunk_size(&self) -> usize {
        crate::DEFAULT_CHUNK_SIZE
    }

    /// The largest message the helpers send or accept, in bytes. A peer claiming a
    /// larger message gets [`Error::TooLarge`](crate::Error::TooLarge) before anything
    /// is allocated.
    fn max_message_size(&self) -> usize {
        crate::DEFAULT_MAX_MESSAGE_SIZE
    }

    /// An empty buffer with room for `capacity` bytes, for a chunk to party `p`:
    /// the helpers write every chunk they make into one.
    ///
    /// The default allocates. An in-process transport returns a buffer that
    /// `p` handed back through [`recycle`](Self::recycle), so that a stream of
    /// large messages reuses memory instead of faulting in fresh pages for
    /// every one (see [`transport::recycle`](crate::transport::recycle)).
    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        let _ = p;
        Vec::with_capacity(capacity)
    }

    /// Hands back a buffer received from party `p` that the caller is done
    /// with, for the transport to reuse ([`chunk_buffer`](Self::chunk_buffer)).
    /// The helpers call it for what they consume (a deserialised message, the
    /// old contents of [`recv_bytes_into`](super::recv_bytes_into)'s buffer).
    /// The default drops it.
    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        let _ = (p, buf);
    }
}

/// A mutable reference to a channel is a channel, so generic code that takes a
/// channel by value can borrow one.
#[form(AFIT)]
impl<C: Channel + ?Sized> Channel for &mut C {
    type SendError = C::SendError;
    type RecvError = C::RecvError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        (**self).send_bytes_to(p, msg, info).await
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError> {
        (**self).recv_bytes_from(p, info).await
    }

    async fn flush(&mut self) -> Result<(), Self::SendError> {
        (**self).flush().await
    }

    fn chunk_size(&self) -> usize {
        (**self).chunk_size()
    }

    fn max_message_size(&self) -> usize {
        (**self).max_message_size()
    }

    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        (**self).chunk_buffer(p, capacity)
    }

    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        (**self).recycle(p, buf)
    }
}

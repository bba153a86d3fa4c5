//! Per-peer halves of an [`OnRuntime`]: blocking halves over an async
//! channel's halves, so that a blocking engine can run a thread per peer and
//! direction over a networked transport.
//!
//! Each call runs on the caller's thread with [`Handle::block_on`]; the
//! runtime's own threads (multi-thread) or the adapter's driving thread,
//! which stays in `Runtime::block_on` for as long as any half lives
//! (current-thread), drive I/O and timers, between calls too.

use std::sync::Arc;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::mpsc;

use super::{Command, Drive, OnRuntime, OnRuntimeError, guarded};
use crate::asynchronous::{self, Channel as AsyncChannel};
use crate::blocking;
use crate::{RecvInfo, SendInfo};

/// What keeps the runtime running while any half lives.
enum Keeper<C: AsyncChannel> {
    /// A multi-thread runtime the adapter owned: shut down with the last half.
    Owned(Option<Runtime>),
    /// The caller's multi-thread runtime: nothing to keep.
    Borrowed,
    /// The driving thread of a current-thread runtime: it returns once this
    /// sender (its queue) is gone.
    Driver(#[allow(dead_code)] mpsc::UnboundedSender<Command<C>>),
}

impl<C: AsyncChannel> Drop for Keeper<C> {
    fn drop(&mut self) {
        if let Keeper::Owned(runtime) = self
            && let Some(runtime) = runtime.take()
        {
            // Never blocks (a drop may happen anywhere, even in a task).
            runtime.shutdown_background();
        }
    }
}

/// A blocking half over an async channel's half `H`; see
/// [`OnRuntime`]'s `Split`.
pub struct OnRuntimeHalf<C: AsyncChannel, H> {
    /// `None` only while being dropped.
    inner: Option<H>,
    handle: Handle,
    _keeper: Arc<Keeper<C>>,
}

impl<C: AsyncChannel, H> std::fmt::Debug for OnRuntimeHalf<C, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnRuntimeHalf").finish_non_exhaustive()
    }
}

impl<C: AsyncChannel, H> Drop for OnRuntimeHalf<C, H> {
    fn drop(&mut self) {
        // The half may stop tasks of its own: drop it inside the runtime.
        let entered = self.handle.enter();
        drop(self.inner.take());
        drop(entered);
    }
}

impl<C: AsyncChannel, H> OnRuntimeHalf<C, H> {
    /// Runs `call` on the half on this thread; a panic or a runtime shut down
    /// under it ends as `Stopped`, and so does every later call.
    fn run<T, E: std::error::Error + 'static>(
        &mut self,
        call: impl AsyncFnOnce(&mut H) -> Result<T, E>,
    ) -> Result<T, OnRuntimeError<E>> {
        // `block_on` inside an async context would panic.
        if Handle::try_current().is_ok() {
            return Err(OnRuntimeError::InsideAsync);
        }
        let inner = self.inner.as_mut().ok_or(OnRuntimeError::Stopped)?;
        let handle = &self.handle;
        let result = guarded(|| handle.block_on(call(inner)));
        if matches!(result, Err(OnRuntimeError::Stopped)) {
            let broken = self.inner.take();
            let _entered = self.handle.enter();
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(broken)));
        }
        result
    }
}

impl<C, S> blocking::PeerSender for OnRuntimeHalf<C, S>
where
    C: AsyncChannel,
    S: asynchronous::PeerSender,
{
    type Error = OnRuntimeError<S::Error>;

    fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), Self::Error> {
        self.run(async move |half: &mut S| half.send_chunk(msg, info).await)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.run(async |half: &mut S| half.flush().await)
    }
}

impl<C, R> blocking::PeerReceiver for OnRuntimeHalf<C, R>
where
    C: AsyncChannel,
    R: asynchronous::PeerReceiver,
{
    type Error = OnRuntimeError<R::Error>;

    fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, Self::Error> {
        self.run(async move |half: &mut R| half.recv_chunk(info).await)
    }
}

/// Blocking halves over the async channel's halves, each usable on a thread
/// of its own at the same time as the others. The runtime keeps running
/// until the last half is dropped. A channel that already stopped (it
/// panicked, or its driving thread is gone) splits into no halves, so every
/// call on the `Peers` finds no peer.
impl<C> blocking::Split for OnRuntime<C>
where
    C: asynchronous::Split + Send + 'static,
{
    type Sender = OnRuntimeHalf<C, C::Sender>;
    type Receiver = OnRuntimeHalf<C, C::Receiver>;

    fn split(mut self) -> blocking::Peers<Self::Sender, Self::Receiver> {
        let (chunk_size, max_message_size) = (self.chunk_size, self.max_message_size);
        let taken = match &mut self.drive {
            Drive::Direct {
                channel,
                handle,
                owned,
            } => channel.take().map(|channel| {
                let keeper = match owned.take() {
                    Some(runtime) => Keeper::Owned(Some(runtime)),
                    None => Keeper::Borrowed,
                };
                (channel, handle.clone(), keeper)
            }),
            Drive::Thread(commands) => {
                let (reply, answer) = std::sync::mpsc::sync_channel(1);
                let handed = commands.send(Command::Split(reply)).is_ok();
                // Bounded by the driver: it answers the command or is gone.
                handed
                    .then(|| answer.recv().ok())
                    .flatten()
                    .map(|(channel, handle)| (channel, handle, Keeper::Driver(commands.clone())))
            }
        };
        let Some((channel, handle, keeper)) = taken else {
            return blocking::Peers::new(0, 0, chunk_size, max_message_size, []);
        };
        let keeper = Arc::new(keeper);
        let halves = {
            let _entered = handle.enter();
            channel.split()
        };
        let (me, parties) = (halves.me, halves.parties);
        let wrap = |half| OnRuntimeHalf {
            inner: Some(half),
            handle: handle.clone(),
            _keeper: keeper.clone(),
        };
        let receivers: Vec<_> = halves
            .receivers
            .into_iter()
            .map(|r| (r.peer(), r.into_inner()))
            .collect();
        let pairs: Vec<_> = halves
            .senders
            .into_iter()
            .zip(receivers)
            .filter_map(|(s, (rp, r))| (s.peer() == rp).then(|| (rp, s.into_inner(), r)))
            .collect();
        let pairs = pairs.into_iter().map(|(p, s, r)| {
            let sender = OnRuntimeHalf {
                inner: Some(s),
                handle: handle.clone(),
                _keeper: keeper.clone(),
            };
            (p, sender, wrap(r))
        });
        blocking::Peers::new(me, parties, chunk_size, max_message_size, pairs)
    }
}

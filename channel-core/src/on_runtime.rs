//! Blocking engines over async transports: [`OnRuntime`] turns any async
//! [`Channel`](crate::asynchronous::Channel) into a blocking one.
//!
//! The networked transports (`channel-http`, `channel-p2p`, `channel-tcp`, ...)
//! are async and run on tokio. An engine written against
//! [`blocking::Channel`](crate::blocking::Channel) reaches them through this
//! adapter. On a multi-thread runtime each blocking call runs the async call on
//! the engine's own thread ([`Handle::block_on`]); a current-thread runtime
//! gets a thread of its own that drives the channel, and each call hands it
//! one operation.
//!
//! Either way the runtime keeps running between calls, so everything the
//! transport does in the background (keepalives, acknowledgements, resends
//! after a reconnect, requests in flight) goes on while the engine computes.
//! That is why a current-thread runtime is not simply `block_on` around each
//! call: a runtime that only runs inside calls would make a party that
//! computes for a minute look dead to its peers.
//!
//! An `OnRuntime` over an async channel that implements
//! [`Split`](crate::asynchronous::Split) is a blocking
//! [`Split`](crate::blocking::Split) too: its halves ([`OnRuntimeHalf`]) each
//! run their calls on the caller's thread, so a blocking engine can give every
//! peer and direction a thread of its own; the runtime keeps running until the
//! last half is dropped.
//!
//! When to prefer it: for a blocking engine over a networked transport. An
//! in-process blocking engine is better served by `channel-std`, and async
//! code by the async channel itself. Make the calls from a plain thread (or
//! `spawn_blocking`), never from inside a task.
//!
//! ```
//! use channel_core::blocking::{Channel, OnRuntime, recv_from, send_to};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any async channel; here two in-process parties (see channel-core's
//! // `custom_channel` example), in practice e.g. `HttpChannel::join(..)`
//! // awaited on the runtime that will drive it.
//! let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
//! let [a, b] = two_parties();
//! let mut a = OnRuntime::on_handle(a, runtime.handle().clone())?;
//! let mut b = OnRuntime::on_handle(b, runtime.handle().clone())?;
//!
//! // From here on, plain blocking code.
//! send_to(&mut a, 1, "greeting", &42u64)?;
//! let got: u64 = recv_from(&mut b, 0, "greeting")?;
//! assert_eq!(got, 42);
//! # Ok(())
//! # }
//! # fn two_parties() -> [Pair; 2] {
//! #     let (ta, ra) = tokio::sync::mpsc::unbounded_channel();
//! #     let (tb, rb) = tokio::sync::mpsc::unbounded_channel();
//! #     [Pair { me: 0, to: ta, from: rb }, Pair { me: 1, to: tb, from: ra }]
//! # }
//! # struct Pair { me: usize, to: tokio::sync::mpsc::UnboundedSender<Vec<u8>>, from: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>> }
//! # #[derive(Debug, thiserror::Error)] #[error("closed")] struct Closed;
//! # impl channel_core::asynchronous::Channel for Pair {
//! #     type SendError = Closed;
//! #     type RecvError = Closed;
//! #     async fn send_bytes_to(&mut self, _p: usize, msg: Vec<u8>, _i: channel_core::SendInfo) -> Result<(), Closed> {
//! #         self.to.send(msg).map_err(|_| Closed)
//! #     }
//! #     async fn recv_bytes_from(&mut self, _p: usize, _i: channel_core::RecvInfo) -> Result<Vec<u8>, Closed> {
//! #         self.from.recv().await.ok_or(Closed)
//! #     }
//! # }
//! ```

use std::sync::mpsc as std_mpsc;

mod split;
pub use split::OnRuntimeHalf;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio::sync::mpsc;

use crate::asynchronous::Channel as AsyncChannel;
use crate::{RecvInfo, SendInfo};

/// Why a call through [`OnRuntime`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OnRuntimeError<E: std::error::Error + 'static> {
    /// The channel itself failed; its error, unchanged.
    #[error("{0}")]
    Channel(#[source] E),
    /// The thread or runtime driving the channel is gone (the runtime was shut
    /// down, or the channel panicked): nothing more can be sent or received.
    #[error("the runtime driving this channel stopped")]
    Stopped,
    /// The call came from inside an async context (a task), where blocking
    /// would stall a runtime's thread: call the async channel there, or make
    /// the blocking call from a plain thread or `spawn_blocking`.
    #[error(
        "a blocking call on OnRuntime from inside an async task; use the async channel there, or call from a plain thread or spawn_blocking"
    )]
    InsideAsync,
}

/// Why an [`OnRuntime`] could not be started.
#[derive(Debug, thiserror::Error)]
pub enum OnRuntimeSetupError {
    /// [`OnRuntime::on_handle`] needs a multi-thread runtime: a current-thread
    /// runtime runs only inside its own `block_on`.
    #[error(
        "OnRuntime::on_handle needs a handle of a multi-thread runtime (a current-thread runtime only runs inside its own block_on); give the runtime itself to OnRuntime::new instead"
    )]
    CurrentThreadHandle,
    /// The driving thread could not be started.
    #[error("cannot start the thread that drives the channel: {0}")]
    Thread(#[source] std::io::Error),
}

type Reply<T> = std_mpsc::SyncSender<T>;

/// One operation handed to the driving thread.
enum Command<C: AsyncChannel> {
    Send(usize, Vec<u8>, SendInfo, Reply<Result<(), C::SendError>>),
    Recv(usize, RecvInfo, Reply<Result<Vec<u8>, C::RecvError>>),
    Flush(Reply<Result<(), C::SendError>>),
    /// Hands the channel over for splitting; the driver then keeps the
    /// runtime running until the queue closes.
    Split(Reply<(C, Handle)>),
}

/// An async channel driven on a tokio runtime, usable as a
/// [`blocking::Channel`](crate::blocking::Channel). See the
/// [module docs](self) for when to use it.
///
/// On a multi-thread runtime, each call runs on the calling thread (with
/// [`Handle::block_on`]) while the runtime's workers run everything else, so
/// a call costs no hop between threads. A current-thread runtime runs only
/// inside its `block_on`, so it gets a thread of its own that drives the
/// channel, and each call hands it one operation.
///
/// Calls are answered in the order they are made, one at a time, as on the
/// async channel. Calls must come from outside any async context (a plain
/// thread, or `spawn_blocking`): inside a task they fail with
/// [`OnRuntimeError::InsideAsync`] instead of blocking a runtime's thread.
/// Dropping the `OnRuntime` drops the channel (call `flush` first where the
/// transport needs it).
pub struct OnRuntime<C: AsyncChannel> {
    drive: Drive<C>,
    chunk_size: usize,
    max_message_size: usize,
}

/// How calls reach the channel.
enum Drive<C: AsyncChannel> {
    /// The caller's thread runs each call on a multi-thread runtime.
    Direct {
        /// `None` only while being dropped.
        channel: Option<C>,
        handle: Handle,
        /// The runtime, when the adapter owns it.
        owned: Option<Runtime>,
    },
    /// A thread of its own drives the channel (current-thread runtimes).
    Thread(mpsc::UnboundedSender<Command<C>>),
}

impl<C> OnRuntime<C>
where
    C: AsyncChannel + Send + 'static,
{
    /// Drives `channel` on `runtime`, which the adapter owns from now on (any
    /// flavor; create the channel with `runtime.block_on(..)` first). The
    /// runtime is shut down when the adapter is dropped.
    pub fn new(channel: C, runtime: Runtime) -> Result<Self, OnRuntimeSetupError> {
        match runtime.handle().runtime_flavor() {
            RuntimeFlavor::CurrentThread => {
                Self::start(channel, move |driver| runtime.block_on(driver))
            }
            _ => {
                let handle = runtime.handle().clone();
                Ok(Self::direct(channel, handle, Some(runtime)))
            }
        }
    }

    /// Drives `channel` on the multi-thread runtime behind `handle`, which the
    /// caller keeps running.
    pub fn on_handle(channel: C, handle: Handle) -> Result<Self, OnRuntimeSetupError> {
        if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
            return Err(OnRuntimeSetupError::CurrentThreadHandle);
        }
        Ok(Self::direct(channel, handle, None))
    }

    fn direct(channel: C, handle: Handle, owned: Option<Runtime>) -> Self {
        Self {
            chunk_size: channel.chunk_size(),
            max_message_size: channel.max_message_size(),
            drive: Drive::Direct {
                channel: Some(channel),
                handle,
                owned,
            },
        }
    }

    fn start(
        channel: C,
        run: impl FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) + Send + 'static,
    ) -> Result<Self, OnRuntimeSetupError> {
        let chunk_size = channel.chunk_size();
        let max_message_size = channel.max_message_size();
        let (commands, queue) = mpsc::unbounded_channel();
        // A fresh thread is never inside an async context, so `block_on`
        // there cannot panic, and the driver's future need not be `Send`.
        std::thread::Builder::new()
            .name("channel-on-runtime".into())
            .spawn(move || run(Box::pin(drive(channel, queue))))
            .map_err(OnRuntimeSetupError::Thread)?;
        Ok(Self {
            drive: Drive::Thread(commands),
            chunk_size,
            max_message_size,
        })
    }

    /// The channel and the runtime to run a call on this thread, or `None`
    /// when a driving thread runs the calls.
    fn direct_parts<E: std::error::Error + 'static>(
        &mut self,
    ) -> Result<Option<(&mut C, &Handle)>, OnRuntimeError<E>> {
        match &mut self.drive {
            Drive::Direct {
                channel, handle, ..
            } => {
                // `block_on` inside an async context would panic.
                if Handle::try_current().is_ok() {
                    return Err(OnRuntimeError::InsideAsync);
                }
                let channel = channel.as_mut().ok_or(OnRuntimeError::Stopped)?;
                Ok(Some((channel, handle)))
            }
            Drive::Thread(_) => Ok(None),
        }
    }

    /// After a call that ended as `Stopped` (the channel panicked), every
    /// later call says the same at once.
    fn stop_after<T, E: std::error::Error + 'static>(
        &mut self,
        result: &Result<T, OnRuntimeError<E>>,
    ) {
        if let (
            Err(OnRuntimeError::Stopped),
            Drive::Direct {
                channel, handle, ..
            },
        ) = (result, &mut self.drive)
        {
            let broken = channel.take();
            let _entered = handle.enter();
            // Its state is whatever the panic left; a second panic in its
            // destructor must not unwind into the engine either.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(broken)));
        }
    }

    /// Hands one command to the driving thread and waits for its answer.
    fn hand_over<T, E: std::error::Error + 'static>(
        &self,
        make: impl FnOnce(Reply<Result<T, E>>) -> Command<C>,
    ) -> Result<T, OnRuntimeError<E>> {
        let Drive::Thread(commands) = &self.drive else {
            return Err(OnRuntimeError::Stopped);
        };
        let (reply, answer) = std_mpsc::sync_channel(1);
        commands
            .send(make(reply))
            .map_err(|_| OnRuntimeError::Stopped)?;
        // Bounded by the driver: it answers every command it takes, and a
        // driver that is gone drops the reply sender, which ends this wait.
        answer
            .recv()
            .map_err(|_| OnRuntimeError::Stopped)?
            .map_err(OnRuntimeError::Channel)
    }
}

impl<C: AsyncChannel> Drop for OnRuntime<C> {
    fn drop(&mut self) {
        if let Drive::Direct {
            channel,
            handle,
            owned,
        } = &mut self.drive
        {
            // The channel may stop tasks of its own: drop it inside the runtime.
            let entered = handle.enter();
            drop(channel.take());
            drop(entered);
            // Never blocks (a drop may happen anywhere, even in a task).
            if let Some(runtime) = owned.take() {
                runtime.shutdown_background();
            }
        }
    }
}

/// Runs a call on this thread; a channel that panics (or a runtime that was
/// shut down under it) ends as [`OnRuntimeError::Stopped`], as it does when
/// a driving thread runs it, instead of unwinding into the engine.
fn guarded<T, E: std::error::Error + 'static>(
    call: impl FnOnce() -> Result<T, E>,
) -> Result<T, OnRuntimeError<E>> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(OnRuntimeError::Channel),
        Err(_) => Err(OnRuntimeError::Stopped),
    }
}

/// The driving thread's loop: one command at a time, until the adapter is gone.
async fn drive<C: AsyncChannel>(mut channel: C, mut queue: mpsc::UnboundedReceiver<Command<C>>) {
    while let Some(command) = queue.recv().await {
        // The caller may have given up waiting (a panic in its thread); then
        // nobody reads the answer, which is fine.
        match command {
            Command::Send(p, msg, info, reply) => {
                let _ = reply.send(channel.send_bytes_to(p, msg, info).await);
            }
            Command::Recv(p, info, reply) => {
                let _ = reply.send(channel.recv_bytes_from(p, info).await);
            }
            Command::Flush(reply) => {
                let _ = reply.send(channel.flush().await);
            }
            Command::Split(reply) => {
                let _ = reply.send((channel, Handle::current()));
                // The halves' calls run on their own threads with
                // `Handle::block_on`; I/O and timers need this `block_on`.
                while queue.recv().await.is_some() {}
                return;
            }
        }
    }
}

impl<C> crate::blocking::Channel for OnRuntime<C>
where
    C: AsyncChannel + Send + 'static,
{
    type SendError = OnRuntimeError<C::SendError>;
    type RecvError = OnRuntimeError<C::RecvError>;

    fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        match self.direct_parts()? {
            Some((channel, handle)) => {
                let result = guarded(|| handle.block_on(channel.send_bytes_to(p, msg, info)));
                self.stop_after(&result);
                result
            }
            None => self.hand_over(|reply| Command::Send(p, msg, info, reply)),
        }
    }

    fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, Self::RecvError> {
        match self.direct_parts()? {
            Some((channel, handle)) => {
                let result = guarded(|| handle.block_on(channel.recv_bytes_from(p, info)));
                self.stop_after(&result);
                result
            }
            None => self.hand_over(|reply| Command::Recv(p, info, reply)),
        }
    }

    fn flush(&mut self) -> Result<(), Self::SendError> {
        match self.direct_parts()? {
            Some((channel, handle)) => {
                let result = guarded(|| handle.block_on(channel.flush()));
                self.stop_after(&result);
                result
            }
            None => self.hand_over(Command::Flush),
        }
    }

    fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    fn max_message_size(&self) -> usize {
        self.max_message_size
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use super::*;
    use crate::blocking::{Channel as _, recv_from, send_to};
    use crate::transport::TransportError;

    /// A test channel: sends go to `to`; a send of `[0xEE]` is delivered by a
    /// background task instead; a receive of an empty queue times out; a
    /// receive after a `[0xDD]` panics.
    struct Pair {
        to: mpsc::UnboundedSender<Vec<u8>>,
        from: mpsc::UnboundedReceiver<Vec<u8>>,
        background_ran: Arc<AtomicBool>,
    }

    impl AsyncChannel for Pair {
        type SendError = TransportError;
        type RecvError = TransportError;

        async fn send_bytes_to(
            &mut self,
            p: usize,
            msg: Vec<u8>,
            _: SendInfo,
        ) -> Result<(), TransportError> {
            if msg == [0xEE] {
                let flag = self.background_ran.clone();
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    flag.store(true, Ordering::SeqCst);
                });
                return Ok(());
            }
            self.to
                .send(msg)
                .map_err(|_| TransportError::Closed { party: p })
        }

        async fn recv_bytes_from(
            &mut self,
            p: usize,
            _: RecvInfo,
        ) -> Result<Vec<u8>, TransportError> {
            match self.from.try_recv() {
                Ok(msg) if msg == [0xDD] => panic!("the channel broke"),
                Ok(msg) => Ok(msg),
                Err(_) => Err(TransportError::Timeout {
                    party: p,
                    after: Duration::from_millis(1),
                    waiting_for: "a test message".into(),
                }),
            }
        }

        fn chunk_size(&self) -> usize {
            1234
        }
    }

    fn pair() -> (Pair, Pair) {
        let (ta, ra) = mpsc::unbounded_channel();
        let (tb, rb) = mpsc::unbounded_channel();
        let flag = Arc::new(AtomicBool::new(false));
        (
            Pair {
                to: ta,
                from: rb,
                background_ran: flag.clone(),
            },
            Pair {
                to: tb,
                from: ra,
                background_ran: flag,
            },
        )
    }

    /// Waits (at most 10 s) until the background task of a `[0xEE]` send ran.
    fn wait_for_the_background(flag: &AtomicBool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !flag.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the background task never ran");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// `a` makes `b`'s channel panic on its next receive: that receive, and
    /// every later call, is `Stopped` at once.
    fn a_panic_stops_the_receiver(mut a: OnRuntime<Pair>, mut b: OnRuntime<Pair>) {
        a.send_bytes_to(1, vec![0xDD], SendInfo::new("x", 0, 1))
            .unwrap();
        let e = b
            .recv_bytes_from(0, RecvInfo::new("x", 0, Some(1)))
            .unwrap_err();
        assert!(matches!(e, OnRuntimeError::Stopped), "{e}");
        assert!(matches!(b.flush(), Err(OnRuntimeError::Stopped)));
    }

    fn current_thread() -> Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn messages_cross_and_the_channels_limits_are_kept() {
        let (a, b) = pair();
        let mut a = OnRuntime::new(a, current_thread()).unwrap();
        let mut b = OnRuntime::new(b, current_thread()).unwrap();
        assert_eq!(a.chunk_size(), 1234);
        for i in 0..10u64 {
            send_to(&mut a, 1, "count", &i).unwrap();
        }
        for i in 0..10u64 {
            assert_eq!(recv_from::<_, u64>(&mut b, 0, "count").unwrap(), i);
        }
        a.flush().unwrap();
    }

    #[test]
    fn the_runtime_keeps_running_between_calls() {
        let (a, _b) = pair();
        let flag = a.background_ran.clone();
        let mut a = OnRuntime::new(a, current_thread()).unwrap();
        a.send_bytes_to(1, vec![0xEE], SendInfo::new("bg", 0, 1))
            .unwrap();
        // No call from here on: only a runtime that runs between calls sets it.
        wait_for_the_background(&flag);
    }

    #[test]
    fn the_channels_errors_keep_their_kind() {
        let (a, _b) = pair();
        let mut a = OnRuntime::new(a, current_thread()).unwrap();
        let e = recv_from::<_, u64>(&mut a, 1, "nothing").unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert!(crate::error_chain(&e).contains("party 1"), "{e}");
    }

    #[test]
    fn a_driver_that_died_is_an_error_not_a_hang() {
        let (a, b) = pair();
        let a = OnRuntime::new(a, current_thread()).unwrap();
        let b = OnRuntime::new(b, current_thread()).unwrap();
        a_panic_stops_the_receiver(a, b);
    }

    fn multi_thread() -> Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn on_a_multi_thread_runtime_calls_run_here_and_tasks_run_between_them() {
        let runtime = multi_thread();
        let (a, b) = pair();
        let flag = a.background_ran.clone();
        let mut a = OnRuntime::on_handle(a, runtime.handle().clone()).unwrap();
        let mut b = OnRuntime::new(b, multi_thread()).unwrap();
        assert!(matches!(a.drive, Drive::Direct { .. }));
        assert!(matches!(b.drive, Drive::Direct { .. }));
        for i in 0..10u64 {
            send_to(&mut a, 1, "count", &i).unwrap();
        }
        for i in 0..10u64 {
            assert_eq!(recv_from::<_, u64>(&mut b, 0, "count").unwrap(), i);
        }
        a.send_bytes_to(1, vec![0xEE], SendInfo::new("bg", 0, 1))
            .unwrap();
        wait_for_the_background(&flag);
    }

    #[test]
    fn a_call_from_inside_a_task_is_refused_not_a_panic() {
        let runtime = multi_thread();
        let (a, _b) = pair();
        let mut a = OnRuntime::on_handle(a, runtime.handle().clone()).unwrap();
        let refused = runtime.block_on(async { a.flush() });
        assert!(matches!(refused, Err(OnRuntimeError::InsideAsync)));
        // From a plain thread the same adapter works.
        a.flush().unwrap();
    }

    #[test]
    fn a_channel_that_panics_on_the_callers_thread_is_stopped_not_unwound() {
        let runtime = multi_thread();
        let (a, b) = pair();
        let a = OnRuntime::on_handle(a, runtime.handle().clone()).unwrap();
        let b = OnRuntime::on_handle(b, runtime.handle().clone()).unwrap();
        a_panic_stops_the_receiver(a, b);
    }

    #[test]
    fn a_current_thread_handle_is_refused_with_a_reason() {
        let runtime = current_thread();
        let (a, _b) = pair();
        let refused = OnRuntime::on_handle(a, runtime.handle().clone());
        assert!(matches!(
            refused,
            Err(OnRuntimeSetupError::CurrentThreadHandle)
        ));
    }
}

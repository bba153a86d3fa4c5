//! A stream that notes when bytes last arrived on it, so the link's keepalive
//! counts every byte heard (a large DATA frame on a slow path takes long, and
//! arrives as a steady trickle) instead of whole frames.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The time bytes last arrived, shared between the stream and its link.
#[derive(Debug, Clone)]
pub struct LastHeard {
    origin: Instant,
    nanos: Arc<AtomicU64>,
}

impl Default for LastHeard {
    fn default() -> Self {
        Self::new()
    }
}

impl LastHeard {
    /// Time zero is now.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The link's time now.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The instant of the link's time `at`.
    pub fn instant(&self, at: Duration) -> Instant {
        self.origin + at
    }

    /// When bytes last arrived (link time).
    pub fn get(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }

    fn mark(&self) {
        let now = u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_max(now, Ordering::AcqRel);
    }
}

/// `S`, noting every read that returns bytes in a [`LastHeard`].
pub struct Heard<S> {
    inner: S,
    last: LastHeard,
}

impl<S> Heard<S> {
    /// Wraps `inner`, noting reads in `last`.
    pub fn new(inner: S, last: LastHeard) -> Self {
        Self { inner, last }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Heard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &read
            && buf.filled().len() > before
        {
            self.last.mark();
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Heard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

//! Spare buffers going back from a link's receiver to its sender.
//!
//! A large allocation is expensive even when its bytes are cheap to write:
//! glibc serves anything above 32 MiB with a fresh `mmap`, so every page of a
//! new 64 MiB buffer is faulted in (and zeroed by the kernel) on first touch,
//! then unmapped again on free. Measured on this project's 2-core machine,
//! copying 64 MiB into a fresh buffer runs at 0.21–0.25× the speed of copying
//! it into a reused one. An in-process link avoids that by handing the buffers
//! its receiver is done with back to its sender, which copies the next chunk
//! into one of them instead of allocating.
//!
//! The receiver gives buffers back through [`Channel::recycle`](crate::Channel::recycle)
//! (the helpers do it for what they consume: a deserialised message, the old
//! contents of [`recv_bytes_into`](crate::recv_bytes_into)'s buffer); the sender
//! takes them through [`Channel::chunk_buffer`](crate::Channel::chunk_buffer).

use std::sync::{Arc, Mutex};

/// Spare buffers a link keeps at most: enough for a sender one message ahead
/// of its receiver, little enough that a link never holds much it does not use.
pub const SPARE_BUFFERS: usize = 2;

/// Buffers smaller than this are not kept: the allocator serves them from
/// memory it already has, so keeping them saves nothing.
pub const MIN_SPARE_CAPACITY: usize = 1 << 20;

/// The spare buffers of one directed link, shared by its two ends: the
/// receiver [`give`](Self::give)s, the sender [`take`](Self::take)s. It holds
/// at most [`SPARE_BUFFERS`] buffers, each of at least [`MIN_SPARE_CAPACITY`]
/// bytes, and hands out a buffer only for a request at least half its
/// capacity, so a small message never pins a large allocation.
///
/// ```
/// use channel_core::transport::BufferPool;
///
/// let pool = BufferPool::default();
/// let received = vec![7u8; 4 << 20];
/// let at = received.as_ptr();
/// pool.give(received);
/// // The next 4 MiB chunk is written into the same memory.
/// let buf = pool.take(4 << 20);
/// assert_eq!((buf.as_ptr(), buf.len()), (at, 0));
/// // A small request gets a fresh, small buffer.
/// pool.give(buf);
/// assert!(pool.take(100).capacity() < 1 << 20);
/// ```
#[derive(Debug, Clone, Default)]
pub struct BufferPool {
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl BufferPool {
    /// An empty buffer with room for `capacity` bytes: a spare one when one
    /// fits (at least `capacity`, at most twice it), else a fresh one.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let fits = |b: &Vec<u8>| b.capacity() >= capacity && b.capacity() / 2 <= capacity;
        if capacity >= MIN_SPARE_CAPACITY / 2
            && let Ok(mut spare) = self.spare.lock()
            && let Some(i) = spare.iter().position(fits)
        {
            let mut buf = spare.swap_remove(i);
            buf.clear();
            return buf;
        }
        Vec::with_capacity(capacity)
    }

    /// Keeps `buf` for a later [`take`](Self::take) if it is large enough and
    /// there is room; otherwise replaces a smaller spare, or drops it.
    pub fn give(&self, buf: Vec<u8>) {
        if buf.capacity() < MIN_SPARE_CAPACITY {
            return;
        }
        let Ok(mut spare) = self.spare.lock() else {
            return;
        };
        if spare.len() < SPARE_BUFFERS {
            spare.push(buf);
        } else if let Some(smallest) = spare.iter_mut().min_by_key(|b| b.capacity())
            && smallest.capacity() < buf.capacity()
        {
            *smallest = buf;
        }
    }

    /// Bytes of capacity held in spare buffers right now.
    pub fn spare_bytes(&self) -> usize {
        self.spare
            .lock()
            .map_or(0, |s| s.iter().map(Vec::capacity).sum())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Tests fail by panicking.
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_two_buffers_keeping_the_largest() {
        let pool = BufferPool::default();
        for mib in [1usize, 2, 3, 4] {
            pool.give(Vec::with_capacity(mib << 20));
        }
        assert_eq!(pool.spare_bytes(), 7 << 20);
        // A smaller one than both spares is dropped.
        pool.give(Vec::with_capacity(2 << 20));
        assert_eq!(pool.spare_bytes(), 7 << 20);
    }

    #[test]
    fn small_buffers_are_not_kept_and_small_requests_are_served_fresh() {
        let pool = BufferPool::default();
        pool.give(Vec::with_capacity(1000));
        assert_eq!(pool.spare_bytes(), 0);
        pool.give(Vec::with_capacity(8 << 20));
        assert!(pool.take(3 << 20).capacity() < 8 << 20);
        assert_eq!(pool.spare_bytes(), 8 << 20);
        assert!(pool.take(4 << 20).capacity() >= 8 << 20);
        assert_eq!(pool.spare_bytes(), 0);
    }

    #[test]
    fn a_taken_buffer_is_empty_whatever_it_held() {
        let pool = BufferPool::default();
        pool.give(vec![1u8; 2 << 20]);
        let buf = pool.take(2 << 20);
        assert!(buf.is_empty() && buf.capacity() >= 2 << 20);
    }
}

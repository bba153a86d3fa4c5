//! Waiting until an instant with sub-millisecond precision, for the proxy's
//! delay line.
//!
//! tokio's timer wheel has a resolution of 1 ms and rounds every deadline up,
//! so a 20 ms link through `tokio::time::sleep_until` delivers after 20–21.5 ms:
//! a 40 ms round trip would measure about 42.5 ms. This timer is one thread that
//! waits on a condition variable with the earliest deadline as its timeout
//! (the kernel's high-resolution timers; Linux adds ~50 µs of slack) and wakes
//! the futures that are due. It serves every proxy in the process.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// One registered wait.
struct Entry {
    deadline: Instant,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.deadline.cmp(&other.deadline)
    }
}

struct Timer {
    due: Mutex<BinaryHeap<Reverse<Entry>>>,
    changed: Condvar,
}

impl Timer {
    /// The process's timer, started on first use. `None` if its thread
    /// cannot be started (then callers fall back to tokio's timer).
    fn get() -> Option<&'static Timer> {
        static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
        *TIMER.get_or_init(|| {
            let timer: &'static Timer = Box::leak(Box::new(Timer {
                due: Mutex::new(BinaryHeap::new()),
                changed: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("channel-sim-timer".into())
                .spawn(move || timer.run())
                .ok()
                .map(|_| timer)
        })
    }

    fn run(&self) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            while due.peek().is_some_and(|Reverse(e)| e.deadline <= now) {
                if let Some(Reverse(entry)) = due.pop() {
                    entry.waker.wake();
                }
            }
            due = match due.peek() {
                None => self
                    .changed
                    .wait(due)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(Reverse(next)) => {
                    let wait = next.deadline.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(due, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    fn register(&self, deadline: Instant, waker: Waker) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        let earliest = due.peek().is_none_or(|Reverse(e)| deadline < e.deadline);
        due.push(Reverse(Entry { deadline, waker }));
        if earliest {
            self.changed.notify_one();
        }
    }
}

/// Completes at `deadline` (a little after, never before).
struct Sleep {
    deadline: Instant,
    timer: &'static Timer,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        // Registered again on every poll: a spurious wake-up leaves one stale
        // entry, which only wakes the task once more.
        self.timer.register(self.deadline, cx.waker().clone());
        Poll::Pending
    }
}

/// Waits until `deadline` with sub-millisecond precision.
pub(crate) async fn sleep_until(deadline: tokio::time::Instant) {
    match Timer::get() {
        Some(timer) => {
            Sleep {
                deadline: deadline.into_std(),
                timer,
            }
            .await
        }
        None => tokio::time::sleep_until(deadline).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_are_never_early_and_rarely_more_than_half_a_millisecond_late() {
        let mut late = Vec::new();
        for i in 0..50u64 {
            let deadline = tokio::time::Instant::now() + Duration::from_micros(300 + i * 37);
            sleep_until(deadline).await;
            let now = tokio::time::Instant::now();
            assert!(now >= deadline, "woke {:?} early", deadline - now);
            late.push(now - deadline);
        }
        late.sort();
        // The median; tokio's own timer would be ~0.5-1 ms late here.
        assert!(late[25] < Duration::from_micros(500), "{:?}", late[25]);
    }

    #[tokio::test]
    async fn many_waits_at_once_all_complete_in_deadline_order() {
        let start = tokio::time::Instant::now();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in (0..20u64).rev() {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                sleep_until(start + Duration::from_millis(2 * i)).await;
                order.lock().unwrap_or_else(PoisonError::into_inner).push(i);
            }));
        }
        for task in tasks {
            task.await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        }
        let order = order.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(order, (0..20).collect::<Vec<_>>());
    }
}

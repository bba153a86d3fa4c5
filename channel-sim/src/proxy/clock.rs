//! Waiting until an instant with sub-millisecond precision, for the proxy's
//! delay line.
//!
//! tokio's timer wheel has a resolution of 1 ms and rounds every deadline up,
//! so a 20 ms link through `tokio::time::sleep_until` delivers after 20–21.5 ms:
//! a 40 ms round trip would measure about 42.5 ms. This timer is one thread that
//! waits on a condition variable with the earliest deadline as its timeout
//! (the kernel's high-resolution timers, with the thread's timer slack set to
//! 1 ns on Linux instead of the default 50 µs) and wakes the futures that are
//! due. It serves every proxy in the process.
//!
//! Waking a task from another thread and getting it polled takes time too
//! (tens of µs idle, more on a busy machine), which every hop of an emulated
//! path would add. So each wake-up aims that much before the deadline: the
//! lead is the average of the recent wake-ups' delays, at most [`MAX_LEAD`],
//! and a future polled within the lead of its deadline is done. Deliveries are
//! on time on average and never earlier than `MAX_LEAD`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The most a wake-up aims before its deadline.
pub(crate) const MAX_LEAD: Duration = Duration::from_micros(200);

/// The average delay between a wake-up's aim and its future being polled, in ns.
static LEAD_NS: AtomicU64 = AtomicU64::new(0);

/// How far before a deadline to wake.
fn lead() -> Duration {
    Duration::from_nanos(LEAD_NS.load(Ordering::Relaxed)).min(MAX_LEAD)
}

/// Folds one observed delay into the average (weight 1/8).
fn observe(delay: Duration) {
    let sample = u64::try_from(delay.min(MAX_LEAD * 4).as_nanos()).unwrap_or(u64::MAX);
    let old = LEAD_NS.load(Ordering::Relaxed);
    let new = old - old / 8 + sample / 8;
    LEAD_NS.store(new, Ordering::Relaxed);
}

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
        // Linux lets a sleeping thread's timers fire up to 50 µs late by
        // default, to save wake-ups; this thread's job is to be on time.
        #[cfg(target_os = "linux")]
        let _ = nix::sys::prctl::set_timerslack(1);
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

/// Completes at `deadline`, on time on average (see the module docs).
struct Sleep {
    deadline: Instant,
    /// When the registered wake-up was aimed at, once registered.
    aimed: Option<Instant>,
    timer: &'static Timer,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        let lead = lead();
        if now + lead >= self.deadline {
            if let Some(aimed) = self.aimed {
                observe(now.saturating_duration_since(aimed));
            }
            return Poll::Ready(());
        }
        // Registered again on every poll: a spurious wake-up leaves one stale
        // entry, which only wakes the task once more.
        let aim = self.deadline - lead;
        self.aimed = Some(aim);
        self.timer.register(aim, cx.waker().clone());
        Poll::Pending
    }
}

/// Waits until `deadline` with sub-millisecond precision (up to [`MAX_LEAD`]
/// early, on time on average).
pub(crate) async fn sleep_until(deadline: tokio::time::Instant) {
    match Timer::get() {
        Some(timer) => {
            Sleep {
                deadline: deadline.into_std(),
                aimed: None,
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
    async fn waits_end_within_a_fraction_of_a_millisecond_of_their_deadline() {
        let mut off = Vec::new();
        for i in 0..100u64 {
            let deadline = tokio::time::Instant::now() + Duration::from_micros(300 + i * 37);
            sleep_until(deadline).await;
            let now = tokio::time::Instant::now();
            assert!(
                now + MAX_LEAD >= deadline,
                "woke {:?} early",
                deadline - now
            );
            off.push(if now >= deadline {
                now - deadline
            } else {
                deadline - now
            });
        }
        off.sort();
        // The median; tokio's own timer would be ~0.5-1 ms late here.
        assert!(off[50] < Duration::from_micros(500), "{:?}", off[50]);
    }

    #[tokio::test]
    async fn many_waits_at_once_all_complete_in_deadline_order() {
        // Every deadline lies ahead when its wait starts (spawning and first
        // polls can take milliseconds on a loaded machine), so only the
        // clock decides the order.
        let start = tokio::time::Instant::now() + Duration::from_millis(100);
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

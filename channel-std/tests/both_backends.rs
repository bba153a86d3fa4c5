//! A user's binary that depends on both in-process backends and uses both forms of
//! the trait at once: tokio parties (async) and std parties (blocking) side by side.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::{Channel as AsyncChannel, Error, blocking};
use channel_std::StdChannel;
use channel_tokio::TokioChannel;

/// An engine step written against the async trait.
async fn async_sum<C: AsyncChannel>(ch: &mut C, me: usize, n: usize) -> Result<u64, Error> {
    channel_core::reference::secure_sum(ch, me, n, me as u64 + 1, || 99).await
}

/// The same step against the blocking trait.
fn blocking_sum<C: blocking::Channel>(ch: &mut C, me: usize, n: usize) -> Result<u64, Error> {
    blocking::reference::secure_sum(ch, me, n, me as u64 + 1, || 99)
}

#[test]
fn tokio_and_std_parties_in_one_binary() {
    let std_threads: Vec<_> = StdChannel::network(3)
        .into_iter()
        .enumerate()
        .map(|(me, mut ch)| std::thread::spawn(move || blocking_sum(&mut ch, me, 3)))
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tokio_sums = runtime.block_on(async {
        let tasks: Vec<_> = TokioChannel::network(3)
            .into_iter()
            .enumerate()
            .map(|(me, mut ch)| tokio::spawn(async move { async_sum(&mut ch, me, 3).await }))
            .collect();
        let mut sums = Vec::new();
        for task in tasks {
            sums.push(task.await.unwrap().unwrap());
        }
        sums
    });

    let std_sums: Vec<u64> = std_threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert_eq!(tokio_sums, vec![6, 6, 6]);
    assert_eq!(std_sums, vec![6, 6, 6]);
}

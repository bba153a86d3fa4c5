// Shared source: see lib.rs. `form` and `channel` come from the including
// module. Rules for a protocol written this way:
// - every function that awaits carries `#[form]` (trait impls `#[form(AFIT)]`);
// - the channel API is named through `channel::...`, never through a form's path;
// - never `.await` inside a macro (`format!`, `vec!`, `join!`): maybe-async does
//   not strip it there, so the blocking form would not compile.

use channel_core::Error;

use super::channel::{Channel, recv_vec_from, send_to};
use super::form;

/// Phase of the shares.
pub const PHASE_SHARE: &str = "vector-sum/share";
/// Phase of the partial sums.
pub const PHASE_OPEN: &str = "vector-sum/open";

/// `parties` parties, each holding a vector of the same length, learn the
/// element-wise sum of their vectors (mod 2^64) and nothing else, by additive
/// secret sharing (channel-core's reference secure sum, for vectors).
///
/// `random` must return uniformly random, secret `u64`s for the vectors to
/// stay hidden.
#[form]
pub async fn vector_sum<C: Channel>(
    ch: &mut C,
    me: usize,
    parties: usize,
    mine: &[u64],
    mut random: impl FnMut() -> u64,
) -> Result<Vec<u64>, Error> {
    let n = mine.len();
    let peers = || (0..parties).filter(move |&p| p != me);
    let mut kept = mine.to_vec();
    for p in peers() {
        let share: Vec<u64> = (0..n).map(|_| random()).collect();
        for (k, s) in kept.iter_mut().zip(&share) {
            *k = k.wrapping_sub(*s);
        }
        send_to(ch, p, PHASE_SHARE, &share).await?;
    }
    for p in peers() {
        let share = recv_vec_from::<_, u64>(ch, p, PHASE_SHARE, n).await?;
        add(&mut kept, &share);
    }
    for p in peers() {
        send_to(ch, p, PHASE_OPEN, &kept).await?;
    }
    let mut sum = kept;
    for p in peers() {
        let partial = recv_vec_from::<_, u64>(ch, p, PHASE_OPEN, n).await?;
        add(&mut sum, &partial);
    }
    Ok(sum)
}

fn add(into: &mut [u64], other: &[u64]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a = a.wrapping_add(*b);
    }
}

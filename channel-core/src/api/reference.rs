// Shared source of the reference protocol (see channel.rs for how it is compiled twice).

use super::form;
use super::{Channel, recv_from, send_to};
use crate::Error;
use crate::transport::TransportError;

/// Phase name of the first round of [`secure_sum`]: the parties exchange shares.
pub const PHASE_SHARE: &str = "secure-sum/share";
/// Phase name of the second round of [`secure_sum`]: the parties open partial sums.
pub const PHASE_OPEN: &str = "secure-sum/open";

/// The reference protocol: `parties` parties learn the sum (mod 2^64) of their
/// private `input`s and nothing else, by additive secret sharing.
///
/// Round 1: party `i` draws a random share `r_ij` for every peer `j`, sends it, and
/// keeps `input - sum(r_ij)`. Round 2: every party adds up the shares it holds and
/// sends that partial sum to everyone; the sum of all partial sums is the result.
/// Both rounds send to all peers before receiving from any, the pattern that a
/// transport whose sends wait for the reader turns into a deadlock.
///
/// `random` must return uniformly random, secret `u64`s for the protocol to hide
/// the inputs; the conformance kit passes a deterministic generator because it only
/// checks the result.
#[form(AFIT)]
pub async fn secure_sum<C: Channel + ?Sized>(
    ch: &mut C,
    me: usize,
    parties: usize,
    input: u64,
    mut random: impl FnMut() -> u64,
) -> Result<u64, Error> {
    if me >= parties {
        return Err(Error::Send {
            party: me,
            phase: PHASE_SHARE.into(),
            source: Box::new(TransportError::NoSuchParty { party: me, parties }),
        });
    }
    let peers = || (0..parties).filter(move |&p| p != me);

    let mut kept = input;
    for p in peers() {
        let share = random();
        kept = kept.wrapping_sub(share);
        send_to(ch, p, PHASE_SHARE, &share).await?;
    }
    let mut partial = kept;
    for p in peers() {
        let share: u64 = recv_from(ch, p, PHASE_SHARE).await?;
        partial = partial.wrapping_add(share);
    }

    for p in peers() {
        send_to(ch, p, PHASE_OPEN, &partial).await?;
    }
    let mut sum = partial;
    for p in peers() {
        let other: u64 = recv_from(ch, p, PHASE_OPEN).await?;
        sum = sum.wrapping_add(other);
    }
    Ok(sum)
}

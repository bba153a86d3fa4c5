//! What the split checks send and expect, shared by both forms.

use super::{Plan, difference, pattern};

/// Messages per peer and direction (per sender in [`Check::SharedChannel`](super::Check)).
pub(crate) const MESSAGES: usize = 12;
/// Ping-pong rounds per pair in [`Check::TryJoinPeers`](super::Check).
pub(crate) const ROUNDS: u64 = 20;
/// Concurrent senders per peer in [`Check::SharedChannel`](super::Check).
pub(crate) const SENDERS: usize = 2;

/// Message `k` from `from`: mostly small, one of three chunks (the chunks of
/// one message must stay together even when sends run at once). Chunks count
/// as at most [`DEFAULT_CHUNK_SIZE`](crate::DEFAULT_CHUNK_SIZE) here: a
/// transport that sends messages whole (in-process) gets one of 8 MiB.
pub(crate) fn message(plan: Plan, from: usize, k: usize, chunk: usize) -> Vec<u8> {
    let len = if k == 2 {
        let chunk = chunk.min(crate::DEFAULT_CHUNK_SIZE);
        chunk.saturating_mul(2).saturating_add(1)
    } else {
        (k * 37 + from) % 300
    };
    pattern(plan.seed(from, k), len)
}

/// Checks message `k` from `from`.
pub(crate) fn expect(
    plan: Plan,
    from: usize,
    k: usize,
    chunk: usize,
    got: &[u8],
) -> Result<(), String> {
    match difference(got, &message(plan, from, k, chunk)) {
        None => Ok(()),
        Some(d) => Err(format!("message {k} from party {from}: {d}")),
    }
}

/// The ball the lower party `a` serves to `b` in `round`.
pub(crate) fn ball(a: usize, b: usize, round: u64) -> Vec<u64> {
    vec![a as u64, b as u64, round]
}

/// What the receiver sends back.
pub(crate) fn returned(ball: &[u64]) -> Vec<u64> {
    ball.iter()
        .map(|x| x.wrapping_mul(3).wrapping_add(1))
        .collect()
}

/// Checks a ball that `from` served to `me`.
pub(crate) fn expect_ball(from: usize, me: usize, round: u64, got: &[u64]) -> Result<(), String> {
    let want = ball(from, me, round);
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "round {round}: party {from} served {got:?}, expected {want:?}"
        ))
    }
}

/// Checks what `from` sent back for `ball`.
pub(crate) fn expect_returned(
    from: usize,
    round: u64,
    ball: &[u64],
    got: &[u64],
) -> Result<(), String> {
    let want = returned(ball);
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "round {round}: party {from} returned {got:?}, expected {want:?}"
        ))
    }
}

/// A message of one of the concurrent senders of [`Check::SharedChannel`](super::Check):
/// the sender and the message number, then the bytes (not bincode, whose
/// byte-at-a-time `Vec<u8>` would make the check slow, not stricter).
#[derive(Debug)]
pub(crate) struct Tagged {
    sender: usize,
    k: usize,
    bytes: Vec<u8>,
}

impl Tagged {
    pub(crate) fn new(sender: usize, k: usize, bytes: Vec<u8>) -> Self {
        Self { sender, k, bytes }
    }

    pub(crate) fn encode(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.bytes.len());
        out.extend_from_slice(&(self.sender as u64).to_le_bytes());
        out.extend_from_slice(&(self.k as u64).to_le_bytes());
        out.extend_from_slice(&self.bytes);
        out
    }

    pub(crate) fn decode(from: usize, mut msg: Vec<u8>) -> Result<Self, String> {
        let number = |at: usize| -> Option<usize> {
            let bytes: [u8; 8] = msg.get(at..at + 8)?.try_into().ok()?;
            usize::try_from(u64::from_le_bytes(bytes)).ok()
        };
        let (Some(sender), Some(k)) = (number(0), number(8)) else {
            return Err(format!(
                "party {from} sent {} bytes, too short for a tagged message",
                msg.len()
            ));
        };
        let bytes = msg.split_off(16);
        Ok(Self { sender, k, bytes })
    }
}

/// What a receiver of [`Check::SharedChannel`](super::Check) has seen from one peer.
pub(crate) struct SharedOrder {
    from: usize,
    next: [usize; SENDERS],
}

impl SharedOrder {
    pub(crate) fn new(from: usize) -> Self {
        Self {
            from,
            next: [0; SENDERS],
        }
    }

    /// Takes the next message: each sender's messages in order, whole.
    pub(crate) fn take(&mut self, plan: Plan, chunk: usize, msg: Tagged) -> Result<(), String> {
        let from = self.from;
        let Some(next) = self.next.get_mut(msg.sender) else {
            return Err(format!(
                "party {from} sent from sender {}, which does not exist",
                msg.sender
            ));
        };
        if msg.k != *next {
            return Err(format!(
                "party {from}'s sender {} delivered message {} when {} was due",
                msg.sender, msg.k, next
            ));
        }
        *next += 1;
        let want = message(plan, from, msg.k, chunk);
        match difference(&msg.bytes, &want) {
            None => Ok(()),
            Some(d) => Err(format!(
                "party {from}'s sender {} message {}: {d}",
                msg.sender, msg.k
            )),
        }
    }
}

/// Checks that a `Shared` refused party `p` (self or out of range) with a
/// bad-party error.
pub(crate) fn expect_bad_party(
    what: &str,
    p: usize,
    e: Option<crate::Error>,
) -> Result<(), String> {
    match e {
        Some(e) if e.kind() == crate::ErrorKind::BadParty => Ok(()),
        Some(e) => Err(format!(
            "{what} party {p}: expected a bad-party error, got {e} ({:?})",
            e.kind()
        )),
        None => Err(format!(
            "{what} party {p} succeeded; a bad-party error was expected"
        )),
    }
}

//! Whatever carries sealed chunks cannot alter, replay, reorder, drop,
//! truncate or inject one, or pass one party's chunk off as another's,
//! without the receiver failing with a typed error and getting nothing wrong.
//! The carrier here is a hostile wrapper on the receiver's side of an
//! in-process network (the relay version of these attacks is in channel-http).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::{Channel, Error, RecvInfo, SendInfo, recv_bytes, send_bytes};
use channel_seal::{PartyKey, SealError, Sealed};
use channel_tokio::TokioChannel;

/// What the hostile carrier does to chunk number `AT` from party 0 to party 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    Honest,
    FlipByte,
    Truncate,
    Drop,
    Replay,
    Reorder,
    Inject,
    /// Delivers party 2's chunk as if it came from party 0.
    Swap,
}

/// The chunk number the attack hits (the second chunk of the second message).
const AT: usize = 4;

/// Party 1's channel as a hostile carrier delivers it.
struct Carrier {
    inner: TokioChannel,
    attack: Attack,
    /// Chunks from party 0 delivered (or meant to be) so far.
    seen: usize,
    /// Chunks from party 0 taken but not yet delivered.
    held: Vec<Vec<u8>>,
    /// The last chunk from party 0, for a replay.
    last: Vec<u8>,
}

impl Channel for Carrier {
    type SendError = <TokioChannel as Channel>::SendError;
    type RecvError = <TokioChannel as Channel>::RecvError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        self.inner.send_bytes_to(p, msg, info).await
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError> {
        if p != 0 {
            return self.inner.recv_bytes_from(p, info).await;
        }
        if let Some(chunk) = self.held.pop() {
            return Ok(chunk);
        }
        let n = self.seen;
        self.seen += 1;
        if n != AT {
            let chunk = self.inner.recv_bytes_from(0, info).await?;
            self.last = chunk.clone();
            return Ok(chunk);
        }
        let mut chunk = match self.attack {
            Attack::Swap => self.inner.recv_bytes_from(2, info.clone()).await?,
            _ => self.inner.recv_bytes_from(0, info.clone()).await?,
        };
        match self.attack {
            Attack::Honest | Attack::Swap => {}
            Attack::FlipByte => chunk[3] ^= 0x20,
            Attack::Truncate => chunk.truncate(chunk.len() - 5),
            Attack::Drop => chunk = self.inner.recv_bytes_from(0, info).await?,
            Attack::Replay => {
                self.held.push(chunk);
                chunk = self.last.clone();
            }
            Attack::Reorder => {
                let next = self.inner.recv_bytes_from(0, info).await?;
                self.held.push(chunk);
                chunk = next;
            }
            Attack::Inject => {
                self.held.push(chunk.clone());
                chunk = vec![0x5A; chunk.len()];
            }
        }
        Ok(chunk)
    }

    fn chunk_size(&self) -> usize {
        self.inner.chunk_size()
    }
}

fn message(i: u8) -> Vec<u8> {
    (0..2500u32)
        .map(|b| (b as u8).wrapping_mul(31) ^ i)
        .collect()
}

/// Party 0 sends four messages of three 1 KiB chunks to party 1, and party 2
/// one to party 1; returns what party 1 received of party 0's, in order.
async fn run(attack: Attack) -> Vec<Result<Vec<u8>, Error>> {
    let keys: Vec<PartyKey> = (0..3).map(|_| PartyKey::generate().unwrap()).collect();
    let table: Vec<_> = keys.iter().map(PartyKey::public).collect();
    let mut net = TokioChannel::builder(3).chunk_size(1024).build();
    let one = Carrier {
        inner: net.remove(1),
        attack,
        seen: 0,
        held: Vec::new(),
        last: Vec::new(),
    };
    let two = net.pop().unwrap();
    let zero = net.pop().unwrap();
    let s = b"attacks";
    let (zero, one, two) = tokio::join!(
        Sealed::establish(zero, 0, &keys[0], &table, s),
        // Party 1's handshake chunks are not counted: `seen` counts from here.
        Sealed::establish(one, 1, &keys[1], &table, s),
        Sealed::establish(two, 2, &keys[2], &table, s),
    );
    let (mut zero, mut one, mut two) = (zero.unwrap(), one.unwrap(), two.unwrap());
    for i in 0..4 {
        send_bytes(&mut zero, 1, "m", &message(i)).await.unwrap();
    }
    send_bytes(&mut two, 1, "m", &message(9)).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(recv_bytes(&mut one, 0, "m").await);
    }
    got
}

/// The seal error behind a helper's error.
fn seal_error(e: &Error) -> &SealError {
    let Error::Recv {
        source, party: 0, ..
    } = e
    else {
        panic!("expected a receive error from party 0, got {e:?}");
    };
    source
        .downcast_ref::<SealError>()
        .unwrap_or_else(|| panic!("not a seal error: {e:?}"))
}

#[tokio::test]
async fn honest_carriers_deliver_everything() {
    let got = run(Attack::Honest).await;
    for (i, msg) in got.into_iter().enumerate() {
        assert_eq!(msg.unwrap(), message(i as u8));
    }
}

#[tokio::test]
async fn every_attack_is_a_typed_error_and_nothing_wrong_is_delivered() {
    // The handshake counts one chunk on the link 0 -> 1 (party 0's HELLO); the
    // attack hits data chunk AT - 1 = 3, the first of message 1.
    for attack in [
        Attack::FlipByte,
        Attack::Truncate,
        Attack::Drop,
        Attack::Replay,
        Attack::Reorder,
        Attack::Inject,
        Attack::Swap,
    ] {
        let got = run(attack).await;
        assert_eq!(
            got[0].as_ref().unwrap(),
            &message(0),
            "{attack:?}: the message before the attack arrives"
        );
        let e = got[1]
            .as_ref()
            .expect_err(&format!("{attack:?} went unnoticed"));
        assert!(
            matches!(
                seal_error(e),
                SealError::Forged {
                    party: 0,
                    chunk: 3,
                    ..
                }
            ),
            "{attack:?}: {e:?}"
        );
        assert_eq!(e.phase(), "m", "{attack:?}: the error names the phase");
        for later in &got[2..] {
            let e = later
                .as_ref()
                .expect_err("nothing after a forgery is accepted");
            assert!(
                matches!(seal_error(e), SealError::Broken { party: 0, .. }),
                "{attack:?}: {e:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_key_fails_the_handshake_on_both_sides_at_once() {
    let keys: Vec<PartyKey> = (0..2).map(|_| PartyKey::generate().unwrap()).collect();
    let mut table: Vec<_> = keys.iter().map(PartyKey::public).collect();
    // Party 0 believes party 1 holds another key.
    let mut wrong = table.clone();
    wrong[1] = PartyKey::generate().unwrap().public();
    let mut net = TokioChannel::network(2);
    let one = net.pop().unwrap();
    let zero = net.pop().unwrap();
    let started = std::time::Instant::now();
    let (zero, one) = tokio::join!(
        Sealed::establish(zero, 0, &keys[0], &wrong, b"s"),
        Sealed::establish(one, 1, &keys[1], &table, b"s"),
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        matches!(one, Err(SealError::Handshake { party: 0, .. })),
        "{one:?}"
    );
    assert!(
        matches!(zero, Err(SealError::Refused { party: 1 })),
        "{zero:?}"
    );
    // A key missing from the table is refused before anything is sent.
    table.pop();
    let lone = TokioChannel::network(2).pop().unwrap();
    assert!(matches!(
        Sealed::establish(lone, 1, &keys[1], &table, b"s").await,
        Err(SealError::Setup(_))
    ));
}

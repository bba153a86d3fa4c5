//! Implement your own channel in three steps, and prove it with the conformance kit.
//!
//! Run with `cargo run -p channel-core --example custom_channel --features testkit`.
//!
//! The transport here is an in-memory queue per ordered pair of parties
//! (`futures::channel::mpsc`, unbounded, so a send never waits for the reader).
//! One type implements BOTH forms of the trait, which is allowed because the two
//! traits are distinct: `channel_core::Channel` (async) and
//! `channel_core::blocking::Channel`. Step 4 adds per-peer halves (`Split`),
//! for engines that send and receive to all peers at once.

use std::time::Instant;

use channel_core::asynchronous::{PeerReceiver, PeerSender, Peers, Split};
use channel_core::testkit::Kit;
use channel_core::transport::{TransportError, check_chunk, check_peer};
use channel_core::{RecvInfo, SendInfo, blocking};
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};

/// One party's end: a sender to and a receiver from every party (its own slot unused).
struct QueueChannel {
    me: usize,
    to: Vec<UnboundedSender<Vec<u8>>>,
    from: Vec<UnboundedReceiver<Vec<u8>>>,
}

/// Builds `n` connected parties; element `i` is party `i`.
fn network(n: usize) -> Vec<QueueChannel> {
    // senders[from][to] feeds receivers[to][from].
    let mut senders: Vec<Vec<_>> = (0..n).map(|_| Vec::with_capacity(n)).collect();
    let mut receivers: Vec<Vec<_>> = (0..n).map(|_| Vec::with_capacity(n)).collect();
    for sender in senders.iter_mut() {
        for receiver in receivers.iter_mut() {
            let (tx, rx) = unbounded();
            sender.push(tx);
            receiver.push(rx);
        }
    }
    senders
        .into_iter()
        .zip(receivers)
        .enumerate()
        .map(|(me, (to, from))| QueueChannel { me, to, from })
        .collect()
}

impl QueueChannel {
    // Step 1: decide the errors. `TransportError` covers the usual cases; a real
    // transport would wrap it in an enum with its own (I/O, HTTP, ...) failures.
    // A chunk larger than `chunk_size()` and its footer is refused, typed
    // (`check_chunk`), so an engine that skips the helpers hears why.
    fn push(&mut self, p: usize, msg: Vec<u8>) -> Result<(), TransportError> {
        check_peer(self.me, p, self.to.len())?;
        check_chunk(p, msg.len(), channel_core::DEFAULT_CHUNK_SIZE)?;
        self.to[p]
            .unbounded_send(msg)
            .map_err(|_| TransportError::Closed { party: p })
    }

    fn receiver(&mut self, p: usize) -> Result<&mut UnboundedReceiver<Vec<u8>>, TransportError> {
        check_peer(self.me, p, self.from.len())?;
        Ok(&mut self.from[p])
    }
}

// Step 2: implement the two required methods, for the async form...
impl channel_core::Channel for QueueChannel {
    type SendError = TransportError;
    type RecvError = TransportError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        _info: SendInfo,
    ) -> Result<(), TransportError> {
        self.push(p, msg)
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        _info: RecvInfo,
    ) -> Result<Vec<u8>, TransportError> {
        // `None` means the peer dropped its end: a typed error, not a hang.
        self.receiver(p)?
            .next()
            .await
            .ok_or(TransportError::Closed { party: p })
    }
}

// ...and/or for the blocking form.
impl blocking::Channel for QueueChannel {
    type SendError = TransportError;
    type RecvError = TransportError;

    fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        _info: SendInfo,
    ) -> Result<(), TransportError> {
        self.push(p, msg)
    }

    fn recv_bytes_from(&mut self, p: usize, _info: RecvInfo) -> Result<Vec<u8>, TransportError> {
        let rx = self.receiver(p)?;
        futures::executor::block_on(rx.next()).ok_or(TransportError::Closed { party: p })
    }
}

// Step 4 (optional): per-peer halves, so that an engine can send to and
// receive from all peers at once. Each half owns its queue end.
struct ToOne {
    peer: usize,
    tx: UnboundedSender<Vec<u8>>,
}

struct FromOne {
    peer: usize,
    rx: UnboundedReceiver<Vec<u8>>,
}

impl PeerSender for ToOne {
    type Error = TransportError;

    async fn send_chunk(&mut self, msg: Vec<u8>, _info: SendInfo) -> Result<(), TransportError> {
        check_chunk(self.peer, msg.len(), channel_core::DEFAULT_CHUNK_SIZE)?;
        self.tx
            .unbounded_send(msg)
            .map_err(|_| TransportError::Closed { party: self.peer })
    }
}

impl PeerReceiver for FromOne {
    type Error = TransportError;

    async fn recv_chunk(&mut self, _info: RecvInfo) -> Result<Vec<u8>, TransportError> {
        let party = self.peer;
        self.rx.next().await.ok_or(TransportError::Closed { party })
    }
}

impl Split for QueueChannel {
    type Sender = ToOne;
    type Receiver = FromOne;

    fn split(self) -> Peers<ToOne, FromOne> {
        let (me, n) = (self.me, self.to.len());
        let halves = self
            .to
            .into_iter()
            .zip(self.from)
            .enumerate()
            .filter(|(peer, _)| *peer != me)
            .map(|(peer, (tx, rx))| (peer, ToOne { peer, tx }, FromOne { peer, rx }));
        Peers::new(
            me,
            n,
            channel_core::DEFAULT_CHUNK_SIZE,
            channel_core::DEFAULT_MAX_MESSAGE_SIZE,
            halves,
        )
    }
}

// Step 3: run the conformance kit against a factory of connected channels
// (and, for step 4, the kit's split checks).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    for n in [2, 3, 5] {
        let started = Instant::now();
        let report = futures::executor::block_on(Kit::new(n).run_async(async |n| Ok(network(n))))?;
        print!("async form: {report}");
        let report = Kit::new(n).run_blocking(|n| Ok(network(n)))?;
        print!("blocking form: {report}");
        let report =
            futures::executor::block_on(Kit::new(n).run_split_async(async |n| Ok(network(n))))?;
        print!("split, async form: {report}");
        println!(
            "{n} parties: both forms passed in {:.2?}\n",
            started.elapsed()
        );
    }
    Ok(())
}

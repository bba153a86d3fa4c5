//! A relay party's per-peer halves: sending to one peer ([`RelaySender`])
//! and receiving from one peer ([`RelayReceiver`]), each with its own message
//! numbers, keys and requests in flight, so that all of them run at once. A
//! [`RelayParty`](super::RelayParty) is made of them (its `Channel` methods
//! call them); [`Split`](channel_core::asynchronous::Split) hands them out.
//! What they share ([`Common`]: the client, the join, the socket, the
//! heartbeat) says goodbye to the relay when the last of them is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use channel_core::asynchronous::{PeerReceiver, PeerSender};
use channel_core::{RecvInfo, SendInfo};
use channel_seal::{OVERHEAD, RecvKeys, SendKeys};
use futures::channel::oneshot;
use web_time::Instant;

use super::{Client, POLLS_AHEAD, PartySettings, RELAYED_CHUNK, SENDS_IN_FLIGHT};
use crate::exchange::{Http, exchange};
use crate::ops::{self, PollTiming, Request};
use crate::protocol::{Leave, leave_path};
use crate::sends::{Pending, Sends};
use crate::socket::{Queued, SocketCore, SocketLink};
use crate::{HttpError, Joined, TransportError};

/// What the halves of one party share.
pub(crate) struct Common<C: Client> {
    pub(crate) client: C,
    /// The join, as the relay answered it (the halves count on from there).
    pub(crate) joined: Joined,
    pub(crate) settings: PartySettings,
    /// The WebSocket carrying every chunk, when it is open; `None`: the HTTP routes.
    pub(crate) socket: Option<SocketLink>,
    /// Tells the relay this party is alive while it computes; stops with the party.
    pub(crate) _heartbeat: Option<C::Heartbeat>,
    /// Whether the goodbye went out already (`RelayParty::close`).
    pub(crate) left: AtomicBool,
    /// Per peer: the messages sent to it so far, for the goodbye.
    pub(crate) sent: Mutex<Vec<u64>>,
    /// Whether chunks are sealed.
    pub(crate) sealed: AtomicBool,
}

impl<C: Client + std::fmt::Debug> std::fmt::Debug for Common<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Common")
            .field("client", &self.client)
            .field("joined", &self.joined)
            .field("socket", &self.socket.is_some())
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

impl<C: Client> Common<C> {
    /// The goodbye request: how many messages went to each party.
    pub(crate) fn leave_request(&self) -> Result<Request, HttpError> {
        let sent = self
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let body = serde_json::to_vec(&Leave { sent })
            .map_err(|e| HttpError::Setup(format!("cannot encode the goodbye: {e}")))?;
        Ok(Request {
            method: ops::Method::Post,
            path: leave_path(&self.joined.session),
            body: Some((Bytes::from(body), ops::Content::Json)),
            wait: Duration::ZERO,
            headers: self.joined.headers(),
        })
    }

    /// The relay's body limit (at most [`RELAYED_CHUNK`] with requests in
    /// flight) less the frame footer and, when sealed, what sealing adds.
    pub(crate) fn chunk_size(&self) -> usize {
        let sealing = if self.sealed.load(Ordering::Relaxed) {
            OVERHEAD
        } else {
            0
        };
        let limit = if self.client.background() || self.socket.is_some() {
            self.joined.chunk_size().min(RELAYED_CHUNK)
        } else {
            self.joined.chunk_size()
        };
        limit.saturating_sub(sealing).max(1)
    }

    /// A sleep of the receive timeout, on the client's timer.
    fn timeout(&self) -> (Duration, impl std::future::Future<Output = ()> + '_) {
        let timeout = self.settings.timing.recv_timeout;
        (timeout, sleep(&self.client, timeout))
    }
}

async fn sleep<C: Client>(client: &C, d: Duration) {
    client.http().sleep(d).await;
}

/// The last half is gone: say goodbye in the background (see
/// [`RelayParty::close`](super::RelayParty::close)).
impl<C: Client> Drop for Common<C> {
    fn drop(&mut self) {
        if self.left.load(Ordering::Relaxed) {
            return;
        }
        if let Some(link) = &self.socket {
            if self.client.keeps_running() {
                // The driver writes it once everything queued is stored.
                link.with(SocketCore::leave);
            } else {
                // As a client that cannot say goodbye from here: the relay
                // notices the silence.
                link.with(SocketCore::abandon);
            }
            return;
        }
        if let Ok(leave) = self.leave_request() {
            self.client.goodbye(leave);
        }
    }
}

/// Sending to one peer of a relay session: a relay party's sending half
/// ([`Split`](channel_core::asynchronous::Split)). The rules of the party's
/// `send_bytes_to` and `flush` hold, for this peer alone.
#[derive(Debug)]
pub struct RelaySender<C: Client> {
    p: usize,
    common: Arc<Common<C>>,
    /// Counts the messages to `p` (its other peers' counters are unused).
    joined: Joined,
    seal: Option<SendKeys>,
    /// Sends in flight to `p`.
    sends: Sends,
}

/// Receiving from one peer of a relay session: a relay party's receiving
/// half ([`Split`](channel_core::asynchronous::Split)).
#[derive(Debug)]
pub struct RelayReceiver<C: Client> {
    p: usize,
    common: Arc<Common<C>>,
    /// Counts the messages from `p` (its other peers' counters are unused).
    joined: Joined,
    seal: Option<RecvKeys>,
    /// The polls for `p`'s next messages, with their numbers, oldest first.
    polls: VecDeque<(u64, Pending<Vec<u8>>)>,
}

impl<C: Client> RelaySender<C> {
    pub(crate) fn new(p: usize, common: Arc<Common<C>>) -> Self {
        let joined = common.joined.clone();
        let parties = joined.parties;
        Self {
            p,
            common,
            joined,
            seal: None,
            sends: Sends::new(parties),
        }
    }

    /// The peer this half sends to.
    pub fn peer(&self) -> usize {
        self.p
    }

    pub(crate) fn install(&mut self, keys: SendKeys) {
        self.seal = Some(keys);
    }

    pub(crate) fn suite(&self) -> Option<channel_seal::Suite> {
        self.seal.as_ref().map(SendKeys::suite)
    }

    /// Sends one chunk to the peer: see `RelayParty::send_bytes_to`.
    pub(crate) async fn send(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), HttpError> {
        let p = self.p;
        channel_core::transport::check_chunk(p, msg.len(), self.common.chunk_size())?;
        self.sends.usable(p)?;
        self.sends.reap(p)?;
        let chunk = match self.seal.as_mut() {
            Some(seal) => seal.seal(msg)?,
            None => msg,
        };
        let common = Arc::clone(&self.common);
        if let Some(link) = &common.socket {
            let (timeout, wait) = common.timeout();
            let queued = link
                .wait(wait, |core| {
                    Ok((core.queue(p, &chunk)? == Queued::Yes).then_some(()))
                })
                .await?;
            if queued.is_some() {
                self.take_send_number()?;
            }
            return queued.ok_or_else(|| {
                HttpError::Transport(TransportError::Timeout {
                    party: p,
                    after: timeout,
                    waiting_for: format!(
                        "room to queue {} bytes ({info}): the relay has not stored the earlier chunks",
                        chunk.len()
                    ),
                })
            });
        }
        let retry = common.settings.timing.retry;
        let op = self.joined.send(p, Bytes::from(chunk), &info, retry)?;
        self.note_sent();
        if !common.client.background() {
            return match exchange(&mut common.client.http(), op).await {
                Ok(()) => Ok(()),
                Err(e) => Err(self.sends.broke(p, e)),
            };
        }
        self.sends.make_room(p, SENDS_IN_FLIGHT).await?;
        let (done, pending) = oneshot::channel();
        common.client.start(op, done, false);
        self.sends.push(p, pending);
        Ok(())
    }

    /// Waits until the relay stored every chunk sent to the peer.
    pub(crate) async fn flush(&mut self) -> Result<(), HttpError> {
        let p = self.p;
        if let Some(link) = &self.common.socket {
            let (timeout, wait) = self.common.timeout();
            let flushed = link
                .wait(wait, |core| Ok(core.flushed_to(p)?.then_some(())))
                .await?;
            return flushed.ok_or_else(|| {
                HttpError::Transport(TransportError::Timeout {
                    party: p,
                    after: timeout,
                    waiting_for: "the relay to store every chunk sent".into(),
                })
            });
        }
        self.sends.flush().await
    }

    fn take_send_number(&mut self) -> Result<u64, HttpError> {
        let seq = self.joined.take_send_number(self.p)?;
        self.note_sent();
        Ok(seq)
    }

    /// Keeps the goodbye's count of messages to the peer up to date.
    fn note_sent(&self) {
        let next = self.joined.next_send.get(self.p).copied().unwrap_or(0);
        let mut sent = self
            .common
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = sent.get_mut(self.p) {
            *slot = next;
        }
    }
}

impl<C: Client> RelayReceiver<C> {
    pub(crate) fn new(p: usize, common: Arc<Common<C>>) -> Self {
        let joined = common.joined.clone();
        Self {
            p,
            common,
            joined,
            seal: None,
            polls: VecDeque::new(),
        }
    }

    /// The peer this half receives from.
    pub fn peer(&self) -> usize {
        self.p
    }

    pub(crate) fn install(&mut self, keys: RecvKeys) {
        self.seal = Some(keys);
    }

    /// Receives the next chunk from the peer: see `RelayParty::recv_bytes_from`.
    pub(crate) async fn recv(&mut self, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        let p = self.p;
        if let Some(seal) = &self.seal {
            seal.intact()?;
        }
        let next = self.joined.next_from(p)?;
        let common = Arc::clone(&self.common);
        let chunk = if let Some(link) = &common.socket {
            let (timeout, wait) = common.timeout();
            let chunk = link.wait(wait, |core| core.take(p)).await?;
            let chunk = chunk.ok_or(TransportError::timeout(p, timeout, &info))?;
            self.joined.received(p, next);
            chunk
        } else if common.client.background() {
            self.receive_ahead(next, &info).await?
        } else {
            let op = self
                .joined
                .receive(p, &info, common.settings.timing, Instant::now())?;
            let chunk = exchange(&mut common.client.http(), op).await?;
            self.joined.received(p, next);
            chunk
        };
        match self.seal.as_mut() {
            Some(seal) => Ok(seal.open(chunk)?),
            None => Ok(chunk),
        }
    }

    /// Waits for chunk `next` with up to [`POLLS_AHEAD`] polls in flight (for
    /// `next` and the messages after it), at most the receive timeout.
    async fn receive_ahead(&mut self, next: u64, info: &RecvInfo) -> Result<Vec<u8>, HttpError> {
        let p = self.p;
        let common = Arc::clone(&self.common);
        let timing = common.settings.timing;
        // A poll in flight ends only with its chunk or a failure: the
        // receive's own timeout is kept here, so that a poll started early
        // does not expire before its message is wanted.
        let patient = PollTiming {
            recv_timeout: Duration::from_secs(365 * 24 * 3600),
            ..timing
        };
        // Bounded by POLLS_AHEAD.
        while self.polls.len() < POLLS_AHEAD {
            let ahead = self.polls.len();
            let seq = next + ahead as u64;
            let wanted = RecvInfo::new(info.phase(), info.chunk() + ahead, info.total());
            let op = self
                .joined
                .receive_ahead(p, seq, next, &wanted, patient, Instant::now())?;
            let (done, pending) = oneshot::channel();
            common.client.start(op, done, true);
            self.polls.push_back((seq, pending));
        }
        let Some((seq, pending)) = self.polls.front_mut() else {
            return Err(crate::joined::closed(p));
        };
        if *seq != next {
            return Err(HttpError::Protocol(format!(
                "the poll in flight is for message {seq} from party {p}, the next is {next}"
            )));
        }
        let (timeout, wait) = common.timeout();
        let wait = std::pin::pin!(wait);
        let outcome = match futures::future::select(pending, wait).await {
            futures::future::Either::Left((outcome, _)) => outcome,
            futures::future::Either::Right(((), _)) => {
                // The poll stays in flight for the next receive.
                return Err(TransportError::timeout(p, timeout, info).into());
            }
        };
        self.polls.pop_front();
        match outcome {
            Ok(Ok(chunk)) => {
                self.joined.received(p, next);
                Ok(chunk)
            }
            Ok(Err(e)) => Err(e),
            Err(oneshot::Canceled) => Err(HttpError::Protocol(format!(
                "the poll for message {next} from party {p} was dropped (did the runtime stop?)"
            ))),
        }
    }
}

impl<C: Client> PeerSender for RelaySender<C> {
    type Error = HttpError;

    async fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), HttpError> {
        self.send(msg, info).await
    }

    async fn flush(&mut self) -> Result<(), HttpError> {
        RelaySender::flush(self).await
    }
}

impl<C: Client> PeerReceiver for RelayReceiver<C> {
    type Error = HttpError;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        self.recv(info).await
    }
}

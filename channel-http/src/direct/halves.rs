//! A direct-mode party's per-peer halves: sending to one peer's endpoint
//! ([`DirectSender`]) and receiving what one peer posted to this party's
//! endpoint ([`DirectReceiver`]), each with its own numbers, keys and
//! requests in flight. A [`DirectChannel`](super::DirectChannel) is made of
//! them; [`Split`](channel_core::asynchronous::Split) hands them out. What
//! they share ([`Common`]) stops the endpoint and says goodbye to every peer
//! when the last of them is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use channel_core::asynchronous::{PeerReceiver, PeerSender};
use channel_core::{RecvInfo, SendInfo};
use channel_http_proto::backoff::Backoff;
use channel_http_proto::ops::Post;
use channel_http_proto::sends::Sends;
use channel_http_proto::{check_outgoing, exchange};
use channel_seal::{OVERHEAD, RecvKeys, SendKeys};
use reqwest::header::HeaderValue;
use tokio::sync::watch;
use tokio::time::Instant;

use super::DirectOptions;
use super::inbox::Inbox;
use crate::client::ReqwestServer;
use crate::protocol::{HEADER_EPOCH, direct_leave_path, direct_path};
use crate::{HttpError, TransportError};

/// Chunks sent to one peer and not yet stored there, at most: the endpoint
/// delivers each chunk itself, so uploads side by side cost nothing, and 8
/// cover a long path's round trip.
const SENDS_IN_FLIGHT: usize = 8;

/// What the halves of one direct-mode party share.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) me: usize,
    pub(crate) client: reqwest::Client,
    /// Per peer: its base URL and our `Authorization` value for it.
    pub(crate) peers: Vec<(String, HeaderValue)>,
    pub(crate) inbox: Arc<Inbox>,
    /// Per peer: the number of this party's join at that peer's endpoint.
    pub(crate) epochs: Vec<u64>,
    pub(crate) options: DirectOptions,
    pub(crate) stop: watch::Sender<bool>,
    /// Per peer: the chunks sent to it so far, for the goodbyes.
    pub(crate) sent: Mutex<Vec<u64>>,
    /// Whether the goodbyes went out already (`DirectChannel::close`).
    pub(crate) said_goodbye: AtomicBool,
    /// Whether chunks are sealed.
    pub(crate) sealed: AtomicBool,
}

impl Common {
    /// A POST of `path(peer)` to every peer's endpoint, with this party's key
    /// and its join number there.
    pub(crate) fn to_every_peer(
        &self,
        path: impl Fn(usize) -> String,
    ) -> Vec<(usize, reqwest::RequestBuilder)> {
        let timeout = self.options.client.request_timeout;
        self.peers
            .iter()
            .zip(&self.epochs)
            .enumerate()
            .filter(|&(p, _)| p != self.me)
            .map(|(p, ((base, auth), epoch))| {
                let request = self
                    .client
                    .post(format!("{base}{}", path(p)))
                    .header(reqwest::header::AUTHORIZATION, auth.clone())
                    .header(HEADER_EPOCH, epoch.to_string())
                    .timeout(timeout);
                (p, request)
            })
            .collect()
    }

    /// One goodbye request per peer: how many chunks went to it.
    pub(crate) fn goodbyes(&self) -> Vec<impl std::future::Future<Output = ()> + Send + 'static> {
        let sent = self
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let sent = |p: usize| sent.get(p).copied().unwrap_or_default();
        self.to_every_peer(|p| direct_leave_path(self.me, sent(p)))
            .into_iter()
            .map(|(p, request)| async move {
                if let Err(e) = request.send().await {
                    tracing::debug!(party = p, "the goodbye did not reach the peer: {e}");
                }
            })
            .collect()
    }

    /// The body limit less the frame footer and, when sealed, what sealing adds.
    pub(crate) fn chunk_size(&self) -> usize {
        let sealing = if self.sealed.load(Ordering::Relaxed) {
            OVERHEAD
        } else {
            0
        };
        self.options
            .max_body
            .saturating_sub(channel_core::frame::FOOTER_LEN + sealing)
            .max(1)
    }
}

/// The last half is gone: stop the endpoint, say goodbye in the background.
impl Drop for Common {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if self.said_goodbye.load(Ordering::Relaxed) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(futures::future::join_all(self.goodbyes()));
            }
            Err(_) => {
                tracing::debug!("no tokio runtime to say goodbye on; peers will notice the silence")
            }
        }
    }
}

/// Sending to one peer's endpoint: a direct-mode party's sending half.
#[derive(Debug)]
pub struct DirectSender {
    p: usize,
    common: Arc<Common>,
    next_send: u64,
    seal: Option<SendKeys>,
    /// Sends in flight to `p`.
    sends: Sends,
}

/// Receiving what one peer posted to this party's endpoint: a direct-mode
/// party's receiving half.
#[derive(Debug)]
pub struct DirectReceiver {
    p: usize,
    common: Arc<Common>,
    seal: Option<RecvKeys>,
}

impl DirectSender {
    pub(crate) fn new(p: usize, common: Arc<Common>, next_send: u64) -> Self {
        let parties = common.peers.len();
        Self {
            p,
            common,
            next_send,
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

    /// Sends one chunk to the peer (see `DirectChannel`'s `send_bytes_to`).
    pub(crate) async fn send(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), HttpError> {
        let (p, common) = (self.p, Arc::clone(&self.common));
        if common.inbox.has_left(p) {
            return Err(TransportError::PeerGone {
                party: p,
                reason: "it closed its channel (it said goodbye): nothing sent to it would be read"
                    .into(),
            }
            .into());
        }
        channel_core::transport::check_chunk(p, msg.len(), common.chunk_size())?;
        let msg = match self.seal.as_mut() {
            Some(seal) => seal.seal(msg)?,
            None => msg,
        };
        check_outgoing(
            common.me,
            p,
            common.peers.len(),
            msg.len(),
            common.options.max_body,
        )?;
        self.sends.usable(p)?;
        self.sends.reap(p)?;
        let Some((base, auth)) = common.peers.get(p) else {
            return Err(TransportError::Closed { party: p }.into());
        };
        let seq = self.next_send;
        self.next_send += 1;
        if let Some(slot) = common
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(p)
        {
            *slot = self.next_send;
        }
        let backoff = Backoff::new(common.options.client.retry, p, format!("sending {info}"));
        let epoch = common.epochs.get(p).copied().unwrap_or_default();
        let op = Post::new(direct_path(common.me, seq), Bytes::from(msg), seq, backoff)
            .with_headers(vec![(HEADER_EPOCH, epoch.to_string())]);
        self.sends.make_room(p, SENDS_IN_FLIGHT).await?;
        let (client, base, auth, timeout) = (
            common.client.clone(),
            base.clone(),
            auth.clone(),
            common.options.client.request_timeout,
        );
        let (done, pending) = futures::channel::oneshot::channel();
        // Runs to its end even if the channel is dropped: the application was
        // told this chunk is on its way.
        tokio::spawn(async move {
            let mut peer = ReqwestServer::new(&client, &base, Some(&auth), timeout);
            let _ = done.send(exchange(&mut peer, op).await);
        });
        self.sends.push(p, pending);
        Ok(())
    }

    /// Waits until the peer's endpoint stored every chunk sent to it.
    pub(crate) async fn flush(&mut self) -> Result<(), HttpError> {
        self.sends.flush().await
    }
}

impl DirectReceiver {
    pub(crate) fn new(p: usize, common: Arc<Common>) -> Self {
        Self {
            p,
            common,
            seal: None,
        }
    }

    /// The peer this half receives from.
    pub fn peer(&self) -> usize {
        self.p
    }

    pub(crate) fn install(&mut self, keys: RecvKeys) {
        self.seal = Some(keys);
    }

    /// Receives the next chunk from the peer (see `DirectChannel`'s
    /// `recv_bytes_from`).
    pub(crate) async fn recv(&mut self, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        let (p, common) = (self.p, Arc::clone(&self.common));
        if let Some(seal) = &self.seal {
            seal.intact()?;
        }
        let inbox = &common.inbox;
        let after = common.options.client.recv_timeout;
        let gone_after = common.options.peer_gone_after;
        let deadline = Instant::now() + after;
        let arrivals = inbox
            .arrivals(p)
            .ok_or(TransportError::Closed { party: p })?;
        // Bounded by `deadline`.
        loop {
            let arrived = arrivals.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(msg) = inbox.pop(p) {
                return match self.seal.as_mut() {
                    Some(seal) => Ok(seal.open(Vec::from(msg))?),
                    None => Ok(Vec::from(msg)),
                };
            }
            if inbox.all_arrived_from_departed(p) {
                return Err(TransportError::PeerGone {
                    party: p,
                    reason: format!("it closed its channel (it said goodbye) ({info})"),
                }
                .into());
            }
            let silent = inbox.silent_for(p);
            if silent >= gone_after {
                return Err(TransportError::PeerGone {
                    party: p,
                    reason: format!(
                        "nothing reached this party from it for {silent:.1?} (no chunk, no \
                         heartbeat; the bound is {gone_after:?}): its process ended or the \
                         path from it is down ({info})"
                    ),
                }
                .into());
            }
            let check = (inbox.last_heard(p) + gone_after).min(deadline);
            if tokio::time::timeout_at(check, arrived).await.is_err() && Instant::now() >= deadline
            {
                return Err(TransportError::timeout(p, after, &info).into());
            }
        }
    }
}

impl PeerSender for DirectSender {
    type Error = HttpError;

    async fn send_chunk(&mut self, msg: Vec<u8>, info: SendInfo) -> Result<(), HttpError> {
        self.send(msg, info).await
    }

    async fn flush(&mut self) -> Result<(), HttpError> {
        DirectSender::flush(self).await
    }
}

impl PeerReceiver for DirectReceiver {
    type Error = HttpError;

    async fn recv_chunk(&mut self, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        self.recv(info).await
    }
}

/// Heartbeats to every peer each quarter of `peer_gone_after`, until the
/// endpoint stops (the last half is dropped).
pub(crate) fn start_heartbeats(common: &Common) {
    let every: Duration = common.options.peer_gone_after / 4;
    let me = common.me;
    let beats = common.to_every_peer(|_| crate::protocol::direct_alive_path(me));
    let mut stopped = common.stop.subscribe();
    tokio::spawn(async move {
        // Ends when the channel is dropped.
        loop {
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => return,
                () = tokio::time::sleep(every) => {}
            }
            // Bodiless requests always clone.
            let sends = beats
                .iter()
                .filter_map(|(_, beat)| beat.try_clone())
                .map(reqwest::RequestBuilder::send);
            let _ = futures::future::join_all(sends).await;
        }
    });
}

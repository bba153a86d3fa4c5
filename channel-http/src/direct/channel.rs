//! `DirectChannel`: one party in direct mode, serving its endpoint and POSTing
//! to its peers'.

use bytes::Bytes;
use channel_core::transport::check_peer;
use channel_core::{Channel, RecvInfo, SendInfo};
use reqwest::header::HeaderValue;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;

use channel_http_proto::backoff::Backoff;
use channel_http_proto::ops::{Post, Setup};
use channel_http_proto::sends::Sends;
use channel_http_proto::{check_outgoing, exchange};
use channel_seal::{OVERHEAD, PartyKey, SealState};

use super::DirectConfig;
use super::inbox::{Inbox, router};
use crate::client::{ClientOptions, ReqwestServer};
use crate::protocol::{
    DEFAULT_MAX_BODY, HEADER_EPOCH, direct_alive_path, direct_leave_path, direct_path,
};
use crate::{HttpError, TransportError};

/// Chunks sent to one peer and not yet stored there, at most: the endpoint
/// delivers each chunk itself, so uploads side by side cost nothing, and 8
/// cover a long path's round trip.
const SENDS_IN_FLIGHT: usize = 8;

/// Options of a direct-mode party.
#[derive(Debug, Clone)]
pub struct DirectOptions {
    /// Client-side options: timeouts, retries, trusted roots, message limit.
    pub client: ClientOptions,
    /// Largest chunk body this party accepts and sends.
    pub max_body: usize,
    /// Unread bytes this party's endpoint holds at most; senders get `429` beyond it.
    pub max_queued_bytes: usize,
    /// A peer that has not reached this party's endpoint for this long (no
    /// chunk, no heartbeat; every party sends one to every peer each quarter
    /// of it) is gone: a receive from it fails with
    /// [`TransportError::PeerGone`] instead of waiting out the receive
    /// timeout. 20 s by default, like the relay's `--peer-gone-secs`.
    pub peer_gone_after: Duration,
}

impl Default for DirectOptions {
    fn default() -> Self {
        Self {
            client: ClientOptions::default(),
            max_body: DEFAULT_MAX_BODY,
            max_queued_bytes: 1 << 30,
            peer_gone_after: Duration::from_secs(20),
        }
    }
}

/// One party in direct mode, implementing the async [`Channel`]; see [`crate::direct`].
///
/// ```
/// use channel_http::{DirectChannel, DirectConfig, DirectOptions};
/// use channel_core::{recv_from, send_to};
/// use channel_seal::PartyKey;
/// use tokio::net::TcpListener;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Each party binds its endpoint first, so that the table can list the URLs.
/// let listeners = [TcpListener::bind("127.0.0.1:0").await?, TcpListener::bind("127.0.0.1:0").await?];
/// let urls: Vec<String> = listeners
///     .iter()
///     .map(|l| Ok(format!("http://{}", l.local_addr()?)))
///     .collect::<std::io::Result<_>>()?;
/// // Each party makes its key; the tables list the public keys.
/// let keys = [PartyKey::generate()?, PartyKey::generate()?];
/// let public: Vec<_> = keys.iter().map(PartyKey::public).collect();
/// let tables = DirectConfig::generate(&urls, &public)?;
///
/// // Every party starts at the same time: starting runs the handshakes.
/// let starting = listeners.into_iter().zip(tables).zip(&keys).map(|((listener, table), key)| {
///     DirectChannel::start(listener, table, key, DirectOptions::default())
/// });
/// let mut parties = Vec::new();
/// for party in futures::future::join_all(starting).await {
///     parties.push(party?);
/// }
/// send_to(&mut parties[0], 1, "greeting", &"hi").await?;
/// let got: String = recv_from(&mut parties[1], 0, "greeting").await?;
/// assert_eq!(got, "hi");
/// # Ok(())
/// # }
/// ```
///
/// Dropping a `DirectChannel` stops its endpoint.
#[derive(Debug)]
pub struct DirectChannel {
    me: usize,
    client: reqwest::Client,
    /// Per peer: its base URL and our `Authorization` value for it.
    peers: Vec<(String, HeaderValue)>,
    inbox: Arc<Inbox>,
    next_send: Vec<u64>,
    /// The sends in flight with each peer.
    sends: Sends,
    /// Per peer: the number of this party's join at that peer's endpoint.
    epochs: Vec<u64>,
    options: DirectOptions,
    stop: watch::Sender<bool>,
    /// The keys of every pair once the handshakes are done; `None` only for a
    /// plaintext party (and during the handshakes).
    seal: Option<SealState>,
    /// Whether the goodbyes went out already ([`close`](Self::close)).
    said_goodbye: bool,
}

impl DirectChannel {
    /// Starts serving this party's endpoint on `listener`, holding `key` (the
    /// private key of the public key its table lists for it), and runs the
    /// handshakes with every peer: returns once all of them have started too
    /// (within the receive timeout). Must be called inside a tokio runtime.
    pub async fn start(
        listener: TcpListener,
        config: DirectConfig,
        key: &PartyKey,
        options: DirectOptions,
    ) -> Result<Self, HttpError> {
        let me = config.party;
        let public_keys: Vec<_> = config.peers.iter().map(|p| p.public_key).collect();
        let session = config.session.clone();
        let mut party = Self::start_plaintext_insecure(listener, config, options).await?;
        if party.resumes() {
            // Its keys went with the process that started first.
            let parties = party.parties();
            channel_seal::refuse(&mut party, me, parties).await;
            return Err(HttpError::Setup(format!(
                "party {me} was in this sealed computation before (did its process restart?): a \
                 sealed computation cannot resume after a restart, because the keys of the first \
                 start are gone; start a new one"
            )));
        }
        let seal =
            channel_seal::handshake(&mut party, me, key, &public_keys, session.as_bytes()).await?;
        party.seal = Some(seal);
        Ok(party)
    }

    /// Starts serving this party's endpoint **without sealing**: whoever is
    /// between the endpoints (with plain `http://`, anyone on the path) reads
    /// every chunk. Only for networks trusted with everything, and for
    /// measuring what sealing costs.
    pub async fn start_plaintext_insecure(
        listener: TcpListener,
        config: DirectConfig,
        options: DirectOptions,
    ) -> Result<Self, HttpError> {
        let parties = config.peers.len();
        if config.party >= parties {
            return Err(HttpError::Setup(format!(
                "party {} is not in a table of {parties} parties",
                config.party
            )));
        }
        if options.peer_gone_after < Duration::from_millis(100) {
            return Err(HttpError::Setup(format!(
                "peer_gone_after of {:?} leaves no time for heartbeats (at least 100 ms)",
                options.peer_gone_after
            )));
        }
        if options.max_body <= channel_core::frame::FOOTER_LEN {
            return Err(HttpError::Setup(format!(
                "max_body of {} bytes cannot hold a frame",
                options.max_body
            )));
        }
        let mut peers = Vec::with_capacity(parties);
        for peer in &config.peers {
            let base = crate::protocol::base_url(&peer.url)?;
            let auth = HeaderValue::from_str(&format!("Bearer {}", peer.key)).map_err(|_| {
                HttpError::Setup("a key contains characters not allowed in a header".into())
            })?;
            peers.push((base, auth));
        }
        let keys = config.peers.iter().map(|p| p.key.clone()).collect();
        let inbox = Arc::new(Inbox::new(
            config.party,
            keys,
            options.max_queued_bytes,
            options.max_body,
        ));
        let (stop, mut stopped) = watch::channel(false);
        let app = router(inbox.clone(), options.max_body);
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = crate::serve(listener, app, shutdown).await {
                tracing::warn!("direct-mode endpoint stopped: {e}");
            }
        });
        let mut party = Self {
            me: config.party,
            client: options.client.http_client()?,
            peers,
            inbox,
            next_send: vec![0; parties],
            sends: Sends::new(parties),
            epochs: vec![0; parties],
            options,
            stop,
            seal: None,
            said_goodbye: false,
        };
        party.join_peers().await?;
        party.start_heartbeats();
        Ok(party)
    }

    /// Tells every peer's endpoint, each quarter of `peer_gone_after`, that
    /// this party is alive, until the channel is dropped. Beats that fail
    /// are not retried: the next one tries again.
    fn start_heartbeats(&self) {
        let every = self.options.peer_gone_after / 4;
        let me = self.me;
        let beats = self.to_every_peer(|_| direct_alive_path(me));
        let mut stopped = self.stop.subscribe();
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

    /// A POST of `path(peer)` to every peer's endpoint, with this party's key
    /// and its join number there.
    fn to_every_peer(
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

    /// Asks every peer's endpoint where this party's link to it stands (all
    /// at once, each retried until the peer's endpoint is up or the retry
    /// policy gives up): a party that restarted resumes its numbering, and
    /// its earlier process is refused from then on.
    async fn join_peers(&mut self) -> Result<(), HttpError> {
        let (me, retry, timeout) = (
            self.me,
            self.options.client.retry,
            self.options.client.request_timeout,
        );
        let client = &self.client;
        let joining = self.peers.iter().enumerate().filter(|&(p, _)| p != me).map(
            |(p, (base, auth))| async move {
                let mut peer = ReqwestServer::new(client, base, Some(auth), timeout);
                let op = Setup::direct_join(base, me, retry).for_party(p);
                (p, exchange(&mut peer, op).await)
            },
        );
        for (p, joined) in futures::future::join_all(joining).await {
            let position = joined?;
            if let (Some(next), Some(epoch)) = (self.next_send.get_mut(p), self.epochs.get_mut(p)) {
                *next = position.next;
                *epoch = position.epoch;
            }
        }
        Ok(())
    }

    /// Whether this party was in the computation before (it restarted): some
    /// of its links have moved on already.
    fn resumes(&self) -> bool {
        self.next_send.iter().any(|&n| n > 0)
    }

    /// Whether chunks are sealed end to end (false only after
    /// [`start_plaintext_insecure`](Self::start_plaintext_insecure)).
    pub fn is_sealed(&self) -> bool {
        self.seal.is_some()
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.me
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.peers.len()
    }
}

impl DirectChannel {
    /// Waits until every peer's endpoint stored everything sent (as `flush`),
    /// then says goodbye to each and waits for them to take it: their
    /// receives from this party fail at once with `PeerGone` ("closed its
    /// channel") after everything it sent, and their sends to it too.
    /// Dropping the channel says goodbye as well, in the background (best
    /// effort; otherwise the peers notice the silence after `peer_gone_after`).
    pub async fn close(mut self) -> Result<(), HttpError> {
        let flushed = self.sends.flush().await;
        let goodbyes = self.goodbyes();
        self.said_goodbye = true;
        futures::future::join_all(goodbyes).await;
        flushed
    }

    /// One goodbye request per peer: how many chunks went to it.
    fn goodbyes(&self) -> Vec<impl std::future::Future<Output = ()> + Send + 'static> {
        let sent = |p: usize| self.next_send.get(p).copied().unwrap_or_default();
        self.to_every_peer(|p| direct_leave_path(self.me, sent(p)))
            .into_iter()
            .map(|(p, request)| async move {
                if let Err(e) = request.send().await {
                    tracing::debug!(party = p, "the goodbye did not reach the peer: {e}");
                }
            })
            .collect()
    }
}

impl Drop for DirectChannel {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        if self.said_goodbye {
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

impl Channel for DirectChannel {
    type SendError = HttpError;
    type RecvError = HttpError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), HttpError> {
        check_peer(self.me, p, self.peers.len())?;
        if self.inbox.has_left(p) {
            return Err(TransportError::PeerGone {
                party: p,
                reason: "it closed its channel (it said goodbye): nothing sent to it would be read"
                    .into(),
            }
            .into());
        }
        let msg = match self.seal.as_mut() {
            Some(seal) => seal.seal(p, msg)?,
            None => msg,
        };
        check_outgoing(
            self.me,
            p,
            self.peers.len(),
            msg.len(),
            self.options.max_body,
        )?;
        self.sends.usable(p)?;
        self.sends.reap(p)?;
        let (Some((base, auth)), Some(next)) = (self.peers.get(p), self.next_send.get_mut(p))
        else {
            return Err(TransportError::Closed { party: p }.into());
        };
        let seq = *next;
        *next += 1;
        let backoff = Backoff::new(self.options.client.retry, p, format!("sending {info}"));
        let epoch = self.epochs.get(p).copied().unwrap_or_default();
        let op = Post::new(direct_path(self.me, seq), Bytes::from(msg), seq, backoff)
            .with_headers(vec![(HEADER_EPOCH, epoch.to_string())]);
        self.sends.make_room(p, SENDS_IN_FLIGHT).await?;
        let (client, base, auth, timeout) = (
            self.client.clone(),
            base.clone(),
            auth.clone(),
            self.options.client.request_timeout,
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

    /// Waits until every peer's endpoint stored every chunk sent so far.
    async fn flush(&mut self) -> Result<(), HttpError> {
        self.sends.flush().await
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        check_peer(self.me, p, self.peers.len())?;
        if let Some(seal) = &self.seal {
            seal.intact(p)?;
        }
        let after = self.options.client.recv_timeout;
        let gone_after = self.options.peer_gone_after;
        let deadline = Instant::now() + after;
        let arrivals = self
            .inbox
            .arrivals(p)
            .ok_or(TransportError::Closed { party: p })?;
        // Bounded by `deadline`.
        loop {
            let arrived = arrivals.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(msg) = self.inbox.pop(p) {
                return match self.seal.as_mut() {
                    Some(seal) => Ok(seal.open(p, Vec::from(msg))?),
                    None => Ok(Vec::from(msg)),
                };
            }
            if self.inbox.all_arrived_from_departed(p) {
                return Err(TransportError::PeerGone {
                    party: p,
                    reason: format!("it closed its channel (it said goodbye) ({info})"),
                }
                .into());
            }
            let silent = self.inbox.silent_for(p);
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
            let check = (self.inbox.last_heard(p) + gone_after).min(deadline);
            if tokio::time::timeout_at(check, arrived).await.is_err() && Instant::now() >= deadline
            {
                return Err(TransportError::timeout(p, after, &info).into());
            }
        }
    }

    /// The body limit less the frame footer and, when sealed, what sealing adds.
    fn chunk_size(&self) -> usize {
        let sealing = if self.seal.is_some() { OVERHEAD } else { 0 };
        self.options
            .max_body
            .saturating_sub(channel_core::frame::FOOTER_LEN + sealing)
            .max(1)
    }

    fn max_message_size(&self) -> usize {
        self.options.client.max_message_size
    }
}

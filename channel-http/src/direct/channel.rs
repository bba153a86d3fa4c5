//! `DirectChannel`: one party in direct mode, serving its endpoint and POSTing
//! to its peers'.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_core::asynchronous::{Peers, Split};
use channel_core::transport::check_peer;
use channel_core::{Channel, RecvInfo, SendInfo};
use reqwest::header::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;

use channel_http_proto::exchange;
use channel_http_proto::ops::Setup;
use channel_seal::{PartyKey, SealState};

use super::DirectConfig;
use super::halves::{Common, DirectReceiver, DirectSender, start_heartbeats};
use super::inbox::{Inbox, router};
use crate::HttpError;
use crate::client::{ClientOptions, ReqwestServer};
use crate::protocol::DEFAULT_MAX_BODY;

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
    /// What the halves share (the endpoint stops and the goodbyes go when
    /// the last one is dropped).
    common: Arc<Common>,
    /// Per peer, the sending half (`None` for the party itself).
    senders: Vec<Option<DirectSender>>,
    /// Per peer, the receiving half (`None` for the party itself).
    receivers: Vec<Option<DirectReceiver>>,
    /// Whether some link had moved on at the start (the party restarted).
    resumed: bool,
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
        if party.resumed {
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
        party.install(seal);
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
        let me = config.party;
        if me >= parties {
            return Err(HttpError::Setup(format!(
                "party {me} is not in a table of {parties} parties"
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
            me,
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
        let client = options.client.http_client()?;
        // Dropped on failure: the endpoint stops, the peers hear goodbye.
        let mut common = Common {
            me,
            client,
            peers,
            inbox,
            epochs: vec![0; parties],
            options,
            stop,
            sent: Mutex::new(vec![0; parties]),
            said_goodbye: AtomicBool::new(false),
            sealed: AtomicBool::new(false),
        };
        let next_send = join_peers(&mut common).await?;
        *common
            .sent
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next_send.clone();
        start_heartbeats(&common);
        let common = Arc::new(common);
        Ok(Self {
            senders: (0..parties)
                .map(|p| {
                    let next = next_send.get(p).copied().unwrap_or_default();
                    (p != me).then(|| DirectSender::new(p, Arc::clone(&common), next))
                })
                .collect(),
            receivers: (0..parties)
                .map(|p| (p != me).then(|| DirectReceiver::new(p, Arc::clone(&common))))
                .collect(),
            resumed: next_send.iter().any(|&n| n > 0),
            common,
        })
    }

    /// Seals every half with its peer's keys.
    fn install(&mut self, seal: SealState) {
        for (p, send, recv) in seal.into_peers() {
            if let Some(Some(sender)) = self.senders.get_mut(p) {
                sender.install(send);
            }
            if let Some(Some(receiver)) = self.receivers.get_mut(p) {
                receiver.install(recv);
            }
        }
        self.common.sealed.store(true, Ordering::Relaxed);
    }

    /// Whether chunks are sealed end to end (false only after
    /// [`start_plaintext_insecure`](Self::start_plaintext_insecure)).
    pub fn is_sealed(&self) -> bool {
        self.common.sealed.load(Ordering::Relaxed)
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.common.me
    }

    /// The number of parties.
    pub fn parties(&self) -> usize {
        self.common.peers.len()
    }

    /// Waits until every peer's endpoint stored everything sent (as `flush`),
    /// then says goodbye to each and waits for them to take it: their
    /// receives from this party fail at once with `PeerGone` ("closed its
    /// channel") after everything it sent, and their sends to it too.
    /// Dropping the channel says goodbye as well, in the background (best
    /// effort; otherwise the peers notice the silence after `peer_gone_after`).
    pub async fn close(mut self) -> Result<(), HttpError> {
        let flushed = self.flush().await;
        let goodbyes = self.common.goodbyes();
        self.common.said_goodbye.store(true, Ordering::Relaxed);
        futures::future::join_all(goodbyes).await;
        flushed
    }

    fn sender(&mut self, p: usize) -> Result<&mut DirectSender, HttpError> {
        check_peer(self.common.me, p, self.common.peers.len())?;
        self.senders
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or_else(|| crate::TransportError::Closed { party: p }.into())
    }

    fn receiver(&mut self, p: usize) -> Result<&mut DirectReceiver, HttpError> {
        check_peer(self.common.me, p, self.common.peers.len())?;
        self.receivers
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or_else(|| crate::TransportError::Closed { party: p }.into())
    }
}

/// Asks every peer's endpoint where this party's link to it stands (all at
/// once, each retried until the peer's endpoint is up or the retry policy
/// gives up): a party that restarted resumes its numbering, and its earlier
/// process is refused from then on. Fills in the epochs; returns the next
/// number to send to each peer.
async fn join_peers(common: &mut Common) -> Result<Vec<u64>, HttpError> {
    let (me, retry, timeout) = (
        common.me,
        common.options.client.retry,
        common.options.client.request_timeout,
    );
    let client = &common.client;
    let joining = common
        .peers
        .iter()
        .enumerate()
        .filter(|&(p, _)| p != me)
        .map(|(p, (base, auth))| async move {
            let mut peer = ReqwestServer::new(client, base, Some(auth), timeout);
            let op = Setup::direct_join(base, me, retry).for_party(p);
            (p, exchange(&mut peer, op).await)
        });
    let mut next_send = vec![0; common.peers.len()];
    for (p, joined) in futures::future::join_all(joining).await {
        let position = joined?;
        if let (Some(next), Some(epoch)) = (next_send.get_mut(p), common.epochs.get_mut(p)) {
            *next = position.next;
            *epoch = position.epoch;
        }
    }
    Ok(next_send)
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
        self.sender(p)?.send(msg, info).await
    }

    /// Waits until every peer's endpoint stored every chunk sent so far.
    async fn flush(&mut self) -> Result<(), HttpError> {
        for sender in self.senders.iter_mut().flatten() {
            sender.flush().await?;
        }
        Ok(())
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        self.receiver(p)?.recv(info).await
    }

    /// The body limit less the frame footer and, when sealed, what sealing adds.
    fn chunk_size(&self) -> usize {
        self.common.chunk_size()
    }

    fn max_message_size(&self) -> usize {
        self.common.options.client.max_message_size
    }
}

/// Per-peer halves that run at the same time; the endpoint stops and the
/// goodbyes go when the last of them is dropped.
impl Split for DirectChannel {
    type Sender = DirectSender;
    type Receiver = DirectReceiver;

    fn split(self) -> Peers<DirectSender, DirectReceiver> {
        let (me, parties) = (self.common.me, self.common.peers.len());
        let (chunk_size, max) = (
            self.common.chunk_size(),
            self.common.options.client.max_message_size,
        );
        Peers::from_slots(me, parties, chunk_size, max, self.senders, self.receivers)
    }
}

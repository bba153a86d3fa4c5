//! One party of a relay session, written once for every HTTP client: the
//! [`Channel`] implementation that seals chunks end to end (channel-seal),
//! turns sends into [`ops::Post`]s and receives into [`ops::Poll`]s, generic
//! over the [`Client`] that performs them. `channel_http::HttpChannel` is this party on reqwest,
//! `channel_wasm::WasmChannel` the same party on the browser's fetch.

mod halves;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_core::asynchronous::{Peers, Split};
use channel_core::{Channel, RecvInfo, SendInfo};
use futures::channel::oneshot;

use channel_seal::{Invitation, PartyKey, PublicKey, SealState};

use self::halves::Common;
pub use self::halves::{RelayReceiver, RelaySender};
use crate::exchange::{Http, exchange};
use crate::ops::{self, Operation, PollTiming, Request, Setup};
use crate::protocol::{SessionCreated, alive_path, base_url};
use crate::socket::{RelayTransport, SocketCore, SocketLink};
use crate::{HttpError, Joined, RetryPolicy};

/// What every relay party is told, whatever its client.
#[derive(Debug, Clone, Copy)]
pub struct PartySettings {
    /// How receives wait and retry (sends retry with `timing.retry` too).
    pub timing: PollTiming,
    /// The largest message the `channel_core` helpers send or accept.
    pub max_message_size: usize,
    /// WebSocket, long-poll, or the WebSocket where it can be opened.
    pub transport: RelayTransport,
}

impl PartySettings {
    /// Settings from their parts.
    pub fn new(
        recv_timeout: Duration,
        poll_wait: Duration,
        retry: RetryPolicy,
        max_message_size: usize,
        transport: RelayTransport,
    ) -> Self {
        Self {
            timing: PollTiming {
                recv_timeout,
                poll_wait,
                retry,
            },
            max_message_size,
            transport,
        }
    }
}

/// A client's options, which hold the [`PartySettings`] among others.
pub trait PartyOptions: Clone {
    /// The settings of a party.
    fn settings(&self) -> PartySettings;
}

/// Implements [`PartyOptions`] for an options struct that has the fields
/// `recv_timeout`, `poll_wait`, `retry`, `max_message_size` and `transport`,
/// as every relay client's options do.
///
/// ```
/// use std::time::Duration;
/// use channel_http_proto::RetryPolicy;
/// use channel_http_proto::party::PartyOptions;
/// use channel_http_proto::socket::RelayTransport;
///
/// #[derive(Clone)]
/// struct MyOptions {
///     recv_timeout: Duration,
///     poll_wait: Duration,
///     retry: RetryPolicy,
///     max_message_size: usize,
///     transport: RelayTransport,
///     user_agent: String,
/// }
/// channel_http_proto::party_options!(MyOptions);
///
/// let o = MyOptions { recv_timeout: Duration::from_secs(9), poll_wait: Duration::from_secs(1),
///     retry: RetryPolicy::default(), max_message_size: 1 << 20,
///     transport: RelayTransport::Auto, user_agent: "me".into() };
/// assert_eq!(o.settings().timing.recv_timeout, Duration::from_secs(9));
/// ```
#[macro_export]
macro_rules! party_options {
    ($options:ty) => {
        impl $crate::party::PartyOptions for $options {
            fn settings(&self) -> $crate::party::PartySettings {
                $crate::party::PartySettings::new(
                    self.recv_timeout,
                    self.poll_wait,
                    self.retry,
                    self.max_message_size,
                    self.transport,
                )
            }
        }
    };
}

/// An HTTP client library, as far as a relay party needs one.
pub trait Client: Sized {
    /// What the client can be told (timeouts, retries, trusted roots, ...).
    type Options: PartyOptions;
    /// The client performing requests, borrowed for one operation.
    type Http<'a>: Http
    where
        Self: 'a;

    /// A client for the relay at `base` (no trailing slash) that authenticates
    /// every request with the bearer `token`, if any.
    fn new(base: &str, token: Option<&str>, options: &Self::Options) -> Result<Self, HttpError>;

    /// The client, ready for one operation.
    fn http(&self) -> Self::Http<'_>;

    /// What keeps a heartbeat going: the heartbeat stops when it is dropped.
    type Heartbeat;

    /// Starts making `request` every `every` in the background (answers are
    /// not waited for; failures are ignored, the next beat tries again), until
    /// the returned value is dropped. `None` where the client cannot run
    /// anything in the background.
    fn heartbeat(&self, request: Request, every: Duration) -> Option<Self::Heartbeat>;

    /// Whether [`start`](Self::start) runs operations in the background. A
    /// party whose client cannot has one request at a time.
    fn background(&self) -> bool;

    /// Makes `request` once in the background, without waiting for it (the
    /// goodbye of a party that is going away). Best effort: where nothing can
    /// run in the background, or the request fails, the relay notices the
    /// party's silence after its `peer_gone_after` instead.
    fn goodbye(&self, request: Request);

    /// Runs `op` to its end in the background and sends its result on
    /// `done`. With `abandon`, it stops early once `done`'s receiver is
    /// dropped (a poll nobody waits for); without, it runs to its end anyway
    /// (a send the application was told is on its way).
    fn start<O>(&self, op: O, done: Done<O::Output>, abandon: bool)
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static;

    /// Whether work started in the background (a WebSocket's driver) goes on
    /// after the party is dropped, so that it can still write the goodbye:
    /// natively while a tokio runtime runs, in a browser always.
    fn keeps_running(&self) -> bool {
        self.background()
    }

    /// Opens the relay's WebSocket for the party `joined` describes and
    /// drives `link` over it in the background; returns once the relay
    /// welcomed the socket, or why it could not be opened (the party then
    /// falls back to the HTTP routes, unless told to use the WebSocket only).
    /// With `insist` (the WebSocket only), network failures of the first
    /// connection are retried as any request's; without, the first failure
    /// is the answer. A client without WebSocket support keeps this default.
    #[allow(async_fn_in_trait)] // No `Send` bound on purpose, as in `Http`.
    async fn open_socket(
        &self,
        joined: &Joined,
        link: SocketLink,
        insist: bool,
    ) -> Result<(), HttpError> {
        let _ = (joined, link, insist);
        Err(HttpError::Setup(
            "this client has no WebSocket support".into(),
        ))
    }
}

/// Where a background operation reports its end.
pub type Done<T> = oneshot::Sender<Result<T, HttpError>>;

/// Sends in flight per peer, at most, with chunks of [`RELAYED_CHUNK`]: a
/// request's round trip costs no idle time while the others are on the wire,
/// for paths to the relay of up to 3 MiB in flight (500 Mbit/s at 50 ms round
/// trip, 100 Mbit/s at 250 ms), and few enough that the first chunks of a
/// message reach the relay soon (the relay forwards a chunk once all of it is
/// in, and uploads side by side share the path, so the path down idles until
/// the first of them is complete). Well within what the relay holds ahead of
/// a gap ([`MAX_AHEAD`](crate::protocol::MAX_AHEAD)).
pub const SENDS_IN_FLIGHT: usize = 4;

/// The chunk size of a party with requests in flight (at most the relay's
/// limit); see [`SENDS_IN_FLIGHT`].
pub const RELAYED_CHUNK: usize = 1 << 20;

/// Receives in flight per peer (long-polls for the next messages), at most.
pub const POLLS_AHEAD: usize = 4;

/// One party of a relay session on the HTTP client `C`, implementing the
/// async [`Channel`], sealed end to end by default.
///
/// The flow: each party makes its key ([`PartyKey::generate`]) and gives its
/// public key to the application that coordinates the session; the
/// application [`invite`](Self::invite)s them (creating the session on the
/// relay) and hands party `i` invitation `i`; each party
/// [`join`](Self::join)s with its invitation and its own key. Joining runs a
/// handshake with every other party (channel-seal's Noise KK), so it returns
/// once all of them have joined (within the receive timeout), and from then on
/// the relay sees only sizes, timing and who talks to whom: it can neither read
/// nor forge, replay, reorder or drop a chunk unnoticed.
/// [`join_plaintext_insecure`](Self::join_plaintext_insecure) is the explicit
/// opt-out, for relays you trust with everything.
///
/// With a client that runs requests in the background ([`Client::background`],
/// the native one), up to [`SENDS_IN_FLIGHT`] sends and [`POLLS_AHEAD`]
/// long-polls per peer are in flight, so that a long path stays busy: a send
/// returns once its request is under way, a failure is reported by a later
/// send or by [`flush`](Channel::flush), and the relay holds chunks that
/// overtake each other until the ones before them arrive. Otherwise (the
/// browser) one request at a time, and a send returns once the relay stored
/// the chunk. Sends never wait for the peer to read (as long as the relay's
/// per-session bound holds a round's traffic). Every request is retried on
/// network failures and on `429`/`502`/`503`/`504` with capped exponential
/// backoff and jitter; sequence numbers make the retries exactly-once. A
/// receive waits until the message arrives, up to the options' receive
/// timeout.
#[derive(Debug)]
pub struct RelayParty<C: Client> {
    /// What the halves share (the goodbye goes when the last one is dropped).
    common: Arc<Common<C>>,
    /// Per peer, the sending half (`None` for the party itself).
    senders: Vec<Option<RelaySender<C>>>,
    /// Per peer, the receiving half (`None` for the party itself).
    receivers: Vec<Option<RelayReceiver<C>>>,
}

impl<C: Client> RelayParty<C> {
    /// Creates a session of `parties` parties on the relay at `relay_url`; the
    /// answer holds one token per party. `operator_token` is needed when the
    /// relay was started with one. [`invite`](Self::invite) does this and
    /// makes the invitations.
    pub async fn create_session(
        relay_url: &str,
        parties: usize,
        operator_token: Option<&str>,
        options: &C::Options,
    ) -> Result<SessionCreated, HttpError> {
        let base = base_url(relay_url)?;
        let client = C::new(&base, operator_token, options)?;
        let retry = options.settings().timing.retry;
        exchange(
            &mut client.http(),
            Setup::create_session(&base, parties, retry)?,
        )
        .await
    }

    /// Creates a session on the relay at `relay_url` for the parties whose
    /// public keys are `keys` (party `i` holds `keys[i]`) and returns each
    /// party's invitation, to hand to it privately.
    pub async fn invite(
        relay_url: &str,
        keys: &[PublicKey],
        operator_token: Option<&str>,
        options: &C::Options,
    ) -> Result<Vec<Invitation>, HttpError> {
        let created = Self::create_session(relay_url, keys.len(), operator_token, options).await?;
        let relay = base_url(relay_url)?;
        Ok(created
            .tokens
            .into_iter()
            .enumerate()
            .map(|(party, token)| Invitation {
                relay: relay.clone(),
                session: created.session.clone(),
                party,
                token,
                keys: keys.to_vec(),
            })
            .collect())
    }

    /// Joins the session of `invitation` as its party, holding `key`, and runs
    /// the handshakes with every other party: returns once all have joined,
    /// or fails with a typed error naming the party whose key does not check
    /// out.
    pub async fn join(
        invitation: &Invitation,
        key: &PartyKey,
        options: &C::Options,
    ) -> Result<Self, HttpError> {
        let invitation = invitation.clone().checked()?;
        let mut party = Self::join_plaintext_insecure(
            &invitation.relay,
            &invitation.session,
            &invitation.token,
            options,
        )
        .await?;
        let (me, parties) = (party.common.joined.me, party.common.joined.parties);
        if party.common.joined.resumes() {
            // Its keys went with the process that joined first: the peers'
            // streams from it cannot be opened again. Tell them at once.
            channel_seal::refuse(&mut party, me, parties).await;
            return Err(HttpError::Setup(format!(
                "party {me} was in this sealed session before (did its process restart?): a sealed \
                 session cannot resume after a restart, because the keys of the first join are \
                 gone; start a new session"
            )));
        }
        if me != invitation.party || parties != invitation.keys.len() {
            // The peers would wait for this party's handshakes: tell them.
            channel_seal::refuse(&mut party, me, parties).await;
            return Err(HttpError::Setup(format!(
                "the relay says this token is party {me} of {parties}, the invitation party {} of {}",
                invitation.party,
                invitation.keys.len()
            )));
        }
        let seal = channel_seal::handshake(
            &mut party,
            me,
            key,
            &invitation.keys,
            invitation.session.as_bytes(),
        )
        .await?;
        party.install(seal);
        Ok(party)
    }

    /// Joins `session` as the party that `token` belongs to **without
    /// sealing**: the relay's operator (and whoever terminates its TLS) reads
    /// every chunk and can alter, replay or inject chunks as any party. Only
    /// for relays trusted with everything, and for measuring what sealing costs.
    pub async fn join_plaintext_insecure(
        relay_url: &str,
        session: &str,
        token: &str,
        options: &C::Options,
    ) -> Result<Self, HttpError> {
        let base = base_url(relay_url)?;
        let client = C::new(&base, Some(token), options)?;
        let retry = options.settings().timing.retry;
        let joined = exchange(&mut client.http(), Setup::join(&base, session, retry)).await?;
        let settings = options.settings();
        let socket = match settings.transport {
            RelayTransport::LongPoll => None,
            transport => {
                let core = SocketCore::new(
                    joined.me,
                    &joined.next_send,
                    &joined.next_recv,
                    joined.max_body,
                    crate::socket::DEFAULT_WINDOW,
                );
                let link = SocketLink::new(core);
                let insist = transport == RelayTransport::WebSocket;
                match client.open_socket(&joined, link.clone(), insist).await {
                    Ok(()) => Some(link),
                    Err(e) if transport == RelayTransport::Auto => {
                        tracing::info!(error = %e, "no WebSocket to the relay; using long-polls");
                        None
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        // An open socket tells the relay the party is alive.
        let beats = if socket.is_some() {
            None
        } else {
            joined.heartbeat
        };
        let heartbeat = beats.and_then(|every| {
            let beat = Request {
                method: ops::Method::Post,
                path: alive_path(&joined.session),
                body: None,
                wait: Duration::ZERO,
                headers: joined.headers(),
            };
            client.heartbeat(beat, every)
        });
        let parties = joined.parties;
        let me = joined.me;
        let common = Arc::new(Common {
            client,
            sent: Mutex::new(joined.next_send.clone()),
            joined,
            settings: options.settings(),
            socket,
            _heartbeat: heartbeat,
            left: AtomicBool::new(false),
            sealed: AtomicBool::new(false),
        });
        let half = |p: usize| p != me;
        Ok(Self {
            senders: (0..parties)
                .map(|p| half(p).then(|| RelaySender::new(p, Arc::clone(&common))))
                .collect(),
            receivers: (0..parties)
                .map(|p| half(p).then(|| RelayReceiver::new(p, Arc::clone(&common))))
                .collect(),
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

    /// Waits until the relay stored everything sent (as `flush`), then says
    /// goodbye and waits for the relay to take it: the peers' receives from
    /// this party fail at once with `PeerGone` ("closed its channel") after
    /// everything it sent. Dropping the party says goodbye too, in the
    /// background (best effort: a runtime that ends right after the drop may
    /// not send it; then the relay notices the silence after its
    /// `peer_gone_after`).
    pub async fn close(mut self) -> Result<(), HttpError> {
        let flushed = self.flush().await;
        let common = Arc::clone(&self.common);
        common.left.store(true, Ordering::Relaxed);
        if let Some(link) = &common.socket {
            link.with(SocketCore::leave);
            // Best effort, as in a drop: the relay notices silence otherwise.
            let mut http = common.client.http();
            let wait = http.sleep(Duration::from_secs(5));
            let _ = link.wait(wait, |core| Ok(core.left().then_some(()))).await;
            return flushed;
        }
        let leave = common.leave_request()?;
        let mut http = common.client.http();
        // Best effort, as in a drop: the relay notices silence otherwise.
        match http.perform(leave).await {
            Ok(answer) => {
                let status = http.head(&answer).status;
                if !(200..300).contains(&status) {
                    tracing::debug!(status, "the relay did not take the goodbye");
                }
            }
            Err(e) => tracing::debug!(?e, "the goodbye did not reach the relay"),
        }
        flushed
    }

    /// How this party's chunks travel: [`RelayTransport::WebSocket`] or
    /// [`RelayTransport::LongPoll`] (never `Auto`: the choice is made at join).
    pub fn transport(&self) -> RelayTransport {
        if self.common.socket.is_some() {
            RelayTransport::WebSocket
        } else {
            RelayTransport::LongPoll
        }
    }

    /// This party's index (from its token).
    pub fn party(&self) -> usize {
        self.common.joined.me
    }

    /// The number of parties in the session.
    pub fn parties(&self) -> usize {
        self.common.joined.parties
    }

    /// The session id.
    pub fn session(&self) -> &str {
        &self.common.joined.session
    }

    /// The session's state as the relay answered the join: limits, and the
    /// message numbers the party started from.
    pub fn joined(&self) -> &Joined {
        &self.common.joined
    }

    /// Whether chunks are sealed end to end (false only after
    /// [`join_plaintext_insecure`](Self::join_plaintext_insecure)).
    pub fn is_sealed(&self) -> bool {
        self.common.sealed.load(Ordering::Relaxed)
    }

    /// The cipher agreed with party `p`, when sealed.
    pub fn suite(&self, p: usize) -> Option<channel_seal::Suite> {
        self.senders.get(p)?.as_ref()?.suite()
    }

    fn sender(&mut self, p: usize) -> Result<&mut RelaySender<C>, HttpError> {
        // A bad peer is the transport's error, as without sealing.
        channel_core::transport::check_peer(self.common.joined.me, p, self.common.joined.parties)?;
        self.senders
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or(crate::joined::closed(p))
    }

    fn receiver(&mut self, p: usize) -> Result<&mut RelayReceiver<C>, HttpError> {
        channel_core::transport::check_peer(self.common.joined.me, p, self.common.joined.parties)?;
        self.receivers
            .get_mut(p)
            .and_then(Option::as_mut)
            .ok_or(crate::joined::closed(p))
    }
}

impl<C: Client> Channel for RelayParty<C> {
    type SendError = HttpError;
    type RecvError = HttpError;

    /// With a client that runs requests in the background (the native one),
    /// returns once the chunk's request is under way, with up to
    /// [`SENDS_IN_FLIGHT`] per peer: a failure is reported by a later send
    /// or by [`flush`](Channel::flush), and from then on every send to that
    /// peer fails ([`HttpError::Undelivered`]). Otherwise returns once the
    /// relay stored the chunk.
    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), HttpError> {
        self.sender(p)?.send(msg, info).await
    }

    async fn recv_bytes_from(&mut self, p: usize, info: RecvInfo) -> Result<Vec<u8>, HttpError> {
        self.receiver(p)?.recv(info).await
    }

    /// Waits until the relay stored every chunk sent so far.
    async fn flush(&mut self) -> Result<(), HttpError> {
        for sender in self.senders.iter_mut().flatten() {
            sender.flush().await?;
        }
        Ok(())
    }

    /// The relay's body limit (at most [`RELAYED_CHUNK`] with requests in
    /// flight) less the frame footer and, when sealed, what sealing adds.
    fn chunk_size(&self) -> usize {
        self.common.chunk_size()
    }

    fn max_message_size(&self) -> usize {
        self.common.settings.max_message_size
    }
}

/// Per-peer halves that run at the same time; the goodbye goes when the
/// last of them is dropped.
impl<C: Client> Split for RelayParty<C> {
    type Sender = RelaySender<C>;
    type Receiver = RelayReceiver<C>;

    fn split(self) -> Peers<RelaySender<C>, RelayReceiver<C>> {
        let (me, parties) = (self.common.joined.me, self.common.joined.parties);
        let (chunk_size, max) = (
            self.common.chunk_size(),
            self.common.settings.max_message_size,
        );
        Peers::from_slots(me, parties, chunk_size, max, self.senders, self.receivers)
    }
}

//! The relay's WebSocket route (API 1.4, `API.md` § WebSocket): one
//! connection per party carrying its chunks both ways, over the same session
//! store as the HTTP routes, so WebSocket and long-poll parties mix in one
//! session.
//!
//! Each socket runs a reader and a writer side by side, so that neither
//! direction ever waits for the other (a writer blocked on a client that does
//! not read would otherwise stop the reader, and with it the
//! acknowledgements that let the client read again). The reader files data
//! and acknowledgements in the session; what it has to answer (stored, full,
//! refused) it leaves in [`Notices`], which the writer sends, latest first
//! and coalesced, so a client cannot make the relay queue answers.
//! The writer delivers chunks from the store within the client's window.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use channel_core::transport::seq::Arrival;
use channel_http_proto::socket::wire::{
    DATA_HEADER, Frame, Hello, PeerState, SUBPROTOCOL, Welcome, data_header,
};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::Notify;

use super::Relay;
use super::metrics::Route;
use super::session::{Liveness, PeerView, View};
use super::sessions::{SessionRef, StoreError};
use crate::api_error::ApiError;
use crate::store::PushError;

/// How long a new socket has to send its hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the relay pings a socket (and looks at its peers' states), at
/// most; a quarter of the silence bound if that is shorter.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long the last words (a close frame) to a client may take.
const CLOSING: Duration = Duration::from_secs(5);

/// A socket silent for the relay's `peer_gone_after` (not even a pong), or
/// that does not read for as long, is closed: that party is gone.
fn silence_bound(relay: &Relay) -> Duration {
    relay.config().peer_gone_after
}

fn ping_every(relay: &Relay) -> Duration {
    (silence_bound(relay) / 4).clamp(Duration::from_millis(10), PING_EVERY)
}

/// Writes `message` into `sink`, failing once the client has read nothing
/// for `stall` (it cannot make the relay wait on it for longer).
async fn put(
    sink: &mut SplitSink<WebSocket, Message>,
    message: Message,
    stall: Duration,
) -> Result<(), Close> {
    match tokio::time::timeout(stall, sink.feed(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(close(code::GOING_AWAY, "the socket ended")),
        Err(_) => Err(close(
            code::TIMEOUT,
            format!("the client read nothing for {} s", stall.as_secs_f32()),
        )),
    }
}

/// Writes out what was [`put`], with the same bound.
async fn flush(sink: &mut SplitSink<WebSocket, Message>, stall: Duration) -> Result<(), Close> {
    match tokio::time::timeout(stall, sink.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(close(code::GOING_AWAY, "the socket ended")),
        Err(_) => Err(close(
            code::TIMEOUT,
            format!("the client read nothing for {} s", stall.as_secs_f32()),
        )),
    }
}
/// When a client whose chunk did not fit should send again.
const FULL_RETRY_MS: u32 = 100;
/// Chunks delivered per peer before the writer looks at everything else again.
const DELIVERIES_PER_PASS: usize = 8;

/// Close codes: 4000 plus the HTTP status of the same refusal.
mod code {
    pub const BAD_FRAME: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const NO_SESSION: u16 = 4404;
    pub const TIMEOUT: u16 = 4408;
    pub const SUPERSEDED: u16 = 4409;
    pub const REPLACED: u16 = 4412;
    pub const BAD_NUMBER: u16 = 4422;
    pub const GOING_AWAY: u16 = 1001;
    /// The session store is unavailable for now: reconnect later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// A reason to close the socket.
#[derive(Debug)]
struct Close {
    code: u16,
    reason: String,
}

impl From<StoreError> for Close {
    fn from(e: StoreError) -> Self {
        close(code::TRY_AGAIN_LATER, e.to_string())
    }
}

fn close(code: u16, reason: impl Into<String>) -> Close {
    Close {
        code,
        reason: reason.into(),
    }
}

/// `GET /v1/sessions/{session}/socket`: the WebSocket upgrade.
pub(super) async fn upgrade(
    State(relay): State<Relay>,
    Path(id): Path<String>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let session = super::handlers::find_session(&relay, &id).await?;
    // A data frame is a chunk and its header; the hello is far smaller.
    let limit = relay.config().max_body + DATA_HEADER;
    Ok(ws
        .protocols([SUBPROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            serve(relay, id, session, socket).await;
        }))
}

async fn serve(relay: Relay, id: String, session: SessionRef, mut socket: WebSocket) {
    let opened =
        match tokio::time::timeout(HELLO_TIMEOUT, open(&relay, &session, &mut socket)).await {
            Ok(opened) => opened,
            Err(_) => Err(close(
                code::TIMEOUT,
                format!("no hello within {} s", HELLO_TIMEOUT.as_secs()),
            )),
        };
    let peer = match opened {
        Ok(peer) => peer,
        Err(why) => {
            relay.metrics().socket_closed(why.code);
            tracing::info!(session = %id, code = why.code, reason = %why.reason, "socket refused");
            let _ = tokio::time::timeout(CLOSING, socket.send(close_message(why))).await;
            return;
        }
    };
    tracing::info!(session = %id, party = peer.me, "socket open");
    let (mut sink, stream) = socket.split();
    let notices = Notices::new(session.parties());
    let ended = {
        let live = Live {
            relay: &relay,
            id: &id,
            session: &session,
        };
        let reading = read(&live, &peer, &notices, stream);
        let writing = write(&live, &peer, &notices, &mut sink);
        tokio::select! {
            ended = reading => ended,
            ended = writing => ended,
        }
    };
    if let Err(e) = session.polling(peer.me, false).await {
        tracing::warn!(session = %id, party = peer.me, "a socket's end was not recorded: {e}");
    }
    match ended {
        Ok(()) => tracing::info!(session = %id, party = peer.me, "socket closed"),
        Err(why) => {
            relay.metrics().socket_closed(why.code);
            tracing::info!(session = %id, party = peer.me, code = why.code, reason = %why.reason, "socket closed by the relay");
            let _ = tokio::time::timeout(CLOSING, sink.send(close_message(why))).await;
        }
    }
}

fn close_message(why: Close) -> Message {
    // A close reason is at most 123 bytes.
    let mut reason = why.reason;
    if reason.len() > 120 {
        let mut end = 120;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    Message::Close(Some(CloseFrame {
        code: why.code,
        reason: Utf8Bytes::from(reason),
    }))
}

/// The session a socket serves, on its relay.
struct Live<'a> {
    relay: &'a Relay,
    id: &'a str,
    session: &'a SessionRef,
}

impl Live<'_> {
    /// What the socket of `peer` looks at now, in one read of the store;
    /// fails once the session was deleted or expired under the socket, or
    /// the party joined again or opened a newer socket.
    async fn view(&self, peer: &Peer) -> Result<View, Close> {
        let gone_after = self.relay.config().peer_gone_after;
        let (live, view) = self
            .relay
            .sessions()
            .view(self.id, self.session, peer.me, gone_after)
            .await?;
        if !live {
            return Err(close(
                code::NO_SESSION,
                format!("session '{}' was deleted or expired", self.id),
            ));
        }
        current(&view, peer)?;
        Ok(view)
    }
}

/// An authenticated socket: whose, of which join, and where delivery starts.
struct Peer {
    me: usize,
    epoch: u64,
    socket: u64,
    receive_from: Vec<u64>,
    window: usize,
}

/// Reads and checks the hello, answers the welcome.
async fn open(relay: &Relay, session: &SessionRef, socket: &mut WebSocket) -> Result<Peer, Close> {
    let text = loop {
        match socket.recv().await {
            Some(Ok(Message::Text(text))) => break text,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(_)) => {
                return Err(close(
                    code::UNAUTHORIZED,
                    "the first frame must be the hello (text)",
                ));
            }
            Some(Err(_)) | None => {
                return Err(close(code::BAD_FRAME, "the socket ended before its hello"));
            }
        }
    };
    let hello: Hello = serde_json::from_str(text.as_str()).map_err(|e| {
        close(
            code::BAD_FRAME,
            format!("the hello is not JSON of the API: {e}"),
        )
    })?;
    let me = session.party_of(&hello.token).await?.ok_or_else(|| {
        close(
            code::FORBIDDEN,
            "the token belongs to no party of this session",
        )
    })?;
    let n = session.parties();
    if hello.receive_from.len() != n || hello.acked.len() != n {
        return Err(close(
            code::BAD_FRAME,
            format!("the hello must count for each of the {n} parties"),
        ));
    }
    let epoch = session.epoch(me).await?;
    if epoch != hello.epoch {
        return Err(close(
            code::REPLACED,
            format!(
                "party {me} joined again (join {epoch}); this socket is of join {}",
                hello.epoch
            ),
        ));
    }
    for p in (0..n).filter(|&p| p != me) {
        let (acked, from) = (hello.acked[p], hello.receive_from[p]);
        let (oldest, next) = (
            session.oldest_on(p, me).await?,
            session.next_on(p, me).await?,
        );
        if acked > from || from > next.max(acked) {
            return Err(close(
                code::BAD_NUMBER,
                format!(
                    "the hello asks party {p}'s chunks from {from}, acknowledged below {acked}; the relay has {oldest}..{next}"
                ),
            ));
        }
        session.ack(p, me, acked).await?.map_err(|e| {
            close(
                code::BAD_NUMBER,
                format!("acknowledgement of party {p}'s chunks: {e}"),
            )
        })?;
        if from < session.oldest_on(p, me).await? {
            return Err(close(
                code::BAD_NUMBER,
                format!(
                    "party {p}'s chunks below {oldest} were acknowledged already; the hello asks from {from}"
                ),
            ));
        }
    }
    let mut next_send = Vec::with_capacity(n);
    for p in 0..n {
        next_send.push(session.next_on(me, p).await?);
    }
    let welcome = Welcome {
        next_send,
        max_body: relay.config().max_body,
    };
    let welcome = serde_json::to_string(&welcome)
        .map_err(|e| close(code::BAD_FRAME, format!("cannot encode the welcome: {e}")))?;
    socket
        .send(Message::Text(Utf8Bytes::from(welcome)))
        .await
        .map_err(|_| close(code::GOING_AWAY, "the socket ended"))?;
    // An open socket counts as a waiting long-poll: its party is alive.
    session.polling(me, true).await?;
    Ok(Peer {
        me,
        epoch: hello.epoch,
        socket: session.new_socket(me).await?,
        receive_from: hello.receive_from,
        window: usize::try_from(hello.window).unwrap_or(usize::MAX).max(1),
    })
}

/// What the reader leaves for the writer to answer, per peer.
struct Notices {
    inner: Mutex<Vec<PeerNotices>>,
    wake: Notify,
}

#[derive(Default, Clone)]
struct PeerNotices {
    /// The latest word on what is stored: `(next, full)`.
    stored: Option<(u64, bool)>,
    /// A refusal not yet sent.
    refused: Option<(u64, String)>,
    /// A full store was reported from this number: later chunks in flight are
    /// ignored until the client sends this one again.
    rewound_at: Option<u64>,
}

impl Notices {
    fn new(parties: usize) -> Self {
        Self {
            inner: Mutex::new(vec![PeerNotices::default(); parties]),
            wake: Notify::new(),
        }
    }

    fn update(&self, p: usize, f: impl FnOnce(&mut PeerNotices)) {
        if let Some(n) = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(p)
        {
            f(n);
        }
        self.wake.notify_one();
    }

    fn rewound_at(&self, p: usize) -> Option<u64> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.get(p).and_then(|n| n.rewound_at)
    }

    /// The frames to send now.
    fn take(&self) -> Vec<Vec<u8>> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut frames = Vec::new();
        for (p, n) in inner.iter_mut().enumerate() {
            let party = p as u32;
            if let Some((next, full)) = n.stored.take() {
                let frame: Frame<&[u8]> = if full {
                    Frame::Full {
                        party,
                        next,
                        retry_ms: FULL_RETRY_MS,
                    }
                } else {
                    Frame::Stored { party, next }
                };
                frames.push(frame.encode());
            }
            if let Some((seq, reason)) = n.refused.take() {
                frames.push(Frame::<&[u8]>::Refused { party, seq, reason }.encode());
            }
        }
        frames
    }
}

/// Fails once the party joined again, or opened a newer socket.
fn current(view: &View, peer: &Peer) -> Result<(), Close> {
    let me = peer.me;
    if view.epoch != peer.epoch {
        return Err(close(
            code::REPLACED,
            format!("party {me} joined again; this socket was replaced"),
        ));
    }
    if view.newest_socket != peer.socket {
        return Err(close(
            code::SUPERSEDED,
            "a newer socket of this party replaced this one",
        ));
    }
    Ok(())
}

fn peer_of(session: &SessionRef, me: usize, party: u32) -> Result<usize, Close> {
    usize::try_from(party)
        .ok()
        .filter(|&p| p < session.parties() && p != me)
        .ok_or_else(|| {
            close(
                code::BAD_FRAME,
                format!("party {party} is not a peer of party {me}"),
            )
        })
}

async fn read(
    live: &Live<'_>,
    peer: &Peer,
    notices: &Notices,
    mut stream: SplitStream<WebSocket>,
) -> Result<(), Close> {
    let (relay, session) = (live.relay, live.session);
    let me = peer.me;
    let max_body = relay.config().max_body;
    let hear_every = (silence_bound(relay) / 8).min(Duration::from_secs(1));
    let mut heard = None;
    // Bounded by the socket: each pass reads one frame or ends.
    loop {
        let silent_for = silence_bound(relay);
        let message = match tokio::time::timeout(silent_for, stream.next()).await {
            Err(_) => {
                return Err(close(
                    code::TIMEOUT,
                    format!("nothing heard for {} s", silent_for.as_secs_f32()),
                ));
            }
            Ok(None | Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return Ok(()),
            Ok(Some(Ok(message))) => message,
        };
        // Liveness is counted in seconds: saying so once in a while is enough
        // (each time is a write to the store).
        if heard.is_none_or(|at: tokio::time::Instant| at.elapsed() >= hear_every) {
            let _ = session.heard_from(me, None).await;
            heard = Some(tokio::time::Instant::now());
        }
        let bytes = match message {
            Message::Binary(bytes) => bytes,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Text(_) => return Err(close(code::BAD_FRAME, "a text frame after the hello")),
            Message::Close(_) => return Ok(()),
        };
        let frame =
            Frame::decode(&bytes, max_body).map_err(|e| close(code::BAD_FRAME, e.to_string()))?;
        match frame {
            Frame::Data { party, seq, .. } => {
                let view = live.view(peer).await?;
                let p = peer_of(session, me, party)?;
                let link = Link {
                    me,
                    p,
                    next: view.peers[p].next_from_me,
                    left: view.peers[p].left_after.is_some(),
                };
                data(
                    relay,
                    session,
                    notices,
                    link,
                    seq,
                    bytes.slice(DATA_HEADER..),
                )
                .await?;
            }
            Frame::Ack { party, next } => {
                let p = peer_of(session, me, party)?;
                session.ack(p, me, next).await?.map_err(|e| {
                    close(
                        code::BAD_NUMBER,
                        format!("acknowledgement of party {p}'s chunks: {e}"),
                    )
                })?;
                // The window opens: the writer may deliver more.
                notices.wake.notify_one();
            }
            Frame::Leave { sent } => {
                session
                    .leave(me, sent)
                    .await
                    .map_err(|e| close(code::BAD_FRAME, e.message))?;
                tracing::info!(party = me, "party said goodbye (socket)");
            }
            Frame::Deliver { .. }
            | Frame::Stored { .. }
            | Frame::Full { .. }
            | Frame::Peer { .. }
            | Frame::Refused { .. } => {
                return Err(close(code::BAD_FRAME, "a frame only the relay sends"));
            }
        }
    }
}

/// Files chunk `seq` from `me` to `p`.
/// The link a data frame travels on, as the socket's view shows it.
struct Link {
    /// The sender.
    me: usize,
    /// The receiver.
    p: usize,
    /// The number the link expects next.
    next: u64,
    /// Whether the receiver said goodbye.
    left: bool,
}

async fn data(
    relay: &Relay,
    session: &SessionRef,
    notices: &Notices,
    link: Link,
    seq: u64,
    chunk: Bytes,
) -> Result<(), Close> {
    let Link { me, p, next, left } = link;
    if left {
        notices.update(p, |n| {
            n.refused = Some((seq, format!("party {p} closed its channel (it left the session): nothing sent to it would be read")));
        });
        return Ok(());
    }
    if seq > next {
        // Chunks in flight after one that did not fit: the client sends them again.
        if notices.rewound_at(p).is_some() {
            return Ok(());
        }
        return Err(close(
            code::BAD_NUMBER,
            format!("chunk {seq} to party {p} came before chunk {next}"),
        ));
    }
    let len = chunk.len();
    match relay
        .timed("push", session.push_raw(me, p, seq, chunk))
        .await?
    {
        Ok(arrival) => {
            relay
                .metrics()
                .stored(Route::Socket, len, arrival == Arrival::Duplicate);
            // Everything below is stored: the chunk was the next one or a
            // resend of one before (a socket's chunks come in order).
            let stored = match arrival {
                Arrival::Next => next.max(seq + 1),
                Arrival::Duplicate => next,
            };
            notices.update(p, |n| {
                n.stored = Some((stored, false));
                n.rewound_at = None;
            });
        }
        Err(PushError::Full { .. } | PushError::RelayFull { .. }) => {
            relay.metrics().throttled(Route::Socket);
            notices.update(p, |n| {
                n.stored = Some((seq, true));
                n.rewound_at = Some(seq);
            });
        }
        Err(e @ (PushError::NeverFits { .. } | PushError::Conflict { .. })) => {
            let reason = e.answer("the session").message;
            notices.update(p, |n| n.refused = Some((seq, reason)));
        }
        Err(PushError::Seq(e)) => {
            return Err(close(
                code::BAD_NUMBER,
                format!("chunk {seq} to party {p}: {e}"),
            ));
        }
    }
    Ok(())
}

/// What a peer's state is, as a socket's view shows it.
fn peer_state(peer: &PeerView) -> PeerState {
    if let Some(sent) = peer.left_after {
        return PeerState::Left { sent };
    }
    match peer.liveness {
        Liveness::Gone(silent) => PeerState::Gone {
            silent_ms: silent.as_millis() as u64,
        },
        _ => PeerState::Alive,
    }
}

async fn write(
    live: &Live<'_>,
    peer: &Peer,
    notices: &Notices,
    sink: &mut SplitSink<WebSocket, Message>,
) -> Result<(), Close> {
    let (relay, session) = (live.relay, live.session);
    let (me, n) = (peer.me, session.parties());
    let stall = silence_bound(relay);
    let mut arrivals = session
        .arrivals(me)
        .await?
        .ok_or_else(|| close(code::BAD_FRAME, "no such party"))?;
    let mut next = peer.receive_from.clone();
    // Per peer: the chunks delivered and not yet acknowledged, with their sizes.
    let mut unacked: Vec<VecDeque<(u64, usize)>> = vec![VecDeque::new(); n];
    // A client that reconnects holds what an earlier socket delivered and it
    // has not acknowledged (from `acked` to `receive_from`): that fills its
    // window too, as one entry that goes once all of it is acknowledged.
    for p in (0..n).filter(|&p| p != me) {
        let acked = session.oldest_on(p, me).await?;
        if acked < next[p] {
            let held = session.bytes_between(p, me, acked, next[p]).await?;
            unacked[p].push_back((next[p] - 1, held));
        }
    }
    let mut told: Vec<Option<PeerState>> = vec![None; n];
    let mut shutdown = relay.shutdown_signal_receiver();
    let mut ping = tokio::time::interval(ping_every(relay));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Bounded by the socket: each pass sends what is due, then waits for a change.
    loop {
        // Registered before looking, so a notice between a look and the wait
        // is not missed (`arrivals` keeps track of its own changes).
        let woken = notices.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if relay.is_shutting_down() {
            return Err(close(code::GOING_AWAY, "the relay is shutting down"));
        }
        let view = live.view(peer).await?;
        for frame in notices.take() {
            put(sink, Message::Binary(Bytes::from(frame)), stall).await?;
        }
        for p in (0..n).filter(|&p| p != me) {
            let state = peer_state(&view.peers[p]);
            if told[p] != Some(state) && (told[p].is_some() || state != PeerState::Alive) {
                let frame: Frame<&[u8]> = Frame::Peer {
                    party: p as u32,
                    state,
                };
                put(sink, Message::Binary(Bytes::from(frame.encode())), stall).await?;
            }
            told[p] = Some(state);
        }
        let mut more = false;
        for p in (0..n).filter(|&p| p != me) {
            let oldest = view.peers[p].oldest_to_me;
            let window = &mut unacked[p];
            // Bounded by the acknowledged chunks.
            while window.front().is_some_and(|&(seq, _)| seq < oldest) {
                window.pop_front();
            }
            for _ in 0..DELIVERIES_PER_PASS {
                let used: usize = window.iter().map(|&(_, len)| len).sum();
                if used >= peer.window && !window.is_empty() {
                    break;
                }
                let Some(chunk) = relay.timed("chunk", session.chunk(p, me, next[p])).await? else {
                    break;
                };
                let mut frame = Vec::with_capacity(DATA_HEADER + chunk.len());
                frame.extend_from_slice(&data_header(true, p as u32, next[p]));
                frame.extend_from_slice(&chunk);
                put(sink, Message::Binary(Bytes::from(frame)), stall).await?;
                relay.metrics().delivered(Route::Socket, chunk.len());
                window.push_back((next[p], chunk.len()));
                next[p] += 1;
            }
            let used: usize = window.iter().map(|&(_, len)| len).sum();
            // (Chunks that arrived since the view wake `arrivals`.)
            more |= next[p] < view.peers[p].next_to_me && (used < peer.window || window.is_empty());
        }
        flush(sink, stall).await?;
        if more {
            continue;
        }
        tokio::select! {
            _ = arrivals.changed() => {}
            _ = &mut woken => {}
            _ = ping.tick() => {
                put(sink, Message::Ping(Bytes::new()), stall).await?;
                flush(sink, stall).await?;
            }
            _ = shutdown.changed() => {}
        }
    }
}

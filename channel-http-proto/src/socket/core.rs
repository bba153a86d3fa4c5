//! What a relay party decides about its WebSocket, with no socket in it: the
//! chunks kept until the relay stored them, what to write next, what an
//! arriving frame means, and what a send, receive or flush of the
//! application gets. The native and browser drivers move frames between a
//! real WebSocket and this state; the unit tests below drive it by hand.
//!
//! Exactly once, in both directions, across reconnects:
//! - a chunk is kept from its send until the relay says it is stored
//!   ([`Frame::Stored`]); a new connection's [`Welcome`] says where the relay
//!   stands, and writing resumes from there (go-back-N, also after
//!   [`Frame::Full`]);
//! - a delivered chunk is buffered until the application takes it, and only
//!   then acknowledged ([`Frame::Ack`]); a new connection's [`Hello`] asks
//!   for delivery after what is buffered.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use channel_core::transport::seq::{Retained, SeqError};
use web_time::Instant;

use super::wire::{DATA_HEADER, Frame, Hello, PeerState, Welcome, data_header};
use crate::{HttpError, TransportError};

/// Why the socket failed for good (every operation reports it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fatal {
    /// This party joined again elsewhere.
    Replaced(String),
    /// The relay refused the socket or broke the protocol.
    Protocol(String),
    /// The relay refused the socket for good; `status` is the HTTP status of
    /// the same refusal on the HTTP routes (the close code less 4000).
    Refused {
        /// The status.
        status: u16,
        /// The relay's reason.
        message: String,
    },
    /// Reconnecting went on for too long.
    GaveUp {
        /// Connections tried.
        attempts: u32,
        /// Time spent.
        waited: Duration,
        /// The last failure.
        last: String,
    },
}

/// The outcome of queueing a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// It is kept and will be written.
    Yes,
    /// The window to that peer is full: wait for the relay to store more.
    NoRoom,
}

#[derive(Debug)]
struct Outgoing {
    /// Whole data frames, kept until the relay stored them.
    kept: Retained<Bytes>,
    /// Payload bytes kept.
    kept_bytes: usize,
    /// The number of the next frame to write.
    written: u64,
    /// No writing before this (the relay was full).
    paused_until: Option<Instant>,
    /// The relay refused a chunk for good.
    refused: Option<String>,
}

#[derive(Debug)]
struct Incoming {
    /// The number of the next chunk the application takes.
    taken: u64,
    buffered: VecDeque<Bytes>,
    buffered_bytes: usize,
    /// The acknowledgement last written.
    acked: u64,
    state: PeerState,
}

/// The state of one party's WebSocket to the relay.
#[derive(Debug)]
pub struct SocketCore {
    me: usize,
    max_body: usize,
    window: usize,
    out: Vec<Outgoing>,
    inn: Vec<Incoming>,
    connected: bool,
    fatal: Option<Fatal>,
    /// The goodbye: counts per party, once asked for; `true` once written.
    leave: Option<(Vec<u64>, bool)>,
    /// Where the next data frame is looked for (peers take turns).
    turn: usize,
}

fn peer_index(p: u32, parties: usize, me: usize) -> Option<usize> {
    let p = usize::try_from(p).ok()?;
    (p < parties && p != me).then_some(p)
}

impl SocketCore {
    /// Party `me` of `parties`, resuming at `next_send`/`next_recv` (from the
    /// join), with chunks of up to `max_body` bytes and `window` bytes per peer
    /// in each direction between acknowledgements.
    pub fn new(
        me: usize,
        next_send: &[u64],
        next_recv: &[u64],
        max_body: usize,
        window: usize,
    ) -> Self {
        let out = next_send
            .iter()
            .map(|&n| Outgoing {
                kept: Retained::starting_at(n),
                kept_bytes: 0,
                written: n,
                paused_until: None,
                refused: None,
            })
            .collect();
        let inn = next_recv
            .iter()
            .map(|&n| Incoming {
                taken: n,
                buffered: VecDeque::new(),
                buffered_bytes: 0,
                acked: n,
                state: PeerState::Alive,
            })
            .collect();
        Self {
            me,
            max_body,
            window: window.max(1),
            out,
            inn,
            connected: false,
            fatal: None,
            leave: None,
            turn: 0,
        }
    }

    fn parties(&self) -> usize {
        self.out.len()
    }

    /// The opening frame of a new connection.
    pub fn hello(&self, token: &str, epoch: u64) -> Hello {
        Hello {
            token: token.to_string(),
            epoch,
            receive_from: self
                .inn
                .iter()
                .map(|i| i.taken + i.buffered.len() as u64)
                .collect(),
            acked: self.inn.iter().map(|i| i.taken).collect(),
            window: self.window as u64,
        }
    }

    /// A connection is up: the relay's `welcome` says what it stored.
    pub fn on_welcome(&mut self, welcome: &Welcome) -> Result<(), Fatal> {
        if welcome.next_send.len() != self.parties() {
            return Err(self.fail(Fatal::Protocol(format!(
                "the relay's welcome counts {} parties, the session has {}",
                welcome.next_send.len(),
                self.parties()
            ))));
        }
        for (p, &next) in welcome.next_send.iter().enumerate() {
            self.stored_below(p, next)?;
            if let Some(out) = self.out.get_mut(p) {
                out.written = next.max(out.kept.oldest());
                out.paused_until = None;
            }
        }
        for inn in &mut self.inn {
            // The hello acknowledged everything taken.
            inn.acked = inn.taken;
        }
        self.connected = true;
        Ok(())
    }

    /// The connection is gone; the driver reconnects.
    pub fn on_disconnect(&mut self) {
        self.connected = false;
    }

    /// Whether a connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Fails every operation from now on with `fatal`; returns it.
    pub fn fail(&mut self, fatal: Fatal) -> Fatal {
        self.connected = false;
        self.fatal.get_or_insert(fatal).clone()
    }

    /// Why the socket failed for good, if it did.
    pub fn fatal(&self) -> Option<&Fatal> {
        self.fatal.as_ref()
    }

    /// Acknowledges the kept chunks to `p` below `next`.
    fn stored_below(&mut self, p: usize, next: u64) -> Result<(), Fatal> {
        let Some(out) = self.out.get_mut(p) else {
            return Ok(());
        };
        match out.kept.ack_below(next) {
            Ok(_) => {
                out.kept_bytes = out.kept.iter().map(|(_, f)| f.len() - DATA_HEADER).sum();
                out.written = out.written.max(next);
                Ok(())
            }
            // An older answer than one seen already.
            Err(SeqError::Gone { .. }) => Ok(()),
            Err(e) => Err(self.fail(Fatal::Protocol(format!(
                "the relay says it stored chunks to party {p} that were never sent ({e})"
            )))),
        }
    }

    /// Takes in one binary frame from the relay.
    pub fn on_frame(&mut self, frame: &Bytes, now: Instant) -> Result<(), Fatal> {
        let parties = self.parties();
        let me = self.me;
        let decoded = match Frame::decode(frame, self.max_body) {
            Ok(f) => f,
            Err(e) => return Err(self.fail(Fatal::Protocol(e.to_string()))),
        };
        let peer = |p: u32| peer_index(p, parties, me);
        match decoded {
            Frame::Deliver {
                party,
                seq,
                payload,
            } => {
                let Some(p) = peer(party) else {
                    return Err(self.protocol(format!("a chunk from party {party}, not a peer")));
                };
                let window = self.window;
                let Some(inn) = self.inn.get_mut(p) else {
                    return Ok(());
                };
                let expected = inn.taken + inn.buffered.len() as u64;
                if seq < expected {
                    return Ok(()); // delivered before this connection
                }
                if seq > expected {
                    return Err(self.protocol(format!(
                        "chunk {seq} from party {p} came before chunk {expected}"
                    )));
                }
                if inn.buffered_bytes > window {
                    return Err(self.protocol(format!(
                        "the relay delivered more from party {p} than the window of {window} bytes"
                    )));
                }
                inn.buffered_bytes += payload.len();
                inn.buffered.push_back(frame.slice(DATA_HEADER..));
            }
            Frame::Stored { party, next } => {
                if let Some(p) = peer(party) {
                    self.stored_below(p, next)?;
                }
            }
            Frame::Full {
                party,
                next,
                retry_ms,
            } => {
                if let Some(p) = peer(party) {
                    self.stored_below(p, next)?;
                    if let Some(out) = self.out.get_mut(p) {
                        out.written = next.max(out.kept.oldest());
                        let wait = Duration::from_millis(u64::from(retry_ms))
                            .clamp(Duration::from_millis(10), Duration::from_secs(5));
                        out.paused_until = Some(now + wait);
                    }
                }
            }
            Frame::Peer { party, state } => {
                if let Some(inn) = peer(party).and_then(|p| self.inn.get_mut(p)) {
                    inn.state = state;
                }
            }
            Frame::Refused { party, seq, reason } => {
                if let Some(out) = peer(party).and_then(|p| self.out.get_mut(p)) {
                    out.refused
                        .get_or_insert_with(|| format!("the relay refused chunk {seq}: {reason}"));
                }
            }
            Frame::Data { .. } | Frame::Ack { .. } | Frame::Leave { .. } => {
                return Err(self.protocol("the relay sent a frame only clients send".into()));
            }
        }
        Ok(())
    }

    fn protocol(&mut self, why: String) -> Fatal {
        self.fail(Fatal::Protocol(why))
    }

    /// The next frame to write, if any: acknowledgements first, then data
    /// (peers take turns), then the goodbye once everything is stored.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Bytes> {
        if !self.connected {
            return None;
        }
        for (p, inn) in self.inn.iter_mut().enumerate() {
            if inn.taken > inn.acked {
                inn.acked = inn.taken;
                let ack: Frame<&[u8]> = Frame::Ack {
                    party: p as u32,
                    next: inn.taken,
                };
                return Some(Bytes::from(ack.encode()));
            }
        }
        let parties = self.parties();
        for k in 0..parties {
            let p = (self.turn + k) % parties;
            let Some(out) = self.out.get_mut(p) else {
                continue;
            };
            if out.refused.is_some() || out.paused_until.is_some_and(|t| now < t) {
                continue;
            }
            out.paused_until = None;
            if let Some(frame) = out.kept.get(out.written) {
                let frame = frame.clone();
                out.written += 1;
                self.turn = (p + 1) % parties;
                return Some(frame);
            }
        }
        if let Some((sent, written)) = &mut self.leave
            && !*written
            && self
                .out
                .iter()
                .all(|o| o.kept.is_empty() || o.refused.is_some())
        {
            *written = true;
            return Some(Bytes::from(
                Frame::<&[u8]>::Leave { sent: sent.clone() }.encode(),
            ));
        }
        None
    }

    /// When the driver must look again although nothing arrived (a pause ends).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.out.iter().filter_map(|o| o.paused_until).min()
    }

    fn error(&self, p: usize) -> Option<HttpError> {
        let fatal = self.fatal.as_ref()?;
        Some(match fatal {
            Fatal::Replaced(message) => HttpError::Replaced {
                message: message.clone(),
            },
            Fatal::Protocol(why) => HttpError::Protocol(format!("relay WebSocket: {why}")),
            Fatal::Refused { status, message } => HttpError::Refused {
                party: p,
                during: "using the relay's WebSocket".into(),
                status: *status,
                message: message.clone(),
            },
            Fatal::GaveUp {
                attempts,
                waited,
                last,
            } => HttpError::GaveUp {
                party: p,
                during: "keeping the WebSocket to the relay open".into(),
                attempts: *attempts,
                waited: *waited,
                last: last.clone(),
            },
        })
    }

    /// Keeps `chunk` for `p` under the next number, if the window has room
    /// (a chunk always fits an empty window).
    pub fn queue(&mut self, p: usize, chunk: &[u8]) -> Result<Queued, HttpError> {
        channel_core::transport::check_peer(self.me, p, self.parties())?;
        if let Some(e) = self.error(p) {
            // As over HTTP: a link with chunks that will never arrive is broken.
            return Err(match self.out.get(p) {
                Some(out) if !out.kept.is_empty() => HttpError::Undelivered {
                    party: p,
                    reason: e.to_string(),
                },
                _ => e,
            });
        }
        if chunk.len() > self.max_body {
            return Err(HttpError::Transport(TransportError::ChunkTooLarge {
                party: p,
                size: chunk.len(),
                limit: self.max_body,
            }));
        }
        if let Some(Incoming {
            state: PeerState::Left { .. },
            ..
        }) = self.inn.get(p)
        {
            return Err(HttpError::Transport(TransportError::PeerGone {
                party: p,
                reason:
                    "it closed its channel (it left the session): nothing sent to it would be read"
                        .into(),
            }));
        }
        let window = self.window;
        let Some(out) = self.out.get_mut(p) else {
            return Err(crate::joined::closed(p));
        };
        if let Some(reason) = &out.refused {
            return Err(HttpError::Undelivered {
                party: p,
                reason: reason.clone(),
            });
        }
        if out.kept_bytes > 0 && out.kept_bytes + chunk.len() > window {
            return Ok(Queued::NoRoom);
        }
        let seq = out.kept.next();
        let mut frame = Vec::with_capacity(DATA_HEADER + chunk.len());
        frame.extend_from_slice(&data_header(false, p as u32, seq));
        frame.extend_from_slice(chunk);
        out.kept.push(Bytes::from(frame));
        out.kept_bytes += chunk.len();
        Ok(Queued::Yes)
    }

    /// The number of the next chunk queued for `p`: how many were sent to it.
    pub fn sent(&self, p: usize) -> u64 {
        self.out.get(p).map_or(0, |o| o.kept.next())
    }

    /// The next chunk from `p`, if one is in; after a peer's goodbye and
    /// everything it sent, or its silence, a typed error.
    pub fn take(&mut self, p: usize) -> Result<Option<Vec<u8>>, HttpError> {
        channel_core::transport::check_peer(self.me, p, self.parties())?;
        let fatal = self.error(p);
        let Some(inn) = self.inn.get_mut(p) else {
            return Err(crate::joined::closed(p));
        };
        if let Some(chunk) = inn.buffered.pop_front() {
            inn.buffered_bytes -= chunk.len();
            inn.taken += 1;
            return Ok(Some(Vec::from(chunk)));
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        match inn.state {
            PeerState::Left { sent } if inn.taken >= sent => {
                Err(HttpError::Transport(TransportError::PeerGone {
                    party: p,
                    reason: format!(
                        "it closed its channel (it left the session after sending {sent} messages to party {})",
                        self.me
                    ),
                }))
            }
            PeerState::Gone { silent_ms } => Err(HttpError::Transport(TransportError::PeerGone {
                party: p,
                reason: format!(
                    "it has not been heard from for {} s (its process likely ended)",
                    silent_ms / 1000
                ),
            })),
            _ => Ok(None),
        }
    }

    /// Whether the relay stored every chunk queued; a refused one is an error.
    pub fn flushed(&self) -> Result<bool, HttpError> {
        for p in 0..self.out.len() {
            if !self.flushed_to(p)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether the relay stored every chunk queued for `p`; a refused one is
    /// an error.
    pub fn flushed_to(&self, p: usize) -> Result<bool, HttpError> {
        let Some(out) = self.out.get(p) else {
            return Ok(true);
        };
        if out.kept.is_empty() {
            return Ok(true);
        }
        if let Some(e) = self.error(p) {
            return Err(e);
        }
        if let Some(reason) = &out.refused {
            return Err(HttpError::Undelivered {
                party: p,
                reason: reason.clone(),
            });
        }
        Ok(false)
    }

    /// Asks for the goodbye, written once everything queued is stored.
    pub fn leave(&mut self) {
        let sent = self.out.iter().map(|o| o.kept.next()).collect();
        self.leave.get_or_insert((sent, false));
    }

    /// The party is gone without a goodbye (dropped where nothing can send
    /// one): the driver closes the socket and stops.
    pub fn abandon(&mut self) {
        self.fail(Fatal::Protocol("the party was dropped".into()));
    }

    /// Whether the goodbye was written (or can never be: the socket failed).
    pub fn left(&self) -> bool {
        self.fatal.is_some() || matches!(self.leave, Some((_, true)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)] // Tests fail by panicking.
mod tests {
    use super::*;

    fn frame(f: Frame<&[u8]>) -> Bytes {
        Bytes::from(f.encode())
    }

    fn welcome(next_send: Vec<u64>) -> Welcome {
        Welcome {
            next_send,
            max_body: 100,
        }
    }

    /// Party 0 of 2, connected.
    fn party() -> SocketCore {
        let mut core = SocketCore::new(0, &[0, 0], &[0, 0], 100, 10);
        core.on_welcome(&welcome(vec![0, 0])).unwrap();
        core
    }

    fn drain(core: &mut SocketCore) -> Vec<Frame<Vec<u8>>> {
        let mut out = Vec::new();
        // Bounded: each frame is written once.
        for _ in 0..100 {
            let Some(bytes) = core.poll_transmit(Instant::now()) else {
                return out;
            };
            let f = match Frame::decode(&bytes, 100).unwrap() {
                Frame::Data {
                    party,
                    seq,
                    payload,
                } => Frame::Data {
                    party,
                    seq,
                    payload: payload.to_vec(),
                },
                Frame::Ack { party, next } => Frame::Ack { party, next },
                Frame::Leave { sent } => Frame::Leave { sent },
                other => panic!("a client wrote {other:?}"),
            };
            out.push(f);
        }
        panic!("endless frames");
    }

    #[test]
    fn sends_are_written_once_and_resent_from_where_the_relay_stands() {
        let mut core = party();
        assert_eq!(core.queue(1, b"aaaa").unwrap(), Queued::Yes);
        assert_eq!(core.queue(1, b"bbbb").unwrap(), Queued::Yes);
        // The window (10 bytes) is full: the third waits.
        assert_eq!(core.queue(1, b"cccc").unwrap(), Queued::NoRoom);
        let written = drain(&mut core);
        assert_eq!(written.len(), 2);
        assert!(
            matches!(&written[1], Frame::Data { party: 1, seq: 1, payload } if payload == b"bbbb")
        );
        assert!(!core.flushed().unwrap());
        // The connection drops; the relay had stored chunk 0 only.
        core.on_disconnect();
        assert!(core.poll_transmit(Instant::now()).is_none());
        core.on_welcome(&welcome(vec![0, 1])).unwrap();
        let again = drain(&mut core);
        assert_eq!(again.len(), 1);
        assert!(matches!(&again[0], Frame::Data { seq: 1, .. }));
        core.on_frame(&frame(Frame::Stored { party: 1, next: 2 }), Instant::now())
            .unwrap();
        assert!(core.flushed().unwrap());
        assert_eq!(core.queue(1, b"cccc").unwrap(), Queued::Yes);
        assert_eq!(core.sent(1), 3);
    }

    #[test]
    fn a_full_relay_pauses_the_link_and_it_resumes_from_the_refused_chunk() {
        let mut core = party();
        for c in [b"a", b"b", b"c"] {
            core.queue(1, c).unwrap();
        }
        assert_eq!(drain(&mut core).len(), 3);
        let now = Instant::now();
        let full = Frame::Full {
            party: 1,
            next: 1,
            retry_ms: 50,
        };
        core.on_frame(&frame(full), now).unwrap();
        assert!(core.poll_transmit(now).is_none(), "paused");
        assert_eq!(core.next_wakeup(), Some(now + Duration::from_millis(50)));
        let later = now + Duration::from_millis(60);
        let resent = core.poll_transmit(later).unwrap();
        assert!(matches!(
            Frame::decode(&resent, 100).unwrap(),
            Frame::Data { seq: 1, .. }
        ));
    }

    #[test]
    fn deliveries_are_buffered_taken_in_order_and_acknowledged_when_taken() {
        let mut core = party();
        let now = Instant::now();
        for (seq, p) in [(0, &b"x"[..]), (1, b"y")] {
            core.on_frame(
                &frame(Frame::Deliver {
                    party: 1,
                    seq,
                    payload: p,
                }),
                now,
            )
            .unwrap();
        }
        // A repeat of chunk 0 (a resend after a reconnect) is ignored.
        core.on_frame(
            &frame(Frame::Deliver {
                party: 1,
                seq: 0,
                payload: b"x",
            }),
            now,
        )
        .unwrap();
        assert!(
            drain(&mut core).is_empty(),
            "nothing taken, nothing acknowledged"
        );
        assert_eq!(core.take(1).unwrap(), Some(b"x".to_vec()));
        assert_eq!(drain(&mut core), vec![Frame::Ack { party: 1, next: 1 }]);
        // A new connection asks for what is not buffered, acknowledging what was taken.
        let hello = core.hello("t", 3);
        assert_eq!((hello.receive_from, hello.acked), (vec![0, 2], vec![0, 1]));
        assert_eq!(core.take(1).unwrap(), Some(b"y".to_vec()));
        assert_eq!(core.take(1).unwrap(), None);
    }

    #[test]
    fn a_lying_relay_fails_the_socket_with_a_protocol_error() {
        let cases: Vec<Frame<&[u8]>> = vec![
            Frame::Deliver {
                party: 1,
                seq: 5,
                payload: b"gap",
            },
            Frame::Deliver {
                party: 0,
                seq: 0,
                payload: b"from myself",
            },
            Frame::Stored { party: 1, next: 9 },
            Frame::Data {
                party: 1,
                seq: 0,
                payload: b"",
            },
        ];
        for f in cases {
            let mut core = party();
            let shown = format!("{f:?}");
            assert!(core.on_frame(&frame(f), Instant::now()).is_err(), "{shown}");
            let e = core.take(1).unwrap_err();
            assert!(matches!(e, HttpError::Protocol(_)), "{shown}: {e}");
            assert!(core.queue(1, b"x").is_err());
        }
    }

    #[test]
    fn a_peers_goodbye_ends_its_receives_after_everything_it_sent() {
        let mut core = party();
        let now = Instant::now();
        core.on_frame(
            &frame(Frame::Deliver {
                party: 1,
                seq: 0,
                payload: b"last",
            }),
            now,
        )
        .unwrap();
        let left = Frame::Peer {
            party: 1,
            state: PeerState::Left { sent: 1 },
        };
        core.on_frame(&frame(left), now).unwrap();
        assert_eq!(core.take(1).unwrap(), Some(b"last".to_vec()));
        let e = core.take(1).unwrap_err();
        assert!(e.to_string().contains("closed its channel"), "{e}");
        let e = core.queue(1, b"x").unwrap_err();
        assert_eq!(
            channel_core::Error::from(e).kind(),
            channel_core::ErrorKind::PeerGone
        );
    }

    #[test]
    fn a_refused_chunk_breaks_the_link_and_the_flush_reports_it() {
        let mut core = party();
        core.queue(1, b"x").unwrap();
        drain(&mut core);
        let refused = Frame::Refused {
            party: 1,
            seq: 0,
            reason: "conflict".into(),
        };
        core.on_frame(&frame(refused), Instant::now()).unwrap();
        assert!(matches!(
            core.flushed(),
            Err(HttpError::Undelivered { party: 1, .. })
        ));
        assert!(matches!(
            core.queue(1, b"y"),
            Err(HttpError::Undelivered { .. })
        ));
    }

    #[test]
    fn the_goodbye_is_written_after_everything_is_stored() {
        let mut core = party();
        core.queue(1, b"x").unwrap();
        core.leave();
        let written = drain(&mut core);
        assert_eq!(written.len(), 1, "only the data: it is not stored yet");
        assert!(!core.left());
        core.on_frame(&frame(Frame::Stored { party: 1, next: 1 }), Instant::now())
            .unwrap();
        assert_eq!(drain(&mut core), vec![Frame::Leave { sent: vec![0, 1] }]);
        assert!(core.left());
    }

    #[test]
    fn a_resumed_join_numbers_from_where_the_relay_stands() {
        let mut core = SocketCore::new(1, &[4, 0], &[7, 0], 100, 10);
        core.on_welcome(&welcome(vec![4, 0])).unwrap();
        core.queue(0, b"x").unwrap();
        assert!(matches!(
            drain(&mut core)[0],
            Frame::Data {
                party: 0,
                seq: 4,
                ..
            }
        ));
        assert_eq!(core.hello("t", 1).receive_from, vec![7, 0]);
    }
}

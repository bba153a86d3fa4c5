//! One session of a link: a stream from its HELLOs until it breaks, is
//! replaced, or both sides are done, driving [`LinkState`] with the stream's
//! frames and the application's chunks. The transport obtains the streams
//! (dial, accept, authenticate) and runs one session after another on them;
//! what only the transport knows (its connection closed, a newer stream
//! arrived, another lane failed) comes in through [`Events`].
//!
//! One read and one write stay in flight across the loop's `select!` (never
//! dropped mid-frame). The keepalive ([`Liveness`]) counts every byte heard
//! and pings a quiet stream; a stream silent beyond the bound ends the
//! session as broken, so the transport reconnects.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use channel_core::transport::BufferPool;
use channel_core::transport::liveness::{Due, KeepAlive, Liveness};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

use crate::heard::{Heard, LastHeard};
use crate::link_state::{LinkState, Violation};
use crate::stream_io::{Writer, next_frame};
use crate::wire::{Frame, WireError, read_frame, write_frame};

/// What the application side and a link share about received data.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    /// Bytes received and not yet taken by the application.
    pub bytes: Arc<AtomicUsize>,
    /// Signalled when the application takes a chunk (room for more).
    pub space: Arc<Notify>,
}

/// What a link hands its application, in the order it arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The next chunk from the peer.
    Chunk(Vec<u8>),
    /// The peer said goodbye (its channel was dropped or closed): nothing
    /// more will come.
    Goodbye,
}

/// The application's ends of a link.
pub struct AppEnds<'a> {
    /// Chunks the application sends; closed when it is done.
    pub from_app: &'a mut mpsc::UnboundedReceiver<Vec<u8>>,
    /// Chunks (and the peer's goodbye) delivered to the application.
    pub to_app: &'a mpsc::UnboundedSender<Delivery>,
    /// What the application holds, and the most it may hold before the link
    /// stops reading.
    pub inbound: &'a Inbound,
    /// The bound on `inbound.bytes`.
    pub max_inbound: usize,
    /// Spare chunk buffers, shared with the application: acknowledged
    /// chunks go in, payloads read from the peer come out (and the
    /// application's sends and consumed receives use the same pool).
    pub buffers: &'a BufferPool,
}

/// The session's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest DATA payload accepted, checked before allocating.
    pub max_payload: usize,
    /// Pings on a quiet stream and when silence means a dead path.
    pub keepalive: KeepAlive,
    /// The longest wait for the peer's HELLO.
    pub handshake_timeout: Duration,
}

/// Why the transport interrupts a session.
#[derive(Debug)]
pub enum Interrupt<S> {
    /// The stream is no longer good (its connection closed, or the peer
    /// opened a newer one, given here): reconnect.
    Broken(String, Option<S>),
    /// The link must end (e.g. another lane of the peer failed).
    Lost,
}

/// What only the transport knows during a session.
pub trait Events {
    /// The transport's stream.
    type Stream;

    /// Resolves when the transport interrupts the session. Must be
    /// cancel-safe: it is polled again on every turn of the loop.
    fn interrupted(&mut self) -> impl Future<Output = Interrupt<Self::Stream>>;

    /// The stream went silent beyond the keepalive bound; the session ends as
    /// broken right after (a transport may drop the connection, so that the
    /// reconnect does not reuse a dead path).
    fn silent(&mut self) {}

    /// The HELLOs were exchanged: the stream carries the link.
    fn established(&mut self) {}

    /// The peer acknowledged `bytes` of what was sent.
    fn released(&mut self, bytes: usize);

    /// The peer said goodbye: its channel is gone, it sends nothing more.
    fn goodbye(&mut self) {}
}

/// How a session ended.
#[derive(Debug)]
pub enum Ended<S> {
    /// Both sides are done and everything is acknowledged.
    Finished,
    /// The stream broke (or a newer one replaced it): reconnect.
    Broken(String, Option<S>),
    /// The transport ended the link ([`Interrupt::Lost`]).
    Lost,
    /// The peer broke the protocol: do not trust it further.
    Violation(Violation),
}

/// Runs one stream until it breaks, is replaced, or both sides are done.
pub async fn run<S, E>(
    stream: S,
    state: &mut LinkState,
    app: AppEnds<'_>,
    limits: Limits,
    events: &mut E,
) -> Ended<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
    E: Events<Stream = S>,
{
    let heard = LastHeard::new();
    let (mut rd, mut wr) = tokio::io::split(Heard::new(stream, heard.clone()));
    // Frames queue in `outbox` while a write is in flight; first the resends.
    let mut outbox = match handshake(&mut rd, &mut wr, state, limits, app.buffers, events).await {
        Ok(resends) => resends,
        Err(ended) => return ended,
    };
    events.established();

    let max_payload = limits.max_payload;
    let buffers = app.buffers.clone();
    let mut reading = Box::pin(next_frame(rd, max_payload, buffers.clone()));
    // One write (of everything queued when it started) is in flight at a
    // time. It starts with an empty write that hands the write half back.
    let mut writing = Box::pin(Writer::new(wr).write(Vec::new()));
    let mut idle_writer: Option<Writer<Heard<S>>> = None;

    let keepalive = limits.keepalive;
    let mut liveness = Liveness::new(keepalive, heard.now());
    let ended = loop {
        if state.finished() {
            break Ended::Finished;
        }
        let room = app.inbound.bytes.load(Ordering::Acquire) < app.max_inbound;
        let now = heard.now();
        liveness.heard(heard.get());
        if idle_writer.is_none() {
            // A write in progress is the peer's sign of life.
            liveness.sent(now);
        }
        let check_at = match liveness.due(now, room) {
            Due::Silent { for_ } => {
                events.silent();
                break Ended::Broken(format!("nothing heard from the peer for {for_:?}"), None);
            }
            Due::Ping if outbox.is_empty() && idle_writer.is_some() => {
                outbox.push(Frame::Ping);
                liveness.sent(now);
                now + keepalive.interval
            }
            Due::Ping => now + keepalive.interval,
            Due::Nothing { until } => until,
        };
        if !outbox.is_empty()
            && let Some(writer) = idle_writer.take()
        {
            writing.set(writer.write(std::mem::take(&mut outbox)));
            liveness.sent(now);
        }
        let busy = idle_writer.is_none();
        let app_done = state.is_app_done();
        tokio::select! {
            () = tokio::time::sleep_until(heard.instant(check_at)) => {}
            msg = app.from_app.recv(), if !app_done => match msg {
                Some(chunk) => outbox.push(state.send(chunk)),
                None => outbox.extend(state.app_finished()),
            },
            (rd, frame) = &mut reading, if room => {
                reading.set(next_frame(rd, max_payload, buffers.clone()));
                if let Some(ended) = on_frame(frame, state, &mut outbox, &app, events) {
                    break ended;
                }
            },
            () = app.inbound.space.notified(), if !room => {}
            interrupt = events.interrupted() => break match interrupt {
                Interrupt::Broken(why, newer) => Ended::Broken(why, newer),
                Interrupt::Lost => Ended::Lost,
            },
            (writer, written) = &mut writing, if busy => match written {
                Ok(()) => idle_writer = Some(writer),
                Err(e) => break Ended::Broken(format!("writing: {e}"), None),
            },
        }
    };
    if matches!(ended, Ended::Finished) {
        // Let the last frames (BYE, ACKs) leave, then close our side.
        let last = async {
            let mut writer = match idle_writer.take() {
                Some(writer) => writer,
                None => match (&mut writing).await {
                    (writer, Ok(())) => writer,
                    (_, Err(_)) => return,
                },
            };
            if writer.write_all(&std::mem::take(&mut outbox)).await.is_ok() {
                let _ = writer.close().await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), last).await;
    }
    ended
}

/// Exchanges HELLOs on a new stream; returns what to (re)send, or how the
/// session ended.
async fn handshake<S, E>(
    rd: &mut tokio::io::ReadHalf<Heard<S>>,
    wr: &mut tokio::io::WriteHalf<Heard<S>>,
    state: &mut LinkState,
    limits: Limits,
    buffers: &BufferPool,
    events: &mut E,
) -> Result<Vec<Frame>, Ended<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    E: Events<Stream = S>,
{
    let hello = state.hello();
    let exchange = async {
        write_frame(wr, &hello).await.map_err(WireError::Io)?;
        wr.flush().await.map_err(WireError::Io)?;
        read_frame(rd, limits.max_payload, buffers).await
    };
    let theirs = match tokio::time::timeout(limits.handshake_timeout, exchange).await {
        Ok(Ok(frame)) => frame,
        Ok(Err(WireError::Malformed(m))) => return Err(Ended::Violation(Violation::Malformed(m))),
        Ok(Err(WireError::Io(e))) => return Err(Ended::Broken(format!("handshake: {e}"), None)),
        Err(_) => return Err(Ended::Broken("handshake timed out".into(), None)),
    };
    let resume = state.on_hello(theirs).map_err(Ended::Violation)?;
    if resume.released > 0 {
        events.released(resume.released);
    }
    Ok(resume.frames)
}

/// Handles one frame read from the peer; `Some` when it ends the session.
fn on_frame<S, E: Events<Stream = S>>(
    frame: Result<Frame, WireError>,
    state: &mut LinkState,
    outbox: &mut Vec<Frame>,
    app: &AppEnds<'_>,
    events: &mut E,
) -> Option<Ended<S>> {
    let frame = match frame {
        Ok(frame) => frame,
        Err(WireError::Malformed(m)) => return Some(Ended::Violation(Violation::Malformed(m))),
        Err(WireError::Io(e)) => return Some(Ended::Broken(format!("reading: {e}"), None)),
    };
    match state.on_frame(frame, outbox) {
        Ok(received) => {
            if received.released > 0 {
                events.released(received.released);
            }
            for spent in received.spent {
                app.buffers.give(spent);
            }
            if let Some(chunk) = received.deliver {
                let len = chunk.len();
                app.inbound.bytes.fetch_add(len, Ordering::AcqRel);
                // The application may be gone; then nobody needs the chunk,
                // and it must not hold back the reading.
                if app.to_app.send(Delivery::Chunk(chunk)).is_err() {
                    app.inbound.bytes.fetch_sub(len, Ordering::AcqRel);
                }
            }
            if received.goodbye {
                events.goodbye();
                let _ = app.to_app.send(Delivery::Goodbye);
            }
            None
        }
        Err(v) => Some(Ended::Violation(v)),
    }
}

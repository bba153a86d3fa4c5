//! The loops that move frames between a real WebSocket and a [`SocketLink`],
//! written once for every WebSocket library: a driver implements [`Reader`],
//! [`Writer`] and [`Timer`] on its library (tokio-tungstenite natively,
//! gloo-net in a browser) and a `connect` that opens one connection (up to
//! the welcome), and [`drive`] does the rest: one connection's reader and
//! writer side by side ([`run`]), the keepalive, and reconnecting with capped
//! backoff until the party is done, the socket fails for good, or the retry
//! policy gives up.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::future::{Either, select};
use web_time::Instant;

use super::{Fatal, SocketLink};
use crate::HttpError;
use crate::backoff::Backoff;

/// What one read of the socket gave.
#[derive(Debug)]
pub enum Incoming {
    /// A binary frame.
    Binary(Bytes),
    /// A text frame (only the welcome is text).
    Text(String),
    /// A ping or pong (the library answers pings itself).
    Control,
    /// A close frame, with its code and reason if it had them.
    Close(Option<(u16, String)>),
    /// The connection failed or ended without a close frame.
    Broken(String),
}

/// The reading half of a connection.
#[allow(async_fn_in_trait)] // No `Send` bound on purpose: browser futures are `!Send`.
pub trait Reader {
    /// The next thing that arrives.
    async fn next(&mut self) -> Incoming;
}

/// The writing half of a connection.
#[allow(async_fn_in_trait)] // No `Send` bound on purpose: browser futures are `!Send`.
pub trait Writer {
    /// Queues a binary frame (it may be buffered until [`flush`](Self::flush)).
    async fn feed(&mut self, frame: Bytes) -> Result<(), String>;
    /// Writes out what was fed.
    async fn flush(&mut self) -> Result<(), String>;
    /// Sends a ping (where the library can; a browser cannot, and its
    /// relay's pings keep the connection busy instead).
    async fn ping(&mut self) -> Result<(), String>;
    /// Closes the connection normally (the party is done).
    async fn close(&mut self);
}

/// The clock's sleep of the driver's runtime.
pub trait Timer: Clone {
    /// Resolves after `delay`.
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()>;
}

/// Why a connection attempt or a connection failed.
#[derive(Debug, Clone)]
pub enum Failed {
    /// Worth trying again (network, a relay restarting, a superseded socket).
    Retry(String),
    /// Trying again cannot help.
    Fatal(Fatal),
}

/// What the relay's close frame (`code`, `reason`) means for the client:
/// `4412` replaced, `4400`–`4422` refused for good (but a timeout or a
/// superseded socket), anything else a reason to reconnect.
///
/// ```
/// use channel_http_proto::socket::Fatal;
/// use channel_http_proto::socket::driver::{Failed, closed_by_relay};
///
/// assert!(matches!(closed_by_relay(Some((4412, "joined again".into()))), Failed::Fatal(Fatal::Replaced(_))));
/// assert!(matches!(closed_by_relay(Some((4404, "gone".into()))), Failed::Fatal(Fatal::Refused { status: 404, .. })));
/// assert!(matches!(closed_by_relay(Some((1001, "restarting".into()))), Failed::Retry(_)));
/// assert!(matches!(closed_by_relay(None), Failed::Retry(_)));
/// ```
pub fn closed_by_relay(close: Option<(u16, String)>) -> Failed {
    let Some((code, reason)) = close else {
        return Failed::Retry("the relay closed the socket".into());
    };
    match code {
        4412 => Failed::Fatal(Fatal::Replaced(reason)),
        4400 | 4401 | 4403 | 4404 | 4422 => Failed::Fatal(Fatal::Refused {
            status: code - 4000,
            message: reason,
        }),
        code => Failed::Retry(format!("the relay closed the socket ({code}): {reason}")),
    }
}

/// How one connection ended.
#[derive(Debug)]
pub enum Ended {
    /// The goodbye is written, or the socket failed for good: nothing more to do.
    Done,
    /// It failed; [`Failed::Retry`] means connect again.
    Failed(Failed),
}

/// The keepalive of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    /// How often to ping.
    pub ping_every: Duration,
    /// A relay silent this long (not even a pong) is taken for gone.
    pub silent_for: Duration,
}

impl Keepalive {
    /// Pings four times per `silent_for`, at least every 5 s.
    pub fn within(silent_for: Duration) -> Self {
        Self {
            ping_every: (silent_for / 4).clamp(Duration::from_millis(10), Duration::from_secs(5)),
            silent_for,
        }
    }
}

async fn reading<R: Reader, T: Timer>(
    mut reader: R,
    link: &SocketLink,
    silent_for: Duration,
    timer: &T,
) -> Failed {
    // Bounded by the connection: each pass takes one frame or ends it.
    loop {
        let next = std::pin::pin!(reader.next());
        let silence = std::pin::pin!(timer.sleep(silent_for));
        let incoming = match select(next, silence).await {
            Either::Left((incoming, _)) => incoming,
            Either::Right(((), _)) => {
                return Failed::Retry(format!("nothing heard from the relay for {silent_for:?}"));
            }
        };
        match incoming {
            Incoming::Binary(bytes) => {
                if let Err(fatal) = link.with(|core| core.on_frame(&bytes, Instant::now())) {
                    return Failed::Fatal(fatal);
                }
            }
            Incoming::Close(close) => return closed_by_relay(close),
            Incoming::Text(_) => {
                return Failed::Fatal(Fatal::Protocol("a text frame after the welcome".into()));
            }
            Incoming::Broken(why) => return Failed::Retry(why),
            Incoming::Control => {}
        }
    }
}

async fn writing<W: Writer, T: Timer>(
    mut writer: W,
    link: &SocketLink,
    ping_every: Duration,
    timer: &T,
) -> Ended {
    let retry = |e: String| Ended::Failed(Failed::Retry(format!("writing to the socket: {e}")));
    let mut next_ping = Instant::now() + ping_every;
    // Bounded by the connection: each pass writes what is due, then waits.
    loop {
        let work = link.work();
        // Bounded by the frames due.
        while let Some(frame) = link.driver(|core| core.poll_transmit(Instant::now())) {
            if let Err(e) = writer.feed(frame).await {
                return retry(e);
            }
        }
        if let Err(e) = writer.flush().await {
            return retry(e);
        }
        if link.driver(|core| core.left()) {
            // Wake a `close` that waits for the goodbye.
            link.with(|_| ());
            writer.close().await;
            return Ended::Done;
        }
        let now = Instant::now();
        if now >= next_ping {
            if let Err(e) = writer.ping().await {
                return retry(e);
            }
            next_ping = now + ping_every;
        }
        let until = link
            .driver(|core| core.next_wakeup())
            .map_or(next_ping, |at| at.min(next_ping));
        let pause = std::pin::pin!(timer.sleep(until.saturating_duration_since(now)));
        let work = std::pin::pin!(work);
        let _ = select(work, pause).await;
    }
}

/// One connection: its reader and writer side by side, until either ends.
pub async fn run<R: Reader, W: Writer, T: Timer>(
    reader: R,
    writer: W,
    link: &SocketLink,
    keepalive: Keepalive,
    timer: &T,
) -> Ended {
    let reading = std::pin::pin!(reading(reader, link, keepalive.silent_for, timer));
    let writing = std::pin::pin!(writing(writer, link, keepalive.ping_every, timer));
    match select(reading, writing).await {
        Either::Left((failed, _)) => Ended::Failed(failed),
        Either::Right((ended, _)) => ended,
    }
}

/// Runs connection after connection, the first given, the next ones from
/// `connect`, until the party is done, the socket fails for good, or
/// reconnecting goes on for longer than `backoff` allows. `unit_random`
/// gives the backoff's jitter.
pub async fn drive<R, W, T, C, F>(
    first: (R, W),
    mut connect: C,
    link: SocketLink,
    keepalive: Keepalive,
    mut backoff: Backoff,
    timer: T,
    mut unit_random: impl FnMut() -> f64,
) where
    R: Reader,
    W: Writer,
    T: Timer,
    C: FnMut() -> F,
    F: Future<Output = Result<(R, W), Failed>>,
{
    let mut current = Some(first);
    // Bounded: each pass runs one connection; reconnecting is bounded by the
    // backoff's give-up time.
    loop {
        let (reader, writer) = match current.take() {
            Some(halves) => halves,
            None => match connect().await {
                Ok(halves) => halves,
                Err(Failed::Fatal(fatal)) => {
                    link.with(|core| core.fail(fatal));
                    return;
                }
                Err(Failed::Retry(why)) => {
                    match backoff.failed(Instant::now(), why, None, unit_random()) {
                        Ok(delay) => {
                            timer.sleep(delay).await;
                            continue;
                        }
                        Err(HttpError::GaveUp {
                            attempts,
                            waited,
                            last,
                            ..
                        }) => {
                            link.with(|core| {
                                core.fail(Fatal::GaveUp {
                                    attempts,
                                    waited,
                                    last,
                                })
                            });
                            return;
                        }
                        Err(e) => {
                            link.with(|core| core.fail(Fatal::Protocol(e.to_string())));
                            return;
                        }
                    }
                }
            },
        };
        backoff.reset();
        let ended = run(reader, writer, &link, keepalive, &timer).await;
        link.with(|core| core.on_disconnect());
        match ended {
            Ended::Done => return,
            Ended::Failed(Failed::Fatal(fatal)) => {
                link.with(|core| core.fail(fatal));
                return;
            }
            Ended::Failed(Failed::Retry(why)) => {
                tracing::debug!(%why, "relay WebSocket dropped; reconnecting");
            }
        }
    }
}

/// Opens the first connection with `connect` (see [`first`]) and returns
/// the future that drives the socket from then on ([`drive`]), for the
/// caller to run on its event loop. Both retry with `retry`, as `party`'s.
#[allow(clippy::too_many_arguments)] // Each is one of the driver's parts.
pub async fn open<R, W, T, C, F>(
    mut connect: C,
    link: SocketLink,
    insist: bool,
    party: usize,
    retry: crate::RetryPolicy,
    keepalive: Keepalive,
    timer: T,
    unit_random: fn() -> f64,
) -> Result<impl Future<Output = ()>, HttpError>
where
    R: Reader,
    W: Writer,
    T: Timer,
    C: FnMut() -> F,
    F: Future<Output = Result<(R, W), Failed>>,
{
    let backoff = |during| Backoff::new(retry, party, during);
    let opening = backoff("opening the WebSocket to the relay");
    let first = first(&mut connect, &link, insist, opening, &timer, unit_random).await?;
    let reconnecting = backoff("keeping the WebSocket to the relay open");
    Ok(drive(
        first,
        connect,
        link,
        keepalive,
        reconnecting,
        timer,
        unit_random,
    ))
}

/// Opens the first connection with `connect`: without `insist`, its first
/// failure is the answer (the caller falls back to long-polls); with it,
/// network failures are retried within `backoff`.
pub async fn first<R, W, T, C, F>(
    connect: &mut C,
    link: &SocketLink,
    insist: bool,
    mut backoff: Backoff,
    timer: &T,
    mut unit_random: impl FnMut() -> f64,
) -> Result<(R, W), HttpError>
where
    T: Timer,
    C: FnMut() -> F,
    F: Future<Output = Result<(R, W), Failed>>,
{
    // Bounded by the backoff's give-up time.
    loop {
        match connect().await {
            Ok(halves) => return Ok(halves),
            Err(Failed::Retry(why)) if insist => {
                let delay = backoff.failed(Instant::now(), why, None, unit_random())?;
                timer.sleep(delay).await;
            }
            Err(Failed::Retry(why)) => return Err(HttpError::Setup(why)),
            Err(Failed::Fatal(fatal)) => {
                link.with(|core| core.fail(fatal.clone()));
                return Err(HttpError::Setup(format!(
                    "the relay refused the WebSocket: {fatal:?}"
                )));
            }
        }
    }
}

/// The opening of every connection, after the library connected: the
/// hello (`send_text` writes the [`hello_text`]), then the welcome.
pub async fn handshake<R: Reader>(
    link: &SocketLink,
    send_text: impl Future<Output = Result<(), String>>,
    reader: &mut R,
) -> Result<(), Failed> {
    send_text
        .await
        .map_err(|e| Failed::Retry(format!("sending the hello: {e}")))?;
    // Bounded by the caller's connect timeout.
    let welcome = loop {
        match reader.next().await {
            Incoming::Text(text) => break text,
            Incoming::Control => continue,
            Incoming::Close(close) => return Err(closed_by_relay(close)),
            Incoming::Binary(_) => {
                return Err(Failed::Fatal(Fatal::Protocol(
                    "the relay's first frame is not its welcome".into(),
                )));
            }
            Incoming::Broken(why) => {
                return Err(Failed::Retry(format!("waiting for the welcome: {why}")));
            }
        }
    };
    let welcome: super::wire::Welcome = serde_json::from_str(&welcome).map_err(|e| {
        Failed::Fatal(Fatal::Protocol(format!(
            "the welcome is not JSON of the API: {e}"
        )))
    })?;
    link.with(|core| core.on_welcome(&welcome))
        .map_err(Failed::Fatal)
}

/// The hello of a new connection, as the text to send.
pub fn hello_text(link: &SocketLink, token: &str, epoch: u64) -> Result<String, Failed> {
    let hello = link.with(|core| core.hello(token, epoch));
    serde_json::to_string(&hello)
        .map_err(|e| Failed::Fatal(Fatal::Protocol(format!("cannot encode the hello: {e}"))))
}

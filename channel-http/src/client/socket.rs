//! The native driver of a relay party's WebSocket (tokio-tungstenite): it
//! opens the socket (TCP, TLS for `https` relays, the upgrade, hello and
//! welcome), then moves frames between the socket and the protocol core's
//! [`SocketLink`] on a tokio task, and reconnects with capped backoff when the
//! connection drops. Every decision about frames is the core's
//! ([`channel_http_proto::socket::core`]).

use std::sync::Arc;
use std::time::Duration;

use channel_http_proto::backoff::Backoff;
use channel_http_proto::socket::wire::{SUBPROTOCOL, Welcome};
use channel_http_proto::socket::{Fatal, SocketLink};
use channel_http_proto::{HttpError, RetryPolicy};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use web_time::Instant;

/// The client pings the relay at least this often.
const PING_AT_LEAST_EVERY: Duration = Duration::from_secs(5);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// Where and as whom a party's socket connects.
#[derive(Clone)]
pub(crate) struct Target {
    /// `ws://host:port/v1/sessions/{s}/socket` (or `wss://`).
    pub(crate) url: String,
    /// For `wss://`: the trusted roots.
    pub(crate) tls: Option<Arc<ClientConfig>>,
    pub(crate) token: String,
    pub(crate) epoch: u64,
    pub(crate) party: usize,
    pub(crate) max_body: usize,
    pub(crate) connect_timeout: Duration,
    /// A relay silent this long (not even a pong to the pings, sent four
    /// times as often) is taken for gone: the client connects again. The
    /// options' `request_timeout`, as a request over HTTP would time out.
    pub(crate) silent_for: Duration,
    pub(crate) retry: RetryPolicy,
}

impl Target {
    fn ping_every(&self) -> Duration {
        (self.silent_for / 4).clamp(Duration::from_millis(10), PING_AT_LEAST_EVERY)
    }
}

/// Why a connection attempt failed.
enum Failed {
    /// Worth trying again (network, relay restarting).
    Retry(String),
    /// Trying again cannot help.
    Fatal(Fatal),
}

/// Opens the first connection, then drives the socket on a tokio task.
/// Without `insist`, the first failure is returned (the caller falls back to
/// long-polls); with it, network failures are retried within the policy.
pub(crate) async fn open(target: Target, link: SocketLink, insist: bool) -> Result<(), HttpError> {
    let mut backoff = Backoff::new(
        target.retry,
        target.party,
        "opening the WebSocket to the relay",
    );
    // Bounded by the backoff's give-up time.
    let socket = loop {
        match connect(&target, &link).await {
            Ok(socket) => break socket,
            Err(Failed::Retry(why)) if insist => {
                let delay = backoff.failed(Instant::now(), why, None, unit_random())?;
                tokio::time::sleep(delay).await;
            }
            Err(Failed::Retry(why)) => return Err(HttpError::Setup(why)),
            Err(Failed::Fatal(fatal)) => {
                link.with(|core| core.fail(fatal.clone()));
                return Err(HttpError::Setup(format!(
                    "the relay refused the WebSocket: {fatal:?}"
                )));
            }
        }
    };
    tokio::spawn(drive(target, link, socket));
    Ok(())
}

async fn connect(target: &Target, link: &SocketLink) -> Result<Socket, Failed> {
    let timeout = target.connect_timeout;
    match tokio::time::timeout(timeout, connect_within(target, link)).await {
        Ok(result) => result,
        Err(_) => Err(Failed::Retry(format!(
            "opening the WebSocket to {} took longer than {timeout:?}",
            target.url
        ))),
    }
}

async fn connect_within(target: &Target, link: &SocketLink) -> Result<Socket, Failed> {
    let mut request = target.url.as_str().into_client_request().map_err(|e| {
        Failed::Fatal(Fatal::Protocol(format!(
            "bad WebSocket URL {}: {e}",
            target.url
        )))
    })?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let uri = request.uri().clone();
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let port = uri
        .port_u16()
        .unwrap_or(if target.tls.is_some() { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| Failed::Retry(format!("cannot connect to {host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = match &target.tls {
        None => Box::new(tcp),
        Some(config) => {
            let name = ServerName::try_from(host.clone()).map_err(|e| {
                Failed::Fatal(Fatal::Protocol(format!("bad host name {host}: {e}")))
            })?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| Failed::Fatal(Fatal::Protocol(format!("TLS with {host}: {e}"))))?;
            Box::new(tls)
        }
    };
    let limit = target.max_body + channel_http_proto::socket::wire::DATA_HEADER;
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let (mut socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| match e {
                // The relay (or a proxy) answered the upgrade with an HTTP status.
                WsError::Http(response) => Failed::Fatal(Fatal::Protocol(format!(
                    "the relay answered the WebSocket upgrade with HTTP {}",
                    response.status()
                ))),
                e => Failed::Retry(format!("WebSocket upgrade with {}: {e}", target.url)),
            })?;
    let hello = link.with(|core| core.hello(&target.token, target.epoch));
    let hello = serde_json::to_string(&hello)
        .map_err(|e| Failed::Fatal(Fatal::Protocol(format!("cannot encode the hello: {e}"))))?;
    socket
        .send(Message::text(hello))
        .await
        .map_err(|e| Failed::Retry(format!("sending the hello: {e}")))?;
    // Bounded by the connect timeout around this function.
    let welcome = loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => break text,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(frame))) => return Err(closed_by_relay(frame.as_ref())),
            Some(Ok(_)) => {
                return Err(Failed::Fatal(Fatal::Protocol(
                    "the relay's first frame is not its welcome".into(),
                )));
            }
            Some(Err(e)) => return Err(Failed::Retry(format!("waiting for the welcome: {e}"))),
            None => return Err(Failed::Retry("the socket ended before the welcome".into())),
        }
    };
    let welcome: Welcome = serde_json::from_str(welcome.as_str()).map_err(|e| {
        Failed::Fatal(Fatal::Protocol(format!(
            "the welcome is not JSON of the API: {e}"
        )))
    })?;
    link.with(|core| core.on_welcome(&welcome))
        .map_err(Failed::Fatal)?;
    Ok(socket)
}

/// What the relay's close frame means for the client.
fn closed_by_relay(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> Failed {
    let Some(frame) = frame else {
        return Failed::Retry("the relay closed the socket".into());
    };
    let reason = frame.reason.to_string();
    match u16::from(frame.code) {
        4412 => Failed::Fatal(Fatal::Replaced(reason)),
        code @ (4400 | 4401 | 4403 | 4404 | 4422) => Failed::Fatal(Fatal::Refused {
            status: code - 4000,
            message: reason,
        }),
        // Going away (a restart), superseded, a timeout: connect again.
        code => Failed::Retry(format!("the relay closed the socket ({code}): {reason}")),
    }
}

fn unit_random() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

/// Runs connection after connection until the party is done (its goodbye
/// written), the socket failed for good, or reconnecting gave up.
async fn drive(target: Target, link: SocketLink, first: Socket) {
    let mut backoff = Backoff::new(
        target.retry,
        target.party,
        "keeping the WebSocket to the relay open",
    );
    let mut socket = Some(first);
    // Bounded: each pass runs one connection; reconnecting is bounded by the
    // backoff's give-up time.
    loop {
        let current = match socket.take() {
            Some(s) => s,
            None => match connect(&target, &link).await {
                Ok(s) => s,
                Err(Failed::Fatal(fatal)) => {
                    link.with(|core| core.fail(fatal));
                    return;
                }
                Err(Failed::Retry(why)) => {
                    match backoff.failed(Instant::now(), why, None, unit_random()) {
                        Ok(delay) => {
                            tokio::time::sleep(delay).await;
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
        let ended = run(current, &link, &target).await;
        link.with(|core| core.on_disconnect());
        match ended {
            Ended::Done => return,
            Ended::Failed(Failed::Fatal(fatal)) => {
                link.with(|core| core.fail(fatal));
                return;
            }
            Ended::Failed(Failed::Retry(why)) => {
                tracing::debug!(party = target.party, %why, "relay WebSocket dropped; reconnecting");
            }
        }
    }
}

enum Ended {
    /// The goodbye is written (or the socket failed for good): nothing more to do.
    Done,
    Failed(Failed),
}

/// One connection: a reader and a writer side by side.
async fn run(socket: Socket, link: &SocketLink, target: &Target) -> Ended {
    let silent_for = target.silent_for;
    let (mut sink, mut stream) = socket.split();
    let reading = async {
        // Bounded by the connection: each pass takes one frame or ends it.
        loop {
            let message = match tokio::time::timeout(silent_for, stream.next()).await {
                Err(_) => {
                    return Failed::Retry(format!(
                        "nothing heard from the relay for {silent_for:?}"
                    ));
                }
                Ok(None) => return Failed::Retry("the socket ended".into()),
                Ok(Some(Err(e))) => return Failed::Retry(format!("the socket failed: {e}")),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Binary(bytes) => {
                    if let Err(fatal) = link.with(|core| core.on_frame(&bytes, Instant::now())) {
                        return Failed::Fatal(fatal);
                    }
                }
                Message::Close(frame) => return closed_by_relay(frame.as_ref()),
                Message::Text(_) => {
                    return Failed::Fatal(Fatal::Protocol("a text frame after the welcome".into()));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    };
    let writing = async {
        let mut ping = tokio::time::interval(target.ping_every());
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Bounded by the connection: each pass writes what is due, then waits.
        loop {
            let work = link.work();
            // Bounded by the frames due.
            while let Some(frame) = link.driver(|core| core.poll_transmit(Instant::now())) {
                if let Err(e) = sink.feed(Message::Binary(frame)).await {
                    return Ended::Failed(Failed::Retry(format!("writing to the socket: {e}")));
                }
            }
            if let Err(e) = sink.flush().await {
                return Ended::Failed(Failed::Retry(format!("writing to the socket: {e}")));
            }
            if link.driver(|core| core.left()) {
                // Wake a `close` that waits for the goodbye.
                link.with(|_| ());
                let _ = sink
                    .send(Message::Close(Some(
                        tokio_tungstenite::tungstenite::protocol::CloseFrame {
                            code: CloseCode::Normal,
                            reason: "goodbye".into(),
                        },
                    )))
                    .await;
                return Ended::Done;
            }
            let wakeup = link.driver(|core| core.next_wakeup());
            let pause = async {
                match wakeup {
                    Some(at) => {
                        let wait = at.saturating_duration_since(Instant::now());
                        tokio::time::sleep(wait).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = work => {}
                _ = pause => {}
                _ = ping.tick() => {
                    if let Err(e) = sink.send(Message::Ping(Default::default())).await {
                        return Ended::Failed(Failed::Retry(format!("writing to the socket: {e}")));
                    }
                }
            }
        }
    };
    tokio::select! {
        failed = reading => Ended::Failed(failed),
        ended = writing => ended,
    }
}

//! The native driver of a relay party's WebSocket: tokio-tungstenite under
//! the protocol core's driver loops (`channel_http_proto::socket::driver`).
//! This file only opens connections (TCP, TLS for `https` relays, the
//! upgrade, hello and welcome) and adapts the library's halves; every
//! decision about frames and reconnecting is the core's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use channel_http_proto::socket::driver::{
    self, Failed, Incoming, Keepalive, Reader, Timer, Writer,
};
use channel_http_proto::socket::wire::{DATA_HEADER, SUBPROTOCOL};
use channel_http_proto::socket::{Fatal, SocketLink, SocketTarget};
use channel_http_proto::{HttpError, RetryPolicy};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// A party's socket as the native driver opens it.
#[derive(Clone)]
pub(crate) struct Target {
    /// Where and as whom.
    pub(crate) at: SocketTarget,
    /// For `wss://`: the trusted roots.
    pub(crate) tls: Option<Arc<ClientConfig>>,
    pub(crate) connect_timeout: Duration,
    /// A relay silent this long (not even a pong) is taken for gone: the
    /// options' `request_timeout`, as a request over HTTP would time out.
    pub(crate) silent_for: Duration,
    pub(crate) retry: RetryPolicy,
}

#[derive(Clone)]
struct Tokio;

impl Timer for Tokio {
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(delay)
    }
}

struct Read(SplitStream<Socket>);

impl Reader for Read {
    async fn next(&mut self) -> Incoming {
        match self.0.next().await {
            Some(Ok(Message::Binary(bytes))) => Incoming::Binary(bytes),
            Some(Ok(Message::Text(text))) => Incoming::Text(text.to_string()),
            Some(Ok(Message::Close(frame))) => {
                Incoming::Close(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Incoming::Control,
            Some(Err(e)) => Incoming::Broken(format!("the socket failed: {e}")),
            None => Incoming::Broken("the socket ended".into()),
        }
    }
}

struct Write(SplitSink<Socket, Message>);

impl Writer for Write {
    async fn feed(&mut self, frame: Bytes) -> Result<(), String> {
        self.0
            .feed(Message::Binary(frame))
            .await
            .map_err(|e| e.to_string())
    }
    async fn flush(&mut self) -> Result<(), String> {
        self.0.flush().await.map_err(|e| e.to_string())
    }
    async fn ping(&mut self) -> Result<(), String> {
        self.0
            .send(Message::Ping(Bytes::new()))
            .await
            .map_err(|e| e.to_string())
    }
    async fn close(&mut self) {
        let goodbye = CloseFrame {
            code: CloseCode::Normal,
            reason: "goodbye".into(),
        };
        let _ = self.0.send(Message::Close(Some(goodbye))).await;
    }
}

fn unit_random() -> f64 {
    getrandom::u32().map_or(0.5, |r| f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

/// Opens the first connection (see [`driver::open`]), then drives the
/// socket on a tokio task.
pub(crate) async fn open(target: Target, link: SocketLink, insist: bool) -> Result<(), HttpError> {
    let connect = {
        let (target, link) = (target.clone(), link.clone());
        move || connect(target.clone(), link.clone())
    };
    let keepalive = Keepalive::within(target.silent_for);
    let driving = driver::open(
        connect,
        link,
        insist,
        target.at.party,
        target.retry,
        keepalive,
        Tokio,
        unit_random,
    )
    .await?;
    tokio::spawn(driving);
    Ok(())
}

async fn connect(target: Target, link: SocketLink) -> Result<(Read, Write), Failed> {
    let timeout = target.connect_timeout;
    match tokio::time::timeout(timeout, connect_within(&target, &link)).await {
        Ok(result) => result,
        Err(_) => Err(Failed::Retry(format!(
            "opening the WebSocket to {} took longer than {timeout:?}",
            target.at.url
        ))),
    }
}

async fn connect_within(target: &Target, link: &SocketLink) -> Result<(Read, Write), Failed> {
    let fatal = |why: String| Failed::Fatal(Fatal::Protocol(why));
    let url = &target.at.url;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| fatal(format!("bad WebSocket URL {url}: {e}")))?;
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
            let name = ServerName::try_from(host.clone())
                .map_err(|e| fatal(format!("bad host name {host}: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| fatal(format!("TLS with {host}: {e}")))?;
            Box::new(tls)
        }
    };
    let limit = target.at.max_body + DATA_HEADER;
    let config = WebSocketConfig::default()
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| match e {
            // The relay (or a proxy) answered the upgrade with an HTTP status:
            // for now (503: its store is down, 429) or for good (404, 403).
            WsError::Http(response)
                if response.status().is_server_error() || response.status().as_u16() == 429 =>
            {
                Failed::Retry(format!(
                    "the relay answered the WebSocket upgrade with HTTP {}",
                    response.status()
                ))
            }
            WsError::Http(response) => fatal(format!(
                "the relay answered the WebSocket upgrade with HTTP {}",
                response.status()
            )),
            // A server that does not speak the relay's sub-protocol will not later.
            WsError::Protocol(e @ ProtocolError::SecWebSocketSubProtocolError(_)) => fatal(
                format!("the WebSocket at {url} does not speak {SUBPROTOCOL}: {e}"),
            ),
            e => Failed::Retry(format!("WebSocket upgrade with {url}: {e}")),
        })?;
    let (sink, stream) = socket.split();
    let (mut reader, mut writer) = (Read(stream), Write(sink));
    let hello = driver::hello_text(link, &target.at.token, target.at.epoch)?;
    let send = async {
        writer
            .0
            .send(Message::text(hello))
            .await
            .map_err(|e| e.to_string())
    };
    driver::handshake(link, send, &mut reader).await?;
    Ok((reader, writer))
}

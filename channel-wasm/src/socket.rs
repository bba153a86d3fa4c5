//! The browser driver of a relay party's WebSocket: gloo-net's WebSocket
//! under the protocol core's driver loops (`channel_http_proto::socket::driver`),
//! on the page's event loop. This file only opens connections and adapts the
//! library's halves; every decision about frames and reconnecting is the core's.
//!
//! A browser can neither send pings nor see the relay's (it answers them
//! itself): a quiet socket is not taken for dead here; a dead one ends with
//! the browser's `close` event, and the relay notices a dead party by its
//! missing pongs.

use std::time::Duration;

use bytes::Bytes;
use channel_http_proto::socket::driver::{
    self, Failed, Incoming, Keepalive, Reader, Timer, Writer,
};
use channel_http_proto::socket::wire::SUBPROTOCOL;
use channel_http_proto::socket::{Fatal, SocketLink, SocketTarget};
use channel_http_proto::{HttpError, RetryPolicy};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, WebSocketError};

/// How long opening a connection (up to the welcome) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A party's socket as the browser driver opens it.
#[derive(Clone)]
pub(crate) struct Target {
    /// Where and as whom.
    pub(crate) at: SocketTarget,
    pub(crate) retry: RetryPolicy,
}

#[derive(Clone)]
struct Browser;

impl Timer for Browser {
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> {
        crate::fetch::sleep(delay)
    }
}

struct Read(SplitStream<WebSocket>);

impl Reader for Read {
    async fn next(&mut self) -> Incoming {
        match self.0.next().await {
            Some(Ok(Message::Bytes(bytes))) => Incoming::Binary(Bytes::from(bytes)),
            Some(Ok(Message::Text(text))) => Incoming::Text(text),
            Some(Err(WebSocketError::ConnectionClose(e))) => {
                if e.was_clean || e.code >= 4000 {
                    Incoming::Close(Some((e.code, e.reason)))
                } else {
                    Incoming::Broken(format!("the socket closed ({}): {}", e.code, e.reason))
                }
            }
            Some(Err(e)) => Incoming::Broken(format!("the socket failed: {e}")),
            None => Incoming::Broken("the socket ended".into()),
        }
    }
}

struct Write(SplitSink<WebSocket, Message>);

impl Writer for Write {
    async fn feed(&mut self, frame: Bytes) -> Result<(), String> {
        // The browser copies it into its own buffer at once.
        self.0
            .feed(Message::Bytes(frame.to_vec()))
            .await
            .map_err(|e| e.to_string())
    }
    async fn flush(&mut self) -> Result<(), String> {
        self.0.flush().await.map_err(|e| e.to_string())
    }
    async fn ping(&mut self) -> Result<(), String> {
        Ok(()) // A browser cannot send pings.
    }
    async fn close(&mut self) {
        let _ = self.0.close().await;
    }
}

/// Opens the first connection (see [`driver::open`]), then drives the
/// socket on the page's event loop.
pub(crate) async fn open(target: Target, link: SocketLink, insist: bool) -> Result<(), HttpError> {
    let connect = {
        let (target, link) = (target.clone(), link.clone());
        move || connect(target.clone(), link.clone())
    };
    // No silence bound to speak of (see the module docs).
    let keepalive = Keepalive {
        ping_every: Duration::from_secs(3600),
        silent_for: crate::fetch::LONGEST_SLEEP,
    };
    let driving = driver::open(
        connect,
        link,
        insist,
        target.at.party,
        target.retry,
        keepalive,
        Browser,
        js_sys::Math::random,
    )
    .await?;
    wasm_bindgen_futures::spawn_local(driving);
    Ok(())
}

async fn connect(target: Target, link: SocketLink) -> Result<(Read, Write), Failed> {
    let opening = std::pin::pin!(connect_within(&target, &link));
    let timeout = std::pin::pin!(crate::fetch::sleep(CONNECT_TIMEOUT));
    match futures::future::select(opening, timeout).await {
        futures::future::Either::Left((result, _)) => result,
        futures::future::Either::Right(((), _)) => Err(Failed::Retry(format!(
            "opening the WebSocket to {} took longer than {CONNECT_TIMEOUT:?}",
            target.at.url
        ))),
    }
}

async fn connect_within(target: &Target, link: &SocketLink) -> Result<(Read, Write), Failed> {
    let url = &target.at.url;
    let socket = WebSocket::open_with_protocol(url, SUBPROTOCOL).map_err(|e| {
        Failed::Fatal(Fatal::Protocol(format!(
            "cannot open a WebSocket to {url}: {e}"
        )))
    })?;
    let (sink, stream) = socket.split();
    let (mut reader, mut writer) = (Read(stream), Write(sink));
    let hello = driver::hello_text(link, &target.at.token, target.at.epoch)?;
    // Waits until the socket is open, then sends.
    let send = async {
        writer
            .0
            .send(Message::Text(hello))
            .await
            .map_err(|e| e.to_string())
    };
    driver::handshake(link, send, &mut reader).await?;
    Ok((reader, writer))
}

//! Binding a party's listener and connecting it to the table's other parties.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_rustls::rustls::ServerConfig;

use crate::channel::TcpChannel;
use crate::link::{Connection, Obtain, Shared, Stream};
use crate::{PartyKey, PublicKey, TcpError, TcpOptions};
use channel_link::app::{Lane, PeerLinks};
use channel_link::session::Inbound;
use channel_link::task::LinkTask;

/// One row of the party table: who party i is (its public key) and where it
/// listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyEntry {
    /// The key party i proves in every TLS handshake.
    pub public: PublicKey,
    /// Where party i accepts connections.
    pub addr: SocketAddr,
}

/// A party's key and bound listener, before it connects: bind first, so that
/// the address can go into the table.
#[derive(Debug)]
pub struct TcpNode {
    key: PartyKey,
    listener: TcpListener,
    addr: SocketAddr,
}

impl TcpNode {
    /// Binds `addr` (port 0 picks a free one) for party `key`.
    pub async fn bind(key: PartyKey, addr: SocketAddr) -> Result<Self, TcpError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| TcpError::Setup(format!("cannot listen on {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| TcpError::Setup(format!("the listener's address: {e}")))?;
        Ok(Self {
            key,
            listener,
            addr,
        })
    }

    /// Where this node listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// This node's public key.
    pub fn public(&self) -> PublicKey {
        self.key.public()
    }

    /// Connects as party `me` of `table` and returns once every peer is
    /// connected (at most `options.connect_timeout`, then an error naming the
    /// parties not reached). The lower-numbered party of each pair dials.
    pub async fn connect(
        self,
        me: usize,
        table: Vec<PartyEntry>,
        options: TcpOptions,
    ) -> Result<TcpChannel, TcpError> {
        check_table(me, &table, &self.key)?;
        let n = table.len();
        let max_payload = options.chunk_size + channel_core::frame::FOOTER_LEN;
        let dialers: Vec<PublicKey> = table.iter().take(me).map(|e| e.public).collect();
        let acceptor = crate::tls::acceptor(&self.key, dialers)?;
        let mut routes = HashMap::new();
        let mut peers = Vec::with_capacity(n);
        let mut waits = Vec::new();
        for (q, entry) in table.iter().enumerate() {
            if q == me {
                peers.push(None);
                continue;
            }
            let obtain = if me < q {
                Obtain::Dial(entry.addr, crate::tls::dialer(&self.key, entry.public)?)
            } else {
                // A few connections may queue while the link is busy; more
                // from the same party are dropped (it redials).
                let (tx, rx) = mpsc::channel(4);
                routes.insert(entry.public, (q, tx));
                Obtain::Accept(rx)
            };
            let (to_link, app_rx) = mpsc::unbounded_channel();
            let (to_app, from_link) = mpsc::unbounded_channel();
            let inbound = Inbound::default();
            let shared = Shared::new(options.max_outbound_bytes);
            let (established, wait) = oneshot::channel();
            waits.push((q, wait));
            tokio::spawn(
                LinkTask {
                    party: q,
                    lanes: 1,
                    connector: Connection { obtain },
                    app_rx,
                    to_app,
                    inbound: inbound.clone(),
                    max_inbound: options.max_inbound_bytes,
                    shared: shared.clone(),
                    max_payload,
                    keepalive: options.keepalive,
                    connect_timeout: options.connect_timeout,
                    reconnect_timeout: options.reconnect_timeout,
                    established: Some(established),
                }
                .run(),
            );
            let lane = Lane {
                to_link,
                from_link,
                inbound,
            };
            peers.push(Some(PeerLinks::new(shared, vec![lane])));
        }
        let accepting = tokio::spawn(accept_loop(
            self.listener,
            acceptor,
            routes,
            options.handshake_timeout,
            options.max_pending_handshakes,
        ));

        let mut missing = Vec::new();
        let mut last = String::new();
        for (q, wait) in waits {
            match wait.await {
                Ok(Ok(())) => {}
                Ok(Err(reason)) => {
                    missing.push(q);
                    last = reason;
                }
                Err(_) => {
                    missing.push(q);
                    last = format!("the link to party {q} stopped");
                }
            }
        }
        if !missing.is_empty() {
            accepting.abort();
            return Err(TcpError::Connect {
                me,
                parties: n,
                missing,
                after: options.connect_timeout,
                last,
            });
        }
        Ok(TcpChannel::new(me, peers, options, accepting))
    }
}

fn check_table(me: usize, table: &[PartyEntry], key: &PartyKey) -> Result<(), TcpError> {
    let n = table.len();
    let mine = table
        .get(me)
        .ok_or_else(|| TcpError::Setup(format!("party {me} is not in a table of {n} parties")))?;
    if mine.public != key.public() {
        return Err(TcpError::Setup(format!(
            "the table's key for party {me} is {}, this node's key is {}",
            mine.public,
            key.public()
        )));
    }
    for (i, a) in table.iter().enumerate() {
        if let Some(j) = table.iter().skip(i + 1).position(|b| b.public == a.public) {
            return Err(TcpError::Setup(format!(
                "parties {i} and {} have the same key",
                i + 1 + j
            )));
        }
    }
    Ok(())
}

/// Accepts connections, proves them in TLS (bounded in time and number), and
/// hands each to the link of the party whose key it proved. A connection
/// from a stranger fails its handshake and is dropped.
async fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    mut routes: HashMap<PublicKey, (usize, mpsc::Sender<Stream>)>,
    handshake_timeout: Duration,
    max_pending: usize,
) {
    let pending = Arc::new(Semaphore::new(max_pending));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(PublicKey, Stream)>();
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    // Bounded: ends when every accepting link is gone (swept every second).
    while !routes.is_empty() {
        tokio::select! {
            _ = sweep.tick() => routes.retain(|_, (_, route)| !route.is_closed()),
            accepted = listener.accept() => {
                let Ok((tcp, from)) = accepted else { continue };
                let Ok(permit) = pending.clone().try_acquire_owned() else {
                    tracing::debug!(%from, "too many handshakes in progress; closing");
                    continue;
                };
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                let done = done_tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(handshake_timeout, handshake(acceptor, tcp)).await {
                        Ok(Ok(proven)) => {
                            let _ = done.send(proven);
                        }
                        Ok(Err(e)) => tracing::debug!(%from, "refused a connection: {e}"),
                        Err(_) => tracing::debug!(%from, "a TLS handshake took longer than {handshake_timeout:?}"),
                    }
                });
            }
            Some((key, stream)) = done_rx.recv() => {
                let Some((party, route)) = routes.get(&key) else { continue };
                match route.try_send(stream) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::debug!(party, "dropping a connection: the link has enough queued");
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        routes.remove(&key);
                    }
                }
            }
        }
    }
}

async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
) -> Result<(PublicKey, Stream), String> {
    let _ = tcp.set_nodelay(true);
    let tcp = tokio::io::BufReader::with_capacity(crate::link::READ_BUFFER, tcp);
    let tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
    let key = crate::tls::proven_key(tls.get_ref().1.peer_certificates())
        .ok_or("the peer proved no key")?;
    Ok((key, tokio_rustls::TlsStream::Server(tls)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.
mod hostile_tests {
    //! A member of the table (it holds party 0's key) that speaks TLS
    //! correctly and then breaks the link protocol.

    use std::time::{Duration, Instant};

    use channel_link::wire::{Frame, write_frame};
    use tokio::io::AsyncWriteExt;

    use super::*;

    /// Party 1, connected to a hostile party 0 that has written `bytes`
    /// after its HELLO; what party 1's next receive from 0 says.
    async fn party_one_after(bytes: Vec<u8>) -> (TcpError, Duration) {
        let zero = PartyKey::generate().unwrap();
        let one = TcpNode::bind(
            PartyKey::generate().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        let table = vec![
            PartyEntry {
                public: zero.public(),
                addr: "127.0.0.1:9".parse().unwrap(),
            },
            PartyEntry {
                public: one.public(),
                addr: one.local_addr(),
            },
        ];
        let config = crate::tls::dialer(&zero, table[1].public).unwrap();
        let addr = table[1].addr;
        let hostile = tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let name =
                tokio_rustls::rustls::pki_types::ServerName::try_from(crate::tls::SERVER_NAME)
                    .unwrap();
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .unwrap();
            let mut stream = tokio_rustls::TlsStream::Client(tls);
            let hello = Frame::Hello {
                next_expected: 0,
                lanes: 1,
            };
            write_frame(&mut stream, &hello).await.unwrap();
            stream.write_all(&bytes).await.unwrap();
            stream.flush().await.unwrap();
            // Hold the connection open: the refusal must not wait for a close.
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let options = TcpOptions {
            connect_timeout: Duration::from_secs(10),
            ..TcpOptions::default()
        };
        let mut ch = one.connect(1, table, options).await.unwrap();
        let started = Instant::now();
        let e = channel_core::Channel::recv_bytes_from(
            &mut ch,
            0,
            channel_core::RecvInfo::new("hostile", 0, None),
        )
        .await
        .unwrap_err();
        hostile.abort();
        (e, started.elapsed())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_frame_announcing_4_gib_is_refused_before_anything_is_allocated() {
        let mut header = vec![1u8];
        header.extend_from_slice(&0u64.to_le_bytes());
        header.extend_from_slice(&u32::MAX.to_le_bytes());
        let (e, took) = party_one_after(header).await;
        match e {
            TcpError::Malformed { party: 0, reason } => {
                assert!(reason.contains("exceeds"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_frame_type_and_a_gap_are_typed_errors() {
        let (e, _) = party_one_after(vec![0x7f]).await;
        assert!(matches!(e, TcpError::Malformed { party: 0, .. }), "{e:?}");

        // DATA number 5 where 0 is next: a gap, which a resend can never make.
        let mut gap = vec![1u8];
        gap.extend_from_slice(&5u64.to_le_bytes());
        gap.extend_from_slice(&3u32.to_le_bytes());
        gap.extend_from_slice(b"abc");
        let (e, _) = party_one_after(gap).await;
        assert!(matches!(e, TcpError::Malformed { party: 0, .. }), "{e:?}");
    }
}

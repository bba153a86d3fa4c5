//! Every transport xtask knows, in one list: its name on the command line,
//! which commands show it, what it is measured against, and how to get `n`
//! parties of it on this machine. The demo, the bench and the memory probe
//! all take their parties from here.

/// A transport, or a baseline the bench measures transports against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Copying the message once: the in-process limit.
    Memcpy,
    /// Length-prefixed frames on one loopback TCP connection: the socket limit.
    RawTcp,
    /// The same through a byte forwarder: two hops, the limit of any relay.
    RawTcpForwarded,
    Tokio,
    Std,
    /// Through the relay's HTTP routes (a request per chunk, long-polls),
    /// sealed end to end.
    HttpRelay,
    /// Through the relay's WebSocket, sealed end to end (the client's default).
    HttpRelayWs,
    /// The same with the relay's sessions in a redis-server on this machine.
    HttpRelayRedis,
    /// Through the relay without sealing: what sealing costs (bench only).
    HttpRelayPlaintext,
    /// Direct mode, sealed end to end (the default).
    HttpDirect,
    P2p,
    /// channel-p2p with four connections per pair.
    P2p4Lanes,
    /// One plain libp2p-stream stream with libp2p's defaults: a reference for p2p.
    Libp2pStock,
    /// channel-tcp: TLS 1.3 between pinned party keys.
    Tcp,
    /// channel-tcp in the blocking form (`channel_core::blocking::OnRuntime`).
    TcpBlocking,
    /// Party 0 in headless Chromium (channel-wasm) over the relay's WebSocket,
    /// the others native relay clients.
    Browser,
    /// The same with the browser party on the relay's HTTP routes (long-polls).
    BrowserLongPoll,
}

impl Transport {
    /// Every transport, in table order (baselines first).
    pub const ALL: [Transport; 17] = [
        Transport::Memcpy,
        Transport::RawTcp,
        Transport::RawTcpForwarded,
        Transport::Tokio,
        Transport::Std,
        Transport::HttpRelay,
        Transport::HttpRelayWs,
        Transport::HttpRelayRedis,
        Transport::HttpRelayPlaintext,
        Transport::HttpDirect,
        Transport::P2p,
        Transport::P2p4Lanes,
        Transport::Libp2pStock,
        Transport::Tcp,
        Transport::TcpBlocking,
        Transport::Browser,
        Transport::BrowserLongPoll,
    ];

    /// The name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Memcpy => "memcpy",
            Transport::RawTcp => "raw-tcp",
            Transport::RawTcpForwarded => "raw-tcp-forwarded",
            Transport::Tokio => "tokio",
            Transport::Std => "std",
            Transport::HttpRelay => "http-relay",
            Transport::HttpRelayWs => "http-relay-ws",
            Transport::HttpRelayRedis => "http-relay-redis",
            Transport::HttpRelayPlaintext => "http-relay-plaintext",
            Transport::HttpDirect => "http-direct",
            Transport::P2p => "p2p",
            Transport::P2p4Lanes => "p2p-4-lanes",
            Transport::Libp2pStock => "libp2p-stock",
            Transport::Tcp => "tcp",
            Transport::TcpBlocking => "tcp-blocking",
            Transport::Browser => "browser",
            Transport::BrowserLongPoll => "browser-long-poll",
        }
    }

    /// Whether a streamed message crosses it in this process: a native
    /// transport of the workspace (`cargo xtask stream-memory`).
    pub fn streams_natively(self) -> bool {
        matches!(
            self,
            Transport::Tokio
                | Transport::Std
                | Transport::HttpRelay
                | Transport::HttpRelayWs
                | Transport::HttpDirect
                | Transport::P2p
                | Transport::Tcp
                | Transport::TcpBlocking
        )
    }

    /// Whether `cargo xtask demo` can run it (a transport of the workspace).
    pub fn in_demo(self) -> bool {
        matches!(
            self,
            Transport::Tokio
                | Transport::Std
                | Transport::HttpRelay
                | Transport::HttpRelayWs
                | Transport::HttpDirect
                | Transport::P2p
                | Transport::Tcp
                | Transport::TcpBlocking
                | Transport::Browser
                | Transport::BrowserLongPoll
        )
    }

    /// What protects the parties' traffic from what carries it.
    pub fn protection(self) -> &'static str {
        match self {
            Transport::Tokio | Transport::Std | Transport::Memcpy => "in-process",
            Transport::HttpRelay
            | Transport::HttpRelayWs
            | Transport::HttpRelayRedis
            | Transport::HttpDirect
            | Transport::Browser
            | Transport::BrowserLongPoll => "sealed end to end",
            Transport::P2p | Transport::P2p4Lanes | Transport::Libp2pStock => "libp2p Noise",
            Transport::Tcp | Transport::TcpBlocking => "TLS 1.3, pinned party keys",
            Transport::HttpRelayPlaintext | Transport::RawTcp | Transport::RawTcpForwarded => {
                "none (plaintext)"
            }
        }
    }

    /// Whether party 0 runs in a browser.
    pub fn is_browser(self) -> bool {
        matches!(self, Transport::Browser | Transport::BrowserLongPoll)
    }

    /// Whether `cargo xtask bench` measures it.
    pub fn in_bench(self) -> bool {
        !self.is_browser()
    }

    /// Whether `cargo xtask bench --wan` measures it (raw TCP is its baseline).
    pub fn in_wan(self) -> bool {
        matches!(
            self,
            Transport::RawTcp
                | Transport::HttpRelay
                | Transport::HttpRelayWs
                | Transport::HttpDirect
                | Transport::P2p
                | Transport::P2p4Lanes
                | Transport::Tcp
        )
    }

    /// The relay client's options of a relay transport: the WebSocket for
    /// `http-relay-ws`, the HTTP routes for the other relay rows.
    pub fn relay_options(self) -> channel_http::ClientOptions {
        let transport = match self {
            Transport::HttpRelayWs | Transport::HttpRelayRedis => {
                channel_http::RelayTransport::WebSocket
            }
            _ => channel_http::RelayTransport::LongPoll,
        };
        channel_http::ClientOptions {
            transport,
            ..channel_http::ClientOptions::default()
        }
    }

    /// What the bench compares it with: memcpy in-process, raw TCP for sockets.
    pub fn baseline(self) -> Transport {
        match self {
            Transport::Memcpy | Transport::Tokio | Transport::Std => Transport::Memcpy,
            _ => Transport::RawTcp,
        }
    }

    /// The transport named `name`, among those `allowed` ("demo", "bench").
    pub fn parse(name: &str, allowed: fn(Transport) -> bool) -> Result<Transport, String> {
        Transport::ALL
            .into_iter()
            .filter(|t| allowed(*t))
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = Transport::ALL
                    .into_iter()
                    .filter(|t| allowed(*t))
                    .map(Transport::name)
                    .collect();
                format!("unknown transport '{name}'; known: {}", known.join(", "))
            })
    }

    /// The options of a p2p transport.
    pub fn p2p_options(self) -> channel_p2p::P2pOptions {
        let lanes = if self == Transport::P2p4Lanes { 4 } else { 1 };
        channel_p2p::P2pOptions {
            lanes,
            ..channel_p2p::P2pOptions::default()
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `n` channel-tcp parties on this machine in the blocking form, driven on
/// `runtime` (which must keep running while they are used).
pub fn tcp_blocking(
    n: usize,
    runtime: &tokio::runtime::Runtime,
) -> Result<Vec<channel_core::blocking::OnRuntime<channel_tcp::TcpChannel>>, String> {
    let parties = runtime
        .block_on(channel_tcp::local::network(
            n,
            &channel_tcp::TcpOptions::default(),
        ))
        .map_err(|e| channel_core::error_chain(&e))?;
    parties
        .into_iter()
        .map(|ch| {
            channel_core::blocking::OnRuntime::on_handle(ch, runtime.handle().clone())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// The first two of `parties`, for the two-party measurements.
pub fn two<C>(parties: Vec<C>) -> Result<(C, C), String> {
    let mut it = parties.into_iter();
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err("fewer than two parties".into()),
    }
}

/// Evaluates `$body` with `$parties` bound to a `Vec` of `$n` connected
/// parties of the async transport `$transport` on this machine (in the tokio
/// runtime the caller runs in), then stops what serves them. `$body` is an
/// expression of type `Result<T, String>`; other transports give an error.
///
/// A macro, not a generic function: each transport's parties have their own
/// type, and `tokio::spawn` in `$body` needs `Send` futures, which the compiler
/// proves only for concrete channel types (see channel-core's README).
macro_rules! with_local_parties {
    ($transport:expr, $n:expr, |$parties:ident| $body:expr) => {{
        use $crate::transports::Transport;
        let n: usize = $n;
        let failed = |e: &dyn std::error::Error| channel_core::error_chain(e);
        match $transport {
            Transport::Tokio => {
                let $parties = channel_tokio::TokioChannel::network(n);
                $body
            }
            t @ (Transport::HttpRelay | Transport::HttpRelayWs) => {
                let net = channel_http::local::relay_network(
                    n,
                    channel_http::relay::RelayConfig::default(),
                    &t.relay_options(),
                )
                .await
                .map_err(|e| failed(&e))?;
                let relay = net.relay;
                let $parties = net.parties;
                let result = $body;
                relay.shutdown();
                result
            }
            Transport::HttpRelayRedis => {
                let server = $crate::redis_server::ensure()?;
                let redis = $crate::redis_server::RedisServer::start(&server)?;
                let net = channel_http::local::relay_network_on(
                    n,
                    channel_http::relay::RelayConfig::default(),
                    &Transport::HttpRelayRedis.relay_options(),
                    &channel_http::relay::RelayStore::redis(redis.url()),
                )
                .await
                .map_err(|e| failed(&e))?;
                let relay = net.relay;
                let $parties = net.parties;
                let result = $body;
                relay.shutdown();
                drop(redis);
                result
            }
            Transport::HttpRelayPlaintext => {
                let net = channel_http::local::relay_network_plaintext_insecure(
                    n,
                    channel_http::relay::RelayConfig::default(),
                    &Transport::HttpRelayPlaintext.relay_options(),
                )
                .await
                .map_err(|e| failed(&e))?;
                let relay = net.relay;
                let $parties = net.parties;
                let result = $body;
                relay.shutdown();
                result
            }
            Transport::HttpDirect => {
                let options = channel_http::DirectOptions::default();
                let $parties = channel_http::local::direct_network(n, &options)
                    .await
                    .map_err(|e| failed(&e))?;
                $body
            }
            t @ (Transport::P2p | Transport::P2p4Lanes) => {
                let $parties = channel_p2p::local::network(n, &t.p2p_options())
                    .await
                    .map_err(|e| failed(&e))?;
                $body
            }
            Transport::Tcp => {
                let $parties = channel_tcp::local::network(n, &channel_tcp::TcpOptions::default())
                    .await
                    .map_err(|e| failed(&e))?;
                $body
            }
            Transport::RawTcp if n == 2 => {
                let (a, b) = $crate::raw_tcp::pair().await.map_err(|e| failed(&e))?;
                let $parties = vec![a, b];
                $body
            }
            other => Err(format!(
                "{} has no async parties of {n} on this machine",
                other.name()
            )),
        }
    }};
}
pub(crate) use with_local_parties;

#[cfg(test)]
mod tests {
    use super::Transport;

    #[test]
    fn names_parse_back_and_commands_see_their_transports() {
        for t in Transport::ALL {
            assert_eq!(Transport::parse(t.name(), |_| true), Ok(t));
        }
        assert_eq!(
            Transport::parse("p2p", Transport::in_demo),
            Ok(Transport::P2p)
        );
        let err = Transport::parse("memcpy", Transport::in_demo).unwrap_err();
        assert!(err.contains("known: tokio, std, http-relay"), "{err}");
        assert!(Transport::parse("browser", Transport::in_bench).is_err());
        assert_eq!(Transport::Tokio.baseline(), Transport::Memcpy);
        assert_eq!(Transport::P2p4Lanes.baseline(), Transport::RawTcp);
        assert_eq!(Transport::P2p4Lanes.p2p_options().lanes, 4);
    }
}

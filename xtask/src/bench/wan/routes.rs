//! Two parties of a network transport with every path through channel-sim's
//! link emulator: what `bench --wan` measures.
//!
//! - raw TCP, direct mode and p2p: a proxy with the whole profile in front of
//!   each party's listener, so every connection to a party crosses one WAN link;
//! - the relay: a proxy with half the latency between each party and the
//!   relay, so party → relay → party is as far as party → party.

use std::net::SocketAddr;

use channel_sim::{Link, LinkProfile, LinkProxy};

/// The proxies of one measurement; they stop when this is dropped.
#[derive(Default)]
pub struct Proxies {
    running: Vec<LinkProxy>,
}

impl Proxies {
    /// Puts a proxy with `link` in front of `target`; where to connect instead.
    pub async fn route(&mut self, target: SocketAddr, link: Link) -> std::io::Result<SocketAddr> {
        let proxy = LinkProxy::start(target, link).await?;
        let via = proxy.addr();
        self.running.push(proxy);
        Ok(via)
    }
}

/// The link each proxy of `transport` gets on a path with `profile`.
pub fn link_for(relayed: bool, profile: LinkProfile) -> Link {
    Link::symmetric(if relayed { profile.halved() } else { profile })
}

/// Evaluates `$body` (a `Result<T, String>`) with `$parties` bound to a `Vec`
/// of two parties of `$transport`, every path through emulated links with
/// `$profile`; a macro for the reason `with_local_parties!` is one.
macro_rules! with_wan_parties {
    ($transport:expr, $profile:expr, |$parties:ident| $body:expr) => {{
        use $crate::bench::wan::routes::{Proxies, link_for};
        use $crate::transports::Transport;
        let profile: channel_sim::LinkProfile = $profile;
        let failed = |e: &dyn std::error::Error| channel_core::error_chain(e);
        let mut proxies = Proxies::default();
        match $transport {
            Transport::RawTcp => {
                let link = link_for(false, profile);
                let (a, b) =
                    $crate::raw_tcp::pair_via(async |addr| proxies.route(addr, link).await)
                        .await
                        .map_err(|e| failed(&e))?;
                let $parties = vec![a, b];
                $body
            }
            t @ (Transport::HttpRelay | Transport::HttpRelayWs) => {
                let link = link_for(true, profile);
                let net = channel_http::local::relay_network_routed(
                    2,
                    channel_http::relay::RelayConfig::default(),
                    &t.relay_options(),
                    async |_, addr| proxies.route(addr, link).await,
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
                let link = link_for(false, profile);
                let $parties = channel_http::local::direct_network_routed(
                    2,
                    &channel_http::DirectOptions::default(),
                    async |_, addr| proxies.route(addr, link).await,
                )
                .await
                .map_err(|e| failed(&e))?;
                $body
            }
            t @ (Transport::P2p | Transport::P2p4Lanes) => {
                let link = link_for(false, profile);
                let $parties =
                    channel_p2p::local::network_routed(2, &t.p2p_options(), async |_, addr| {
                        proxies.route(addr, link).await
                    })
                    .await
                    .map_err(|e| failed(&e))?;
                $body
            }
            Transport::Tcp => {
                let link = link_for(false, profile);
                let $parties = channel_tcp::local::network_routed(
                    2,
                    &channel_tcp::TcpOptions::default(),
                    async |_, addr| proxies.route(addr, link).await,
                )
                .await
                .map_err(|e| failed(&e))?;
                $body
            }
            other => Err(format!("{} is not measured on a WAN", other.name())),
        }
    }};
}
pub(crate) use with_wan_parties;

//! A TCP proxy that makes a loopback connection behave like a WAN link, for
//! testing and measuring real transports.
//!
//! [`LinkProxy::start`] listens on a free port of the loopback address and
//! forwards every connection made to it to a target, each direction through
//! its own [`LinkProfile`] (latency, jitter, bandwidth). Point a client at
//! [`LinkProxy::addr`] instead of the target and it runs as far away as the
//! profile says. [`LinkControl`] changes profiles and injects faults while it
//! runs.
//!
//! # What is emulated, and what is not
//!
//! - **Latency and bandwidth of the byte stream**: every byte arrives when it
//!   would through a bottleneck link of that rate and one-way delay (see
//!   [`Schedule`](crate::Schedule)), within about 0.1 ms: the delay line
//!   wakes from a timer thread of its own (tokio's timer rounds up to the
//!   millisecond) and aims each wake-up at the deadline less the wake-up
//!   delay it measured recently, so a byte is at most 0.2 ms early and on
//!   time on average. The proxy needs a real clock: do not run it on a
//!   paused tokio runtime.
//! - **Connection set-up**: a new connection's first byte leaves after the
//!   handshake's round trip, as on a real path.
//! - **Queueing**: each direction holds up to twice its bandwidth-delay product
//!   (at least 1 MiB) between reading and delivering; beyond that it stops
//!   reading, so a sender faster than the link is slowed by TCP's own flow
//!   control, as behind a bottleneck router.
//! - **One path**: every connection through a proxy shares its bandwidth (one
//!   bottleneck queue per direction, first come first served), as connections
//!   between the same two hosts share a WAN path.
//! - **Not emulated**: TCP's congestion control and windows over the long path
//!   (the kernel sees two loopback connections) and packet loss. A transport
//!   whose own protocol waits for round trips (requests, acknowledgements,
//!   flow-control windows) pays for them in full, which is what the bench
//!   measures; raw TCP through the same proxy is the baseline.

mod clock;
mod connection;
mod control;
mod pump;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use control::{Direction, LinkControl, LinkState};

use crate::LinkProfile;

/// How a proxy treats each direction of its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// From the connecting side to the target.
    pub up: LinkProfile,
    /// From the target back.
    pub down: LinkProfile,
    /// Makes the jitter reproducible.
    pub seed: u64,
    /// Connections proxied at once, at most; more are closed at once.
    pub max_connections: usize,
}

impl Link {
    /// `up` one way and `down` the other.
    pub fn new(up: LinkProfile, down: LinkProfile) -> Self {
        Self {
            up,
            down,
            seed: 0x5EED,
            max_connections: 1024,
        }
    }

    /// The same profile both ways.
    pub fn symmetric(profile: LinkProfile) -> Self {
        Self::new(profile, profile)
    }

    /// The same link with jitter drawn from `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// A running link emulator in front of one target; see the [module docs](self).
///
/// ```
/// use channel_sim::{Link, LinkProfile, LinkProxy};
/// use std::time::{Duration, Instant};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// // An echo server, 10 ms away.
/// let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let target = server.local_addr()?;
/// tokio::spawn(async move {
///     let (mut socket, _) = server.accept().await?;
///     let mut buf = [0u8; 5];
///     socket.read_exact(&mut buf).await?;
///     socket.write_all(&buf).await?;
///     Ok::<_, std::io::Error>(())
/// });
/// let proxy = LinkProxy::start(target, Link::symmetric(LinkProfile::latency(Duration::from_millis(10)))).await?;
///
/// let mut client = tokio::net::TcpStream::connect(proxy.addr()).await?;
/// let started = Instant::now();
/// client.write_all(b"hello").await?;
/// let mut buf = [0u8; 5];
/// client.read_exact(&mut buf).await?;
/// // The handshake's round trip, then one round trip of data.
/// assert!(started.elapsed() >= Duration::from_millis(40));
/// assert_eq!(&buf, b"hello");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LinkProxy {
    addr: SocketAddr,
    control: LinkControl,
    accepting: tokio::task::JoinHandle<()>,
}

impl LinkProxy {
    /// Listens on a free port of the loopback address of `target`'s family
    /// (127.0.0.1 or [::1]) and proxies every connection to `target` through
    /// `link`, in tasks of the current tokio runtime.
    pub async fn start(target: SocketAddr, link: Link) -> io::Result<Self> {
        let local: SocketAddr = match target {
            SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::LOCALHOST, 0).into(),
        };
        Self::start_on(TcpListener::bind(local).await?, target, link)
    }

    /// Proxies the connections made to `listener` to `target` through `link`.
    pub fn start_on(listener: TcpListener, target: SocketAddr, link: Link) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let control = LinkControl::new(link.up, link.down, link.seed);
        let accepting = tokio::spawn(accept(listener, target, link, control.clone()));
        Ok(Self {
            addr,
            control,
            accepting,
        })
    }

    /// Where to connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The link's switches and counters.
    pub fn control(&self) -> LinkControl {
        self.control.clone()
    }

    /// Stops accepting and closes every proxied connection (also on drop).
    pub fn shutdown(self) {}
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks: aborting it ends them all.
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, link: Link, control: LinkControl) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    if control.state() == LinkState::Cut
                        || connections.len() >= link.max_connections
                    {
                        drop(client);
                        continue;
                    }
                    connections.spawn(connection::serve(client, target, control.clone()));
                }
                Err(e) => {
                    // Out of descriptors, say: wait instead of spinning.
                    tracing::warn!("the link proxy cannot accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

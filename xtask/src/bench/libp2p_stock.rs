//! Stock libp2p, measured next to `channel-p2p`: one `libp2p-stream` stream over
//! TCP + Noise + Yamux with libp2p's default configuration, length-prefixed
//! frames written from one buffer and read into one reused buffer (no channel,
//! no acknowledgements, no reconnects: what a plain libp2p user gets).

use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::swarm::SwarmEvent;
use libp2p::{Stream, StreamProtocol, Swarm, noise, tcp, yamux};

use super::frames::FrameStream;
use crate::raw_tcp::{checked_len, len_prefix};

const PROTOCOL: StreamProtocol = StreamProtocol::new("/mpc-channels/bench-stock/1");
const SET_UP: Duration = Duration::from_secs(10);

fn swarm() -> Result<Swarm<libp2p_stream::Behaviour>, String> {
    Ok(libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_behaviour(|_| libp2p_stream::Behaviour::new())
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(600)))
        .build())
}

/// Two nodes on 127.0.0.1 and one stream between them (opener, acceptor). The
/// swarms run on tasks of the current runtime until it ends.
pub async fn pair() -> Result<(StockStream, StockStream), String> {
    let (mut a, mut b) = (swarm()?, swarm()?);
    let listen = "/ip4/127.0.0.1/tcp/0".parse().map_err(|e| format!("{e}"))?;
    b.listen_on(listen).map_err(|e| e.to_string())?;
    let addr = tokio::time::timeout(SET_UP, async {
        // Bounded by the timeout around it.
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = b.select_next_some().await {
                return address;
            }
        }
    })
    .await
    .map_err(|_| "stock libp2p: no listen address")?;
    let peer = *b.local_peer_id();
    let mut incoming = b
        .behaviour()
        .new_control()
        .accept(PROTOCOL)
        .map_err(|e| e.to_string())?;
    let mut control = a.behaviour().new_control();
    a.dial(addr).map_err(|e| e.to_string())?;
    tokio::spawn(async move { while b.next().await.is_some() {} });
    tokio::time::timeout(SET_UP, async {
        // Bounded by the timeout around it.
        loop {
            if let SwarmEvent::ConnectionEstablished { .. } = a.select_next_some().await {
                return;
            }
        }
    })
    .await
    .map_err(|_| "stock libp2p: no connection")?;
    tokio::spawn(async move { while a.next().await.is_some() {} });
    let out = tokio::time::timeout(SET_UP, control.open_stream(peer, PROTOCOL))
        .await
        .map_err(|_| "stock libp2p: no stream")?
        .map_err(|e| e.to_string())?;
    let (_, inc) = tokio::time::timeout(SET_UP, incoming.next())
        .await
        .map_err(|_| "stock libp2p: no incoming stream")?
        .ok_or("stock libp2p: no incoming stream")?;
    Ok((StockStream(out), StockStream(inc)))
}

/// The acceptor's end, with a name of our own so the bench can measure it.
pub struct StockStream(Stream);

impl FrameStream for StockStream {
    async fn write_frame(&mut self, msg: &[u8]) -> std::io::Result<()> {
        self.0.write_all(&len_prefix(msg)?).await?;
        self.0.write_all(msg).await?;
        self.0.flush().await
    }

    async fn read_frame_into(&mut self, buf: &mut Vec<u8>, max: usize) -> std::io::Result<()> {
        let mut word = [0u8; 4];
        self.0.read_exact(&mut word).await?;
        buf.resize(checked_len(word, max)?, 0);
        self.0.read_exact(buf).await
    }
}

//! Stock libp2p, measured next to `channel-p2p`: one `libp2p-stream` stream over
//! TCP + Noise + Yamux with libp2p's default configuration, length-prefixed
//! frames written from one buffer and read into one reused buffer (no channel,
//! no acknowledgements, no reconnects: what a plain libp2p user gets).

use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::swarm::SwarmEvent;
use libp2p::{Stream, StreamProtocol, Swarm, noise, tcp, yamux};

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
pub async fn pair() -> Result<(Stream, Stream), String> {
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
    Ok((out, inc))
}

async fn write_frame(s: &mut Stream, msg: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(msg.len()).map_err(|_| std::io::Error::other("frame > 4 GiB"))?;
    s.write_all(&len.to_le_bytes()).await?;
    s.write_all(msg).await?;
    s.flush().await
}

async fn read_frame_into(s: &mut Stream, buf: &mut Vec<u8>, max: usize) -> std::io::Result<()> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(std::io::Error::other("a frame beyond the bound"));
    }
    buf.resize(len, 0);
    s.read_exact(buf).await
}

/// `reps` frames of `msg`, then waits for the one-byte answer.
pub async fn source(a: &mut Stream, msg: &[u8], reps: usize) -> std::io::Result<()> {
    for _ in 0..reps {
        write_frame(a, msg).await?;
    }
    read_frame_into(a, &mut Vec::new(), 1).await
}

/// Every frame into `buf`, reused, then a one-byte answer.
pub async fn sink(b: &mut Stream, buf: &mut Vec<u8>, reps: usize) -> std::io::Result<()> {
    let size = buf.len();
    for _ in 0..reps {
        read_frame_into(b, buf, size).await?;
    }
    write_frame(b, &[1]).await
}

/// `rounds` 100-byte ping-pongs; each round-trip time.
pub async fn ping(a: &mut Stream, rounds: usize) -> std::io::Result<Vec<Duration>> {
    let (msg, mut buf) = (vec![1u8; super::measure::PING], Vec::new());
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        write_frame(a, &msg).await?;
        read_frame_into(a, &mut buf, msg.len()).await?;
        times.push(t.elapsed());
    }
    Ok(times)
}

/// The other side of [`ping`].
pub async fn pong(b: &mut Stream, rounds: usize) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for _ in 0..rounds {
        read_frame_into(b, &mut buf, super::measure::PING).await?;
        write_frame(b, &buf.clone()).await?;
    }
    Ok(())
}

//! One proxied connection: dial the target, pump both directions, and end the
//! way the link says (closed by either side, cut, or reset).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::control::LinkControl;
use super::pump::Pump;

/// How long dialing the target may take (it is on this machine).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a connection ended, and so how its sockets are closed.
enum End {
    /// Both sides finished (FIN each way), or the link was cut: close.
    Close,
    /// A side failed or the link was reset: reset both sides (RST), so the
    /// failure reaches the other end as it would without the proxy.
    Reset,
}

/// Proxies `client` to `target` until the connection ends.
pub(crate) async fn serve(mut client: TcpStream, target: SocketAddr, control: LinkControl) {
    let accepted = control.now();
    let mut faults = control.subscribe();
    let resets = faults.borrow().resets;
    let mut server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(server)) => server,
        Ok(Err(e)) => {
            tracing::debug!("cannot reach the target {target}: {e}");
            return abort(&client);
        }
        Err(_) => {
            tracing::debug!("the target {target} did not answer within {CONNECT_TIMEOUT:?}");
            return abort(&client);
        }
    };
    let _open = control.open_connection();
    for stream in [&client, &server] {
        // Nagle's delay would be the proxy's, not the link's.
        let _ = stream.set_nodelay(true);
    }
    let (up, down) = (
        control.profile(super::Direction::Up),
        control.profile(super::Direction::Down),
    );
    let pump = |direction, hold| Pump {
        direction,
        control: control.clone(),
        hold: accepted + hold,
    };
    let end = {
        let (client_read, client_write) = client.split();
        let (server_read, server_write) = server.split();
        // The client's first byte leaves once its SYN and the SYN-ACK have
        // crossed the link; the target can answer once the SYN is in.
        let upward =
            pump(super::Direction::Up, up.latency + down.latency).run(client_read, server_write);
        let downward = pump(super::Direction::Down, up.latency).run(server_read, client_write);
        let killed = faults.wait_for(|f| f.cut || f.resets != resets);
        tokio::select! {
            pumped = async { tokio::try_join!(upward, downward) } => match pumped {
                Ok(_) => End::Close,
                Err(e) => {
                    tracing::debug!("a proxied connection failed: {e}");
                    End::Reset
                }
            },
            why = killed => match why {
                Ok(state) if state.cut => End::Close,
                _ => End::Reset,
            },
        }
    };
    if let End::Reset = end {
        abort(&client);
        abort(&server);
    }
}

/// Makes the socket's close send an RST instead of a FIN.
fn abort(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

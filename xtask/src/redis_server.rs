//! A real `redis-server` for the relay's tests on its Redis store: Debian's
//! package (installed with apt-get where xtask may), on 127.0.0.1 at a free
//! port, without persistence, in a scratch folder under `target/`; stopped
//! and removed when dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts the server.
const SERVER: &str = "/usr/bin/redis-server";

/// The server binary, installing Debian's package when it is missing and
/// xtask may.
pub fn ensure() -> Result<PathBuf, String> {
    if Path::new(SERVER).exists() {
        return Ok(SERVER.into());
    }
    if let Some(why) = crate::apt::cannot_install() {
        return Err(format!(
            "redis-server is missing and xtask cannot install it ({why}). Run:\n  \
             sudo apt-get update && sudo apt-get install -y --no-install-recommends redis-server"
        ));
    }
    crate::apt::apt_get(&["update", "-q"])?;
    crate::apt::install(&["redis-server"])?;
    if Path::new(SERVER).exists() {
        Ok(SERVER.into())
    } else {
        Err(format!("installed redis-server, but {SERVER} is missing"))
    }
}

/// A running server; stopped when dropped.
pub struct RedisServer {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl RedisServer {
    /// Starts `server` on a free port of 127.0.0.1 and waits (at most 10 s)
    /// until it answers.
    pub fn start(server: &Path) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
            .port();
        let dir = crate::run::root()
            .join("target")
            .join(format!("redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        let child = Command::new(server)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
        let started = Self {
            child,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        // Bounded by the deadline.
        while Instant::now() < deadline {
            if started.answers() {
                println!("xtask: redis-server on {}", started.url());
                return Ok(started);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "redis-server on {} did not answer within 10 s",
            started.addr
        ))
    }

    /// Whether the server answers a PING.
    fn answers(&self) -> bool {
        let Ok(mut socket) = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200))
        else {
            return false;
        };
        let _ = socket.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        socket.write_all(b"PING\r\n").is_ok()
            && socket.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Its URL, database 0.
    pub fn url(&self) -> String {
        format!("redis://{}/0", self.addr)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

//! The `channel-sim` command: prints where to connect, delays as told, and
//! takes fault commands on standard input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{echo_server, ms, round_trip};

/// The next line the command prints, within 10 s.
fn next_line(lines: &std::sync::mpsc::Receiver<String>) -> String {
    lines
        .recv_timeout(Duration::from_secs(10))
        .expect("channel-sim printed nothing within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_proxies_with_its_profile_and_obeys_commands() {
    let target = echo_server().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_channel-sim"))
        .args([
            "--to",
            &target.to_string(),
            "--latency",
            "30ms",
            "--bandwidth",
            "100mbit",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let banner = next_line(&lines);
    let addr = banner
        .strip_prefix("channel-sim: listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("unexpected banner: {banner}"));
    let status = next_line(&lines);
    assert!(status.contains("30ms one way, 100 Mbit/s"), "{status}");

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    round_trip(&mut stream, 1).await;
    let rtt = round_trip(&mut stream, 100).await;
    assert!(rtt >= ms(60) && rtt < ms(90), "{rtt:?}");

    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "latency 5ms").unwrap();
    assert!(next_line(&lines).contains("5ms one way"));
    let rtt = round_trip(&mut stream, 100).await;
    assert!(rtt >= ms(10) && rtt < ms(40), "{rtt:?}");

    writeln!(stdin, "fly away").unwrap();
    assert!(next_line(&lines).contains("unknown command"));
    writeln!(stdin, "cut").unwrap();
    assert!(next_line(&lines).starts_with("channel-sim: Cut"));
    assert!(
        common::ended(&mut stream, Duration::from_secs(2))
            .await
            .is_some()
    );

    writeln!(stdin, "quit").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "channel-sim did not quit"
        );
        std::thread::sleep(ms(20));
    };
    assert!(status.success());
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_channel-sim"))
        .args(["--to", "127.0.0.1:1", "--bandwidth", "fast"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("500mbit"), "{err}");
}

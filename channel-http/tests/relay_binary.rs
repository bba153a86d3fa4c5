//! The `channel-relay` binary: documented flags, and a real run on 127.0.0.1
//! serving three parties.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use std::io::BufReader;
use std::process::Command;
use std::time::Duration;

mod common;

use channel_core::reference::secure_sum;
use channel_http::{ClientOptions, HttpChannel};
use common::start;

const BIN: &str = env!("CARGO_BIN_EXE_channel-relay");

#[test]
fn help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--max-body",
        "--max-session-bytes",
        "--max-sessions",
        "--max-parties",
        "--session-idle-secs",
        "--max-wait-ms",
        "--operator-token",
        "--cors-origin",
        "--tls-cert",
        "--tls-key",
        "--max-total-bytes",
        "--unjoined-session-secs",
        "--peer-gone-secs",
        "--create-per-second",
        "--open-session-creation",
        "--header-timeout-secs",
        "--body-timeout-secs",
        "--max-connections",
        "--shutdown-grace-secs",
        "--log-format",
        "--store",
        "--store-namespace",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
    assert!(
        help.contains("GET /metrics"),
        "--help does not document the metrics:\n{help}"
    );
}

#[test]
fn a_bad_flag_is_a_clear_error() {
    let out = Command::new(BIN)
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
}

#[test]
fn limits_that_clients_would_refuse_are_rejected_at_start() {
    for (flag, value) in [
        ("--max-body", "17"),
        ("--max-body", "2000000000"),
        ("--max-parties", "1"),
        ("--max-parties", "70000"),
        // Values that would break the relay in use.
        ("--session-idle-secs", "0"),
        ("--max-wait-ms", "0"),
        ("--peer-gone-secs", "1"),
        // A chunk that can never fit a session would get a 429 forever.
        ("--max-session-bytes", "1000"),
        ("--max-connections", "0"),
        ("--log-format", "xml"),
    ] {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", flag, value])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A relay that accepted the value would serve forever: wait 10 s at most.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("{flag} {value} was accepted (the relay kept running)");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let out = child.wait_with_output().unwrap();
        assert!(!status.success(), "{flag} {value} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
}

#[test]
fn beyond_loopback_session_creation_needs_an_operator_token() {
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0"])
        .env_remove("CHANNEL_RELAY_OPERATOR_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("CHANNEL_RELAY_OPERATOR_TOKEN")
            && stderr.contains("--open-session-creation"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_relays_a_secure_sum_with_an_operator_token() {
    let (relay, url) = start(
        &["--listen", "127.0.0.1:0", "--cors-origin", "*"],
        &[("CHANNEL_RELAY_OPERATOR_TOKEN", "op")],
    )
    .await;

    let opts = ClientOptions::default();
    assert!(
        HttpChannel::create_session(&url, 3, None, &opts)
            .await
            .is_err(),
        "the operator token is required"
    );
    let (keys, public) = channel_http::local::keys(3).unwrap();
    let invitations = HttpChannel::invite(&url, &public, Some("op"), &opts)
        .await
        .unwrap();
    let parties = channel_http::local::join_all(&invitations, &keys, &opts)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for mut ch in parties {
        tasks.push(tokio::spawn(async move {
            let me = ch.party();
            secure_sum(&mut ch, me, 3, me as u64, || 5).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 3);
    }
    drop(relay);
}

/// The relay used to log nothing but its listening line, even with
/// `RUST_LOG=trace`. Now a refused request is logged at info with its path,
/// session, the party its token proved (if any) and reason, never the token;
/// every request at debug.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_are_logged_with_their_reason_and_never_a_token() {
    let (mut relay, url) = start(
        &["--listen", "127.0.0.1:0", "--log-format", "json"],
        &[("RUST_LOG", "channel_http=debug")],
    )
    .await;
    let stderr = relay.0.stderr.take().unwrap();

    let created = HttpChannel::create_session(&url, 2, None, &ClientOptions::default())
        .await
        .unwrap();
    let wrong_token = "not-the-token-0123456789";
    let refused = reqwest::Client::new()
        .post(format!("{url}/v1/sessions/{}/to/1?seq=0", created.session))
        .bearer_auth(wrong_token)
        .body(vec![1u8; 8])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    // A request with a good token that is refused: its line names the party.
    let to_itself = reqwest::Client::new()
        .post(format!("{url}/v1/sessions/{}/to/0?seq=0", created.session))
        .bearer_auth(&created.tokens[0])
        .body(vec![1u8; 8])
        .send()
        .await
        .unwrap();
    assert_eq!(to_itself.status().as_u16(), 400);
    let health = reqwest::get(format!("{url}/health")).await.unwrap();
    assert!(health.status().is_success());

    // Stop the relay so that its log ends, then read all of it.
    let _ = relay.0.kill();
    let _ = relay.0.wait();
    let log = tokio::task::spawn_blocking(move || {
        let mut all = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut all).map(|_| all)
    });
    let log = tokio::time::timeout(Duration::from_secs(30), log)
        .await
        .expect("the relay's log did not end within 30 s")
        .unwrap()
        .unwrap();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let refusal = events
        .iter()
        .find(|e| e["fields"]["message"] == "refused")
        .unwrap_or_else(|| panic!("no refusal logged:\n{log}"));
    assert_eq!(refusal["level"], "INFO", "{refusal}");
    assert_eq!(refusal["fields"]["status"], 403, "{refusal}");
    let path = refusal["fields"]["path"].as_str().unwrap();
    assert!(
        path.contains(&created.session) && path.ends_with("/to/1"),
        "the refusal names session and parties: {refusal}"
    );
    assert!(
        !refusal["fields"]["reason"].as_str().unwrap().is_empty(),
        "{refusal}"
    );
    assert_eq!(
        refusal["fields"]["session"],
        created.session.as_str(),
        "{refusal}"
    );
    assert!(
        refusal["fields"].get("party").is_none(),
        "no token proved a party: {refusal}"
    );
    let by_party = events
        .iter()
        .find(|e| e["fields"]["message"] == "refused" && e["fields"]["status"] == 400)
        .unwrap_or_else(|| panic!("no refusal of party 0 logged:\n{log}"));
    assert_eq!(by_party["fields"]["party"], 0, "{by_party}");
    assert_eq!(
        by_party["fields"]["session"],
        created.session.as_str(),
        "{by_party}"
    );
    assert!(
        by_party["fields"]["reason"]
            .as_str()
            .unwrap()
            .contains("itself"),
        "{by_party}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["level"] == "DEBUG" && e["fields"]["path"] == "/health"),
        "every request is logged at debug:\n{log}"
    );
    assert!(!log.contains(wrong_token), "a token was logged:\n{log}");
    for token in &created.tokens {
        assert!(!log.contains(token.as_str()), "a token was logged:\n{log}");
    }
}

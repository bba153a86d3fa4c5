//! Browser tests, run by `cargo xtask test-all` in headless Chromium against a
//! live relay on 127.0.0.1 that xtask starts. xtask passes the relay's address
//! and a secure-sum session (whose other two parties are native `channel-http`
//! clients) at compile time.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::reference::secure_sum;
use channel_core::testkit::{Check, Kit};
use channel_core::{Error, recv_bytes, send_bytes};
use channel_wasm::{HttpError, Invitation, PartyKey, SealError, TransportError};
use channel_wasm::{RelayChannel, RelayTransport, WasmChannel, WasmOptions};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn relay() -> &'static str {
    option_env!("CHANNEL_WASM_RELAY_URL")
        .expect("CHANNEL_WASM_RELAY_URL is set by `cargo xtask test-all` at compile time")
}

/// `n` fresh keys made in the browser, and their invitations to a new session.
async fn invitations(n: usize) -> (Vec<PartyKey>, Vec<Invitation>) {
    let keys: Vec<PartyKey> = (0..n).map(|_| PartyKey::generate().unwrap()).collect();
    let public: Vec<_> = keys.iter().map(PartyKey::public).collect();
    let opts = WasmOptions::default();
    let invitations = WasmChannel::invite(relay(), &public, None, &opts)
        .await
        .unwrap();
    (keys, invitations)
}

/// `n` sealed parties in this page (joining at once: each waits for the others).
async fn parties(n: usize) -> Result<Vec<WasmChannel>, channel_core::BoxError> {
    parties_over(n, RelayTransport::Auto).await
}

/// [`parties`] over `transport` (`Auto` takes the WebSocket here: the relay has one).
async fn parties_over(
    n: usize,
    transport: RelayTransport,
) -> Result<Vec<WasmChannel>, channel_core::BoxError> {
    let (keys, invitations) = invitations(n).await;
    let opts = WasmOptions {
        transport,
        ..WasmOptions::default()
    };
    let joining = invitations
        .iter()
        .zip(&keys)
        .map(|(invitation, key)| WasmChannel::join(invitation, key, &opts));
    let mut out = Vec::new();
    for party in futures::future::join_all(joining).await {
        let party = party?;
        assert!(party.is_sealed());
        let expected = match transport {
            RelayTransport::LongPoll => RelayTransport::LongPoll,
            _ => RelayTransport::WebSocket,
        };
        assert_eq!(party.transport(), expected);
        out.push(party);
    }
    Ok(out)
}

#[wasm_bindgen_test]
async fn conformance_checks_in_the_browser_over_the_websocket() {
    conformance_over(RelayTransport::WebSocket).await;
}

#[wasm_bindgen_test]
async fn conformance_checks_in_the_browser_over_long_polls() {
    conformance_over(RelayTransport::LongPoll).await;
}

async fn conformance_over(transport: RelayTransport) {
    let report = Kit::new(3)
        .with_checks(&[
            Check::Pairwise,
            Check::Fifo,
            Check::TinyMessages,
            Check::ChunkBoundaries,
            Check::BigMessage,
            Check::AllToAll,
            Check::InterleavedPhases,
            Check::TypedStructs,
            Check::BadParty,
            Check::OversizedChunk,
            Check::ReusedBuffers,
            Check::SecureSum,
            Check::StreamedMessages,
            Check::StreamedBig,
        ])
        // Over the WebSocket, 64 MiB (64 chunks of 1 MiB in flight), whole and
        // streamed; over long-polls, several MiB: two chunks of the relay's
        // 4 MiB, one request at a time.
        .with_big_message(match transport {
            RelayTransport::LongPoll => 6 << 20,
            _ => 64 << 20,
        })
        .with_all_to_all_message(1 << 20)
        .with_fifo_messages(200)
        .run_async(async |n| parties_over(n, transport).await)
        .await
        .unwrap_or_else(|failure| panic!("{transport:?}: {failure}"));
    web_sys_log(&format!("{transport:?}: {report}"));
}

/// The browser party's per-peer halves (`Split`, through `Shared`) and
/// sub-channels (`Mux`), with their own checks, over the WebSocket.
#[wasm_bindgen_test]
async fn split_halves_and_sub_channels_in_the_browser() {
    let transport = RelayTransport::WebSocket;
    let kit = Kit::new(3)
        .with_checks(&[
            Check::Pairwise,
            Check::ChunkBoundaries,
            Check::OversizedChunk,
        ])
        .with_big_message(8 << 20)
        .with_all_to_all_message(1 << 20);
    let split = kit
        .run_split_async(async |n| parties_over(n, transport).await)
        .await
        .unwrap_or_else(|failure| panic!("split: {failure}"));
    assert_eq!(split.passed.len(), 3 + Check::SPLIT.len());
    let mux = kit
        .run_mux_async(async |n| parties_over(n, transport).await)
        .await
        .unwrap_or_else(|failure| panic!("sub-channels: {failure}"));
    assert_eq!(mux.passed.len(), 3 + Check::MUX.len());
    web_sys_log(&format!("split: {split}\nsub-channels: {mux}"));
}

#[wasm_bindgen_test]
async fn the_browser_is_one_party_of_a_secure_sum_with_native_parties() {
    // xtask made the session with a key per party; the native parties hold theirs.
    let invitation = option_env!("CHANNEL_WASM_SUM_INVITATION").expect("set by xtask");
    let key = option_env!("CHANNEL_WASM_SUM_KEY").expect("set by xtask");
    let input: u64 = option_env!("CHANNEL_WASM_SUM_INPUT")
        .expect("set by xtask")
        .parse()
        .unwrap();
    let expected: u64 = option_env!("CHANNEL_WASM_SUM_EXPECTED")
        .expect("set by xtask")
        .parse()
        .unwrap();
    let invitation = Invitation::from_text(invitation).unwrap();
    let key = PartyKey::from_hex(key).unwrap();
    let mut ch = WasmChannel::join(&invitation, &key, &WasmOptions::default())
        .await
        .unwrap();
    assert!(ch.is_sealed());
    // A browser has no AES instructions: its pairs agree on ChaCha20-Poly1305.
    assert_eq!(ch.suite(1), Some(channel_seal::Suite::ChaCha20Poly1305));
    let (me, parties) = (ch.party(), ch.parties());
    let sum = secure_sum(&mut ch, me, parties, input, || {
        (js_sys::Math::random() * 2f64.powi(53)) as u64
    })
    .await
    .unwrap();
    assert_eq!(sum, expected);
}

#[wasm_bindgen_test]
async fn a_bad_party_and_a_timeout_are_typed_errors() {
    let mut ps = parties(2).await.unwrap();
    let err = send_bytes(&mut ps[0], 5, "bad", b"x").await.unwrap_err();
    let Error::Send { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(
        source.downcast_ref::<HttpError>(),
        Some(HttpError::Transport(TransportError::NoSuchParty {
            party: 5,
            parties: 2
        }))
    ));

    let opts = WasmOptions {
        recv_timeout: std::time::Duration::from_millis(300),
        ..WasmOptions::default()
    };
    // A sealed join whose peer never comes fails naming the peer, not a hang.
    let (keys, invitations) = invitations(2).await;
    let err = WasmChannel::join(&invitations[0], &keys[0], &opts)
        .await
        .unwrap_err();
    let HttpError::Seal(SealError::Transport { party: 1, source }) = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(
        source.downcast_ref::<HttpError>(),
        Some(HttpError::Transport(TransportError::Timeout {
            party: 1,
            ..
        }))
    ));
    // The transport's own timeout, beneath sealing.
    let session = WasmChannel::create_session(relay(), 2, None, &WasmOptions::default())
        .await
        .unwrap();
    let mut lonely =
        WasmChannel::join_plaintext_insecure(relay(), &session.session, &session.tokens[0], &opts)
            .await
            .unwrap();
    let err = recv_bytes(&mut lonely, 1, "silence").await.unwrap_err();
    let Error::Recv { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(matches!(
        source.downcast_ref::<HttpError>(),
        Some(HttpError::Transport(TransportError::Timeout {
            party: 1,
            ..
        }))
    ));
}

#[wasm_bindgen_test]
async fn the_javascript_api_moves_bytes() {
    let keys = [
        channel_wasm::JsPartyKey::generate().unwrap(),
        channel_wasm::JsPartyKey::generate().unwrap(),
    ];
    assert_eq!(keys[0].public_key().len(), 64);
    let public: Vec<channel_seal::PublicKey> = keys
        .iter()
        .map(|k| k.public_key().parse().unwrap())
        .collect();
    let invitations = WasmChannel::invite(relay(), &public, None, &WasmOptions::default())
        .await
        .unwrap();
    let join = |i: usize| {
        JsFuture::from(RelayChannel::join(
            invitations[i].to_text().into(),
            keys[i].to_hex().into(),
            None,
        ))
    };
    let (a, b) = futures::join!(join(0), join(1));
    let (a, b) = (a.unwrap(), b.unwrap());
    let field = |ch: &JsValue, name: &str| js_sys::Reflect::get(ch, &name.into()).unwrap();
    assert_eq!(field(&a, "party").as_f64(), Some(0.0));
    assert_eq!(field(&b, "party").as_f64(), Some(1.0));
    assert_eq!(field(&a, "parties").as_f64(), Some(2.0));
    assert_eq!(
        field(&a, "transport").as_string().as_deref(),
        Some("websocket")
    );
    let call = |ch: &JsValue, method: &str, args: &[JsValue]| {
        let f: js_sys::Function = field(ch, method).into();
        let args: js_sys::Array = args.iter().collect();
        JsFuture::from(js_sys::Promise::from(f.apply(ch, &args).unwrap()))
    };
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let bytes = js_sys::Uint8Array::from(big.as_slice());
    call(&a, "send", &[1.into(), bytes.into(), "js".into()])
        .await
        .unwrap();
    let got = call(&b, "recv", &[0.into(), "js".into()]).await.unwrap();
    assert_eq!(js_sys::Uint8Array::new(&got).to_vec(), big);
    call(&a, "flush", &[]).await.unwrap();
    // A bad invitation is a clear error.
    let err = JsFuture::from(RelayChannel::join(
        "not an invitation".into(),
        keys[0].to_hex().into(),
        None,
    ))
    .await
    .unwrap_err();
    assert!(String::from(js_sys::Error::from(err).message()).contains("not an invitation"));
}

fn web_sys_log(text: &str) {
    wasm_bindgen_test::console_log!("{text}");
}

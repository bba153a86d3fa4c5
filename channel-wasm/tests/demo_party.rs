//! The browser's row of `cargo xtask demo`: this page is party 0 of the demo's
//! secure sum and ring exchange; the other parties are native `channel-http`
//! clients on the same relay. Only `cargo xtask demo` builds this test (it sets
//! every value below at compile time); `test-all` builds `tests/browser.rs`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::reference::secure_sum;
use channel_core::testkit::pattern;
use channel_core::{Metered, recv_bytes, send_bytes, send_to};
use channel_wasm::{Invitation, PartyKey, RelayTransport, WasmChannel, WasmOptions};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn number(value: &str) -> u64 {
    value.parse().expect("xtask passes numbers")
}

#[wasm_bindgen_test]
async fn the_browser_is_party_0_of_the_demo() {
    let size = number(env!("CHANNEL_WASM_DEMO_SIZE")) as usize;
    // Sealed like every networked party of the demo: xtask hands the page its
    // invitation and its key.
    let invitation = Invitation::from_text(env!("CHANNEL_WASM_DEMO_INVITATION")).unwrap();
    let key = PartyKey::from_hex(env!("CHANNEL_WASM_DEMO_KEY")).unwrap();
    let transport = match env!("CHANNEL_WASM_DEMO_TRANSPORT") {
        "long-poll" => RelayTransport::LongPoll,
        _ => RelayTransport::WebSocket,
    };
    let options = WasmOptions {
        transport,
        ..WasmOptions::default()
    };
    let ch = WasmChannel::join(&invitation, &key, &options)
        .await
        .unwrap();
    assert_eq!(ch.transport(), transport);
    assert!(ch.is_sealed());
    let parties = ch.parties();
    let mut ch = Metered::new(ch);
    let sum = secure_sum(
        &mut ch,
        0,
        parties,
        number(env!("CHANNEL_WASM_DEMO_INPUT")),
        || (js_sys::Math::random() * 2f64.powi(53)) as u64,
    )
    .await
    .unwrap();

    // The ring: send to party 1, receive from the last party.
    let msg = pattern(number(env!("CHANNEL_WASM_DEMO_SEED")), size);
    let started = js_sys::Date::now();
    send_bytes(&mut ch, 1, "demo/exchange", &msg).await.unwrap();
    let got = recv_bytes(&mut ch, parties - 1, "demo/exchange")
        .await
        .unwrap();
    let took_ms = js_sys::Date::now() - started;
    let exchange_ok = got == pattern(number(env!("CHANNEL_WASM_DEMO_PREV_SEED")), size);
    let sum_ok = sum == number(env!("CHANNEL_WASM_DEMO_EXPECTED_SUM"));
    let bytes = ch.stats().phase("demo/exchange").bytes_sent;

    // Party 1 reports this to the demo's table.
    let report = (sum_ok, exchange_ok, bytes, (took_ms * 1000.0) as u64);
    send_to(&mut ch, 1, "demo/browser-report", &report)
        .await
        .unwrap();
    assert!(sum_ok, "the browser computed the sum {sum}");
    assert!(exchange_ok, "the browser received a wrong ring message");
}

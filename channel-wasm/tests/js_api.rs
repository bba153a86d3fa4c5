//! The JavaScript API as a web page uses it, in headless Chromium against the
//! relay xtask starts: each test drives `RelayChannel` from JavaScript
//! (`tests/js/api.js`) and fails on what a web developer would trip over —
//! silent wrong data, Promises that hang or throw synchronously, errors
//! with nothing but text, a receive that blocks a send.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_wasm::{JsPartyKey, RelayChannel};
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/api.js")]
extern "C" {
    fn strings_and_other_values_are_type_errors(a: &JsValue, b: &JsValue) -> Promise;
    fn every_kind_of_buffer_arrives_exactly(a: &JsValue, b: &JsValue) -> Promise;
    fn argument_errors_reject_and_never_throw(a: &JsValue) -> Promise;
    fn a_bad_party_is_named_as_given(a: &JsValue) -> Promise;
    fn a_pending_receive_does_not_block_a_send(a: &JsValue, b: &JsValue) -> Promise;
    fn errors_carry_kind_party_phase(a: &JsValue) -> Promise;
    fn an_aborted_receive_leaves_the_channel_working(a: &JsValue, b: &JsValue) -> Promise;
    fn values_cross_in_rusts_encoding(
        a: &JsValue,
        b: &JsValue,
        expected: &[u8],
        writer: JsValue,
        reader: JsValue,
    ) -> Promise;
    fn closing_tells_the_peer(a: &JsValue, b: &JsValue) -> Promise;
    fn join_options_bound_the_wait(invitation: &str, key: &str, join: &js_sys::Function)
    -> Promise;
    fn a_refused_join_has_the_status(
        invitation: &str,
        key: &str,
        join: &js_sys::Function,
    ) -> Promise;
    fn cors_is_told_apart_from_a_relay_that_is_down(
        no_cors_relay: &str,
        closed_port: &str,
        invite: &js_sys::Function,
    ) -> Promise;
}

fn relay() -> &'static str {
    option_env!("CHANNEL_WASM_RELAY_URL")
        .expect("CHANNEL_WASM_RELAY_URL is set by `cargo xtask test-all` at compile time")
}

async fn done(promise: Promise) {
    if let Err(e) = JsFuture::from(promise).await {
        let text = js_sys::Reflect::get(&e, &"stack".into())
            .ok()
            .and_then(|s| s.as_string())
            .or_else(|| e.as_string())
            .unwrap_or_else(|| format!("{e:?}"));
        panic!("{text}");
    }
}

/// Fresh keys and their invitations, made through the JavaScript API.
async fn invite(n: usize) -> (Vec<JsPartyKey>, Vec<String>) {
    let keys: Vec<JsPartyKey> = (0..n).map(|_| JsPartyKey::generate().unwrap()).collect();
    let public = Array::new();
    for key in &keys {
        public.push(&key.public_key().into());
    }
    let texts = JsFuture::from(RelayChannel::invite(relay().into(), public.into(), None))
        .await
        .unwrap();
    let texts = Array::from(&texts)
        .iter()
        .map(|t| t.as_string().unwrap())
        .collect();
    (keys, texts)
}

/// Two parties of a fresh session, joined through the JavaScript API.
async fn pair() -> (JsValue, JsValue) {
    let (keys, texts) = invite(2).await;
    let join = |i: usize| {
        JsFuture::from(RelayChannel::join(
            texts[i].clone().into(),
            keys[i].to_hex().into(),
            None,
        ))
    };
    let (a, b) = futures::join!(join(0), join(1));
    (a.unwrap(), b.unwrap())
}

#[wasm_bindgen_test]
async fn a_string_or_a_number_is_a_type_error_never_zeros() {
    let (a, b) = pair().await;
    done(strings_and_other_values_are_type_errors(&a, &b)).await;
}

#[wasm_bindgen_test]
async fn array_buffers_data_views_and_typed_arrays_arrive_byte_for_byte() {
    let (a, b) = pair().await;
    done(every_kind_of_buffer_arrives_exactly(&a, &b)).await;
}

#[wasm_bindgen_test]
async fn a_missing_or_wrong_argument_rejects_the_promise() {
    let (a, _b) = pair().await;
    done(argument_errors_reject_and_never_throw(&a)).await;
}

#[wasm_bindgen_test]
async fn a_negative_party_is_reported_as_given() {
    let (a, _b) = pair().await;
    done(a_bad_party_is_named_as_given(&a)).await;
}

#[wasm_bindgen_test]
async fn a_receive_that_waits_does_not_hold_up_a_send() {
    let (a, b) = pair().await;
    done(a_pending_receive_does_not_block_a_send(&a, &b)).await;
}

#[wasm_bindgen_test]
async fn an_error_is_a_channel_error_with_kind_party_and_phase() {
    let (a, _b) = pair().await;
    done(errors_carry_kind_party_phase(&a)).await;
}

#[wasm_bindgen_test]
async fn an_aborted_receive_rejects_with_the_reason_and_the_channel_goes_on() {
    let (a, b) = pair().await;
    done(an_aborted_receive_leaves_the_channel_working(&a, &b)).await;
}

/// What Rust's bincode 1.3 (the encoding of `send_to`) makes of
/// `(7u32, u64::MAX, vec![1u8, 2, 3], "héllo", vec![5u64, 6], true, 2.5f64)`.
fn rust_bytes() -> Vec<u8> {
    let value = (
        7u32,
        u64::MAX,
        vec![1u8, 2, 3],
        String::from("héllo"),
        vec![5u64, 6],
        true,
        2.5f64,
    );
    bincode::serialize(&value).unwrap()
}

#[wasm_bindgen_test]
async fn javascript_writes_and_reads_what_rust_parties_send_and_expect() {
    let (a, b) = pair().await;
    // Instances, whose constructors the page uses as a page would import them.
    let writer = JsValue::from(channel_wasm::BincodeWriter::new());
    let reader = channel_wasm::BincodeReader::new(js_sys::Uint8Array::new_with_length(0).into());
    let reader = JsValue::from(reader.unwrap());
    done(values_cross_in_rusts_encoding(
        &a,
        &b,
        &rust_bytes(),
        writer,
        reader,
    ))
    .await;
}

#[wasm_bindgen_test]
async fn closing_a_channel_tells_its_peer_at_once() {
    let (a, b) = pair().await;
    done(closing_tells_the_peer(&a, &b)).await;
}

fn join_function() -> js_sys::Function {
    Closure::<dyn Fn(JsValue, JsValue, Option<JsValue>) -> Promise>::new(RelayChannel::join)
        .into_js_value()
        .into()
}

#[wasm_bindgen_test]
async fn a_missing_peer_fails_the_join_within_its_timeout() {
    let (keys, texts) = invite(2).await;
    // Party 1 never joins.
    done(join_options_bound_the_wait(
        &texts[0],
        &keys[0].to_hex(),
        &join_function(),
    ))
    .await;
}

#[wasm_bindgen_test]
async fn a_refused_join_carries_the_http_status() {
    let (keys, texts) = invite(2).await;
    // The same invitation with another token: the relay refuses it.
    let mut forged = channel_wasm::Invitation::from_text(&texts[0]).unwrap();
    forged.token = "0".repeat(forged.token.len());
    done(a_refused_join_has_the_status(
        &forged.to_text(),
        &keys[0].to_hex(),
        &join_function(),
    ))
    .await;
}

#[wasm_bindgen_test]
async fn a_relay_that_refuses_the_origin_is_not_a_relay_that_is_down() {
    let no_cors = option_env!("CHANNEL_WASM_NO_CORS_RELAY_URL")
        .expect("CHANNEL_WASM_NO_CORS_RELAY_URL is set by `cargo xtask test-all`");
    let closed = option_env!("CHANNEL_WASM_CLOSED_URL")
        .expect("CHANNEL_WASM_CLOSED_URL is set by `cargo xtask test-all`");
    let invite =
        Closure::<dyn Fn(JsValue, JsValue, Option<JsValue>) -> Promise>::new(RelayChannel::invite)
            .into_js_value()
            .into();
    done(cors_is_told_apart_from_a_relay_that_is_down(
        no_cors, closed, &invite,
    ))
    .await;
}

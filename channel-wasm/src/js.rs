//! The JavaScript-facing API: a `RelayChannel` class whose methods return
//! Promises, so a plain web page can take part without writing Rust.

use std::rc::Rc;

use futures::lock::Mutex;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{Invitation, PartyKey, WasmChannel, WasmOptions};

/// A JavaScript error with the whole chain of causes in its message.
fn js_error(e: &dyn std::error::Error) -> JsValue {
    JsError::new(&channel_core::error_chain(e)).into()
}

/// A party's key, for JavaScript (`PartyKey` there): made in the browser and
/// kept by the page (e.g. in IndexedDB); only its public key leaves it.
///
/// ```js
/// const key = PartyKey.generate();
/// sendToCoordinator(key.publicKey);      // 64 hex digits; key.fingerprint to compare by eye
/// localStorage.setItem("key", key.toHex()); // the secret: store it like a password
/// ```
#[wasm_bindgen(js_name = PartyKey)]
pub struct JsPartyKey(PartyKey);

#[wasm_bindgen(js_class = PartyKey)]
impl JsPartyKey {
    /// A fresh key from the browser's randomness.
    pub fn generate() -> Result<JsPartyKey, JsValue> {
        PartyKey::generate()
            .map(JsPartyKey)
            .map_err(|e| js_error(&e))
    }

    /// The key whose secret is `hex` (64 hex digits, from `toHex`).
    #[wasm_bindgen(js_name = fromHex)]
    pub fn from_hex(hex: &str) -> Result<JsPartyKey, JsValue> {
        PartyKey::from_hex(hex)
            .map(JsPartyKey)
            .map_err(|e| js_error(&e))
    }

    /// The secret as 64 hex digits.
    #[wasm_bindgen(js_name = toHex)]
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// The public key as 64 hex digits, for the coordinator's table.
    #[wasm_bindgen(getter, js_name = publicKey)]
    pub fn public_key(&self) -> String {
        self.0.public().to_string()
    }

    /// A short fingerprint of the public key, for people to compare.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.0.public().fingerprint()
    }
}

/// One party of a relay session, for JavaScript, sealed end to end.
///
/// ```js
/// import init, { RelayChannel } from "./pkg/channel_wasm.js";
/// await init();
/// // The invitation comes from the application that coordinates the session;
/// // the key is this party's own (PartyKey.toHex()).
/// const ch = await RelayChannel.join(invitationText, privateKeyHex);
/// await ch.send(1, new Uint8Array([1, 2, 3]), "round-1");
/// const bytes = await ch.recv(1, "round-1"); // Uint8Array
/// ```
///
/// Joining runs the handshakes with every other party, so it resolves once all
/// of them have joined. Messages of any size (up to 256 MiB) are chunked to the
/// relay's limits. Calls on one channel are served one at a time, in the order
/// they were made.
#[wasm_bindgen]
pub struct RelayChannel {
    inner: Rc<Mutex<WasmChannel>>,
    party: usize,
    parties: usize,
}

#[wasm_bindgen]
impl RelayChannel {
    /// Joins the session of `invitation` (its text, `mpc-invitation-v1.…`) with
    /// this party's private key `private_key_hex`. In JavaScript, a Promise of a
    /// `RelayChannel`.
    pub async fn join(
        invitation: String,
        private_key_hex: String,
    ) -> Result<RelayChannel, JsValue> {
        let invitation = Invitation::from_text(&invitation).map_err(|e| js_error(&e))?;
        let key = PartyKey::from_hex(&private_key_hex).map_err(|e| js_error(&e))?;
        let ch = WasmChannel::join(&invitation, &key, &WasmOptions::default())
            .await
            .map_err(|e| js_error(&e))?;
        Ok(RelayChannel {
            party: ch.party(),
            parties: ch.parties(),
            inner: Rc::new(Mutex::new(ch)),
        })
    }

    /// This party's index.
    #[wasm_bindgen(getter)]
    pub fn party(&self) -> usize {
        self.party
    }

    /// The number of parties.
    #[wasm_bindgen(getter)]
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Sends `bytes` to `party` in `phase`. Resolves when the relay has them.
    pub fn send(&self, party: usize, bytes: Vec<u8>, phase: String) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut ch = inner.lock().await;
            channel_core::send_bytes(&mut *ch, party, &phase, &bytes)
                .await
                .map_err(|e| js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Receives the next message from `party` in `phase`. Resolves to a `Uint8Array`.
    pub fn recv(&self, party: usize, phase: String) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut ch = inner.lock().await;
            let bytes = channel_core::recv_bytes(&mut *ch, party, &phase)
                .await
                .map_err(|e| js_error(&e))?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        })
    }
}

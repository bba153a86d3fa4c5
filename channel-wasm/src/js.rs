//! The JavaScript-facing API: a `RelayChannel` class whose methods return
//! Promises, so a plain web page can take part without writing Rust.

use std::rc::Rc;

use futures::lock::Mutex;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{Invitation, PartyKey, RelayTransport, WasmChannel, WasmOptions};

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
/// of them have joined. It uses the relay's WebSocket, or its HTTP routes where
/// the WebSocket cannot be opened; `RelayChannel.joinOver(invitation, key, way)`
/// with `way` `"websocket"` or `"long-poll"` forces one, and `ch.transport`
/// says which one is used. Messages of any size (up to 256 MiB) are chunked to
/// the relay's limits. Calls on one channel are served one at a time, in the
/// order they were made.
#[wasm_bindgen]
pub struct RelayChannel {
    inner: Rc<Mutex<WasmChannel>>,
    party: usize,
    parties: usize,
    transport: RelayTransport,
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
        Self::join_over(invitation, private_key_hex, "auto".into()).await
    }

    /// [`join`](Self::join) over `way`: `"websocket"`, `"long-poll"` or
    /// `"auto"` (the WebSocket where it can be opened).
    #[wasm_bindgen(js_name = joinOver)]
    pub async fn join_over(
        invitation: String,
        private_key_hex: String,
        way: String,
    ) -> Result<RelayChannel, JsValue> {
        let transport = match way.as_str() {
            "auto" => RelayTransport::Auto,
            "websocket" => RelayTransport::WebSocket,
            "long-poll" => RelayTransport::LongPoll,
            other => {
                return Err(JsValue::from(js_sys::Error::new(&format!(
                    "unknown way '{other}': one of \"auto\", \"websocket\", \"long-poll\""
                ))));
            }
        };
        let invitation = Invitation::from_text(&invitation).map_err(|e| js_error(&e))?;
        let key = PartyKey::from_hex(&private_key_hex).map_err(|e| js_error(&e))?;
        let options = WasmOptions {
            transport,
            ..WasmOptions::default()
        };
        let ch = WasmChannel::join(&invitation, &key, &options)
            .await
            .map_err(|e| js_error(&e))?;
        Ok(RelayChannel {
            party: ch.party(),
            parties: ch.parties(),
            transport: ch.transport(),
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

    /// How chunks travel: `"websocket"` or `"long-poll"`.
    #[wasm_bindgen(getter)]
    pub fn transport(&self) -> String {
        match self.transport {
            RelayTransport::LongPoll => "long-poll".into(),
            _ => "websocket".into(),
        }
    }

    /// Resolves once the relay stored everything sent so far (call it before
    /// the party's work ends).
    pub fn flush(&self) -> Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let mut ch = inner.lock().await;
            channel_core::Channel::flush(&mut *ch)
                .await
                .map_err(|e| js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Sends `bytes` to `party` in `phase`. Resolves once they are on their
    /// way (over the WebSocket: queued within the window; over long-polls:
    /// stored by the relay); a failure is reported by a later call or by
    /// [`flush`](Self::flush).
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

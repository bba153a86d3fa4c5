//! The JavaScript-facing API: a `RelayChannel` class whose methods return
//! Promises, so a plain web page can take part without writing Rust.

use std::rc::Rc;

use futures::lock::Mutex;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::{WasmChannel, WasmOptions};

/// A JavaScript error with the whole chain of causes in its message.
fn js_error(e: &dyn std::error::Error) -> JsValue {
    JsError::new(&channel_core::error_chain(e)).into()
}

/// One party of a relay session, for JavaScript.
///
/// ```js
/// import init, { RelayChannel } from "./pkg/channel_wasm.js";
/// await init();
/// const ch = await RelayChannel.join("https://relay.example", session, token);
/// await ch.send(1, new Uint8Array([1, 2, 3]), "round-1");
/// const bytes = await ch.recv(1, "round-1"); // Uint8Array
/// ```
///
/// Messages of any size (up to 256 MiB) are chunked to the relay's limits. Calls
/// on one channel are served one at a time, in the order they were made.
#[wasm_bindgen]
pub struct RelayChannel {
    inner: Rc<Mutex<WasmChannel>>,
    party: usize,
    parties: usize,
}

#[wasm_bindgen]
impl RelayChannel {
    /// Joins `session` with this party's `token`. In JavaScript, a Promise of a
    /// `RelayChannel`.
    pub async fn join(
        relay_url: String,
        session: String,
        token: String,
    ) -> Result<RelayChannel, JsValue> {
        let ch = WasmChannel::join(&relay_url, &session, &token, &WasmOptions::default())
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

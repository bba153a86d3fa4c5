//! A party's key for JavaScript (`PartyKey` there).

use wasm_bindgen::prelude::*;

use super::error::from_http;
use crate::PartyKey;

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
            .map_err(|e| from_http(&e.into()))
    }

    /// The key whose secret is `hex` (64 hex digits, from `toHex`).
    #[wasm_bindgen(js_name = fromHex)]
    pub fn from_hex(hex: &str) -> Result<JsPartyKey, JsValue> {
        PartyKey::from_hex(hex)
            .map(JsPartyKey)
            .map_err(|e| from_http(&e.into()))
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

//! The arguments of the JavaScript API, checked before anything is done: a
//! wrong type is a `TypeError`, a party that is not a peer a `ChannelError`
//! of kind `"bad-party"`, and both reject the call's Promise (never throw).

use std::time::Duration;

use js_sys::{ArrayBuffer, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::error::{Details, is_abort_signal, type_error};

/// How a value looks in an error message: its type, and its class for objects.
pub(crate) fn describe(value: &JsValue) -> String {
    let kind = value.js_typeof().as_string().unwrap_or_default();
    if kind != "object" || value.is_null() {
        return if value.is_null() { "null".into() } else { kind };
    }
    let class = Reflect::get(value, &"constructor".into())
        .ok()
        .and_then(|c| Reflect::get(&c, &"name".into()).ok())
        .and_then(|n| n.as_string())
        .unwrap_or_else(|| "Object".into());
    format!("an object of class {class}")
}

/// A party index: a whole number naming a peer of party `me` among `parties`.
pub(crate) fn peer(
    call: &str,
    value: &JsValue,
    me: usize,
    parties: usize,
) -> Result<usize, JsValue> {
    let Some(n) = value.as_f64() else {
        return Err(type_error(&format!(
            "{call}: the party must be a number, got {}",
            describe(value)
        )));
    };
    if !n.is_finite() || n.fract() != 0.0 {
        return Err(type_error(&format!(
            "{call}: the party must be a whole number, got {n}"
        )));
    }
    if n < 0.0 || n >= parties as f64 || n == me as f64 {
        return Err(Details::kind("bad-party").party(n).error(&format!(
            "{call}: party {n} is not a peer: this channel is party {me} of parties 0..{parties}"
        )));
    }
    Ok(n as usize)
}

/// The bytes of a message: a `Uint8Array`, an `ArrayBuffer`, a `DataView` or
/// another typed array (its bytes as they are in memory); anything else, a
/// string included, is a `TypeError`, never zeros.
pub(crate) fn bytes(call: &str, value: &JsValue) -> Result<Vec<u8>, JsValue> {
    if let Some(array) = value.dyn_ref::<Uint8Array>() {
        return Ok(array.to_vec());
    }
    if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        return Ok(Uint8Array::new(buffer).to_vec());
    }
    if ArrayBuffer::is_view(value) {
        let field = |name: &str| Reflect::get(value, &name.into()).ok();
        let buffer = field("buffer").and_then(|b| b.dyn_into::<ArrayBuffer>().ok());
        let offset = field("byteOffset").and_then(|v| v.as_f64());
        let length = field("byteLength").and_then(|v| v.as_f64());
        if let (Some(buffer), Some(offset), Some(length)) = (buffer, offset, length) {
            let view =
                Uint8Array::new_with_byte_offset_and_length(&buffer, offset as u32, length as u32);
            return Ok(view.to_vec());
        }
    }
    let hint = if value.is_string() {
        " (encode text with new TextEncoder().encode(text))"
    } else {
        ""
    };
    Err(type_error(&format!(
        "{call}: the message must be a Uint8Array, ArrayBuffer, DataView or typed array, got {}{hint}",
        describe(value)
    )))
}

/// A protocol phase: a string.
pub(crate) fn phase(call: &str, value: &JsValue) -> Result<String, JsValue> {
    value.as_string().ok_or_else(|| {
        type_error(&format!(
            "{call}: the phase must be a string, got {}",
            describe(value)
        ))
    })
}

/// The options object of a call: `undefined`, `null` or an object whose keys
/// are all among `known` (a misspelt option is an error, not ignored).
pub(crate) struct Options {
    call: String,
    object: Option<Object>,
}

impl Options {
    pub(crate) fn new(call: &str, value: &JsValue, known: &[&str]) -> Result<Self, JsValue> {
        let call = call.to_string();
        if value.is_undefined() || value.is_null() {
            return Ok(Self { call, object: None });
        }
        let Some(object) = value.dyn_ref::<Object>().filter(|_| value.is_object()) else {
            return Err(type_error(&format!(
                "{call}: the options must be an object, got {}",
                describe(value)
            )));
        };
        for key in Object::keys(object).iter() {
            let key = key.as_string().unwrap_or_default();
            if !known.contains(&key.as_str()) {
                return Err(type_error(&format!(
                    "{call}: unknown option '{key}' (known: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(Self {
            call,
            object: Some(object.clone()),
        })
    }

    fn get(&self, key: &str) -> Option<JsValue> {
        let object = self.object.as_ref()?;
        Reflect::get(object, &key.into())
            .ok()
            .filter(|v| !v.is_undefined())
    }

    /// A duration in milliseconds: a positive number.
    pub(crate) fn millis(&self, key: &str) -> Result<Option<Duration>, JsValue> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(ms) if ms.is_finite() && ms > 0.0 => {
                Ok(Some(Duration::from_secs_f64(ms / 1000.0)))
            }
            _ => Err(type_error(&format!(
                "{}: {key} must be a positive number of milliseconds, got {}",
                self.call,
                describe(&value)
            ))),
        }
    }

    /// A string.
    pub(crate) fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        value.as_string().map(Some).ok_or_else(|| {
            type_error(&format!(
                "{}: {key} must be a string, got {}",
                self.call,
                describe(&value)
            ))
        })
    }

    /// An `AbortSignal` under `signal`.
    pub(crate) fn signal(&self) -> Result<Option<JsValue>, JsValue> {
        let Some(value) = self.get("signal") else {
            return Ok(None);
        };
        if is_abort_signal(&value) {
            Ok(Some(value))
        } else {
            Err(type_error(&format!(
                "{}: signal must be an AbortSignal, got {}",
                self.call,
                describe(&value)
            )))
        }
    }
}

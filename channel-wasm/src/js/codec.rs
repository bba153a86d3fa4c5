//! The byte encoding a JavaScript party needs to exchange typed values with
//! Rust parties: bincode 1.3 with fixed-width little-endian integers, what
//! `channel_core::send_to` and `recv_from` use. A Rust value is its fields
//! one after the other: integers in their width, `Vec<T>` and `String` as a
//! `u64` length then the elements (a string's UTF-8 bytes), a tuple or a
//! struct as its fields in order.
//!
//! ```js
//! // Rust: send_to(ch, 1, "share", &(7u64, vec![1u8, 2, 3]))
//! const bytes = new BincodeWriter().u64(7n).bytes(new Uint8Array([1, 2, 3])).finish();
//! await ch.send(1, bytes, "share");
//! // Rust: let (x, v): (u32, Vec<u64>) = recv_from(ch, 0, "reply")?
//! const reader = new BincodeReader(await ch.recv(1, "reply"));
//! const x = reader.u32(), v = reader.u64Array();
//! reader.end(); // nothing may follow, as in Rust
//! ```

use js_sys::{BigInt, BigUint64Array, Uint8Array, Uint32Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::args::describe;
use super::error::{Details, type_error};

fn range_error(message: &str) -> JsValue {
    js_sys::RangeError::new(message).into()
}

/// A whole number in `0..=max` from a JavaScript `number` or `bigint`.
fn unsigned(what: &str, value: &JsValue, max: u64) -> Result<u64, JsValue> {
    let n = if let Some(big) = value.dyn_ref::<BigInt>() {
        let text: String = big
            .to_string(10)
            .map_err(|_| type_error(&format!("{what}: an unreadable bigint")))?
            .into();
        text.parse::<u64>()
            .map_err(|_| range_error(&format!("{what}: {text} is not in 0..={max}")))?
    } else if let Some(x) = value.as_f64() {
        if !(x.is_finite() && x.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&x)) {
            return Err(range_error(&format!(
                "{what}: {x} is not a whole number in 0..=2^53-1 (pass a bigint for larger values)"
            )));
        }
        x as u64
    } else {
        return Err(type_error(&format!(
            "{what}: expected a number or a bigint, got {}",
            describe(value)
        )));
    };
    if n > max {
        return Err(range_error(&format!("{what}: {n} is not in 0..={max}")));
    }
    Ok(n)
}

/// Writes Rust values the way bincode 1.3 does (fixed-width, little-endian).
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct BincodeWriter {
    out: Vec<u8>,
}

#[wasm_bindgen]
impl BincodeWriter {
    /// An empty writer.
    #[wasm_bindgen(constructor)]
    pub fn new() -> BincodeWriter {
        Self::default()
    }

    /// A `u8` (a number 0..=255).
    pub fn u8(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        self.out.push(unsigned("u8", &value, u8::MAX.into())? as u8);
        Ok(self)
    }

    /// A `bool` (`true` or `false`, one byte).
    pub fn bool(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "boolean")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let Some(b) = value.as_bool() else {
            return Err(type_error(&format!(
                "bool: expected a boolean, got {}",
                describe(&value)
            )));
        };
        self.out.push(u8::from(b));
        Ok(self)
    }

    /// A `u32` (a number).
    pub fn u32(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let n = unsigned("u32", &value, u32::MAX.into())? as u32;
        self.out.extend_from_slice(&n.to_le_bytes());
        Ok(self)
    }

    /// A `u64` (a bigint, or a number up to 2^53-1).
    #[wasm_bindgen(unchecked_return_type = "BincodeWriter")]
    pub fn u64(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "bigint | number")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let n = unsigned("u64", &value, u64::MAX)?;
        self.out.extend_from_slice(&n.to_le_bytes());
        Ok(self)
    }

    /// An `f64` (a number).
    pub fn f64(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "number")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let Some(x) = value.as_f64() else {
            return Err(type_error(&format!(
                "f64: expected a number, got {}",
                describe(&value)
            )));
        };
        self.out.extend_from_slice(&x.to_le_bytes());
        Ok(self)
    }

    /// A `Vec<u8>` (a `Uint8Array`): its length as a `u64`, then its bytes.
    pub fn bytes(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let Some(bytes) = value.dyn_ref::<Uint8Array>() else {
            return Err(type_error(&format!(
                "bytes: expected a Uint8Array, got {}",
                describe(&value)
            )));
        };
        let bytes = bytes.to_vec();
        self.out
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.out.extend_from_slice(&bytes);
        Ok(self)
    }

    /// A `String`: its UTF-8 length as a `u64`, then its UTF-8 bytes.
    pub fn string(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let Some(text) = value.as_string() else {
            return Err(type_error(&format!(
                "string: expected a string, got {}",
                describe(&value)
            )));
        };
        self.out
            .extend_from_slice(&(text.len() as u64).to_le_bytes());
        self.out.extend_from_slice(text.as_bytes());
        Ok(self)
    }

    /// A `Vec<u32>` (a `Uint32Array` or an array of numbers).
    #[wasm_bindgen(js_name = u32Array)]
    pub fn u32_array(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[]")] value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let items = elements("u32Array", &value)?;
        self.out
            .extend_from_slice(&(items.len() as u64).to_le_bytes());
        for item in items {
            let n = unsigned("u32Array", &item, u32::MAX.into())? as u32;
            self.out.extend_from_slice(&n.to_le_bytes());
        }
        Ok(self)
    }

    /// A `Vec<u64>` (a `BigUint64Array`, or an array of bigints or numbers).
    #[wasm_bindgen(js_name = u64Array)]
    pub fn u64_array(
        mut self,
        #[wasm_bindgen(unchecked_param_type = "BigUint64Array | (bigint | number)[]")]
        value: JsValue,
    ) -> Result<BincodeWriter, JsValue> {
        let items = elements("u64Array", &value)?;
        self.out
            .extend_from_slice(&(items.len() as u64).to_le_bytes());
        for item in items {
            let n = unsigned("u64Array", &item, u64::MAX)?;
            self.out.extend_from_slice(&n.to_le_bytes());
        }
        Ok(self)
    }

    /// The bytes written, for `RelayChannel.send`.
    pub fn finish(self) -> Uint8Array {
        Uint8Array::from(self.out.as_slice())
    }
}

/// The elements of an array or a typed array.
fn elements(what: &str, value: &JsValue) -> Result<Vec<JsValue>, JsValue> {
    if js_sys::Array::is_array(value) {
        return Ok(js_sys::Array::from(value).to_vec());
    }
    if value.is_instance_of::<Uint32Array>() || value.is_instance_of::<BigUint64Array>() {
        return Ok(js_sys::Array::from(value).to_vec());
    }
    Err(type_error(&format!(
        "{what}: expected an array or a typed array, got {}",
        describe(value)
    )))
}

/// Reads Rust values the way bincode 1.3 wrote them; every read checks that
/// the bytes are there (a length is checked against the bytes left before
/// anything is allocated), and [`end`](Self::end) that nothing follows.
#[wasm_bindgen]
#[derive(Debug)]
pub struct BincodeReader {
    bytes: Vec<u8>,
    at: usize,
}

#[wasm_bindgen]
impl BincodeReader {
    /// A reader of `bytes` (a `Uint8Array`, e.g. what `recv` returned).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
    ) -> Result<BincodeReader, JsValue> {
        let Some(array) = bytes.dyn_ref::<Uint8Array>() else {
            return Err(type_error(&format!(
                "BincodeReader: expected a Uint8Array, got {}",
                describe(&bytes)
            )));
        };
        Ok(Self {
            bytes: array.to_vec(),
            at: 0,
        })
    }

    /// Bytes not read yet.
    #[wasm_bindgen(getter)]
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    /// A `u8`.
    pub fn u8(&mut self) -> Result<u8, JsValue> {
        Ok(self.array::<1>("u8")?[0])
    }

    /// A `bool` (a byte 0 or 1; anything else is malformed).
    pub fn bool(&mut self) -> Result<bool, JsValue> {
        match self.array::<1>("bool")? {
            [0] => Ok(false),
            [1] => Ok(true),
            [other] => Err(malformed(&format!("bool: byte {other} is neither 0 nor 1"))),
        }
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, JsValue> {
        Ok(u32::from_le_bytes(self.array("u32")?))
    }

    /// A `u64`, as a bigint.
    #[wasm_bindgen(unchecked_return_type = "bigint")]
    pub fn u64(&mut self) -> Result<JsValue, JsValue> {
        Ok(BigInt::from(u64::from_le_bytes(self.array("u64")?)).into())
    }

    /// An `f64`.
    pub fn f64(&mut self) -> Result<f64, JsValue> {
        Ok(f64::from_le_bytes(self.array("f64")?))
    }

    /// A `Vec<u8>`.
    pub fn bytes(&mut self) -> Result<Uint8Array, JsValue> {
        let len = self.length("bytes", 1)?;
        let bytes = self.take("bytes", len)?;
        Ok(Uint8Array::from(bytes))
    }

    /// A `String` (its bytes must be UTF-8).
    pub fn string(&mut self) -> Result<String, JsValue> {
        let len = self.length("string", 1)?;
        let bytes = self.take("string", len)?;
        String::from_utf8(bytes.to_vec()).map_err(|e| malformed(&format!("string: not UTF-8: {e}")))
    }

    /// A `Vec<u32>`.
    #[wasm_bindgen(js_name = u32Array)]
    pub fn u32_array(&mut self) -> Result<Uint32Array, JsValue> {
        let len = self.length("u32Array", 4)?;
        let bytes = self.take("u32Array", len * 4)?;
        let items: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Uint32Array::from(items.as_slice()))
    }

    /// A `Vec<u64>`, as a `BigUint64Array`.
    #[wasm_bindgen(js_name = u64Array)]
    pub fn u64_array(&mut self) -> Result<BigUint64Array, JsValue> {
        let len = self.length("u64Array", 8)?;
        let bytes = self.take("u64Array", len * 8)?;
        let items: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        Ok(BigUint64Array::from(items.as_slice()))
    }

    /// Checks that every byte was read, as Rust's `recv_from` does.
    pub fn end(&self) -> Result<(), JsValue> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(malformed(&format!(
                "{left} bytes follow the last value read"
            ))),
        }
    }
}

impl BincodeReader {
    fn take(&mut self, what: &str, len: usize) -> Result<&[u8], JsValue> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(malformed(&format!(
                "{what}: {len} bytes needed at byte {}, {} left",
                self.at,
                self.remaining()
            )));
        };
        let start = self.at;
        self.at = end;
        Ok(self.bytes.get(start..end).unwrap_or_default())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], JsValue> {
        let bytes = self.take(what, N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// A sequence's length, checked against the bytes left (each element
    /// takes at least `element` bytes) before anything is allocated.
    fn length(&mut self, what: &str, element: usize) -> Result<usize, JsValue> {
        let len = u64::from_le_bytes(self.array(what)?);
        let fits = usize::try_from(len).ok().filter(|&n| {
            n.checked_mul(element)
                .is_some_and(|b| b <= self.remaining())
        });
        fits.ok_or_else(|| {
            malformed(&format!(
                "{what}: a length of {len} does not fit the {} bytes left",
                self.remaining()
            ))
        })
    }
}

fn malformed(message: &str) -> JsValue {
    Details::kind("malformed").error(message)
}

//! The serialisation of typed messages: bincode 1.3 with fixed-width little-endian
//! integers (the encoding of `bincode::serialize`), so other bincode 1.x users can
//! read our payloads. Decoding rejects trailing bytes and never reads past the
//! received buffer, so a length prefix from a peer cannot trigger a huge allocation.

use bincode::Options;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_fixint_encoding()
}

pub(crate) fn serialized_size<T: Serialize + ?Sized>(value: &T) -> bincode::Result<u64> {
    options().serialized_size(value)
}

pub(crate) fn serialize_into<T: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    value: &T,
) -> bincode::Result<()> {
    options().serialize_into(buf, value)
}

pub(crate) fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> bincode::Result<T> {
    options().with_limit(bytes.len() as u64).deserialize(bytes)
}

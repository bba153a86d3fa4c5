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

/// Decodes a `T` from the start of `bytes`; returns it and the bytes it took.
pub(crate) fn deserialize_prefix<T: DeserializeOwned>(bytes: &[u8]) -> bincode::Result<(T, usize)> {
    let mut rest = bytes;
    let value = options()
        .with_limit(bytes.len() as u64)
        .allow_trailing_bytes()
        .deserialize_from(&mut rest)?;
    Ok((value, bytes.len() - rest.len()))
}

/// Whether decoding failed only because the bytes end too soon (more may
/// still come): the end of input, or a length beyond the bytes at hand.
pub(crate) fn needs_more(e: &bincode::Error) -> bool {
    match &**e {
        bincode::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        bincode::ErrorKind::SizeLimit => true,
        _ => false,
    }
}

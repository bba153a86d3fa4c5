//! Deterministic message contents, cheap to generate and to check.

/// `len` bytes of a pseudo-random pattern determined by `seed` (splitmix64), so
/// that a receiver can recompute what it should have got. Not for cryptography.
///
/// ```
/// use channel_core::testkit::pattern;
///
/// assert_eq!(pattern(7, 100), pattern(7, 100));
/// assert_ne!(pattern(7, 100), pattern(8, 100));
/// assert_eq!(pattern(7, 13).len(), 13);
/// ```
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut state = seed;
    while out.len() < len {
        out.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The next value of a splitmix64 generator.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Describes how `got` differs from `want`, or `None` when they are equal.
pub(crate) fn difference(got: &[u8], want: &[u8]) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("got {} bytes, expected {}", got.len(), want.len()));
    }
    got.iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .map(|i| format!("content differs from byte {i} on ({} bytes)", got.len()))
}

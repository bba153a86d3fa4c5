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

/// The bytes of [`pattern`]`(seed, len)` made a piece at a time, so that a
/// stream of any size is produced and checked without holding it whole.
#[derive(Debug, Clone)]
pub(crate) struct PatternStream {
    state: u64,
    word: [u8; 8],
    used: usize,
    left: usize,
}

impl PatternStream {
    pub(crate) fn new(seed: u64, len: usize) -> Self {
        Self {
            state: seed,
            word: [0; 8],
            used: 8,
            left: len,
        }
    }

    /// Bytes still to come.
    pub(crate) fn left(&self) -> usize {
        self.left
    }

    /// The next `n` bytes (fewer at the end).
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.left);
        let mut out = Vec::with_capacity(n);
        // Bounded by `n`: each pass adds at least one byte.
        while out.len() < n {
            if self.used == 8 {
                self.word = splitmix64(&mut self.state).to_le_bytes();
                self.used = 0;
            }
            let from = self.word.get(self.used..).unwrap_or_default();
            let k = from.len().min(n - out.len());
            out.extend_from_slice(from.get(..k).unwrap_or_default());
            self.used += k;
        }
        self.left -= n;
        out
    }

    /// Checks that `got` is what comes next; `what` names it in the error.
    pub(crate) fn expect(&mut self, got: &[u8], what: &str) -> Result<(), String> {
        let at = self.left;
        let want = self.take(got.len());
        match difference(got, &want) {
            None => Ok(()),
            Some(d) => Err(format!("{what}, {at} bytes before its end: {d}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_made_in_pieces_is_the_pattern() {
        let mut stream = PatternStream::new(42, 1000);
        let mut got = Vec::new();
        for n in [0, 1, 7, 8, 9, 100, 2000] {
            got.extend(stream.take(n));
        }
        assert_eq!((got, stream.left()), (pattern(42, 1000), 0));
        let mut check = PatternStream::new(42, 20);
        assert!(check.expect(&pattern(42, 20)[..5], "x").is_ok());
        assert!(check.expect(&[0; 3], "x").is_err());
    }
}

//! Property tests of the frame decoder: arbitrary input never panics, never
//! allocates beyond the limit, and valid chunk sequences always round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use channel_core::frame::{FOOTER_LEN, FrameError, Reassembler, frames};
use proptest::prelude::*;

const LIMIT: usize = 1 << 16;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any sequence of arbitrary frames yields messages within the limit or typed errors.
    #[test]
    fn arbitrary_frames_never_panic(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..8)) {
        let mut rx = Reassembler::new(LIMIT);
        for frame in frames {
            match rx.push(frame) {
                Ok(Some(msg)) => prop_assert!(msg.len() <= LIMIT),
                Ok(None) => {}
                Err(_) => rx = Reassembler::new(LIMIT),
            }
        }
    }

    /// A footer with arbitrary fields (the likeliest attack) is checked before allocating.
    #[test]
    fn arbitrary_footers_are_bounded(payload in 0usize..64, total in any::<u64>(), index in any::<u32>(), count in any::<u32>(), version in any::<u8>()) {
        let mut frame = vec![7u8; payload];
        frame.extend_from_slice(&total.to_le_bytes());
        frame.extend_from_slice(&index.to_le_bytes());
        frame.extend_from_slice(&count.to_le_bytes());
        frame.push(version);
        let mut rx = Reassembler::new(LIMIT);
        match rx.push(frame) {
            Ok(Some(msg)) => prop_assert_eq!(msg.len(), payload),
            Ok(None) => {
                prop_assert!(total as usize <= LIMIT);
                prop_assert_eq!(rx.total_chunks(), Some(count as usize));
            }
            Err(FrameError::TooLarge { size, limit }) => {
                prop_assert_eq!(size, total);
                prop_assert!(size > limit as u64);
            }
            Err(_) => {}
        }
    }

    /// Every payload round-trips at every chunk size, frame by frame.
    #[test]
    fn valid_messages_roundtrip(msg in prop::collection::vec(any::<u8>(), 0..2048), chunk in 1usize..300) {
        let mut rx = Reassembler::new(LIMIT);
        let all: Vec<Vec<u8>> = frames(&msg, chunk).unwrap().collect();
        prop_assert_eq!(all.len(), msg.len().div_ceil(chunk).max(1));
        let mut out = None;
        for (i, f) in all.iter().enumerate() {
            prop_assert!(f.len() <= chunk + FOOTER_LEN);
            prop_assert!(out.is_none(), "message finished early at chunk {}", i);
            out = rx.push(f.clone()).unwrap();
        }
        prop_assert_eq!(out, Some(msg));
    }

    /// Flipping any one byte of a valid chunk sequence gives an error or a message
    /// of the claimed length; it never panics or returns a wrong-sized message.
    #[test]
    fn single_byte_corruption_is_detected_or_harmless(msg in prop::collection::vec(any::<u8>(), 1..512), chunk in 1usize..128, at in any::<prop::sample::Index>(), bits in 1u8..=255) {
        let mut all: Vec<Vec<u8>> = frames(&msg, chunk).unwrap().collect();
        let total: usize = all.iter().map(Vec::len).sum();
        let mut pos = at.index(total);
        for f in all.iter_mut() {
            if pos < f.len() {
                f[pos] ^= bits;
                break;
            }
            pos -= f.len();
        }
        let mut rx = Reassembler::new(LIMIT);
        for f in all {
            match rx.push(f) {
                Ok(Some(out)) => { prop_assert_eq!(out.len(), msg.len()); break; }
                Ok(None) => {}
                Err(_) => break,
            }
        }
    }
}

//! The protocol for blocking channels, generated from the same source.

use channel_core::blocking as channel;
use maybe_async::must_be_sync as form;

#[path = "protocol.rs"]
mod protocol;
pub use protocol::{PHASE_OPEN, PHASE_SHARE, vector_sum};

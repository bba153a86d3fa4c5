//! The protocol for async channels.

use channel_core::asynchronous as channel;
use maybe_async::must_be_async as form;

#[path = "protocol.rs"]
mod protocol;
pub use protocol::{PHASE_OPEN, PHASE_SHARE, vector_sum};

//! The async form: [`Sealed`] over any async `channel_core::Channel`.
//! (Re-exported at the crate root.)

use maybe_async::must_be_async as form;

use channel_core::asynchronous as channel;

#[path = "sealed.rs"]
mod sealed;

pub use sealed::{Sealed, SealedReceiver, SealedSender, handshake, refuse};

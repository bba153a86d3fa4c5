//! The blocking form: [`Sealed`] over any `channel_core::blocking::Channel`,
//! generated from the same source as the async form.
//!
//! ```
//! use channel_seal::blocking::Sealed;
//! use channel_seal::PartyKey;
//! use channel_core::blocking::{recv_from, send_to};
//!
//! let keys: Vec<PartyKey> = (0..2).map(|_| PartyKey::generate().unwrap()).collect();
//! let table: Vec<_> = keys.iter().map(PartyKey::public).collect();
//! let threads: Vec<_> = channel_std::StdChannel::network(2)
//!     .into_iter()
//!     .zip(keys)
//!     .enumerate()
//!     .map(|(me, (ch, key))| {
//!         let table = table.clone();
//!         std::thread::spawn(move || {
//!             let mut ch = Sealed::establish(ch, me, &key, &table, b"doc session").unwrap();
//!             send_to(&mut ch, 1 - me, "hi", &(me as u32)).unwrap();
//!             let got: u32 = recv_from(&mut ch, 1 - me, "hi").unwrap();
//!             got
//!         })
//!     })
//!     .collect();
//! let got: Vec<u32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
//! assert_eq!(got, [1, 0]);
//! ```

use maybe_async::must_be_sync as form;

use channel_core::blocking as channel;

#[path = "sealed.rs"]
mod sealed;

pub use sealed::{Sealed, SealedReceiver, SealedSender, handshake, refuse};

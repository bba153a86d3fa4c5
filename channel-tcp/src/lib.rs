#![doc = include_str!("../README.md")]

mod channel;
mod error;
mod keys;
mod link;
pub mod local;
mod node;
mod options;
mod split;
mod tls;

pub use channel::TcpChannel;
pub use error::{TcpError, TransportError};
pub use keys::{PartyKey, PublicKey};
pub use node::{PartyEntry, TcpNode};
pub use options::{DEFAULT_CHUNK_SIZE, DEFAULT_MAX_OUTBOUND, TcpOptions};
pub use split::{TcpReceiver, TcpSender};

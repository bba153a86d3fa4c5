//! What the application side ([`P2pChannel`](crate::P2pChannel)) and the link
//! tasks share: channel-link's per-peer state with this crate's error.

use crate::P2pError;

pub(crate) use channel_link::session::Inbound;

/// Per peer: the outbound budget, the failure and its signal to every lane,
/// and progress.
pub(crate) type Shared = channel_link::app::Shared<P2pError>;

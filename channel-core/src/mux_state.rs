//! The rules of sub-channels, without I/O (both forms of `Mux` drive them):
//! how a chunk carries its sub-channel's number, which sub-channels may be
//! open, and what one peer's chunks for sub-channels that are not reading
//! may hold, per peer ([`Demux`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::transport::TransportError;

/// Bytes a chunk's sub-channel number takes, after its frame footer.
pub const TAG_LEN: usize = 4;

/// How many sub-channels may be open and what they may hold unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxLimits {
    /// Sub-channels open at once on this party, at most; also the most
    /// numbers a peer may send chunks for that nobody has taken yet.
    pub max_open: usize,
    /// Bytes from one peer held for sub-channels that have not taken them yet,
    /// at most (beyond: the receive that would hold more fails).
    pub max_unread_bytes: usize,
}

impl Default for MuxLimits {
    /// 64 sub-channels, 64 MiB unread per peer.
    fn default() -> Self {
        Self {
            max_open: 64,
            max_unread_bytes: 64 << 20,
        }
    }
}

/// Why a sub-channel operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MuxError {
    /// The sub-channel is open already on this party.
    #[error("sub-channel {id} is open already")]
    AlreadyOpen {
        /// The sub-channel.
        id: u32,
    },
    /// As many sub-channels as the limit allows are open.
    #[error("cannot open sub-channel {id}: {max} sub-channels are open, the most allowed")]
    TooManyOpen {
        /// The sub-channel asked for.
        id: u32,
        /// The limit.
        max: usize,
    },
    /// A chunk from the peer is shorter than a sub-channel number.
    #[error("a chunk of {len} bytes from party {party} carries no sub-channel number")]
    Untagged {
        /// The peer.
        party: usize,
        /// The chunk's length.
        len: usize,
    },
    /// The peer sent chunks for more sub-channels than may be open.
    #[error(
        "party {party} sent on sub-channel {id} while chunks for {max} other sub-channels wait \
         unread, the most allowed"
    )]
    TooManySubChannels {
        /// The peer.
        party: usize,
        /// The sub-channel of the chunk.
        id: u32,
        /// The limit.
        max: usize,
    },
    /// What the peer sent on sub-channels that do not read would exceed the bound.
    #[error(
        "party {party} sent a chunk of {adding} bytes on sub-channel {id} beyond the {held} bytes \
         its sub-channels have not read yet; the bound is {limit} bytes"
    )]
    Unread {
        /// The peer.
        party: usize,
        /// The sub-channel whose chunk did not fit.
        id: u32,
        /// Bytes held unread before it.
        held: usize,
        /// The chunk's size.
        adding: usize,
        /// The limit.
        limit: usize,
    },
}

impl MuxError {
    /// The transport-level view of this error (for [`ErrorKind`](crate::ErrorKind)).
    pub(crate) fn transport(&self) -> Option<TransportError> {
        match *self {
            MuxError::Unread {
                party,
                held,
                adding,
                limit,
                ..
            } => Some(TransportError::QueueFull {
                party,
                queued: held,
                adding,
                limit,
            }),
            _ => None,
        }
    }
}

/// The error of a sub-channel's operation: its transport's, or the
/// sub-channel's own rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubError<E: std::error::Error + 'static> {
    /// The transport's half failed.
    #[error("{0}")]
    Transport(#[source] E),
    /// Refused before reaching the transport: a bad party index, a chunk
    /// larger than the sub-channel's chunk size, a peer without a link.
    #[error("{0}")]
    Refused(#[source] TransportError),
    /// The sub-channels' own rules.
    #[error("{error}")]
    Mux {
        /// Which rule.
        error: MuxError,
        /// The same as a transport error, where there is one (a bound that
        /// was reached is [`TransportError::QueueFull`]).
        #[source]
        transport: Option<TransportError>,
    },
}

impl<E: std::error::Error + 'static> From<MuxError> for SubError<E> {
    fn from(error: MuxError) -> Self {
        let transport = error.transport();
        SubError::Mux { error, transport }
    }
}

/// Appends sub-channel `id`'s number to `chunk`.
pub(crate) fn tag(mut chunk: Vec<u8>, id: u32) -> Vec<u8> {
    chunk.extend_from_slice(&id.to_le_bytes());
    chunk
}

/// Splits a chunk from `party` into its sub-channel number and the chunk.
pub(crate) fn untag(party: usize, mut chunk: Vec<u8>) -> Result<(u32, Vec<u8>), MuxError> {
    let len = chunk.len();
    let Some(at) = len.checked_sub(TAG_LEN) else {
        return Err(MuxError::Untagged { party, len });
    };
    let mut id = [0u8; TAG_LEN];
    id.copy_from_slice(&chunk[at..]);
    chunk.truncate(at);
    Ok((u32::from_le_bytes(id), chunk))
}

/// The sub-channels open on this party.
#[derive(Debug, Default)]
pub(crate) struct Open {
    ids: BTreeSet<u32>,
}

impl Open {
    /// Opens `id`, within `max` open at once.
    pub(crate) fn open(&mut self, id: u32, max: usize) -> Result<(), MuxError> {
        if self.ids.contains(&id) {
            return Err(MuxError::AlreadyOpen { id });
        }
        if self.ids.len() >= max {
            return Err(MuxError::TooManyOpen { id, max });
        }
        self.ids.insert(id);
        Ok(())
    }

    pub(crate) fn close(&mut self, id: u32) {
        self.ids.remove(&id);
    }
}

/// One peer's chunks on their way to this party's sub-channels: those taken
/// from the transport for a sub-channel other than the one that read them,
/// until that one asks; and whether one of the sub-channels is reading.
#[derive(Debug)]
pub(crate) struct Demux {
    party: usize,
    held: BTreeMap<u32, VecDeque<Vec<u8>>>,
    held_bytes: usize,
    limits: MuxLimits,
    /// A sub-channel is reading from the transport (only one at a time).
    pub(crate) reading: bool,
}

impl Demux {
    pub(crate) fn new(party: usize, limits: MuxLimits) -> Self {
        Self {
            party,
            held: BTreeMap::new(),
            held_bytes: 0,
            limits,
            reading: false,
        }
    }

    /// The next chunk held for sub-channel `id`, if any.
    pub(crate) fn take(&mut self, id: u32) -> Option<Vec<u8>> {
        let queue = self.held.get_mut(&id)?;
        let chunk = queue.pop_front()?;
        if queue.is_empty() {
            self.held.remove(&id);
        }
        self.held_bytes -= chunk.len();
        Some(chunk)
    }

    /// A chunk read from the transport by sub-channel `reader`: its own
    /// (returned), or held for the sub-channel it carries.
    pub(crate) fn arrived(
        &mut self,
        reader: u32,
        chunk: Vec<u8>,
    ) -> Result<Option<Vec<u8>>, MuxError> {
        let (id, chunk) = untag(self.party, chunk)?;
        if id == reader && !self.held.contains_key(&id) {
            return Ok(Some(chunk));
        }
        if !self.held.contains_key(&id) && self.held.len() >= self.limits.max_open {
            return Err(MuxError::TooManySubChannels {
                party: self.party,
                id,
                max: self.limits.max_open,
            });
        }
        let held = self.held_bytes + chunk.len();
        if held > self.limits.max_unread_bytes {
            return Err(MuxError::Unread {
                party: self.party,
                id,
                held: self.held_bytes,
                adding: chunk.len(),
                limit: self.limits.max_unread_bytes,
            });
        }
        self.held_bytes = held;
        self.held.entry(id).or_default().push_back(chunk);
        Ok(if id == reader { self.take(id) } else { None })
    }

    /// Sub-channel `id` was closed: what it held is dropped.
    pub(crate) fn forget(&mut self, id: u32) {
        if let Some(queue) = self.held.remove(&id) {
            self.held_bytes -= queue.iter().map(Vec::len).sum::<usize>();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.
    use super::*;

    fn limits(max_open: usize, max_unread_bytes: usize) -> MuxLimits {
        MuxLimits {
            max_open,
            max_unread_bytes,
        }
    }

    #[test]
    fn a_tag_round_trips_and_a_short_chunk_is_refused() {
        let chunk = tag(b"abc".to_vec(), 0x0102_0304);
        assert_eq!(chunk.len(), 3 + TAG_LEN);
        assert_eq!(untag(1, chunk).unwrap(), (0x0102_0304, b"abc".to_vec()));
        assert_eq!(untag(1, tag(Vec::new(), 7)).unwrap(), (7, Vec::new()));
        assert_eq!(
            untag(2, vec![1, 2, 3]),
            Err(MuxError::Untagged { party: 2, len: 3 })
        );
    }

    #[test]
    fn chunks_for_others_wait_in_order_for_their_sub_channel() {
        let mut demux = Demux::new(1, MuxLimits::default());
        assert_eq!(demux.arrived(5, tag(b"a1".to_vec(), 6)).unwrap(), None);
        assert_eq!(demux.arrived(5, tag(b"a2".to_vec(), 6)).unwrap(), None);
        assert_eq!(
            demux.arrived(5, tag(b"mine".to_vec(), 5)).unwrap(),
            Some(b"mine".to_vec())
        );
        assert_eq!(demux.take(6), Some(b"a1".to_vec()));
        // Sub-channel 6 reads the next itself while one of its own is held: FIFO.
        assert_eq!(
            demux.arrived(6, tag(b"a3".to_vec(), 6)).unwrap(),
            Some(b"a2".to_vec())
        );
        assert_eq!(demux.take(6), Some(b"a3".to_vec()));
        assert_eq!((demux.take(6), demux.held_bytes), (None, 0));
    }

    #[test]
    fn what_waits_unread_is_bounded_in_bytes_and_sub_channels() {
        let mut demux = Demux::new(3, limits(2, 10));
        demux.arrived(0, tag(vec![0; 6], 1)).unwrap();
        assert_eq!(
            demux.arrived(0, tag(vec![0; 5], 2)),
            Err(MuxError::Unread {
                party: 3,
                id: 2,
                held: 6,
                adding: 5,
                limit: 10
            })
        );
        demux.arrived(0, tag(vec![0; 4], 2)).unwrap();
        assert_eq!(
            demux.arrived(0, tag(vec![], 9)),
            Err(MuxError::TooManySubChannels {
                party: 3,
                id: 9,
                max: 2
            })
        );
        // A reader's own chunk needs no room.
        assert_eq!(
            demux.arrived(0, tag(vec![1; 50], 0)).unwrap(),
            Some(vec![1; 50])
        );
        demux.forget(1);
        assert_eq!(demux.held_bytes, 4);
        demux.arrived(0, tag(vec![0; 6], 9)).unwrap();
    }

    #[test]
    fn open_sub_channels_are_unique_and_bounded() {
        let mut open = Open::default();
        open.open(1, 2).unwrap();
        assert_eq!(open.open(1, 2), Err(MuxError::AlreadyOpen { id: 1 }));
        open.open(2, 2).unwrap();
        assert_eq!(
            open.open(3, 2),
            Err(MuxError::TooManyOpen { id: 3, max: 2 })
        );
        open.close(1);
        open.open(3, 2).unwrap();
    }
}

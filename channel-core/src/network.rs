//! The settings of an in-process network (every party in one process), shared by
//! backends such as `channel-tokio` and `channel-std` so that both offer the same
//! builder with the same defaults.

use std::marker::PhantomData;
use std::time::Duration;

use crate::DEFAULT_MAX_MESSAGE_SIZE;

/// Default receive timeout of an in-process network: 5 minutes.
pub const DEFAULT_RECV_TIMEOUT: Duration = Duration::from_secs(300);

/// Default [`NetworkSettings::stream_window`]: 8 MiB.
pub const DEFAULT_STREAM_WINDOW: usize = 8 << 20;

/// What every party of an in-process network is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSettings {
    /// The number of parties.
    pub parties: usize,
    /// How long a receive waits before failing with a timeout.
    pub recv_timeout: Duration,
    /// Bytes queued from one party to another and not yet received, at most
    /// (`None`: unbounded).
    pub max_queued_bytes: Option<usize>,
    /// The chunk size the helpers use: by default the whole message (within
    /// the queue bound), since in one process there is nothing to gain from
    /// cutting a message and copying its pieces back together.
    pub chunk_size: usize,
    /// The largest message the helpers send or accept.
    pub max_message_size: usize,
    /// Bytes a part of a streamed message may find queued on its link
    /// before it waits for the receiver to read (up to `recv_timeout`): what
    /// bounds the memory a stream of any size takes.
    pub stream_window: usize,
}

/// A backend whose parties can be built from [`NetworkSettings`].
pub trait BuildNetwork: Sized {
    /// The connected parties; element `i` is party `i`.
    fn build_network(settings: NetworkSettings) -> Vec<Self>;
}

/// Builder of an in-process network of `C` parties.
///
/// ```
/// use channel_core::transport::{BuildNetwork, NetworkBuilder, NetworkSettings};
/// use std::time::Duration;
///
/// // A backend only says how to build its parties from the settings.
/// struct Party(NetworkSettings);
/// impl BuildNetwork for Party {
///     fn build_network(settings: NetworkSettings) -> Vec<Self> {
///         (0..settings.parties).map(|_| Party(settings.clone())).collect()
///     }
/// }
///
/// let parties = NetworkBuilder::<Party>::new(3)
///     .recv_timeout(Duration::from_secs(10))
///     .max_queued_bytes(1 << 20)
///     .build();
/// assert_eq!(parties.len(), 3);
/// assert_eq!(parties[0].0.max_queued_bytes, Some(1 << 20));
/// // Whole messages by default, as large as the queue bound allows.
/// assert_eq!(parties[0].0.chunk_size, (1 << 20) - channel_core::frame::FOOTER_LEN);
/// ```
#[derive(Debug)]
pub struct NetworkBuilder<C> {
    settings: NetworkSettings,
    /// Whether the chunk size was chosen, rather than derived from the limits.
    chunk_size_set: bool,
    party: PhantomData<fn() -> C>,
}

impl<C> Clone for NetworkBuilder<C> {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone(),
            chunk_size_set: self.chunk_size_set,
            party: PhantomData,
        }
    }
}

/// The default chunk size of an in-process network: a whole message, or as
/// much of one as fits the queue bound with its footer.
fn whole_messages(max_message_size: usize, max_queued_bytes: Option<usize>) -> usize {
    let fits_queue = max_queued_bytes.map_or(usize::MAX, |bytes| {
        bytes.saturating_sub(crate::frame::FOOTER_LEN)
    });
    max_message_size.min(fits_queue).max(1)
}

impl<C: BuildNetwork> NetworkBuilder<C> {
    /// Default settings for `parties` parties: receive timeout 5 minutes,
    /// unbounded queues, 1 GiB messages, each sent whole (one chunk).
    pub fn new(parties: usize) -> Self {
        Self {
            settings: NetworkSettings {
                parties,
                recv_timeout: DEFAULT_RECV_TIMEOUT,
                max_queued_bytes: None,
                chunk_size: whole_messages(DEFAULT_MAX_MESSAGE_SIZE, None),
                max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
                stream_window: DEFAULT_STREAM_WINDOW,
            },
            chunk_size_set: false,
            party: PhantomData,
        }
    }

    /// Re-derives the default chunk size after a limit changed.
    fn derive_chunk_size(mut self) -> Self {
        if !self.chunk_size_set {
            let s = &mut self.settings;
            s.chunk_size = whole_messages(s.max_message_size, s.max_queued_bytes);
        }
        self
    }

    /// How long a receive waits before failing with
    /// [`TransportError::Timeout`](crate::transport::TransportError::Timeout).
    pub fn recv_timeout(mut self, timeout: Duration) -> Self {
        self.settings.recv_timeout = timeout;
        self
    }

    /// Bounds the bytes queued from one party to another and not yet received;
    /// a send beyond it fails with
    /// [`TransportError::QueueFull`](crate::transport::TransportError::QueueFull).
    /// Unbounded by default.
    ///
    /// Unless a [`chunk_size`](Self::chunk_size) is chosen, chunks are then as
    /// large as the bound allows, so a message up to the bound still goes
    /// whole; a larger message cannot be queued at all, since sends never wait.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_queued_bytes = Some(bytes);
        self.derive_chunk_size()
    }

    /// The chunk size the helpers use. By default a message goes whole (up
    /// to [`max_message_size`](Self::max_message_size) and within
    /// [`max_queued_bytes`](Self::max_queued_bytes)); a smaller chunk size
    /// exercises multi-chunk messages, as a network transport has them.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.settings.chunk_size = bytes.max(1);
        self.chunk_size_set = true;
        self
    }

    /// The largest message the helpers send or accept (1 GiB by default).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.max_message_size = bytes;
        self.derive_chunk_size()
    }

    /// Bytes a streamed message's part may find queued on its link before
    /// it waits for the receiver to read (8 MiB by default; see
    /// [`NetworkSettings::stream_window`]).
    pub fn stream_window(mut self, bytes: usize) -> Self {
        self.settings.stream_window = bytes;
        self
    }

    /// The settings so far.
    pub fn settings(&self) -> &NetworkSettings {
        &self.settings
    }

    /// Creates the connected parties; element `i` is party `i`.
    pub fn build(self) -> Vec<C> {
        C::build_network(self.settings)
    }
}

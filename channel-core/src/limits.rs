//! Overriding a channel's chunk size and maximum message size.

/// A channel wrapper that replaces the inner channel's [`chunk_size`] and
/// [`max_message_size`], e.g. to accept larger messages than a backend's default
/// or to split messages more finely. It implements both forms of the trait
/// whenever the inner channel does.
///
/// ```
/// use channel_core::{Channel, Limited};
/// # use channel_core::{RecvInfo, SendInfo, transport::TransportError};
/// # struct Null;
/// # impl Channel for Null {
/// #     type SendError = TransportError;
/// #     type RecvError = TransportError;
/// #     async fn send_bytes_to(&mut self, _: usize, _: Vec<u8>, _: SendInfo) -> Result<(), TransportError> { Ok(()) }
/// #     async fn recv_bytes_from(&mut self, p: usize, _: RecvInfo) -> Result<Vec<u8>, TransportError> {
/// #         Err(TransportError::Closed { party: p })
/// #     }
/// # }
/// let ch = Limited::new(Null).with_chunk_size(64 * 1024).with_max_message_size(4 << 30);
/// assert_eq!(ch.chunk_size(), 64 * 1024);
/// assert_eq!(ch.max_message_size(), 4 << 30);
/// ```
///
/// [`chunk_size`]: crate::Channel::chunk_size
/// [`max_message_size`]: crate::Channel::max_message_size
#[derive(Debug)]
pub struct Limited<C> {
    pub(crate) inner: C,
    pub(crate) chunk_size: Option<usize>,
    pub(crate) max_message_size: Option<usize>,
}

impl<C> Limited<C> {
    /// Wraps `inner`, keeping its limits until one is set.
    pub fn new(inner: C) -> Self {
        Self {
            inner,
            chunk_size: None,
            max_message_size: None,
        }
    }

    /// Splits messages into chunks of at most `bytes` (at least 1).
    pub fn with_chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = Some(bytes.max(1));
        self
    }

    /// Sends and accepts messages of at most `bytes`.
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = Some(bytes);
        self
    }

    /// The wrapped channel.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The wrapped channel, mutably.
    pub fn inner_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the channel.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

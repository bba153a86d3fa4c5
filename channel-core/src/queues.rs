//! One party of an in-process network of queues: what `channel-tokio` and
//! `channel-std` share, so that each is only its queue's send and receive calls.

use crate::network::NetworkSettings;
use crate::transport::{QueueBudget, TransportError, check_peer, mesh};

/// A queue's two ends, each with the byte budget of its directed link.
type Budgeted<T> = Option<(T, QueueBudget)>;

/// One party's ends of an in-process network: a sending end `S` towards every
/// peer and a receiving end `R` from every peer, each directed link bounded by
/// [`NetworkSettings::max_queued_bytes`].
///
/// ```
/// use std::sync::mpsc::{Sender, channel};
/// use std::time::Duration;
/// use channel_core::transport::{NetworkSettings, QueueEnds};
///
/// let settings = NetworkSettings {
///     parties: 2,
///     recv_timeout: Duration::from_secs(1),
///     max_queued_bytes: Some(8),
///     chunk_size: 1024,
///     max_message_size: 1 << 20,
/// };
/// let mut parties = QueueEnds::network(&settings, channel::<Vec<u8>>);
/// let mut one = parties.pop().unwrap();
/// let zero = parties.pop().unwrap();
///
/// zero.send(1, vec![1, 2, 3], |tx: &Sender<Vec<u8>>, msg| tx.send(msg).is_ok()).unwrap();
/// assert_eq!(zero.queued_to(1), 3);
/// // The budget of the link is 8 bytes: 6 more do not fit.
/// assert!(zero.send(1, vec![0; 6], |tx: &Sender<Vec<u8>>, msg| tx.send(msg).is_ok()).is_err());
///
/// let (rx, budget) = one.receiver(0).unwrap();
/// let msg = rx.recv().unwrap();
/// budget.release(msg.len());
/// assert_eq!((msg, zero.queued_to(1)), (vec![1, 2, 3], 0));
/// ```
#[derive(Debug)]
pub struct QueueEnds<S, R> {
    me: usize,
    to: Vec<Budgeted<S>>,
    from: Vec<Budgeted<R>>,
    settings: NetworkSettings,
}

impl<S, R> QueueEnds<S, R> {
    /// Every party's ends of a network with `settings`; `queue()` makes one
    /// directed queue. Element `i` is party `i`.
    pub fn network(settings: &NetworkSettings, mut queue: impl FnMut() -> (S, R)) -> Vec<Self> {
        mesh(settings.parties, || {
            let (tx, rx) = queue();
            let budget = QueueBudget::new(settings.max_queued_bytes);
            ((tx, budget.clone()), (rx, budget))
        })
        .into_iter()
        .enumerate()
        .map(|(me, (to, from))| Self {
            me,
            to,
            from,
            settings: settings.clone(),
        })
        .collect()
    }

    /// This party's index.
    pub fn party(&self) -> usize {
        self.me
    }

    /// The settings every party of the network shares.
    pub fn settings(&self) -> &NetworkSettings {
        &self.settings
    }

    /// Bytes this party has sent to `p` that `p` has not received yet.
    pub fn queued_to(&self, p: usize) -> usize {
        self.to
            .get(p)
            .and_then(Option::as_ref)
            .map_or(0, |(_, budget)| budget.queued())
    }

    /// Reserves room for `msg` on the link to `p`, then queues it with `push`,
    /// which returns `false` when the receiving end is gone.
    pub fn send(
        &self,
        p: usize,
        msg: Vec<u8>,
        push: impl FnOnce(&S, Vec<u8>) -> bool,
    ) -> Result<(), TransportError> {
        check_peer(self.me, p, self.settings.parties)?;
        let (tx, budget) = self
            .to
            .get(p)
            .and_then(Option::as_ref)
            .ok_or(TransportError::Closed { party: p })?;
        let len = msg.len();
        budget.reserve(p, len)?;
        if push(tx, msg) {
            Ok(())
        } else {
            budget.release(len);
            Err(TransportError::Closed { party: p })
        }
    }

    /// The receiving end from `p` and its link's budget (release what you take out).
    pub fn receiver(&mut self, p: usize) -> Result<(&mut R, &QueueBudget), TransportError> {
        check_peer(self.me, p, self.settings.parties)?;
        self.from
            .get_mut(p)
            .and_then(Option::as_mut)
            .map(|(rx, budget)| (rx, &*budget))
            .ok_or(TransportError::Closed { party: p })
    }
}

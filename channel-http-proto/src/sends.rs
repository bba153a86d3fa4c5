//! The sends a party has in flight with each peer, shared by the relay and
//! direct-mode clients: how many, which failed, and what a later send or a
//! flush reports. A failed send breaks its link: every later send to that
//! peer fails, because what follows could not arrive in order.

use std::collections::VecDeque;

use futures::channel::oneshot;

use crate::HttpError;

/// A background operation's result, once it comes.
pub type Pending<T> = oneshot::Receiver<Result<T, HttpError>>;

/// Per peer: the sends not yet stored, oldest first, and why sending failed.
///
/// ```
/// use channel_http_proto::HttpError;
/// use channel_http_proto::sends::Sends;
/// use futures::channel::oneshot;
///
/// # futures::executor::block_on(async {
/// let mut sends = Sends::new(2);
/// let (done, pending) = oneshot::channel();
/// sends.push(1, pending);
/// assert_eq!(sends.in_flight(1), 1);
/// done.send(Err(HttpError::Protocol("lost".into()))).unwrap();
/// // The failure is reported once, and the link stays broken.
/// assert!(matches!(sends.flush().await, Err(HttpError::Protocol(_))));
/// assert!(matches!(sends.usable(1), Err(HttpError::Undelivered { party: 1, .. })));
/// # });
/// ```
#[derive(Debug)]
pub struct Sends {
    queues: Vec<VecDeque<Pending<()>>>,
    broken: Vec<Option<String>>,
}

impl Sends {
    /// Nothing in flight with any of `parties` parties.
    pub fn new(parties: usize) -> Self {
        Self {
            queues: (0..parties).map(|_| VecDeque::new()).collect(),
            broken: vec![None; parties],
        }
    }

    /// Sends to `p` in flight.
    pub fn in_flight(&self, p: usize) -> usize {
        self.queues.get(p).map_or(0, VecDeque::len)
    }

    /// Notes that sending to `p` failed with `e`, and returns `e`.
    pub fn broke(&mut self, p: usize, e: HttpError) -> HttpError {
        if let Some(slot) = self.broken.get_mut(p) {
            slot.get_or_insert_with(|| e.to_string());
        }
        e
    }

    /// Fails if an earlier send to `p` failed.
    pub fn usable(&self, p: usize) -> Result<(), HttpError> {
        match self.broken.get(p) {
            Some(Some(reason)) => Err(HttpError::Undelivered {
                party: p,
                reason: reason.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Takes the sends to `p` that have ended; the first failure among them.
    pub fn reap(&mut self, p: usize) -> Result<(), HttpError> {
        let Some(queue) = self.queues.get_mut(p) else {
            return Ok(());
        };
        // Bounded by the sends in flight.
        while let Some(front) = queue.front_mut() {
            let ended = match front.try_recv() {
                Ok(None) => break,
                Ok(Some(result)) => result,
                Err(oneshot::Canceled) => Err(dropped(p)),
            };
            queue.pop_front();
            if let Err(e) = ended {
                return Err(self.broke(p, e));
            }
        }
        Ok(())
    }

    /// Waits until fewer than `window` sends to `p` are in flight.
    pub async fn make_room(&mut self, p: usize, window: usize) -> Result<(), HttpError> {
        // Bounded by the sends in flight.
        while self.in_flight(p) >= window.max(1) {
            self.settle_oldest(p).await?;
        }
        Ok(())
    }

    /// Files a send to `p` now in flight.
    pub fn push(&mut self, p: usize, pending: Pending<()>) {
        if let Some(queue) = self.queues.get_mut(p) {
            queue.push_back(pending);
        }
    }

    /// Waits until every send in flight has ended; the first failure.
    pub async fn flush(&mut self) -> Result<(), HttpError> {
        for p in 0..self.queues.len() {
            // Bounded by the sends in flight.
            while self.in_flight(p) > 0 {
                self.settle_oldest(p).await?;
            }
            self.usable(p)?;
        }
        Ok(())
    }

    /// Waits for the oldest send to `p` in flight, if any.
    async fn settle_oldest(&mut self, p: usize) -> Result<(), HttpError> {
        let Some(oldest) = self.queues.get_mut(p).and_then(VecDeque::pop_front) else {
            return Ok(());
        };
        match oldest.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.broke(p, e)),
            Err(oneshot::Canceled) => Err(self.broke(p, dropped(p))),
        }
    }
}

/// A background send ended without a result: its runtime stopped.
fn dropped(p: usize) -> HttpError {
    HttpError::Undelivered {
        party: p,
        reason: "its background request was dropped (did the runtime stop?)".into(),
    }
}

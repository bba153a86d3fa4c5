//! Wake-ups across relay processes: every change for a party is published
//! on its channel (by the scripts, or [`Wakes::publish`]); each process
//! listens to all of them on one pub/sub connection and bumps the local
//! watch of that party, if one of its long-polls or sockets waits.
//!
//! A message lost while the listener reconnects is made up for: after each
//! (re)subscription every local watch is bumped once, so every waiter looks
//! again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::keys::Keys;
use crate::relay::sessions::Arrivals;

/// The local watches, by (session, party).
#[derive(Default)]
pub(super) struct Wakes {
    watches: Mutex<HashMap<(String, usize), watch::Sender<u64>>>,
}

impl Wakes {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, usize), watch::Sender<u64>>> {
        self.watches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes for `party` of session `id` from now on.
    pub(super) fn arrivals(&self, id: &str, party: usize) -> Arrivals {
        let mut watches = self.lock();
        // Watches nobody waits on any more are dropped as new ones come.
        watches.retain(|_, w| w.receiver_count() > 0);
        let watch = watches
            .entry((id.to_string(), party))
            .or_insert_with(|| watch::Sender::new(0));
        Arrivals::new(watch.subscribe())
    }

    fn bump(&self, id: &str, party: usize) {
        if let Some(watch) = self.lock().get(&(id.to_string(), party)) {
            watch.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    fn bump_all(&self) {
        for watch in self.lock().values() {
            watch.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
}

/// Listens for wake-ups until the relay is dropped (the task holds only a
/// weak reference), reconnecting after a second when the connection fails.
pub(super) fn listen(client: redis::Client, keys: Keys, wakes: &Arc<Wakes>) {
    let wakes = Arc::downgrade(wakes);
    tokio::spawn(async move {
        // Bounded by the relay's life: it ends once `wakes` is dropped.
        loop {
            match client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.psubscribe(keys.wakes()).await {
                    Ok(()) => {
                        let Some(w) = wakes.upgrade() else { return };
                        w.bump_all();
                        drop(w);
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            let Some(w) = wakes.upgrade() else { return };
                            if let Some((id, party)) = keys.woken(message.get_channel_name()) {
                                w.bump(id, party);
                            }
                        }
                        tracing::warn!(
                            "the relay's wake-up connection to Redis ended; reconnecting"
                        );
                    }
                    Err(e) => tracing::warn!("cannot subscribe to the relay's wake-ups: {e}"),
                },
                Err(e) => {
                    tracing::warn!("cannot open the relay's wake-up connection to Redis: {e}")
                }
            }
            if wakes.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

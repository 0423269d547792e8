//! One publisher, any number of subscribers, each with its own bounded queue.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_channel::{Receiver, Sender, TrySendError};

/// Sends a clone of every published item to each subscriber's own async-channel.
///
/// Publishing never waits: a subscriber whose queue is full is dropped (its receiver
/// sees the channel close after the items already queued), so a stalled reader cannot
/// hold up a turn or the other subscribers. Clones share the subscribers.
pub struct Fanout<T> {
    subscribers: Arc<Mutex<Vec<Sender<T>>>>,
}

impl<T: Clone> Fanout<T> {
    /// A fan-out with no subscribers.
    pub fn new() -> Fanout<T> {
        Fanout {
            subscribers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A new subscriber that receives every item published from now on, holding at most
    /// `capacity` (at least 1) unread items before it is dropped.
    pub fn subscribe(&self, capacity: usize) -> Receiver<T> {
        let (sender, receiver) = async_channel::bounded(capacity.max(1));
        self.lock().push(sender);
        receiver
    }

    /// A subscriber with no bound, never dropped for falling behind: for a consumer that
    /// must see everything and keeps reading (a relay into a server's own buffer).
    pub fn subscribe_unbounded(&self) -> Receiver<T> {
        let (sender, receiver) = async_channel::unbounded();
        self.lock().push(sender);
        receiver
    }

    /// Sends `item` to every subscriber; forgets those that left or fell behind.
    pub fn publish(&self, item: &T) {
        self.lock()
            .retain(|subscriber| match subscriber.try_send(item.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    subscriber.close();
                    false
                }
                Err(TrySendError::Closed(_)) => false,
            });
    }

    /// How many subscribers are still attached (as of the last publish).
    pub fn subscribers(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Sender<T>>> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Clone> Default for Fanout<T> {
    fn default() -> Fanout<T> {
        Fanout::new()
    }
}

impl<T> Clone for Fanout<T> {
    fn clone(&self) -> Fanout<T> {
        Fanout {
            subscribers: Arc::clone(&self.subscribers),
        }
    }
}

impl<T> fmt::Debug for Fanout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fanout").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscriber_gets_every_item_in_order() {
        let fanout = Fanout::new();
        let early = fanout.subscribe(8);
        fanout.publish(&1);
        let late = fanout.subscribe(8);
        fanout.publish(&2);
        fanout.publish(&3);
        let drained =
            |r: &Receiver<i32>| std::iter::from_fn(|| r.try_recv().ok()).collect::<Vec<_>>();
        assert_eq!(drained(&early), [1, 2, 3]);
        assert_eq!(drained(&late), [2, 3]);
    }

    #[test]
    fn a_subscriber_that_falls_behind_is_dropped_and_the_others_go_on() {
        let fanout = Fanout::new();
        let slow = fanout.subscribe(2);
        let fast = fanout.subscribe(8);
        for n in 0..3 {
            fanout.publish(&n);
            assert_eq!(fast.try_recv(), Ok(n));
        }
        assert_eq!(fanout.subscribers(), 1);
        assert_eq!(slow.try_recv(), Ok(0));
        assert_eq!(slow.try_recv(), Ok(1));
        assert!(slow.try_recv().is_err() && slow.is_closed());
    }

    #[test]
    fn an_unbounded_subscriber_is_never_dropped() {
        let fanout = Fanout::new();
        let relay = fanout.subscribe_unbounded();
        for n in 0..10_000 {
            fanout.publish(&n);
        }
        assert_eq!((fanout.subscribers(), relay.len()), (1, 10_000));
    }

    #[test]
    fn a_dropped_receiver_is_forgotten() {
        let fanout = Fanout::new();
        drop(fanout.subscribe(1));
        fanout.publish(&"x");
        assert_eq!(fanout.subscribers(), 0);
    }
}

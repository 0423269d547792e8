//! The event hub: every event gets the next id, is kept in a bounded replay buffer, and
//! is handed to each subscriber whose filter it matches.
//!
//! A subscriber that sends `Last-Event-ID: N` first gets the buffered events after `N`
//! (registered under the same lock, so nothing falls between the replay and the live
//! stream); when events after `N` were already evicted it is told so with a `reset`
//! event. A subscriber whose queue fills up is dropped (its stream ends and it can
//! resume from its last id) rather than slowing the turns down.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};

/// One published event.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// Its id, from 1, increasing.
    pub id: u64,
    /// The session it belongs to, if any.
    pub session: Option<String>,
    /// The SSE event name (the agent event's `type`, or the server's own).
    pub name: String,
    /// The JSON data.
    pub data: String,
}

/// What a new subscriber gets.
#[derive(Debug)]
pub struct Subscription {
    /// Buffered events after the `Last-Event-ID`, to send first.
    pub backlog: Vec<Arc<Published>>,
    /// Whether events after the `Last-Event-ID` were lost (evicted).
    pub gap: bool,
    /// The live events.
    pub events: async_channel::Receiver<Arc<Published>>,
}

struct Subscriber {
    session: Option<String>,
    sender: async_channel::Sender<Arc<Published>>,
}

struct Inner {
    next: u64,
    buffer: VecDeque<Arc<Published>>,
    buffered_bytes: usize,
    subscribers: Vec<Subscriber>,
    closed: bool,
}

/// The server's event hub.
pub struct Hub {
    inner: Mutex<Inner>,
    max_events: usize,
    max_bytes: usize,
    queue: usize,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub keeping at most `max_events` events and `max_bytes` of data for replay, and
    /// queueing at most `queue` events per subscriber.
    pub fn new(max_events: usize, max_bytes: usize, queue: usize) -> Hub {
        Hub {
            inner: Mutex::new(Inner {
                next: 1,
                buffer: VecDeque::new(),
                buffered_bytes: 0,
                subscribers: Vec::new(),
                closed: false,
            }),
            max_events: max_events.max(1),
            max_bytes,
            queue: queue.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes `name` with `fields` (an object; `session` is added when given).
    pub fn publish(&self, session: Option<&str>, name: &str, fields: Value) {
        let mut object = match fields {
            Value::Object(map) => map,
            other => {
                let mut map = Map::new();
                map.insert("value".into(), other);
                map
            }
        };
        if let Some(session) = session {
            object.insert("session".into(), Value::String(session.to_string()));
        }
        let data = Value::Object(object).to_string();
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        let event = Arc::new(Published {
            id: inner.next,
            session: session.map(str::to_string),
            name: name.to_string(),
            data,
        });
        inner.next = inner.next.saturating_add(1);
        inner.buffered_bytes = inner.buffered_bytes.saturating_add(event.data.len());
        inner.buffer.push_back(Arc::clone(&event));
        while inner.buffer.len() > self.max_events
            || (inner.buffered_bytes > self.max_bytes && inner.buffer.len() > 1)
        {
            if let Some(old) = inner.buffer.pop_front() {
                inner.buffered_bytes = inner.buffered_bytes.saturating_sub(old.data.len());
            }
        }
        inner.subscribers.retain(|s| {
            if s.session
                .as_ref()
                .is_some_and(|want| Some(want) != event.session.as_ref())
            {
                return !s.sender.is_closed();
            }
            // A full queue drops the subscriber; it resumes with Last-Event-ID.
            s.sender.len() < self.queue && s.sender.try_send(Arc::clone(&event)).is_ok()
        });
    }

    /// Subscribes to every event (`session` `None`) or one session's, replaying the
    /// buffered ones after `last_id`.
    pub fn subscribe(&self, session: Option<String>, last_id: Option<u64>) -> Subscription {
        // Unbounded, with the bound checked on publish: a bounded channel would allocate
        // every slot up front for every subscriber.
        let (sender, events) = async_channel::unbounded();
        let mut inner = self.lock();
        let mut backlog = Vec::new();
        let mut gap = false;
        if let Some(last) = last_id {
            let oldest = inner.buffer.front().map_or(inner.next, |e| e.id);
            gap = last.saturating_add(1) < oldest;
            backlog = inner
                .buffer
                .iter()
                .filter(|e| e.id > last)
                .filter(|e| session.is_none() || e.session == session)
                .cloned()
                .collect();
        }
        if !inner.closed {
            inner.subscribers.push(Subscriber { session, sender });
        }
        Subscription {
            backlog,
            gap,
            events,
        }
    }

    /// Ends every stream and refuses new events (shutdown).
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.subscribers.clear();
    }

    /// Subscribers connected now.
    #[cfg(test)]
    pub fn subscribers(&self) -> usize {
        self.lock().subscribers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(events: &[Arc<Published>]) -> Vec<u64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn events_go_to_matching_subscribers_with_increasing_ids() {
        let hub = Hub::new(10, 1 << 20, 10);
        let all = hub.subscribe(None, None);
        let one = hub.subscribe(Some("a".into()), None);
        hub.publish(Some("a"), "text_delta", json!({"text": "hi"}));
        hub.publish(Some("b"), "text_delta", json!({"text": "yo"}));
        hub.publish(None, "session_created", json!({"id": "c"}));
        let got: Vec<_> = std::iter::from_fn(|| all.events.try_recv().ok()).collect();
        assert_eq!(ids(&got), [1, 2, 3]);
        assert_eq!(got[0].data, r#"{"session":"a","text":"hi"}"#);
        let mine: Vec<_> = std::iter::from_fn(|| one.events.try_recv().ok()).collect();
        assert_eq!(ids(&mine), [1]);
    }

    #[test]
    fn last_event_id_replays_what_followed_and_reports_a_gap() {
        let hub = Hub::new(3, 1 << 20, 10);
        for n in 0..5 {
            hub.publish(Some("a"), "text_delta", json!({ "n": n }));
        }
        let resumed = hub.subscribe(None, Some(3));
        assert_eq!(ids(&resumed.backlog), [4, 5]);
        assert!(!resumed.gap);
        let late = hub.subscribe(None, Some(1));
        assert_eq!(ids(&late.backlog), [3, 4, 5]);
        assert!(late.gap, "event 2 was evicted");
        let fresh = hub.subscribe(Some("b".into()), Some(0));
        assert!(fresh.backlog.is_empty());
    }

    #[test]
    fn the_byte_bound_evicts_and_slow_subscribers_are_dropped() {
        let hub = Hub::new(100, 10, 1);
        let slow = hub.subscribe(None, None);
        hub.publish(None, "x", json!({"t": "0123456789"}));
        hub.publish(None, "x", json!({"t": "0123456789"}));
        assert_eq!(hub.subscribe(None, Some(0)).backlog.len(), 1);
        assert_eq!(slow.events.try_recv().map(|e| e.id), Ok(1));
        assert!(
            slow.events.try_recv().is_err(),
            "dropped after a full queue"
        );
        hub.close();
        assert_eq!(hub.subscribers(), 0);
    }
}

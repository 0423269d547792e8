//! Idle keep-alive connections, per origin.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::connect::{Io, Origin};

/// The most idle connections kept per origin.
const MAX_IDLE_PER_ORIGIN: usize = 4;

/// How long an idle connection is kept; servers close theirs after 5 to 120 s.
const MAX_IDLE_TIME: Duration = Duration::from_secs(60);

/// Connections whose last response was read completely and did not ask to close.
///
/// A connection taken from the pool may still have been closed by the server meanwhile;
/// the client notices when nothing comes back and retries once on a new connection.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<Origin, Vec<Idle>>>,
}

/// A connection and when it became idle.
type Idle = (Instant, Box<dyn Io>);

impl Pool {
    /// The most recently used idle connection to `origin`, if one is fresh enough.
    pub(crate) fn take(&self, origin: &Origin) -> Option<Box<dyn Io>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.get_mut(origin)?;
        list.retain(|(since, _)| since.elapsed() < MAX_IDLE_TIME);
        let taken = list.pop().map(|(_, io)| io);
        if list.is_empty() {
            idle.remove(origin);
        }
        taken
    }

    /// Keeps `io` for the next request to `origin` (closes it when the pool is full).
    pub(crate) fn put(&self, origin: Origin, io: Box<dyn Io>) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let list = idle.entry(origin).or_default();
        list.retain(|(since, _)| since.elapsed() < MAX_IDLE_TIME);
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push((Instant::now(), io));
        }
    }

    /// Idle connections held, over all origins.
    pub(crate) fn len(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.values().map(Vec::len).sum()
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("idle", &self.len()).finish()
    }
}

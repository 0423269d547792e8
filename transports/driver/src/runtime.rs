//! The driver loop's clock, wait and workers.

use std::fmt;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cm_proto::time::{Millis, UnixMillis};

use crate::Input;

/// Time, waiting and background work, as the driver loop and the tool host need them.
pub trait Runtime: Send + Sync {
    /// Monotonic time since this runtime began.
    fn now(&self) -> Millis;
    /// Wall-clock time, for records.
    fn wall_clock(&self) -> UnixMillis;
    /// The next input, or `None` once `deadline` (if any) has passed without one.
    fn wait(&self, inputs: &Receiver<Input>, deadline: Option<Millis>) -> Option<Input>;
    /// Runs blocking `work` off the loop's thread.
    fn spawn(&self, name: &str, work: Box<dyn FnOnce() + Send + 'static>);
}

/// The real clock and one OS thread per piece of work.
#[derive(Clone, Copy)]
pub struct StdRuntime {
    epoch: Instant,
}

impl StdRuntime {
    /// A runtime whose [`Millis`] count from now.
    pub fn new() -> StdRuntime {
        StdRuntime {
            epoch: Instant::now(),
        }
    }
}

impl Default for StdRuntime {
    fn default() -> StdRuntime {
        StdRuntime::new()
    }
}

impl fmt::Debug for StdRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdRuntime").finish_non_exhaustive()
    }
}

impl Runtime for StdRuntime {
    fn now(&self) -> Millis {
        Millis(u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    fn wall_clock(&self) -> UnixMillis {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    fn wait(&self, inputs: &Receiver<Input>, deadline: Option<Millis>) -> Option<Input> {
        let Some(deadline) = deadline else {
            return inputs.recv().ok();
        };
        let left = deadline.since(self.now());
        if left == 0 {
            return inputs.try_recv().ok();
        }
        inputs.recv_timeout(Duration::from_millis(left)).ok()
    }

    /// When the system refuses another thread, the work runs on the caller's thread
    /// rather than being lost (its answer is what the loop waits for).
    fn spawn(&self, name: &str, work: Box<dyn FnOnce() + Send + 'static>) {
        let slot = Arc::new(Mutex::new(Some(work)));
        let theirs = Arc::clone(&slot);
        let spawned = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || run_once(&theirs));
        if spawned.is_err() {
            run_once(&slot);
        }
    }
}

type Work = Box<dyn FnOnce() + Send + 'static>;

fn run_once(slot: &Mutex<Option<Work>>) {
    let work = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(work) = work {
        work();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn wait_returns_none_at_the_deadline_and_inputs_before_it() {
        let runtime = StdRuntime::new();
        let (tx, rx) = mpsc::channel();
        let start = runtime.now();
        assert_eq!(runtime.wait(&rx, Some(start.add_ms(30))), None);
        assert!(runtime.now().since(start) >= 30);

        tx.send(Input::Interrupt).unwrap();
        let far = runtime.now().add_ms(60_000);
        assert_eq!(runtime.wait(&rx, Some(far)), Some(Input::Interrupt));
        tx.send(Input::Interrupt).unwrap();
        assert_eq!(runtime.wait(&rx, Some(Millis(0))), Some(Input::Interrupt));
    }

    #[test]
    fn spawned_work_runs_on_another_thread() {
        let runtime = StdRuntime::new();
        let (tx, rx) = mpsc::channel();
        let here = thread::current().id();
        runtime.spawn(
            "test",
            Box::new(move || tx.send(thread::current().id()).unwrap()),
        );
        assert_ne!(rx.recv().unwrap(), here);
    }
}

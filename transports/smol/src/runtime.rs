//! [`SmolRuntime`]: cm-driver's [`Runtime`] with its workers on smol's blocking pool.

use std::fmt;
use std::sync::mpsc::Receiver;

use cm_driver::{Input, Runtime, StdRuntime};
use cm_proto::time::{Millis, UnixMillis};

/// The real clock, with background work (tool runs) on smol's pool of blocking threads
/// instead of a new OS thread each, so many sessions share a bounded set of threads.
#[derive(Clone, Copy, Default)]
pub struct SmolRuntime {
    clock: StdRuntime,
}

impl SmolRuntime {
    /// A runtime whose [`Millis`] count from now.
    pub fn new() -> SmolRuntime {
        SmolRuntime {
            clock: StdRuntime::new(),
        }
    }
}

impl fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolRuntime").finish_non_exhaustive()
    }
}

impl Runtime for SmolRuntime {
    fn now(&self) -> Millis {
        self.clock.now()
    }

    fn wall_clock(&self) -> UnixMillis {
        self.clock.wall_clock()
    }

    /// Blocks the calling thread, as [`StdRuntime::wait`] does; the async driver never
    /// calls it (it awaits its own channel).
    fn wait(&self, inputs: &Receiver<Input>, deadline: Option<Millis>) -> Option<Input> {
        self.clock.wait(inputs, deadline)
    }

    fn spawn(&self, _name: &str, work: Box<dyn FnOnce() + Send + 'static>) {
        smol::unblock(work).detach();
    }
}

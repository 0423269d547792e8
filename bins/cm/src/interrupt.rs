//! Ctrl-C: the first one asks the running turn to stop, a second one exits at once.
//! The chat calls [`Interrupt::reset`] after each turn, so the next turn's first Ctrl-C
//! again only stops that turn.
//!
//! `signal-hook` installs the handlers, so cm itself needs no `unsafe`: on SIGINT one
//! handler writes a byte to a socket pair (async-signal-safe) that a watcher thread
//! blocks on, and calls the caller's callback (which sends the driver an interrupt
//! input; the agent's abort keeps the session valid). Another handler sets a flag, and
//! its "conditional shutdown" exits with 130 when the flag is already set: the second
//! Ctrl-C. Every session record is synced when appended, so that exit loses nothing.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::SIGINT;

/// The exit code of an interrupted run.
pub const INTERRUPTED: i32 = 130;

/// Whether Ctrl-C was pressed.
#[derive(Debug, Clone)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
}

impl Interrupt {
    /// Installs the SIGINT handlers; `on_first` runs on a watcher thread after every
    /// Ctrl-C that did not exit (the first one, and the first after each reset).
    pub fn install(on_first: impl Fn() + Send + 'static) -> io::Result<Interrupt> {
        let flag = Arc::new(AtomicBool::new(false));
        // Order matters: the shutdown check runs before the flag is set, so it fires only
        // on the second signal.
        signal_hook::flag::register_conditional_shutdown(SIGINT, INTERRUPTED, Arc::clone(&flag))?;
        signal_hook::flag::register(SIGINT, Arc::clone(&flag))?;
        let (mut read, write) = UnixStream::pair()?;
        signal_hook::low_level::pipe::register(SIGINT, write)?;
        std::thread::Builder::new()
            .name("cm-sigint".into())
            .spawn(move || {
                let mut byte = [0u8; 1];
                while read.read(&mut byte).is_ok_and(|n| n > 0) {
                    on_first();
                }
            })?;
        Ok(Interrupt { flag })
    }

    /// Whether Ctrl-C was pressed since the start (or the last reset).
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Forgets an earlier Ctrl-C, so the next one stops a turn instead of exiting.
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }
}

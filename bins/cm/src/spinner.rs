//! A one-line spinner on stderr while cm waits (for the model, a tool, a retry).
//!
//! Only used when stderr is a terminal. A thread redraws the line every 100 ms; whoever
//! writes anything else first calls [`Spinner::clear`], which erases the line and stops
//! drawing until [`Spinner::set`] gives a new label. Both take the same lock, so a frame
//! is never drawn in the middle of other output.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
struct State {
    label: Option<(String, Instant)>,
    drawn: bool,
    frame: usize,
    stop: bool,
}

/// The spinner and its drawing thread.
#[derive(Debug)]
pub struct Spinner {
    state: Arc<Mutex<State>>,
    thread: Option<JoinHandle<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while drawing leaves nothing half-updated that matters; keep going.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Spinner {
    /// Starts the drawing thread; nothing shows until [`Spinner::set`].
    pub fn start() -> Spinner {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name("cm-spinner".into())
            .spawn(move || loop {
                std::thread::sleep(INTERVAL);
                let mut state = lock(&shared);
                if state.stop {
                    break;
                }
                let Some((label, since)) = state.label.clone() else {
                    continue;
                };
                let frame = FRAMES[state.frame % FRAMES.len()];
                state.frame = state.frame.wrapping_add(1);
                let secs = since.elapsed().as_secs();
                let mut err = std::io::stderr().lock();
                let _ = if secs >= 2 {
                    write!(err, "\r\x1b[2K{frame} {label} · {secs}s")
                } else {
                    write!(err, "\r\x1b[2K{frame} {label}")
                };
                let _ = err.flush();
                state.drawn = true;
            })
            .ok();
        Spinner { state, thread }
    }

    /// Shows `label` from the next frame on (the elapsed time restarts when it changes).
    pub fn set(&self, label: &str) {
        let mut state = lock(&self.state);
        if state.label.as_ref().is_some_and(|(l, _)| l == label) {
            return;
        }
        state.label = Some((label.to_string(), Instant::now()));
    }

    /// Erases the spinner line and stops drawing until the next [`Spinner::set`].
    pub fn clear(&self) {
        let mut state = lock(&self.state);
        state.label = None;
        if state.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            state.drawn = false;
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.clear();
        lock(&self.state).stop = true;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

//! Running a shell command for the `bash` tool.
//!
//! The command runs as `bash -c COMMAND` in its own process group, with stdin from
//! `/dev/null` and an environment that keeps pagers and prompts from waiting for a person.
//! stdout and stderr share one pipe, so their interleaving is kept; a reader thread keeps
//! the first and last halves of the output limit and counts what it dropped, so memory
//! stays bounded however much the command prints.
//!
//! The call ends when bash exits, the timeout passes or the [`AbortHandle`] fires. It
//! then waits a short grace period for the pipe to drain and kills the whole process
//! group with SIGKILL: nothing started in the group outlives the call, and a background
//! child still holding the pipe cannot keep it alive. (A process that left the group with
//! `setsid` is not killed; the call stops reading from it after the grace period.)

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use cm_proto::message::ToolOutput;
use cm_proto::tool::ToolOutcome;

/// The timeout when the caller gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest timeout a caller may ask for; longer requests are clamped to it.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// Output bytes kept by default (half from the start, half from the end).
pub const DEFAULT_OUTPUT_LIMIT: usize = 30 * 1024;
/// How long to keep reading after bash is gone, for output still in flight.
const DRAIN_GRACE: Duration = Duration::from_millis(250);
/// The environment every command gets on top of cm's own.
pub const QUIET_ENV: [(&str, &str); 4] = [
    ("PAGER", "cat"),
    ("GIT_PAGER", "cat"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("TERM", "dumb"),
];

/// Stops a running command from another thread; clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct AbortHandle(Arc<AtomicBool>);

impl AbortHandle {
    /// A handle that has not fired.
    pub fn new() -> AbortHandle {
        AbortHandle::default()
    }

    /// Asks the running command to stop; it is killed within a few milliseconds.
    pub fn abort(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`abort`](Self::abort) was called.
    pub fn is_aborted(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// One command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BashRequest {
    /// The command line, given to `bash -c`.
    pub command: String,
    /// The working directory (the workspace root or a directory the caller resolved in it).
    pub dir: PathBuf,
    /// When to kill it; at most [`MAX_TIMEOUT`].
    pub timeout: Duration,
    /// Output bytes kept; the middle of longer output is dropped.
    pub output_limit: usize,
    /// Extra environment variables, set after [`QUIET_ENV`].
    pub env: Vec<(String, String)>,
}

impl BashRequest {
    /// `command` in `dir` with the default timeout and output limit.
    pub fn new(command: impl Into<String>, dir: impl Into<PathBuf>) -> BashRequest {
        BashRequest {
            command: command.into(),
            dir: dir.into(),
            timeout: DEFAULT_TIMEOUT,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            env: Vec::new(),
        }
    }

    /// Sets the timeout, clamped to [`MAX_TIMEOUT`].
    pub fn with_timeout(mut self, timeout: Duration) -> BashRequest {
        self.timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// Sets how many output bytes are kept.
    pub fn with_output_limit(mut self, limit: usize) -> BashRequest {
        self.output_limit = limit;
        self
    }
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// bash exited with this code.
    Exited(i32),
    /// bash was killed by this signal (not by cm).
    Signalled(i32),
    /// The timeout passed and cm killed the process group.
    TimedOut(Duration),
    /// The abort handle fired and cm killed the process group.
    Aborted,
}

/// What a finished command produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BashOutput {
    /// stdout and stderr interleaved, as UTF-8 (invalid bytes replaced), with a marker
    /// where the middle was dropped.
    pub output: String,
    /// Output bytes dropped from the middle.
    pub dropped_bytes: u64,
    /// How it ended.
    pub ending: Ending,
    /// Wall time from start to the end of the call.
    pub duration: Duration,
    /// The process group the command ran in (bash's pid); killed before returning.
    pub process_group: u32,
}

impl BashOutput {
    /// Whether bash exited with code 0.
    pub fn success(&self) -> bool {
        self.ending == Ending::Exited(0)
    }

    /// The tool result for the model: the output, then a line on how it ended unless it
    /// exited 0; an error unless it exited 0.
    pub fn to_outcome(&self, command: &str) -> ToolOutcome {
        let mut text = if self.output.is_empty() {
            "(no output)".to_string()
        } else {
            self.output.clone()
        };
        let note = match self.ending {
            Ending::Exited(0) => None,
            Ending::Exited(code) => Some(format!("exit code {code}")),
            Ending::Signalled(signal) => Some(format!("killed by signal {signal}")),
            Ending::TimedOut(after) => Some(format!(
                "timed out after {} s; the command and its children were killed",
                after.as_secs_f64()
            )),
            Ending::Aborted => Some("aborted by the user".to_string()),
        };
        if let Some(note) = &note {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("\n[{note}]"));
        }
        let first_line = command.lines().next().unwrap_or_default();
        let mut shown: String = first_line.chars().take(60).collect();
        if shown.len() < command.len() {
            shown.push('…');
        }
        ToolOutcome {
            content: vec![ToolOutput::Text { text }],
            is_error: !self.success(),
            summary: match note {
                None => format!("bash: {shown}"),
                Some(note) => format!("bash: {shown} ({note})"),
            },
            ..ToolOutcome::default()
        }
    }
}

/// Why a command could not be run at all.
#[derive(Debug)]
#[non_exhaustive]
pub enum BashError {
    /// The working directory does not exist or is not a directory.
    NoDirectory {
        /// The directory asked for.
        dir: PathBuf,
    },
    /// Creating the pipe or starting bash failed.
    Spawn {
        /// What the system said.
        source: io::Error,
    },
    /// Waiting for bash failed.
    Wait {
        /// What the system said.
        source: io::Error,
    },
}

impl fmt::Display for BashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BashError::NoDirectory { dir } => {
                write!(f, "working directory {} does not exist", dir.display())
            }
            BashError::Spawn { source } => write!(f, "cannot start bash: {source}"),
            BashError::Wait { source } => write!(f, "cannot wait for bash: {source}"),
        }
    }
}

impl std::error::Error for BashError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BashError::NoDirectory { .. } => None,
            BashError::Spawn { source } | BashError::Wait { source } => Some(source),
        }
    }
}

/// Runs `request` to its end (exit, timeout or abort) and returns what it printed.
pub fn run(request: &BashRequest, abort: &AbortHandle) -> Result<BashOutput, BashError> {
    if !request.dir.is_dir() {
        return Err(BashError::NoDirectory {
            dir: request.dir.clone(),
        });
    }
    let start = Instant::now();
    let (reader, writer) = io::pipe().map_err(|source| BashError::Spawn { source })?;
    let writer_too = writer
        .try_clone()
        .map_err(|source| BashError::Spawn { source })?;
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(&request.command)
        .current_dir(&request.dir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_too)
        .envs(QUIET_ENV)
        .envs(request.env.iter().map(|(k, v)| (k, v)))
        .process_group(0);
    let spawned = command.spawn();
    // The command holds our copies of the pipe's write end; EOF needs them closed.
    drop(command);
    let mut child = spawned.map_err(|source| BashError::Spawn { source })?;
    let group = child.id();

    let capture = Arc::new(Mutex::new(Capture::new(request.output_limit)));
    let drain = Arc::clone(&capture);
    // Detached: if a process outside the group keeps the pipe open, the thread ends when
    // that process does, long after this call returned.
    thread::spawn(move || read_all(reader, &drain));

    let timeout = request.timeout.min(MAX_TIMEOUT);
    let ending = match wait(&mut child, start + timeout, abort) {
        Ok(Waited::Exited(status)) => ending_of(status),
        Ok(Waited::TimedOut) => {
            stop(&mut child, group);
            Ending::TimedOut(timeout)
        }
        Ok(Waited::Aborted) => {
            stop(&mut child, group);
            Ending::Aborted
        }
        Err(source) => {
            stop(&mut child, group);
            return Err(BashError::Wait { source });
        }
    };

    let drained = wait_for_eof(&capture, Instant::now() + DRAIN_GRACE);
    kill_group(group);
    if !drained {
        // Killing the group usually closes the pipe; give it a moment to say so.
        wait_for_eof(&capture, Instant::now() + Duration::from_millis(50));
    }
    let (output, dropped_bytes) = lock(&capture).render();
    Ok(BashOutput {
        output,
        dropped_bytes,
        ending,
        duration: start.elapsed(),
        process_group: group,
    })
}

enum Waited {
    Exited(ExitStatus),
    TimedOut,
    Aborted,
}

/// Polls bash until it exits, the deadline passes or the abort fires (checked every few
/// milliseconds; a quick command is noticed within about a millisecond).
fn wait(child: &mut Child, deadline: Instant, abort: &AbortHandle) -> io::Result<Waited> {
    let mut pause = Duration::from_micros(500);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Waited::Exited(status));
        }
        if abort.is_aborted() {
            return Ok(Waited::Aborted);
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Waited::TimedOut);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn ending_of(status: ExitStatus) -> Ending {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(signal)) => Ending::Signalled(signal),
        (None, None) => Ending::Exited(-1),
    }
}

/// Kills the group and reaps bash.
fn stop(child: &mut Child, group: u32) {
    kill_group(group);
    // In case the group kill could not run: bash at least.
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGKILL to every process in the group, by running `kill` (std has no safe way
/// to signal a process group). A group that is already gone is not an error.
pub fn kill_group(group: u32) {
    let target = format!("-{group}");
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    let direct = quiet(Command::new("kill").args(["-s", "KILL", "--", &target]));
    if let Err(e) = direct {
        if e.kind() == io::ErrorKind::NotFound {
            // No `kill` program: bash's builtin does the same.
            let line = format!("kill -s KILL -- {target}");
            let _ = quiet(
                Command::new("bash")
                    .env_remove("BASH_ENV")
                    .args(["-c", &line]),
            );
        }
    }
}

fn wait_for_eof(capture: &Mutex<Capture>, until: Instant) -> bool {
    loop {
        if lock(capture).eof {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

fn lock(capture: &Mutex<Capture>) -> std::sync::MutexGuard<'_, Capture> {
    // A reader thread cannot panic while holding the lock; recover the data regardless.
    capture.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_all(mut reader: io::PipeReader, capture: &Mutex<Capture>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => lock(capture).push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    lock(capture).eof = true;
}

/// The kept output: up to half the limit from the start, up to half from the end.
#[derive(Debug)]
struct Capture {
    head: Vec<u8>,
    head_cap: usize,
    tail: VecDeque<u8>,
    tail_cap: usize,
    total: u64,
    eof: bool,
}

impl Capture {
    fn new(limit: usize) -> Capture {
        let head_cap = limit / 2;
        Capture {
            head: Vec::new(),
            head_cap,
            tail: VecDeque::new(),
            tail_cap: limit - head_cap,
            total: 0,
            eof: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.total = self.total.saturating_add(bytes.len() as u64);
        let take = self
            .head_cap
            .saturating_sub(self.head.len())
            .min(bytes.len());
        self.head.extend_from_slice(&bytes[..take]);
        let rest = &bytes[take..];
        if rest.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - self.tail_cap..]);
        } else {
            self.tail.extend(rest);
            let excess = self.tail.len().saturating_sub(self.tail_cap);
            self.tail.drain(..excess);
        }
    }

    fn render(&self) -> (String, u64) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let dropped = self.total.saturating_sub(kept);
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        if dropped == 0 {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return (String::from_utf8_lossy(&all).into_owned(), 0);
        }
        let text = format!(
            "{}\n\n[… {dropped} bytes of output dropped …]\n\n{}",
            String::from_utf8_lossy(&self.head),
            String::from_utf8_lossy(&tail)
        );
        (text, dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_everything_under_the_limit() {
        let mut c = Capture::new(10);
        c.push(b"abc");
        c.push(b"def");
        assert_eq!(c.render(), ("abcdef".to_string(), 0));
        c.push(b"ghij");
        assert_eq!(c.render(), ("abcdefghij".to_string(), 0));
    }

    #[test]
    fn capture_keeps_head_and_tail_and_counts_the_middle() {
        let mut c = Capture::new(6);
        for chunk in [&b"0123"[..], b"45678", b"9", b"abcdefgh", b"XY"] {
            c.push(chunk);
        }
        let (text, dropped) = c.render();
        assert_eq!(dropped, 20 - 6);
        assert_eq!(text, "012\n\n[… 14 bytes of output dropped …]\n\nhXY");
    }

    #[test]
    fn capture_split_does_not_depend_on_chunking() {
        let data: Vec<u8> = (0..200u8).collect();
        let mut whole = Capture::new(50);
        whole.push(&data);
        for size in [1, 3, 7, 49, 50, 51] {
            let mut c = Capture::new(50);
            data.chunks(size).for_each(|chunk| c.push(chunk));
            assert_eq!(c.render(), whole.render(), "chunks of {size}");
        }
    }

    #[test]
    fn outcome_reports_how_it_ended() {
        let out = |ending, output: &str| BashOutput {
            output: output.into(),
            dropped_bytes: 0,
            ending,
            duration: Duration::ZERO,
            process_group: 1,
        };
        let ok = out(Ending::Exited(0), "hi\n").to_outcome("echo hi");
        assert!(!ok.is_error);
        assert_eq!(
            ok.content,
            vec![ToolOutput::Text {
                text: "hi\n".into()
            }]
        );
        assert_eq!(ok.summary, "bash: echo hi");
        let failed = out(Ending::Exited(2), "").to_outcome("false");
        assert!(failed.is_error);
        assert_eq!(
            failed.content,
            vec![ToolOutput::Text {
                text: "(no output)\n\n[exit code 2]".into()
            }]
        );
        let slow = out(Ending::TimedOut(Duration::from_secs(2)), "x").to_outcome("sleep 9");
        assert_eq!(
            slow.summary,
            "bash: sleep 9 (timed out after 2 s; the command and its children were killed)"
        );
    }

    #[test]
    fn timeout_is_clamped_to_the_maximum() {
        let r = BashRequest::new("true", "/").with_timeout(Duration::from_secs(3600));
        assert_eq!(r.timeout, MAX_TIMEOUT);
    }
}

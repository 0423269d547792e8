//! The agent's thread: it owns the session and the driver, takes [`Request`]s from the
//! UI and sends back [`Msg`]s on the UI's one channel.
//!
//! A new session is created at its first prompt (which titles it), as in `cm run`. The
//! UI never waits on this thread: a turn runs here while the UI keeps drawing, and a
//! permission question arrives as [`Msg::Ask`] carrying the sender its answer goes to.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use cm_driver::Input;
use cm_proto::agent::{AskId, End, Event, Question};
use cm_proto::message::Message;
use cm_proto::session::{Entry as RecordEntry, Record};
use cm_proto::tool::diff::unified_diff;

use super::keys::Key;
use super::state::{tail, SessionRow, OUTPUT_TAIL};
use crate::args::RunArgs;
use crate::attach;
use crate::drive::Turns;
use crate::exit::Failure;
use crate::output::{Mode, Ui};
use crate::run::{self, Prepared};
use crate::sessions::Choice;
use crate::sessions_cmd::utc_minutes;

/// Everything the UI's main loop waits for, on one channel.
#[derive(Debug)]
pub enum Msg {
    /// Keys typed.
    Keys(Vec<Key>),
    /// The terminal's input closed.
    InputClosed,
    /// The terminal was resized.
    Resize,
    /// A spinner frame (only while a turn runs).
    Tick,
    /// An agent event.
    Agent(Event),
    /// A permission question; the answer goes to `answers`.
    Ask {
        /// The question's id.
        id: AskId,
        /// The question.
        question: Question,
        /// Where the answer goes.
        answers: Sender<Input>,
    },
    /// A file a tool call changed, as a diff.
    ToolDiff {
        /// The call.
        call_id: String,
        /// The unified diff.
        diff: String,
    },
    /// The end of a bash call's output.
    ToolOutput {
        /// The call.
        call_id: String,
        /// The last lines.
        text: String,
    },
    /// A turn (or compaction) ended; `note` says how when it did not complete.
    TurnEnded {
        /// A line for the conversation, and whether it is an error.
        note: Option<(String, bool)>,
        /// The git branch now.
        branch: Option<String>,
    },
    /// A session (or a model) is ready.
    Ready(Box<Ready>),
    /// The stored sessions.
    Sessions(Vec<SessionRow>),
    /// The known models.
    Models(Vec<String>),
    /// A request failed; shown as an error line.
    Failed(String),
    /// Preparing failed before the UI opened.
    Fatal(Failure),
}

/// What the UI learns when a session or model is ready.
#[derive(Debug)]
pub struct Ready {
    /// The provider id.
    pub provider: String,
    /// The model id.
    pub model: String,
    /// The context window, if known.
    pub context_window: Option<u64>,
    /// The session id (`None` until a new session's first prompt).
    pub session: Option<String>,
    /// The conversation to show (`None`: keep what is shown).
    pub history: Option<Vec<Message>>,
    /// Tokens and cost of the session so far.
    pub tokens: u64,
    /// Cost so far.
    pub cost: Option<f64>,
    /// Notes from loading the config (unknown price, debug log).
    pub notes: Vec<String>,
    /// Where Ctrl-C is sent while a turn runs.
    pub interrupts: Option<Sender<Input>>,
    /// The git branch.
    pub branch: Option<String>,
}

/// What the UI asks of the agent's thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Run a turn with this prompt.
    Prompt(String),
    /// Summarise the conversation.
    Compact,
    /// List the sessions.
    Sessions,
    /// Open this session.
    Open(String),
    /// Start a new session.
    New,
    /// List the models.
    Models,
    /// Switch to this model.
    UseModel(String),
}

/// The driver port that forwards events and questions to the UI.
struct Port {
    tx: Sender<Msg>,
}

impl cm_driver::Ui for Port {
    fn show(&mut self, event: &Event) {
        let _ = self.tx.send(Msg::Agent(event.clone()));
    }

    fn ask(&mut self, id: AskId, question: &Question, inputs: &Sender<Input>) {
        let _ = self.tx.send(Msg::Ask {
            id,
            question: question.clone(),
            answers: inputs.clone(),
        });
    }
}

/// A writer that keeps what `prepare` says, to show it as notes.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<u8>>>);

impl Write for Collected {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Collected {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim_start_matches("note: ").to_string())
            .collect()
    }
}

/// The agent thread's state.
struct Agent {
    args: RunArgs,
    tx: Sender<Msg>,
    /// Ready to open at the first prompt (a new session).
    waiting: Option<Prepared>,
    turns: Option<Turns>,
}

/// Runs the agent's side until the UI hangs up. The first message is [`Msg::Ready`] or
/// [`Msg::Fatal`].
pub fn run(args: RunArgs, requests: Receiver<Request>, tx: Sender<Msg>) {
    let mut agent = Agent {
        args: args.clone(),
        tx: tx.clone(),
        waiting: None,
        turns: None,
    };
    let choice = match (&args.session, args.continue_last) {
        (Some(id), _) => Choice::Id(id.clone()),
        (None, true) => Choice::Newest,
        (None, false) => Choice::New,
    };
    if let Err(failure) = agent.start(&choice, true) {
        let _ = tx.send(Msg::Fatal(failure));
        return;
    }
    for request in requests {
        // A prompt or compaction that fails before its turn runs still ends the turn the
        // UI shows as running.
        let ends_turn = matches!(request, Request::Prompt(_) | Request::Compact);
        let result = match request {
            Request::Prompt(text) => agent.prompt(&text),
            Request::Compact => agent.compact(),
            Request::Sessions => agent.sessions(),
            Request::Open(id) => agent.start(&Choice::Id(id), true),
            Request::New => agent.start(&Choice::New, true),
            Request::Models => {
                let _ = tx.send(Msg::Models(known_models()));
                Ok(())
            }
            Request::UseModel(model) => agent.use_model(model),
        };
        match result {
            Err(failure) if ends_turn => {
                let _ = tx.send(Msg::TurnEnded {
                    note: Some((failure.message, true)),
                    branch: None,
                });
            }
            Err(failure) => {
                let _ = tx.send(Msg::Failed(failure.message));
            }
            Ok(()) => {}
        }
    }
}

impl Agent {
    fn prepare(&self) -> Result<(Prepared, Vec<String>), Failure> {
        let collected = Collected::default();
        let mut ui = Ui::to_writers(
            Mode::Text,
            Box::new(collected.clone()),
            Box::new(collected.clone()),
        );
        let prepared = run::prepare(&self.args, &mut ui)?;
        Ok((prepared, collected.lines()))
    }

    /// Opens `choice` (a new session waits for its first prompt).
    fn start(&mut self, choice: &Choice, show_history: bool) -> Result<(), Failure> {
        let (prepared, notes) = self.prepare()?;
        let provider = prepared.provider.id.clone();
        let model = prepared.provider.model.clone();
        let context_window = prepared.provider.context;
        let branch = git_branch(&prepared.cwd);
        let ready = if *choice == Choice::New {
            self.turns = None;
            self.waiting = Some(prepared);
            Ready {
                provider,
                model,
                context_window,
                session: None,
                history: show_history.then(Vec::new),
                tokens: 0,
                cost: None,
                notes,
                interrupts: None,
                branch,
            }
        } else {
            // Release the current session before opening the next.
            self.turns = None;
            self.waiting = None;
            let mut sink = Ui::to_writers(
                Mode::Quiet,
                Box::new(std::io::sink()),
                Box::new(std::io::sink()),
            );
            let turns = prepared.open(choice, "", &mut sink)?;
            let (usage, cost) = turns.opened_totals();
            let ready = Ready {
                provider,
                model,
                context_window,
                session: Some(turns.session_id()),
                history: show_history.then(|| turns.history().to_vec()),
                tokens: usage
                    .input_tokens
                    .saturating_add(usage.output_tokens)
                    .saturating_add(usage.cache_read_tokens)
                    .saturating_add(usage.cache_write_tokens),
                cost,
                notes,
                interrupts: Some(turns.inputs()),
                branch,
            };
            self.turns = Some(turns);
            ready
        };
        let _ = self.tx.send(Msg::Ready(Box::new(ready)));
        Ok(())
    }

    fn prompt(&mut self, text: &str) -> Result<(), Failure> {
        // Attachments are read before a new session is created, as `cm run` does.
        let images = match (&self.turns, &self.waiting) {
            (Some(turns), _) => turns.images(),
            (None, Some(prepared)) => prepared.provider.images,
            (None, None) => false,
        };
        let (cwd, workspace) = context()?;
        let parts = attach::build(text, &[], &cwd, &workspace, images)?;
        if self.turns.is_none() {
            let Some(prepared) = self.waiting.take() else {
                return Err(Failure::failed("no session is open; type /new"));
            };
            let cwd = prepared.cwd.clone();
            let mut sink = Ui::to_writers(
                Mode::Quiet,
                Box::new(std::io::sink()),
                Box::new(std::io::sink()),
            );
            let provider = prepared.provider.id.clone();
            let model = prepared.provider.model.clone();
            let context_window = prepared.provider.context;
            let turns = prepared.open(&Choice::New, text, &mut sink)?;
            let _ = self.tx.send(Msg::Ready(Box::new(Ready {
                provider,
                model,
                context_window,
                session: Some(turns.session_id()),
                history: None,
                tokens: 0,
                cost: None,
                notes: Vec::new(),
                interrupts: Some(turns.inputs()),
                branch: git_branch(&cwd),
            })));
            self.turns = Some(turns);
        }
        self.run_turn(Some(parts))
    }

    fn compact(&mut self) -> Result<(), Failure> {
        if self.turns.is_none() {
            return Err(Failure::failed(
                "nothing to compact yet: the session starts with the first prompt",
            ));
        }
        self.run_turn(None)
    }

    fn run_turn(&mut self, parts: Option<Vec<cm_proto::message::Part>>) -> Result<(), Failure> {
        let Some(turns) = self.turns.as_mut() else {
            return Err(Failure::failed("no session is open"));
        };
        let tx = self.tx.clone();
        let mut port = Port { tx: tx.clone() };
        let mut observe = |record: &Record| observe(&tx, record);
        let outcome = turns.run_with(parts, &mut port, &mut observe);
        let cwd = std::env::current_dir().unwrap_or_default();
        let note = match outcome {
            Ok(outcome) => match outcome.end {
                End::Completed => None,
                End::Aborted => Some(("interrupted".to_string(), false)),
                End::MaxSteps => Some((
                    "stopped at the step limit; send another prompt to go on".to_string(),
                    true,
                )),
                End::Failed(error) => Some((error.to_string(), true)),
            },
            Err(failure) => Some((failure.message, true)),
        };
        let _ = self.tx.send(Msg::TurnEnded {
            note,
            branch: git_branch(&cwd),
        });
        Ok(())
    }

    fn sessions(&mut self) -> Result<(), Failure> {
        let (prepared, _) = self.prepare()?;
        let infos = prepared
            .store
            .list()
            .map_err(|e| Failure::failed(format!("cannot list the sessions: {e}")))?;
        let rows = infos
            .into_iter()
            .map(|info| {
                let title = info
                    .first
                    .as_ref()
                    .and_then(|f| f.get("title"))
                    .and_then(|t| t.as_str())
                    .unwrap_or("(untitled)");
                SessionRow {
                    id: info.id.as_str().to_string(),
                    title: super::text::neutralise(title).replace('\n', " "),
                    when: utc_minutes(info.modified),
                }
            })
            .collect();
        let _ = self.tx.send(Msg::Sessions(rows));
        Ok(())
    }

    fn use_model(&mut self, model: String) -> Result<(), Failure> {
        let previous = self.args.model.replace(model);
        let current = self.turns.as_ref().map(Turns::session_id);
        let result = match current {
            Some(id) => self.start(&Choice::Id(id), false),
            None => self.start(&Choice::New, false),
        };
        if result.is_err() {
            self.args.model = previous;
        }
        result
    }
}

/// The working directory and its workspace, for attachments.
fn context() -> Result<(std::path::PathBuf, cm_host::Workspace), Failure> {
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::failed(format!("cannot use the working directory: {e}")))?;
    let workspace = cm_host::Workspace::detect(&cwd)
        .map_err(|e| Failure::failed(format!("cannot use the working directory: {e}")))?;
    Ok((cwd, workspace))
}

/// Shows the UI what a record adds to a card: a file's diff, a bash call's output.
fn observe(tx: &Sender<Msg>, record: &Record) {
    match &record.entry {
        RecordEntry::FileChange(change) => {
            let text = |bytes: &Option<Vec<u8>>| {
                bytes
                    .as_deref()
                    .map(super::text::from_bytes)
                    .unwrap_or_default()
            };
            let diff = unified_diff(
                &change.change.path,
                &text(&change.change.before),
                &text(&change.change.after),
                2,
            );
            let _ = tx.send(Msg::ToolDiff {
                call_id: change.call_id.clone(),
                diff,
            });
        }
        RecordEntry::ToolResult(result) if result.name == "bash" => {
            let text: String = result
                .content
                .iter()
                .filter_map(|c| match c {
                    cm_proto::message::ToolOutput::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            let _ = tx.send(Msg::ToolOutput {
                call_id: result.call_id.clone(),
                text: tail(&text, OUTPUT_TAIL),
            });
        }
        _ => {}
    }
}

/// The models the picker offers: the catalog's, then the providers' defaults.
fn known_models() -> Vec<String> {
    let mut models: Vec<String> = crate::catalog_cache::current()
        .models()
        .iter()
        .map(|m| format!("{}/{}", m.provider, m.id))
        .collect();
    for (_, model) in crate::providers::DEFAULT_MODELS {
        if !models.iter().any(|m| m == model) {
            models.push((*model).to_string());
        }
    }
    models
}

/// The branch checked out in the repository holding `dir`, or a short commit id when
/// detached; `None` outside git.
pub fn git_branch(dir: &Path) -> Option<String> {
    let mut at = Some(dir);
    while let Some(d) = at {
        let dot_git = d.join(".git");
        let git_dir = if dot_git.is_dir() {
            Some(dot_git)
        } else if dot_git.is_file() {
            let text = std::fs::read_to_string(&dot_git).ok()?;
            let target = text.strip_prefix("gitdir:")?.trim();
            Some(d.join(target))
        } else {
            None
        };
        if let Some(git_dir) = git_dir {
            let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
            let head = head.trim();
            return Some(match head.strip_prefix("ref: refs/heads/") {
                Some(branch) => branch.to_string(),
                None => head.chars().take(7).collect(),
            });
        }
        at = d.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_branch_comes_from_head_in_repositories_and_worktrees() {
        let dir = crate::test_dir::TestDir::new("tui-branch");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("src/deep")).unwrap();
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/feature/x\n").unwrap();
        assert_eq!(
            git_branch(&repo.join("src/deep")).as_deref(),
            Some("feature/x")
        );
        std::fs::write(repo.join(".git/HEAD"), "0123456789abcdef\n").unwrap();
        assert_eq!(git_branch(&repo).as_deref(), Some("0123456"));
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("meta")).unwrap();
        std::fs::write(tree.join("meta/HEAD"), "ref: refs/heads/tui\n").unwrap();
        std::fs::write(tree.join(".git"), "gitdir: meta\n").unwrap();
        assert_eq!(git_branch(&tree).as_deref(), Some("tui"));
    }
}

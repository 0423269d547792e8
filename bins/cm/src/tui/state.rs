//! The UI's state, and how agent events change it. Pure: no terminal, no clock, no I/O.
//!
//! The conversation is a list of [`Entry`]s, each with a version bumped on every change
//! so the renderer can keep its layout until the entry changes. Dialogs sit on top; the
//! status bar reads [`Status`]; `scroll` counts rows up from the bottom (0 follows the
//! stream).

use cm_proto::agent::{AskId, Event, Question};
use cm_proto::message::{Message, Part, Role as MessageRole};
use cm_proto::tool::diff::unified_diff;
use serde_json::Value;

use super::editor::Editor;
use super::text::neutralise;
use super::theme::Theme;

/// A tool call's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolState {
    /// The model is still writing the call.
    Writing,
    /// Written; waiting to run (or for permission).
    Pending,
    /// Running.
    Running,
    /// Finished.
    Done,
    /// Failed, refused or aborted.
    Failed,
}

/// One tool call as a card.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCard {
    /// The model's call id.
    pub call_id: String,
    /// The tool.
    pub name: String,
    /// What it acts on: the command, the path, the pattern.
    pub subject: String,
    /// Progress.
    pub state: ToolState,
    /// The one-line result summary.
    pub summary: String,
    /// How long it ran.
    pub duration_ms: u64,
    /// A unified diff (edit, write, patch).
    pub diff: Option<String>,
    /// The end of its output (bash).
    pub output: Option<String>,
}

/// One item of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// What the user sent.
    User(String),
    /// The model's answer (markdown).
    Assistant(String),
    /// The model's reasoning.
    Reasoning(String),
    /// A tool call.
    Tool(ToolCard),
    /// A remark from cm; `error` shows it in red.
    Notice {
        /// The text.
        text: String,
        /// Whether it reports a failure.
        error: bool,
    },
}

/// An entry and its version (bumped whenever it changes).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The entry.
    pub entry: Entry,
    /// Its version; layouts are cached per version.
    pub version: u64,
}

/// What the status bar shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// The provider id.
    pub provider: String,
    /// The model id.
    pub model: String,
    /// The model's context window, if known.
    pub context_window: Option<u64>,
    /// Tokens the last request used (its input and output).
    pub context_used: u64,
    /// Tokens over the session.
    pub session_tokens: u64,
    /// Cost over the session, when the price is known.
    pub session_cost: Option<f64>,
    /// The working directory as shown.
    pub cwd: String,
    /// The git branch, if any.
    pub branch: Option<String>,
    /// The session id, once there is one.
    pub session: Option<String>,
}

/// A session in the `/sessions` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The id.
    pub id: String,
    /// The title.
    pub title: String,
    /// When it was created, as shown.
    pub when: String,
}

/// What `/help` lists: every key binding and command.
pub const HELP: &[(&str, &str)] = &[
    ("Enter", "send the prompt"),
    (
        "Alt+Enter, Shift+Enter",
        "new line (Shift where the terminal reports it)",
    ),
    ("←/→, Ctrl+←/→, Home/End", "move by character, word, line"),
    (
        "↑/↓",
        "move between lines; past the ends, the prompt history",
    ),
    ("Ctrl-W, Ctrl-U", "delete a word, delete to the line start"),
    ("Ctrl-C", "stop the running turn; again to exit"),
    ("Ctrl-D", "exit (on an empty prompt)"),
    ("Esc", "close a dialog"),
    (
        "PgUp/PgDn, wheel",
        "scroll the conversation (the wheel with CM_MOUSE=1)",
    ),
    (
        "Home/End",
        "top / bottom of the session (on an empty prompt)",
    ),
    ("Ctrl-O", "show or hide reasoning and long diffs"),
    ("Ctrl-L", "redraw the whole screen"),
    ("Ctrl-X L", "sessions"),
    ("/sessions", "list sessions and switch"),
    ("/new", "start a new session"),
    ("/model", "pick a model (type to filter)"),
    ("/compact", "summarise the conversation to free context"),
    (
        "/mouse",
        "mouse wheel scrolling on or off (off: the terminal selects text)",
    ),
    ("/help", "this list"),
    ("/exit", "leave (the session is saved)"),
];

/// A dialog over the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Dialog {
    /// A permission question.
    Permission {
        /// The question's id.
        id: AskId,
        /// The question.
        question: Question,
        /// The highlighted answer: 0 once, 1 always, 2 deny.
        choice: usize,
        /// The message typed for a denial, when typing one.
        message: Option<Editor>,
    },
    /// `/sessions`.
    Sessions {
        /// Every session, newest first.
        rows: Vec<SessionRow>,
        /// The highlighted row (of the filtered rows).
        selected: usize,
        /// The filter typed.
        filter: Editor,
    },
    /// `/model`.
    Models {
        /// `provider/model` ids.
        models: Vec<String>,
        /// The highlighted row (of the filtered rows).
        selected: usize,
        /// The filter typed.
        filter: Editor,
    },
    /// `/help`.
    Help,
}

/// The whole UI state.
#[derive(Debug, Clone)]
pub struct State {
    /// The conversation.
    pub items: Vec<Item>,
    /// The input box.
    pub editor: Editor,
    /// The open dialog.
    pub dialog: Option<Dialog>,
    /// The status bar.
    pub status: Status,
    /// Whether a turn runs.
    pub running: bool,
    /// What the running turn does ("thinking", "running bash").
    pub activity: String,
    /// The spinner's frame.
    pub spinner: usize,
    /// Rows scrolled up from the bottom.
    pub scroll: usize,
    /// Colours.
    pub theme: Theme,
    /// Reasoning and long diffs shown whole.
    pub expanded: bool,
    /// Ctrl-C was pressed with nothing to stop: the next one exits.
    pub exit_armed: bool,
    /// Ctrl-X was pressed: the next key is a chord.
    pub chord: bool,
    /// The start of an escape sequence a streamed piece ended inside, held back until the
    /// rest arrives (see [`super::text::split_unfinished_escape`]).
    carry: String,
    /// Bumped when the conversation is replaced (a session switch), so cached layouts
    /// of the old one are dropped.
    pub epoch: u64,
    next_version: u64,
}

/// Spinner frames.
pub const SPINNER: &[char] = &['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

impl State {
    /// An empty conversation.
    pub fn new(theme: Theme, status: Status) -> State {
        State {
            items: Vec::new(),
            editor: Editor::new(),
            dialog: None,
            status,
            running: false,
            activity: String::new(),
            spinner: 0,
            scroll: 0,
            theme,
            expanded: false,
            exit_armed: false,
            chord: false,
            carry: String::new(),
            epoch: 0,
            next_version: 0,
        }
    }

    fn version(&mut self) -> u64 {
        self.next_version += 1;
        self.next_version
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: Entry) {
        let version = self.version();
        self.items.push(Item { entry, version });
    }

    /// A remark from cm.
    pub fn notice(&mut self, text: &str, error: bool) {
        self.push(Entry::Notice {
            text: neutralise(text),
            error,
        });
    }

    /// Changes the entry at `i` and bumps its version.
    fn touch(&mut self, i: usize, change: impl FnOnce(&mut Entry)) {
        let version = self.version();
        if let Some(item) = self.items.get_mut(i) {
            change(&mut item.entry);
            item.version = version;
        }
    }

    fn card_index(&self, call_id: &str) -> Option<usize> {
        self.items
            .iter()
            .rposition(|i| matches!(&i.entry, Entry::Tool(card) if card.call_id == call_id))
    }

    /// Changes the tool card of `call_id`, if there is one.
    pub fn with_card(&mut self, call_id: &str, change: impl FnOnce(&mut ToolCard)) {
        if let Some(i) = self.card_index(call_id) {
            self.touch(i, |entry| {
                if let Entry::Tool(card) = entry {
                    change(card);
                }
            });
        }
    }

    /// Appends streamed text to the last entry when it is of the same kind, else starts one.
    fn stream(&mut self, text: &str, reasoning: bool) {
        let joined = format!("{}{text}", std::mem::take(&mut self.carry));
        let (done, carry) = super::text::split_unfinished_escape(&joined);
        self.carry = carry.to_string();
        let clean = neutralise(done);
        if clean.is_empty() {
            return;
        }
        let last = self.items.len().checked_sub(1);
        let same = last.and_then(|i| match (&self.items[i].entry, reasoning) {
            (Entry::Assistant(_), false) | (Entry::Reasoning(_), true) => Some(i),
            _ => None,
        });
        match same {
            Some(i) => self.touch(i, |entry| {
                if let Entry::Assistant(s) | Entry::Reasoning(s) = entry {
                    s.push_str(&clean);
                }
            }),
            None if reasoning => self.push(Entry::Reasoning(clean)),
            None => self.push(Entry::Assistant(clean)),
        }
    }

    /// Applies one agent event.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::TurnStart => {
                self.running = true;
                self.activity = "thinking".into();
            }
            Event::StepStart { .. } => self.activity = "thinking".into(),
            Event::TextDelta { text } => {
                self.activity = "writing".into();
                self.stream(text, false);
            }
            Event::ReasoningDelta { text } => {
                self.activity = "thinking".into();
                self.stream(text, true);
            }
            Event::ToolCallStarted { call_id, name } => {
                self.activity = format!("writing {name}");
                self.push(Entry::Tool(ToolCard {
                    call_id: call_id.clone(),
                    name: neutralise(name),
                    subject: String::new(),
                    state: ToolState::Writing,
                    summary: String::new(),
                    duration_ms: 0,
                    diff: None,
                    output: None,
                }));
            }
            Event::ToolCallReady {
                call_id,
                name,
                arguments,
            } => {
                if self.card_index(call_id).is_none() {
                    self.apply(&Event::ToolCallStarted {
                        call_id: call_id.clone(),
                        name: name.clone(),
                    });
                }
                let (subject, diff) = describe_call(name, arguments);
                self.with_card(call_id, |card| {
                    card.subject = subject;
                    card.diff = diff;
                    card.state = ToolState::Pending;
                });
            }
            Event::ToolRunning { call_id, name } => {
                self.activity = format!("running {name}");
                self.with_card(call_id, |card| card.state = ToolState::Running);
            }
            Event::ToolDone {
                call_id,
                summary,
                is_error,
                duration_ms,
                ..
            } => {
                self.activity = "thinking".into();
                self.with_card(call_id, |card| {
                    card.state = if *is_error {
                        ToolState::Failed
                    } else {
                        ToolState::Done
                    };
                    card.summary = neutralise(summary);
                    card.duration_ms = *duration_ms;
                });
            }
            Event::Retry {
                attempt,
                reason,
                delay_ms,
            } => {
                self.activity = "waiting to retry".into();
                self.notice(
                    &format!(
                        "↻ {reason}; retrying in {:.1} s (attempt {attempt})",
                        *delay_ms as f64 / 1000.0
                    ),
                    false,
                );
            }
            Event::Usage {
                request,
                session,
                session_cost,
                ..
            } => {
                self.status.context_used = request
                    .input_tokens
                    .saturating_add(request.cache_read_tokens)
                    .saturating_add(request.cache_write_tokens)
                    .saturating_add(request.output_tokens);
                self.status.session_tokens = session
                    .input_tokens
                    .saturating_add(session.cache_read_tokens)
                    .saturating_add(session.cache_write_tokens)
                    .saturating_add(session.output_tokens);
                self.status.session_cost = *session_cost;
            }
            Event::Pruned {
                results,
                saved_tokens,
            } => self.notice(
                &format!("✂ pruned {results} old tool outputs (about {saved_tokens} tokens)"),
                false,
            ),
            Event::CompactionStart { .. } => {
                self.activity = "summarising the conversation".into();
            }
            Event::Compacted { replaced, .. } => self.notice(
                &format!("✂ summarised {replaced} earlier messages to free the context window"),
                false,
            ),
            // The turn's error is shown once, when it ends.
            Event::Error { .. }
            | Event::PermissionAsked { .. }
            | Event::PermissionAnswered { .. } => {}
        }
    }

    /// The turn ended.
    pub fn finish(&mut self, note: Option<(&str, bool)>) {
        self.running = false;
        // An escape sequence the answer ended inside is dropped.
        self.carry.clear();
        self.activity.clear();
        for i in 0..self.items.len() {
            let unfinished = matches!(
                &self.items[i].entry,
                Entry::Tool(card) if matches!(card.state, ToolState::Writing | ToolState::Pending | ToolState::Running)
            );
            if unfinished {
                self.touch(i, |entry| {
                    if let Entry::Tool(card) = entry {
                        card.state = ToolState::Failed;
                    }
                });
            }
        }
        if let Some((text, error)) = note {
            self.notice(text, error);
        }
    }

    /// Replaces the conversation with a session's history.
    pub fn load_history(&mut self, history: &[Message]) {
        self.items.clear();
        self.epoch += 1;
        self.scroll = 0;
        for message in history {
            for part in &message.parts {
                match (message.role, part) {
                    (MessageRole::User, Part::Text { text, .. }) => {
                        self.push(Entry::User(neutralise(text)))
                    }
                    (MessageRole::Assistant, Part::Text { text, .. }) => {
                        self.stream(text, false);
                    }
                    (MessageRole::Assistant, Part::Reasoning(r)) if !r.text.is_empty() => {
                        self.stream(&r.text, true)
                    }
                    (_, Part::ToolCall(call)) => {
                        self.apply(&Event::ToolCallReady {
                            call_id: call.id.clone(),
                            name: call.name.clone(),
                            arguments: call.arguments.clone(),
                        });
                        self.with_card(&call.id, |card| card.state = ToolState::Done);
                    }
                    (_, Part::ToolResult(result)) => {
                        let text = result.text();
                        self.with_card(&result.call_id, |card| {
                            if result.is_error {
                                card.state = ToolState::Failed;
                            }
                            card.summary = first_line(&text);
                            if card.name == "bash" {
                                card.output = Some(tail(&text, OUTPUT_TAIL));
                            }
                        });
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Lines of bash output a card keeps.
pub const OUTPUT_TAIL: usize = 5;

/// The last `lines` lines of `text`, neutralised.
pub fn tail(text: &str, lines: usize) -> String {
    let clean = neutralise(text);
    let trimmed = clean.trim_end();
    let start = trimmed
        .rmatch_indices('\n')
        .nth(lines.saturating_sub(1))
        .map_or(0, |(i, _)| i + 1);
    trimmed[start..].to_string()
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    neutralise(&line.chars().take(200).collect::<String>())
}

/// A call's subject and, for edits, a preview diff.
pub fn describe_call(name: &str, arguments: &str) -> (String, Option<String>) {
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    let field = |key: &str| args.get(key).and_then(Value::as_str).map(str::to_string);
    let path = field("path").unwrap_or_default();
    let subject = ["command", "path", "pattern", "url", "query"]
        .iter()
        .find_map(|k| field(k))
        .unwrap_or_default();
    let subject = neutralise(&subject.replace('\n', " ⏎ "));
    let diff = match name {
        "edit" => match (field("old_string"), field("new_string")) {
            (Some(old), Some(new)) => Some(unified_diff(&path, &old, &new, 2)),
            _ => None,
        },
        "write" => field("content").map(|content| unified_diff(&path, "", &content, 0)),
        "multiedit" => args.get("edits").and_then(Value::as_array).map(|edits| {
            edits
                .iter()
                .filter_map(|e| {
                    let old = e.get("old_string")?.as_str()?;
                    let new = e.get("new_string")?.as_str()?;
                    Some(unified_diff(&path, old, new, 1))
                })
                .collect::<Vec<_>>()
                .join("")
        }),
        "apply_patch" => field("patch"),
        _ => None,
    };
    (subject, diff.map(|d| neutralise(&d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::message::Usage;

    fn state() -> State {
        State::new(Theme::Plain, Status::default())
    }

    #[test]
    fn streamed_text_joins_the_last_answer_until_a_tool_card_comes_between() {
        let mut s = state();
        s.apply(&Event::TurnStart);
        s.apply(&Event::TextDelta { text: "Hel".into() });
        let first = s.items[0].version;
        s.apply(&Event::TextDelta {
            text: "lo\u{1b}]0;title\u{7}".into(),
        });
        assert_eq!(s.items[0].entry, Entry::Assistant("Hello".into()));
        assert!(s.items[0].version > first, "a change bumps the version");
        s.apply(&Event::ToolCallReady {
            call_id: "c1".into(),
            name: "bash".into(),
            arguments: r#"{"command":"cargo test"}"#.into(),
        });
        s.apply(&Event::ToolRunning {
            call_id: "c1".into(),
            name: "bash".into(),
        });
        s.apply(&Event::TextDelta {
            text: "Done.".into(),
        });
        assert_eq!(s.items.len(), 3);
        let Entry::Tool(card) = &s.items[1].entry else {
            panic!("a card")
        };
        assert_eq!(
            (card.subject.as_str(), card.state),
            ("cargo test", ToolState::Running)
        );
        s.finish(None);
        let Entry::Tool(card) = &s.items[1].entry else {
            panic!("a card")
        };
        assert_eq!(card.state, ToolState::Failed, "a card left running failed");
        assert!(!s.running);
    }

    #[test]
    fn an_escape_split_between_deltas_shows_nothing_of_it() {
        let mut s = state();
        for piece in ["before \u{1b}", "[3", "1mred\u{1b}]0;ti", "tle\u{7} after"] {
            s.apply(&Event::TextDelta { text: piece.into() });
        }
        assert_eq!(
            s.items[0].entry,
            Entry::Assistant("before red after".into())
        );
    }

    #[test]
    fn usage_fills_the_status_bar() {
        let mut s = state();
        let usage = Usage {
            input_tokens: 1000,
            output_tokens: 200,
            cache_read_tokens: 3000,
            ..Usage::default()
        };
        s.apply(&Event::Usage {
            request: usage,
            turn: usage,
            session: usage,
            request_cost: None,
            turn_cost: None,
            session_cost: Some(0.25),
        });
        assert_eq!(s.status.context_used, 4200);
        assert_eq!(s.status.session_tokens, 4200);
        assert_eq!(s.status.session_cost, Some(0.25));
    }

    #[test]
    fn edits_and_writes_preview_a_diff() {
        let (subject, diff) = describe_call(
            "edit",
            r#"{"path":"src/a.rs","old_string":"let x = 1;","new_string":"let x = 2;"}"#,
        );
        assert_eq!(subject, "src/a.rs");
        let diff = diff.expect("a diff");
        assert!(diff.contains("-let x = 1;\n+let x = 2;"), "{diff}");
        let (_, diff) = describe_call("write", r#"{"path":"n.txt","content":"a\nb\n"}"#);
        assert!(diff.expect("a diff").contains("+a\n+b"));
        assert_eq!(describe_call("bash", "{broken").0, "");
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        assert_eq!(tail("1\n2\n3\n4\n", 2), "3\n4");
        assert_eq!(tail("only", 5), "only");
    }
}

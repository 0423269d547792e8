//! What the user sees: the answer on stdout, progress on stderr, or JSON lines.
//!
//! Text mode streams the model's text to stdout as it arrives; a spinner (stderr on a
//! terminal only), one line per finished tool call, retries and errors go to stderr, and
//! a last line gives the turn's tokens and cost. `--quiet` keeps the answer and errors
//! only. JSON mode writes every event as one JSON object per line on stdout: the agent's
//! events as they are serialised (`type` tagged), plus cm's own `session`, `note` and
//! `done` (the schema is in README.md).

use std::io::{self, Write};

use cm_proto::agent::{End, Event, Outcome};
use cm_proto::message::{StopReason, Usage};
use serde_json::{json, Value};

use crate::args::Format;
use crate::spinner::Spinner;

/// How much text mode shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Answer, progress and the final line.
    Text,
    /// The answer and errors only.
    Quiet,
    /// JSON lines on stdout.
    Json,
}

impl Mode {
    /// The mode for the command-line flags.
    pub fn new(format: Format, quiet: bool) -> Mode {
        match (format, quiet) {
            (Format::Json, _) => Mode::Json,
            (Format::Text, true) => Mode::Quiet,
            (Format::Text, false) => Mode::Text,
        }
    }
}

/// What cm says when the provider's content filter stopped the answer.
const BLOCKED: &str = "cm: the provider's safety filter blocked the answer (stop reason \
     content_filter); rephrase the request or try another model";

/// The output side of a run.
pub struct Ui {
    mode: Mode,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    /// stdout and stderr show on the same terminal, so stderr lines must start on a new line.
    shared_terminal: bool,
    /// The last byte written to stdout was a newline (or nothing was written).
    at_line_start: bool,
    spinner: Option<Spinner>,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Ui {
    /// Output to the process's stdout and stderr; the spinner when stderr is a terminal.
    pub fn to_terminal(mode: Mode) -> Ui {
        use std::io::IsTerminal;
        let stderr_tty = io::stderr().is_terminal();
        let stdout_tty = io::stdout().is_terminal();
        let spinner = (stderr_tty && mode == Mode::Text).then(Spinner::start);
        Ui {
            mode,
            out: Box::new(io::stdout()),
            err: Box::new(io::stderr()),
            shared_terminal: stderr_tty && stdout_tty,
            at_line_start: true,
            spinner,
        }
    }

    /// Output to the given writers, without a spinner (for tests).
    #[cfg(test)]
    pub fn to_writers(mode: Mode, out: Box<dyn Write>, err: Box<dyn Write>) -> Ui {
        Ui {
            mode,
            out,
            err,
            shared_terminal: false,
            at_line_start: true,
            spinner: None,
        }
    }

    /// Shows one agent event.
    pub fn show(&mut self, event: &Event) {
        if self.mode == Mode::Json {
            self.json_line(&serde_json::to_value(event).unwrap_or(Value::Null));
            return;
        }
        match event {
            Event::TextDelta { text } => {
                self.clear_spinner();
                let _ = self.out.write_all(text.as_bytes());
                let _ = self.out.flush();
                if let Some(last) = text.chars().last() {
                    self.at_line_start = last == '\n';
                }
            }
            Event::StepStart { .. } => self.spin("thinking"),
            Event::ToolCallStarted { name, .. } => self.spin(&format!("writing a {name} call")),
            Event::ToolRunning { name, .. } => self.spin(&format!("running {name}")),
            Event::ToolDone {
                summary,
                is_error,
                duration_ms,
                name,
                display,
                ..
            } => {
                let mark = if *is_error { "✗" } else { "✓" };
                let summary = if summary.is_empty() { name } else { summary };
                let took = if *duration_ms >= 1000 {
                    format!(" ({:.1} s)", *duration_ms as f64 / 1000.0)
                } else {
                    String::new()
                };
                self.progress(&format!("  {mark} {summary}{took}"));
                if let Some(lines) = display.as_ref().and_then(todo_lines) {
                    for line in lines {
                        self.progress(&line);
                    }
                }
                self.spin("thinking");
            }
            Event::Retry {
                attempt,
                reason,
                delay_ms,
            } => {
                self.progress(&format!(
                    "  ↻ {reason}; retrying in {:.1} s (attempt {attempt})",
                    *delay_ms as f64 / 1000.0
                ));
                self.spin("waiting to retry");
            }
            Event::Pruned {
                results,
                saved_tokens,
            } => self.progress(&format!(
                "  ✂ pruned {results} old tool outputs (about {saved_tokens} tokens) to stay within the context window"
            )),
            Event::CompactionStart { .. } => self.spin("summarising the conversation"),
            Event::Compacted { replaced, .. } => {
                self.progress(&format!(
                    "  ✂ summarised {replaced} earlier messages to stay within the context window"
                ));
                self.spin("thinking");
            }
            Event::Error { .. } => {
                // The turn's error is printed once, by `finish`.
            }
            _ => {}
        }
    }

    /// Tells the session in use.
    pub fn session(&mut self, id: &str, resumed: bool, provider: &str, model: &str) {
        match self.mode {
            Mode::Json => self.json_line(&json!({
                "type": "session", "id": id, "resumed": resumed,
                "provider": provider, "model": model,
            })),
            Mode::Text => {
                let verb = if resumed { "continuing" } else { "session" };
                self.progress(&format!("cm · {provider}/{model} · {verb} {id}"));
            }
            Mode::Quiet => {}
        }
    }

    /// A remark that is not an event of the agent (unknown price, a denied question).
    pub fn note(&mut self, message: &str) {
        match self.mode {
            Mode::Json => self.json_line(&json!({"type": "note", "message": message})),
            Mode::Text => self.progress(&format!("note: {message}")),
            Mode::Quiet => {}
        }
    }

    /// The turn ended: the final line (text) or the `done` event (JSON). An answer a
    /// provider's filter blocked is reported as such.
    pub fn finish(&mut self, outcome: &Outcome, session_id: &str) {
        let stop = outcome.stop_reason.as_ref();
        self.clear_spinner();
        if !self.at_line_start {
            let _ = self.out.write_all(b"\n");
            let _ = self.out.flush();
            self.at_line_start = true;
        }
        let error = match &outcome.end {
            End::Failed(e) => Some(e.to_string()),
            _ => None,
        };
        match self.mode {
            Mode::Json => {
                let mut done = json!({
                    "type": "done",
                    "end": outcome.end.name(),
                    "steps": outcome.steps,
                    "usage": outcome.usage,
                    "session": session_id,
                });
                if let (Some(cost), Some(map)) = (outcome.cost, done.as_object_mut()) {
                    map.insert("cost".into(), json!(cost));
                }
                if let (Some(error), Some(map)) = (&error, done.as_object_mut()) {
                    map.insert("error".into(), json!(error));
                }
                if let (Some(stop), Some(map)) = (stop, done.as_object_mut()) {
                    map.insert("stop_reason".into(), json!(stop.as_str()));
                }
                self.json_line(&done);
            }
            Mode::Text | Mode::Quiet => {
                if let Some(error) = error {
                    self.line_to_stderr(&format!("cm: {error}"));
                }
                if outcome.end == End::Completed && stop == Some(&StopReason::ContentFilter) {
                    self.line_to_stderr(BLOCKED);
                }
                match outcome.end {
                    End::MaxSteps => self.line_to_stderr(&format!(
                        "cm: stopped after {} steps (the limit); continue with `cm run -c \"go on\"` \
                         or raise it with --max-steps",
                        outcome.steps
                    )),
                    End::Aborted => self.line_to_stderr(&format!(
                        "cm: interrupted; the session is saved, continue it with `cm run -c` or `cm run --session {session_id}`"
                    )),
                    _ => {}
                }
                if self.mode == Mode::Text {
                    let line = summary_line(&outcome.usage, outcome.cost, outcome.steps);
                    self.progress(&line);
                }
            }
        }
    }

    /// An error that ends cm, shown in every mode.
    pub fn fatal(&mut self, message: &str) {
        self.clear_spinner();
        if self.mode == Mode::Json {
            self.json_line(&json!({"type": "error", "message": message}));
        }
        self.line_to_stderr(&format!("cm: {message}"));
    }

    /// Clears the spinner for someone else's use of the terminal (a permission question).
    pub fn pause(&mut self) {
        self.clear_spinner();
        if self.shared_terminal && !self.at_line_start {
            let _ = self.out.write_all(b"\n");
            let _ = self.out.flush();
            self.at_line_start = true;
        }
    }

    fn spin(&mut self, label: &str) {
        if let Some(spinner) = &self.spinner {
            // Drawing on a line the answer is still being written on would erase it.
            if self.at_line_start || !self.shared_terminal {
                spinner.set(label);
            }
        }
    }

    fn clear_spinner(&mut self) {
        if let Some(spinner) = &self.spinner {
            spinner.clear();
        }
    }

    /// A stderr line shown in text mode only.
    fn progress(&mut self, line: &str) {
        if self.mode == Mode::Text {
            self.line_to_stderr(line);
        }
    }

    fn line_to_stderr(&mut self, line: &str) {
        self.pause();
        let _ = writeln!(self.err, "{line}");
        let _ = self.err.flush();
    }

    fn json_line(&mut self, value: &Value) {
        let _ = writeln!(self.out, "{value}");
        let _ = self.out.flush();
    }
}

/// A tool's `{"todos": [...]}` display as a compact checklist: `[x]` completed, `[~]` in
/// progress, `[ ]` pending, `[-]` cancelled; `None` for any other display.
pub fn todo_lines(display: &Value) -> Option<Vec<String>> {
    let todos = display.get("todos")?.as_array()?;
    if todos.is_empty() {
        return Some(vec!["    (the todo list is empty)".to_string()]);
    }
    Some(
        todos
            .iter()
            .map(|todo| {
                let mark = match todo.get("status").and_then(Value::as_str) {
                    Some("completed") => "[x]",
                    Some("in_progress") => "[~]",
                    Some("cancelled") => "[-]",
                    _ => "[ ]",
                };
                let content = todo.get("content").and_then(Value::as_str).unwrap_or("");
                let content: String = content
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                format!("    {mark} {content}")
            })
            .collect(),
    )
}

/// `1,234 in (800 cached) · 56 out · 2 steps · $0.0123`.
pub fn summary_line(usage: &Usage, cost: Option<f64>, steps: u32) -> String {
    let mut line = format!("{} in", thousands(usage.total_input()));
    if usage.cache_read_tokens > 0 {
        line.push_str(&format!(" ({} cached)", thousands(usage.cache_read_tokens)));
    }
    line.push_str(&format!(" · {} out", thousands(usage.output_tokens)));
    let plural = if steps == 1 { "" } else { "s" };
    line.push_str(&format!(" · {steps} step{plural}"));
    match cost {
        Some(cost) => line.push_str(&format!(" · ${cost:.4}")),
        None => line.push_str(" · cost unknown"),
    }
    line
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn ui(mode: Mode) -> (Ui, Shared, Shared) {
        let (out, err) = (Shared::default(), Shared::default());
        let ui = Ui::to_writers(mode, Box::new(out.clone()), Box::new(err.clone()));
        (ui, out, err)
    }

    fn outcome(end: End) -> Outcome {
        Outcome {
            end,
            steps: 2,
            usage: Usage {
                input_tokens: 1200,
                output_tokens: 56,
                cache_read_tokens: 800,
                ..Usage::default()
            },
            cost: Some(0.01234),
            stop_reason: Some(StopReason::EndTurn),
        }
    }

    fn tool_done() -> Event {
        Event::ToolDone {
            call_id: "c1".into(),
            name: "read".into(),
            summary: "read src/main.rs (120 lines)".into(),
            is_error: false,
            duration_ms: 3,
            display: None,
        }
    }

    #[test]
    fn text_goes_to_stdout_and_progress_to_stderr() {
        let (mut ui, out, err) = ui(Mode::Text);
        ui.show(&Event::StepStart { step: 1 });
        ui.show(&Event::TextDelta {
            text: "Reading.".into(),
        });
        ui.show(&tool_done());
        ui.show(&Event::TextDelta {
            text: "Done".into(),
        });
        ui.finish(&outcome(End::Completed), "s1");
        assert_eq!(out.text(), "Reading.Done\n");
        assert_eq!(
            err.text(),
            "  ✓ read src/main.rs (120 lines)\n2,000 in (800 cached) · 56 out · 2 steps · $0.0123\n"
        );
    }

    #[test]
    fn quiet_keeps_the_answer_and_the_error_only() {
        let (mut ui, out, err) = ui(Mode::Quiet);
        ui.note("price unknown");
        ui.show(&tool_done());
        ui.show(&Event::TextDelta { text: "42".into() });
        let failed = End::Failed(cm_proto::agent::AgentError::Idle { timeout_ms: 5000 });
        ui.finish(&outcome(failed), "s1");
        assert_eq!(out.text(), "42\n");
        assert_eq!(err.text(), "cm: no data from the provider for 5 s\n");
    }

    #[test]
    fn json_mode_writes_one_tagged_object_per_line() {
        let (mut ui, out, err) = ui(Mode::Json);
        ui.session("s1", false, "anthropic", "m");
        ui.show(&Event::TextDelta { text: "hi".into() });
        ui.show(&tool_done());
        ui.finish(&outcome(End::Completed), "s1");
        let lines: Vec<Value> = out
            .text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["session", "text_delta", "tool_done", "done"]);
        assert_eq!(lines[1]["text"], "hi");
        assert_eq!(lines[2]["summary"], "read src/main.rs (120 lines)");
        assert_eq!(lines[3]["end"], "completed");
        assert_eq!(lines[3]["usage"]["input_tokens"], 1200);
        assert_eq!(lines[3]["cost"], 0.01234);
        assert_eq!(err.text(), "");
    }

    #[test]
    fn a_filtered_answer_is_reported_in_every_mode() {
        let filtered = Outcome {
            stop_reason: Some(StopReason::ContentFilter),
            ..outcome(End::Completed)
        };
        let (mut quiet, out, err) = ui(Mode::Quiet);
        quiet.finish(&filtered, "s1");
        assert_eq!(out.text(), "");
        assert!(err.text().contains("safety filter blocked the answer"));
        let (mut normal, _, err) = ui(Mode::Quiet);
        normal.finish(&outcome(End::Completed), "s1");
        assert_eq!(err.text(), "", "a normal stop says nothing");
        let (mut json, out, _) = ui(Mode::Json);
        json.finish(&filtered, "s1");
        let done: Value = serde_json::from_str(out.text().trim()).unwrap();
        assert_eq!(done["stop_reason"], "content_filter");
    }

    #[test]
    fn a_todo_display_shows_as_a_checklist_in_text_mode_only() {
        let todos = json!({"todos": [
            {"id": "1", "content": "write the parser", "status": "completed", "priority": "high"},
            {"id": "2", "content": "test it", "status": "in_progress", "priority": "high"},
            {"id": "3", "content": "document it", "status": "pending", "priority": "low"},
            {"id": "4", "content": "port to C", "status": "cancelled", "priority": "low"},
        ]});
        let event = Event::ToolDone {
            call_id: "c1".into(),
            name: "todowrite".into(),
            summary: "todos: 4 items".into(),
            is_error: false,
            duration_ms: 0,
            display: Some(todos),
        };
        let (mut ui, out, err) = ui(Mode::Text);
        ui.show(&event);
        assert_eq!(out.text(), "");
        assert_eq!(
            err.text(),
            "  ✓ todos: 4 items\n    [x] write the parser\n    [~] test it\n    [ ] document it\n    [-] port to C\n"
        );
        let (mut quiet, _, quiet_err) = ui_quiet();
        quiet.show(&event);
        assert_eq!(quiet_err.text(), "");
        assert_eq!(todo_lines(&json!({"other": 1})), None);
    }

    fn ui_quiet() -> (Ui, Shared, Shared) {
        ui(Mode::Quiet)
    }

    #[test]
    fn big_numbers_get_separators_and_unknown_prices_say_so() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 1,
            ..Usage::default()
        };
        assert_eq!(
            summary_line(&usage, None, 1),
            "10 in · 1 out · 1 step · cost unknown"
        );
    }
}

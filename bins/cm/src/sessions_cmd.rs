//! `cm sessions list | show | export | delete`: reading and removing stored sessions.
//!
//! Every command reads the log through [`SessionStore`] and the records through
//! `proto::session`; nothing here writes a session except `delete`, which removes a whole
//! log and is refused while another cm holds it. The conversation shown and exported is
//! every `message` record in order — the whole exchange, also the part a compaction later
//! replaced by its summary — so nothing the user saw is missing from a transcript.

use std::io::{self, BufRead, BufReader, IsTerminal, Write};

use cm_host::{Dirs, SessionId, SessionStore, StoreError};
use cm_proto::message::{Image, Message, Part, Role, ToolOutput};
use cm_proto::session::{self, Entry, Record, SessionInfo};
use cm_proto::time::UnixMillis;
use serde_json::{json, Value};

use crate::args::{ExportFormat, SessionsCommand};
use crate::exit::{Failure, Status};
use crate::secrets::Secrets;
use crate::sessions::store_failure_message;

/// Runs a `cm sessions` command and says how cm exits.
pub fn main(command: &SessionsCommand) -> Status {
    match run(command, &mut io::stdout().lock()) {
        Ok(()) => Status::Done,
        Err(failure) => {
            eprintln!("cm: {}", failure.message);
            failure.status
        }
    }
}

fn run(command: &SessionsCommand, out: &mut dyn Write) -> Result<(), Failure> {
    let dirs = Dirs::from_process_env().map_err(|e| Failure::usage(e.to_string()))?;
    let store = SessionStore::new(dirs.sessions());
    // Logs hold no keys, but one written by an older cm might: never print one.
    let secrets = Secrets::from_process(None);
    let written = match command {
        SessionsCommand::List { json } => list(&store, *json, out),
        SessionsCommand::Show { id } => {
            let loaded = load(&store, id)?;
            out.write_all(secrets.redact(&render(&loaded, Style::Text)).as_bytes())
        }
        SessionsCommand::Export { id, format } => {
            let loaded = load(&store, id)?;
            let text = match format {
                ExportFormat::Json => {
                    let mut text = serde_json::to_string_pretty(&export_json(&loaded))
                        .unwrap_or_else(|_| "{}".into());
                    text.push('\n');
                    text
                }
                ExportFormat::Markdown => render(&loaded, Style::Markdown),
            };
            out.write_all(secrets.redact(&text).as_bytes())
        }
        SessionsCommand::Delete { id, yes } => return delete(&store, id, *yes, out),
    };
    written.map_err(|e| Failure::failed(format!("cannot write the output: {e}")))
}

/// A session read from its log.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Its id.
    pub id: String,
    /// Its first record, if the log has one.
    pub info: Option<SessionInfo>,
    /// Every message record's message, in order.
    pub messages: Vec<Message>,
    /// When the log was last written.
    pub updated: UnixMillis,
}

impl Loaded {
    /// The session's records, read as [`Loaded`].
    pub fn from_records(id: &str, records: &[Record], updated: UnixMillis) -> Loaded {
        let replayed = session::replay(records);
        let messages = records
            .iter()
            .filter_map(|r| match &r.entry {
                Entry::Message(m) => Some(m.message.clone()),
                _ => None,
            })
            .collect();
        Loaded {
            id: id.to_string(),
            info: replayed.info,
            messages,
            updated,
        }
    }

    fn title(&self) -> &str {
        self.info
            .as_ref()
            .and_then(|i| i.title.as_deref())
            .unwrap_or("")
    }
}

fn parse_id(store: &SessionStore, text: &str) -> Result<SessionId, Failure> {
    SessionId::parse(text).map_err(|_| {
        Failure::usage(format!(
            "`{text}` is not a session id; list them with `cm sessions list` (files in {})",
            store.dir().display()
        ))
    })
}

fn load(store: &SessionStore, text: &str) -> Result<Loaded, Failure> {
    let id = parse_id(store, text)?;
    let values = store.load(&id).map_err(|e| not_found_or(e, store))?;
    let records = records_of(values);
    let updated = std::fs::metadata(store.path_of(&id))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(UnixMillis(0), |d| {
            UnixMillis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        });
    Ok(Loaded::from_records(id.as_str(), &records, updated))
}

fn records_of(values: Vec<Value>) -> Vec<Record> {
    values
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect()
}

fn not_found_or(error: StoreError, store: &SessionStore) -> Failure {
    match error {
        StoreError::NotFound { id } => Failure::usage(format!(
            "there is no session `{id}` in {}; list them with `cm sessions list`",
            store.dir().display()
        )),
        other => store_failure_message(other),
    }
}

fn list(store: &SessionStore, as_json: bool, out: &mut dyn Write) -> io::Result<()> {
    let infos = store.list().map_err(io::Error::other)?;
    let sessions: Vec<Loaded> = infos
        .into_iter()
        .map(|info| {
            // A log that cannot be read is still listed, by its id.
            let records = store.load(&info.id).map(records_of).unwrap_or_default();
            Loaded::from_records(info.id.as_str(), &records, info.modified)
        })
        .collect();
    if as_json {
        let rows: Vec<Value> = sessions.iter().map(list_entry).collect();
        let text = serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into());
        return writeln!(out, "{text}");
    }
    if sessions.is_empty() {
        return writeln!(out, "no sessions yet; start one with: cm run \"...\"");
    }
    writeln!(
        out,
        "{:<24} {:<16} {:>5}  TITLE · DIRECTORY",
        "ID", "UPDATED", "MSGS"
    )?;
    for s in &sessions {
        let directory = s.info.as_ref().map_or("", |i| i.directory.as_str());
        writeln!(
            out,
            "{:<24} {:<16} {:>5}  {} · {}",
            s.id,
            utc_minutes(s.updated),
            s.messages.len(),
            s.title(),
            directory
        )?;
    }
    Ok(())
}

/// One `cm sessions list --json` entry.
pub fn list_entry(s: &Loaded) -> Value {
    let info = s.info.as_ref();
    json!({
        "id": s.id,
        "title": info.and_then(|i| i.title.clone()),
        "directory": info.map(|i| i.directory.clone()),
        "provider": info.map(|i| i.provider.clone()),
        "model": info.map(|i| i.model.clone()),
        "created": info.map(|i| i.created.0),
        "updated": s.updated.0,
        "messages": s.messages.len(),
    })
}

/// `cm sessions export --format json`: `{"info": {...}, "messages": [...]}`.
pub fn export_json(s: &Loaded) -> Value {
    json!({
        "info": s.info,
        "messages": s.messages,
    })
}

/// How a transcript is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// For the terminal (`show`).
    Text,
    /// Markdown (`export --format markdown`).
    Markdown,
}

/// The conversation as a readable transcript: prompts, answers, tool calls and results.
pub fn render(s: &Loaded, style: Style) -> String {
    let mut out = String::new();
    let md = style == Style::Markdown;
    let title = if s.title().is_empty() {
        "(untitled)"
    } else {
        s.title()
    };
    if md {
        out.push_str(&format!("# {title}\n\n"));
        out.push_str(&format!("- session: `{}`\n", s.id));
    } else {
        out.push_str(&format!("{title}\nsession {}\n", s.id));
    }
    if let Some(info) = &s.info {
        let bullet = if md { "- " } else { "" };
        out.push_str(&format!(
            "{bullet}model: {}/{}\n{bullet}directory: {}\n{bullet}started: {} UTC\n",
            info.provider,
            info.model,
            info.directory,
            utc_minutes(info.created)
        ));
    }
    for message in &s.messages {
        out.push('\n');
        render_message(message, md, &mut out);
    }
    out
}

fn render_message(message: &Message, md: bool, out: &mut String) {
    let only_results = message
        .parts
        .iter()
        .all(|p| matches!(p, Part::ToolResult(_)));
    let who = match (message.role, only_results) {
        (Role::User, true) => "tool results",
        (Role::User, false) => "user",
        (Role::Assistant, _) => "assistant",
    };
    if md {
        out.push_str(&format!("## {who}\n\n"));
    } else {
        out.push_str(&format!("── {who}\n"));
    }
    for part in &message.parts {
        match part {
            Part::Text { text } => {
                out.push_str(text.trim_end());
                out.push_str(if md { "\n\n" } else { "\n" });
            }
            Part::Reasoning(r) if !r.text.trim().is_empty() => {
                if md {
                    for line in r.text.trim_end().lines() {
                        out.push_str(&format!("> {line}\n"));
                    }
                    out.push('\n');
                } else {
                    out.push_str(&format!("(thinking) {}\n", r.text.trim_end()));
                }
            }
            Part::Reasoning(_) => {}
            Part::Image(image) => out.push_str(&format!("[image: {}]\n", image_label(image))),
            Part::ToolCall(call) => {
                if md {
                    out.push_str(&format!(
                        "**tool call** `{}`\n\n```json\n{}\n```\n\n",
                        call.name, call.arguments
                    ));
                } else {
                    out.push_str(&format!("→ {} {}\n", call.name, call.arguments));
                }
            }
            Part::ToolResult(result) => {
                let mut text = String::new();
                for output in &result.content {
                    match output {
                        ToolOutput::Text { text: t } => text.push_str(t),
                        ToolOutput::Image(image) => {
                            text.push_str(&format!("[image: {}]", image_label(image)))
                        }
                    }
                }
                let error = if result.is_error { " (error)" } else { "" };
                if md {
                    let fence = fence_for(&text);
                    out.push_str(&format!(
                        "**{} result**{error}\n\n{fence}\n{}\n{fence}\n\n",
                        result.name,
                        text.trim_end()
                    ));
                } else {
                    out.push_str(&format!("← {}{error}\n", result.name));
                    for line in text.trim_end().lines() {
                        out.push_str(&format!("  {line}\n"));
                    }
                }
            }
        }
    }
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat(longest.max(2) + 1)
}

fn image_label(image: &Image) -> String {
    match image {
        Image::Base64 { media_type, data } => {
            format!("{media_type}, {} bytes", data.len().saturating_mul(3) / 4)
        }
        Image::Url { url } => url.chars().take(80).collect(),
    }
}

fn delete(store: &SessionStore, text: &str, yes: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let loaded = load(store, text)?;
    let id = parse_id(store, text)?;
    if !yes && io::stdin().is_terminal() {
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "delete session {} ({}, {} messages)? [y/N] ",
            loaded.id,
            loaded.title(),
            loaded.messages.len()
        );
        let _ = err.flush();
        let mut line = String::new();
        let _ = BufReader::new(io::stdin().lock()).read_line(&mut line);
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Err(Failure::usage("not deleted"));
        }
    }
    store.delete(&id).map_err(|e| not_found_or(e, store))?;
    writeln!(out, "deleted session {id}")
        .map_err(|e| Failure::failed(format!("cannot write the output: {e}")))
}

/// `2026-11-23 06:53` (UTC) for milliseconds since the Unix epoch.
pub fn utc_minutes(at: UnixMillis) -> String {
    let secs = at.0 / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rest / 3600,
        (rest % 3600) / 60
    )
}

/// The calendar date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::message::{ToolCall, ToolResult};
    use cm_proto::session::MessageRecord;

    fn loaded() -> Loaded {
        let info = SessionInfo {
            id: "ses_x".into(),
            created: UnixMillis(1_700_000_000_000),
            directory: "/p".into(),
            provider: "anthropic".into(),
            model: "m".into(),
            title: Some("fix the tests".into()),
        };
        let call = ToolCall {
            id: "c1".into(),
            name: "read".into(),
            arguments: r#"{"path":"a.rs"}"#.into(),
            item_id: None,
            signature: None,
            origin: Default::default(),
        };
        let result = ToolResult {
            call_id: "c1".into(),
            name: "read".into(),
            content: vec![ToolOutput::Text {
                text: "fn main() {}\n```".into(),
            }],
            is_error: false,
        };
        let records: Vec<Record> = [
            Entry::Session(info),
            Entry::Message(MessageRecord::plain(Message::user("fix the tests"))),
            Entry::Message(MessageRecord::plain(Message {
                role: Role::Assistant,
                parts: vec![Part::text("Reading."), Part::ToolCall(call)],
            })),
            Entry::Message(MessageRecord::plain(Message {
                role: Role::User,
                parts: vec![Part::ToolResult(result)],
            })),
        ]
        .into_iter()
        .map(|e| Record::new(UnixMillis(1_700_000_000_000), e))
        .collect();
        Loaded::from_records("ses_x", &records, UnixMillis(1_700_000_060_000))
    }

    #[test]
    fn markdown_shows_prompts_answers_and_tool_calls() {
        let md = render(&loaded(), Style::Markdown);
        assert!(
            md.starts_with("# fix the tests\n\n- session: `ses_x`\n"),
            "{md}"
        );
        assert!(md.contains("## user\n\nfix the tests\n"), "{md}");
        assert!(md.contains("**tool call** `read`\n\n```json\n{\"path\":\"a.rs\"}\n```"));
        // A result holding a fence is wrapped in a longer one.
        assert!(
            md.contains("**read result**\n\n````\nfn main() {}\n```\n````"),
            "{md}"
        );
    }

    #[test]
    fn text_and_json_forms() {
        let text = render(&loaded(), Style::Text);
        assert!(text.contains("── assistant\nReading.\n→ read {\"path\":\"a.rs\"}\n"));
        assert!(text.contains("── tool results\n← read\n  fn main() {}\n"));
        let json = export_json(&loaded());
        assert_eq!(json["info"]["title"], "fix the tests");
        assert_eq!(json["messages"].as_array().map(Vec::len), Some(3));
        let entry = list_entry(&loaded());
        assert_eq!(entry["messages"], 3);
        assert_eq!(entry["updated"], 1_700_000_060_000u64);
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(utc_minutes(UnixMillis(0)), "1970-01-01 00:00");
        assert_eq!(
            utc_minutes(UnixMillis(1_700_000_000_000)),
            "2023-11-14 22:13"
        );
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }
}

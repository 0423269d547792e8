//! Session records: the durable, append-only log of a conversation, and its replay.
//!
//! A session is stored as JSON Lines, one [`Record`] per line:
//! `{"type": "message", "v": 1, "at": 1700000000000, ...}`. The agent emits records as
//! [`crate::agent::Output::Record`] *before* any output that depends on them, so a log cut at
//! any line still describes what happened up to there.
//!
//! [`replay`] rebuilds the conversation from the `message`, `prune` and `compaction`
//! records, applying each with the same function the live agent uses ([`push_message`],
//! [`prune_results`], or taking a compaction's new history as written), so the history
//! sent after a resume is identical to the one the live agent held. The other record types are
//! the audit trail (`tool_call`, `tool_result`, `file_change`) and the accounts (`usage`,
//! `turn_end`). A record whose type this version does not know parses as
//! [`Entry::Unknown`] and is skipped, so older readers survive newer logs.

use serde::{Deserialize, Serialize};

use crate::message::{Message, Part, Role, StopReason, ToolOutput, ToolResult, Usage};
use crate::permission::Reason;
use crate::time::UnixMillis;
use crate::tool::FileChange;

/// The record format version this code writes.
pub const VERSION: u32 = 1;

/// One line of a session log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record format version ([`VERSION`] when written by this code).
    pub v: u32,
    /// When the record was made.
    pub at: UnixMillis,
    /// What the record says; its `type` tag sits beside `v` and `at` in the JSON object.
    #[serde(flatten)]
    pub entry: Entry,
}

impl Record {
    /// A record of the current [`VERSION`].
    pub fn new(at: UnixMillis, entry: Entry) -> Record {
        Record {
            v: VERSION,
            at,
            entry,
        }
    }

    /// The record as one JSON line, without the trailing newline.
    pub fn to_line(&self) -> String {
        // Serializing plain data with string keys cannot fail; a fallback keeps this total.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// Parses one JSON line; an unknown `type` gives [`Entry::Unknown`], not an error.
    pub fn from_line(line: &str) -> Result<Record, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// What a record says, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    /// The first line: which session this is.
    Session(SessionInfo),
    /// A message that became part of the history.
    Message(MessageRecord),
    /// Audit: a permission decision about one tool call.
    ToolCall(ToolCallRecord),
    /// Audit: what one tool call returned.
    ToolResult(ToolResultRecord),
    /// A file a tool changed, with what an exact undo needs.
    FileChange(FileChangeRecord),
    /// Tokens and cost of one model request.
    Usage(UsageRecord),
    /// A turn ended.
    TurnEnd(TurnEndRecord),
    /// Old tool outputs were replaced by a stub to save context.
    Prune(PruneRecord),
    /// The conversation so far was replaced by a summary of it.
    Compaction(CompactionRecord),
    /// A record type this version does not know; skipped by [`replay`].
    #[serde(other)]
    Unknown,
}

/// The session a log belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
    pub id: String,
    /// When the session was created.
    pub created: UnixMillis,
    /// The working directory it ran in.
    pub directory: String,
    /// The provider id at creation.
    pub provider: String,
    /// The model id at creation.
    pub model: String,
    /// A short title, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A message of the history, with what is known about how it was produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The message as it entered the history.
    pub message: Message,
    /// Tokens of the request that produced an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The model that produced an assistant message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Why the model stopped, if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// The user aborted while this assistant message was streaming.
    #[serde(default, skip_serializing_if = "is_false")]
    pub aborted: bool,
    /// The stream broke before this assistant message was complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub incomplete: bool,
}

impl MessageRecord {
    /// A record of a message with no production metadata (user messages).
    pub fn plain(message: Message) -> MessageRecord {
        MessageRecord {
            message,
            usage: None,
            model: None,
            stop_reason: None,
            aborted: false,
            incomplete: false,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The outcome of a permission check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The call may run.
    Allow,
    /// The call was refused.
    Deny,
    /// The call was malformed or named an unknown tool; no permission was checked.
    Invalid,
}

/// Who made a permission decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// A configured rule, a session grant or a key's default.
    Rule,
    /// The user, answering a question.
    User,
    /// `--yes`, which turns an ask into an allow.
    Yes,
}

/// Audit of one permission decision about a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The model's call id.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them.
    pub arguments: String,
    /// The permission checked (`edit`, `doom_loop`, `external_directory`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// The value the permission was checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The decision.
    pub verdict: Verdict,
    /// Who decided; `None` for invalid calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<DecidedBy>,
    /// Why the rules decided as they did (the pattern, the grant, the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The user's message with a denial, or what was wrong with an invalid call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Audit of what one tool call returned to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultRecord {
    /// The model's call id.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// Whether it failed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_error: bool,
    /// One line for people.
    #[serde(default)]
    pub summary: String,
    /// What the model was given.
    pub content: Vec<ToolOutput>,
}

/// A file changed by a tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChangeRecord {
    /// The call that made the change.
    pub call_id: String,
    /// The change: path, content before and after.
    #[serde(flatten)]
    pub change: FileChange,
}

/// Tokens and cost of one model request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The provider id.
    pub provider: String,
    /// The model id.
    pub model: String,
    /// The tokens.
    pub usage: Usage,
    /// The cost in US dollars; `None` when the model's price is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnEndRecord {
    /// `completed`, `max_steps`, `aborted` or `failed`.
    pub outcome: String,
    /// The error of a failed turn, as shown to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Model requests made in the turn.
    pub steps: u32,
    /// Tokens of the turn.
    pub usage: Usage,
    /// Cost of the turn; `None` when the price is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

/// Tool outputs replaced by a stub to save context; replay replaces them the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneRecord {
    /// The call ids whose results were replaced.
    pub call_ids: Vec<String>,
    /// The stub each result's content became.
    pub text: String,
}

/// What made the agent summarise the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactionTrigger {
    /// The provider answered that the input is longer than the model's context.
    Overflow,
    /// The estimated input passed 95 % of the context window, even after pruning.
    Threshold,
    /// The user asked for it (`cm run --compact`, `/compact`).
    Manual,
}

/// The conversation replaced by the model's summary of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactionRecord {
    /// Why it happened.
    pub trigger: CompactionTrigger,
    /// The model's summary, as it wrote it.
    pub summary: String,
    /// How many messages of the history it replaced (they stay readable above in the log).
    pub replaced: usize,
    /// The whole history right after compaction; replay takes it as written, so it is
    /// exact even if the wording of the summary message changes in later versions.
    pub history: Vec<Message>,
}

/// What a session log adds up to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionState {
    /// The `session` record, if the log has one.
    pub info: Option<SessionInfo>,
    /// The conversation, exactly as the live agent held it.
    pub history: Vec<Message>,
    /// Tokens over every request.
    pub usage: Usage,
    /// Cost over every request with a known price; `None` if none had one.
    pub cost: Option<f64>,
    /// Turns that ended.
    pub turns: u32,
    /// Records skipped because their type is unknown.
    pub skipped: usize,
    /// Whether tool calls left unanswered by a cut log were answered to keep it valid.
    pub repaired: bool,
}

/// Appends `message` to `history` as the agent does: a user message directly after a
/// user message (a new prompt after tool results or after a failed turn) joins it, so
/// roles keep alternating.
pub fn push_message(history: &mut Vec<Message>, message: Message) {
    if message.role == Role::User {
        if let Some(last) = history.last_mut() {
            if last.role == Role::User {
                last.parts.extend(message.parts);
                return;
            }
        }
    }
    history.push(message);
}

/// Replaces the content of the tool results answering `call_ids` with one text, `text`,
/// keeping each result's call id, name and error flag, so the history stays valid.
pub fn prune_results(history: &mut [Message], call_ids: &[String], text: &str) {
    for part in history.iter_mut().flat_map(|m| m.parts.iter_mut()) {
        if let Part::ToolResult(result) = part {
            if call_ids.contains(&result.call_id) {
                result.content = vec![ToolOutput::Text { text: text.into() }];
            }
        }
    }
}

/// Rebuilds a session's state from its records, in order.
///
/// If the log ends with an assistant message whose tool calls were never answered (the
/// process died while tools ran), the calls are answered from their `tool_result`
/// records, or as interrupted, so the history is valid for the next request.
pub fn replay(records: &[Record]) -> SessionState {
    let mut state = SessionState::default();
    for record in records {
        match &record.entry {
            Entry::Session(info) => state.info = Some(info.clone()),
            Entry::Message(m) => push_message(&mut state.history, m.message.clone()),
            Entry::Usage(u) => {
                state.usage.add(&u.usage);
                if let Some(cost) = u.cost {
                    state.cost = Some(state.cost.unwrap_or(0.0) + cost);
                }
            }
            Entry::TurnEnd(_) => state.turns = state.turns.saturating_add(1),
            Entry::Prune(p) => prune_results(&mut state.history, &p.call_ids, &p.text),
            Entry::Compaction(c) => state.history = c.history.clone(),
            Entry::ToolCall(_) | Entry::ToolResult(_) | Entry::FileChange(_) => {}
            Entry::Unknown => state.skipped += 1,
        }
    }
    if let Some(answers) = unanswered_calls(&state.history, records) {
        push_message(&mut state.history, answers);
        state.repaired = true;
    }
    state
}

/// A user message answering the last assistant message's calls, if any are open.
fn unanswered_calls(history: &[Message], records: &[Record]) -> Option<Message> {
    let last = history.last()?;
    if last.role != Role::Assistant {
        return None;
    }
    let parts: Vec<Part> = last
        .tool_calls()
        .map(|call| {
            let logged = records.iter().rev().find_map(|r| match &r.entry {
                Entry::ToolResult(t) if t.call_id == call.id => Some(t),
                _ => None,
            });
            Part::ToolResult(match logged {
                Some(t) => ToolResult {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: t.content.clone(),
                    is_error: t.is_error,
                },
                None => ToolResult {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content: vec![ToolOutput::Text {
                        text: "interrupted: the session ended before this tool call finished"
                            .into(),
                    }],
                    is_error: true,
                },
            })
        })
        .collect();
    (!parts.is_empty()).then_some(Message {
        role: Role::User,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Origin, ToolCall};
    use serde_json::json;

    fn at(ms: u64) -> UnixMillis {
        UnixMillis(ms)
    }

    fn call(id: &str) -> Part {
        Part::ToolCall(ToolCall {
            id: id.into(),
            name: "read".into(),
            arguments: r#"{"path":"a"}"#.into(),
            item_id: None,
            signature: None,
            origin: Origin::default(),
        })
    }

    fn every_entry() -> Vec<Entry> {
        vec![
            Entry::Session(SessionInfo {
                id: "s1".into(),
                created: at(1),
                directory: "/w".into(),
                provider: "anthropic".into(),
                model: "claude".into(),
                title: Some("t".into()),
            }),
            Entry::Message(MessageRecord::plain(Message::user("hi"))),
            Entry::Message(MessageRecord {
                message: Message {
                    role: Role::Assistant,
                    parts: vec![Part::text("x"), call("c1")],
                },
                usage: Some(Usage {
                    input_tokens: 3,
                    output_tokens: 4,
                    ..Usage::default()
                }),
                model: Some("claude".into()),
                stop_reason: Some(StopReason::ToolUse),
                aborted: true,
                incomplete: true,
            }),
            Entry::ToolCall(ToolCallRecord {
                call_id: "c1".into(),
                name: "read".into(),
                arguments: "{}".into(),
                permission: Some("read".into()),
                subject: Some("a".into()),
                verdict: Verdict::Deny,
                by: Some(DecidedBy::User),
                reason: Some(Reason::Rule {
                    pattern: "src/*".into(),
                }),
                message: Some("no".into()),
            }),
            Entry::ToolResult(ToolResultRecord {
                call_id: "c1".into(),
                name: "read".into(),
                is_error: true,
                summary: "denied".into(),
                content: vec![ToolOutput::Text { text: "no".into() }],
            }),
            Entry::FileChange(FileChangeRecord {
                call_id: "c1".into(),
                change: FileChange {
                    path: "a".into(),
                    before: None,
                    after: Some(b"new".to_vec()),
                },
            }),
            Entry::Usage(UsageRecord {
                provider: "anthropic".into(),
                model: "claude".into(),
                usage: Usage::default(),
                cost: Some(0.25),
            }),
            Entry::TurnEnd(TurnEndRecord {
                outcome: "failed".into(),
                error: Some("boom".into()),
                steps: 2,
                usage: Usage::default(),
                cost: None,
            }),
            Entry::Prune(PruneRecord {
                call_ids: vec!["c1".into()],
                text: "[pruned]".into(),
            }),
            Entry::Compaction(CompactionRecord {
                trigger: CompactionTrigger::Overflow,
                summary: "we read a".into(),
                replaced: 4,
                history: vec![Message::user("summary: we read a")],
            }),
        ]
    }

    #[test]
    fn every_record_type_round_trips_through_one_json_line() {
        for entry in every_entry() {
            let record = Record::new(at(42), entry);
            let line = record.to_line();
            assert!(!line.contains('\n'), "{line}");
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(value["v"], json!(1), "{line}");
            assert_eq!(value["at"], json!(42), "{line}");
            assert!(value["type"].is_string(), "{line}");
            assert_eq!(Record::from_line(&line).unwrap(), record, "{line}");
        }
    }

    #[test]
    fn record_json_has_the_contract_shape() {
        let record = Record::new(
            at(7),
            Entry::Message(MessageRecord::plain(Message::user("hi"))),
        );
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            json!({"type": "message", "v": 1, "at": 7,
                   "message": {"role": "user", "parts": [{"type": "text", "text": "hi"}]}})
        );
    }

    #[test]
    fn unknown_record_types_are_skipped_on_replay() {
        let lines = [
            r#"{"type":"message","v":1,"at":1,"message":{"role":"user","parts":[{"type":"text","text":"hi"}]}}"#,
            r#"{"type":"bookmark","v":3,"at":2,"label":"later"}"#,
            r#"{"type":"message","v":1,"at":3,"message":{"role":"assistant","parts":[{"type":"text","text":"yo"}]}}"#,
        ];
        let records: Vec<Record> = lines
            .iter()
            .map(|l| Record::from_line(l).unwrap())
            .collect();
        assert_eq!(records[1].entry, Entry::Unknown);
        let state = replay(&records);
        assert_eq!(
            state.history,
            vec![Message::user("hi"), Message::assistant("yo")]
        );
        assert_eq!(state.skipped, 1);
    }

    #[test]
    fn replay_sums_usage_and_known_costs() {
        let usage = |input, cost| {
            Record::new(
                at(1),
                Entry::Usage(UsageRecord {
                    provider: "p".into(),
                    model: "m".into(),
                    usage: Usage {
                        input_tokens: input,
                        ..Usage::default()
                    },
                    cost,
                }),
            )
        };
        let state = replay(&[usage(10, Some(0.5)), usage(5, None), usage(1, Some(0.25))]);
        assert_eq!(state.usage.input_tokens, 16);
        assert_eq!(state.cost, Some(0.75));
        assert_eq!(replay(&[usage(1, None)]).cost, None);
    }

    #[test]
    fn consecutive_user_messages_join() {
        let mut history = vec![Message::user("a")];
        push_message(&mut history, Message::user("b"));
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].parts, vec![Part::text("a"), Part::text("b")]);
        push_message(&mut history, Message::assistant("c"));
        push_message(&mut history, Message::assistant("d"));
        assert_eq!(history.len(), 3, "assistant messages never join");
    }

    #[test]
    fn replay_applies_prunes_and_takes_a_compaction_history_as_written() {
        let result = |id: &str, text: &str| {
            Part::ToolResult(ToolResult {
                call_id: id.into(),
                name: "read".into(),
                content: vec![ToolOutput::Text { text: text.into() }],
                is_error: id == "c2",
            })
        };
        let message = |m: Message| Record::new(at(1), Entry::Message(MessageRecord::plain(m)));
        let mut records = vec![
            message(Message::user("go")),
            message(Message {
                role: Role::Assistant,
                parts: vec![call("c1"), call("c2")],
            }),
            message(Message {
                role: Role::User,
                parts: vec![result("c1", "big"), result("c2", "bigger")],
            }),
            Record::new(
                at(2),
                Entry::Prune(PruneRecord {
                    call_ids: vec!["c2".into()],
                    text: "[pruned]".into(),
                }),
            ),
        ];
        let state = replay(&records);
        assert_eq!(
            state.history[2].parts,
            vec![result("c1", "big"), {
                let mut pruned = result("c2", "[pruned]");
                if let Part::ToolResult(r) = &mut pruned {
                    assert!(r.is_error, "the error flag is kept");
                }
                pruned
            }]
        );
        let compacted = vec![Message::user("summary")];
        records.push(Record::new(
            at(3),
            Entry::Compaction(CompactionRecord {
                trigger: CompactionTrigger::Manual,
                summary: "summary".into(),
                replaced: 3,
                history: compacted.clone(),
            }),
        ));
        records.push(message(Message::user("next")));
        let state = replay(&records);
        assert_eq!(
            state.history,
            vec![Message {
                role: Role::User,
                parts: vec![Part::text("summary"), Part::text("next")]
            }]
        );
        assert!(!state.repaired);
    }

    #[test]
    fn a_cut_log_gets_its_open_tool_calls_answered() {
        let assistant = Message {
            role: Role::Assistant,
            parts: vec![call("c1"), call("c2")],
        };
        let records = vec![
            Record::new(
                at(1),
                Entry::Message(MessageRecord::plain(Message::user("go"))),
            ),
            Record::new(at(2), Entry::Message(MessageRecord::plain(assistant))),
            Record::new(
                at(3),
                Entry::ToolResult(ToolResultRecord {
                    call_id: "c1".into(),
                    name: "read".into(),
                    is_error: false,
                    summary: "ok".into(),
                    content: vec![ToolOutput::Text {
                        text: "1: x".into(),
                    }],
                }),
            ),
        ];
        let state = replay(&records);
        assert!(state.repaired);
        let answers = &state.history[2];
        assert_eq!(answers.role, Role::User);
        let results: Vec<&ToolResult> = answers
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::ToolResult(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].text(), "1: x");
        assert!(!results[0].is_error);
        assert!(results[1].is_error);
        assert!(results[1].text().contains("interrupted"));
    }
}

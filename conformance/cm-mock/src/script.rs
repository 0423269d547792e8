//! The script: the turns the mock answers with, in order, as read from JSON.
//!
//! A script is a JSON array of turns, or `{"turns": [...]}`. Every model request (any of
//! the three endpoints) takes the next turn; `repeat: N` serves a turn N times. Unknown keys
//! are errors, so a typo fails loudly instead of silently changing a test. Replayed
//! fixtures are loaded when the script is, so a missing file fails before the server starts.

use std::fmt;
use std::path::{Path, PathBuf};

use cm_conformance::fixtures::{self, Fixture, FixtureKind};
use serde::Deserialize;
use serde_json::Value;

/// A parsed script: the turns to serve, `repeat` already expanded.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub(crate) turns: Vec<ScriptedTurn>,
}

/// One turn as served: the turn and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct ScriptedTurn {
    /// The turn's position in the script (0-based), before `repeat` expansion.
    pub(crate) index: usize,
    pub(crate) turn: Turn,
    pub(crate) replay: Option<Replay>,
}

/// One scripted answer; see `conformance/README.md` for every field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// Answer text.
    #[serde(default)]
    pub text: Option<String>,
    /// Tool calls, after the text.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallSpec>,
    /// Reasoning, before the text.
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Token counts to report.
    #[serde(default)]
    pub usage: Option<UsageSpec>,
    /// Why the model stopped: `end_turn`, `tool_use`, `max_tokens`, or a format's own
    /// value; by default `tool_use` when there are tool calls, else `end_turn`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// The model to report; by default the one the request named.
    #[serde(default)]
    pub model: Option<String>,
    /// Assertions on the request; the first that fails is answered with a 400.
    #[serde(default)]
    pub expect: Expectations,
    /// A fault: an error status instead of the answer, or a broken transport.
    #[serde(default)]
    pub fault: Option<Fault>,
    /// A recorded fixture to send instead of a generated answer.
    #[serde(default)]
    pub replay: Option<ReplaySpec>,
    /// Serve this turn this many times (default 1).
    #[serde(default)]
    pub repeat: Option<usize>,
    /// How a streamed body is framed: `chunked` (default, keeps the connection) or `close`.
    #[serde(default)]
    pub framing: Option<StreamFraming>,
}

/// How a streamed response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamFraming {
    /// `Transfer-Encoding: chunked`; the connection can be reused afterwards.
    Chunked,
    /// No length at all: the body ends when the server closes the connection.
    Close,
}

/// A scripted tool call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallSpec {
    /// The call id; generated in the format's style when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments: any JSON value is sent as its JSON text; a string is sent as is,
    /// which is how a script sends malformed JSON.
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

impl ToolCallSpec {
    /// The arguments as the JSON text the model "wrote".
    pub fn arguments_text(&self) -> String {
        match &self.arguments {
            Value::String(raw) => raw.clone(),
            other => other.to_string(),
        }
    }
}

/// Token counts a turn reports; `input_tokens` excludes cache reads and writes, as in cm.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSpec {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: u64,
    /// The part of `output_tokens` spent on reasoning.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

/// One expectation object or a list of them; every field set in each is checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "OneOrMany")]
pub struct Expectations(pub Vec<Expectation>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(Expectation),
    Many(Vec<Expectation>),
}

impl From<OneOrMany> for Expectations {
    fn from(value: OneOrMany) -> Expectations {
        match value {
            OneOrMany::One(one) => Expectations(vec![one]),
            OneOrMany::Many(many) => Expectations(many),
        }
    }
}

/// Assertions on a request; each field that is set must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// A string that must appear in the raw request body.
    #[serde(default)]
    pub contains: Option<String>,
    /// A string that must not appear in the raw request body.
    #[serde(default)]
    pub not_contains: Option<String>,
    /// A string that some tool result in the request must contain.
    #[serde(default)]
    pub tool_result_contains: Option<String>,
    /// A header that must be present, with this exact value when `value` is given.
    #[serde(default)]
    pub header: Option<HeaderExpectation>,
    /// The request path (without query) the request must be sent to.
    #[serde(default)]
    pub path: Option<String>,
    /// A JSON pointer into the body that must hold this value.
    #[serde(default)]
    pub json: Option<JsonExpectation>,
}

/// `{"name": ..., "value"?: ...}`: the header's name (any case) and optional exact value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpectation {
    /// The header name, matched case-insensitively.
    pub name: String,
    /// The exact value, if it matters.
    #[serde(default)]
    pub value: Option<String>,
}

/// `{"pointer": "/model", "equals": "gpt-5"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpectation {
    /// An RFC 6901 JSON pointer into the request body.
    pub pointer: String,
    /// The value it must point at.
    pub equals: Value,
}

/// What goes wrong with a turn's answer; fields combine (a delay and then a cut, say).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Answer with this error status instead of the turn's answer.
    #[serde(default)]
    pub status: Option<u16>,
    /// Extra response headers (on the error, or on the normal answer without `status`).
    #[serde(default)]
    pub headers: serde_json::Map<String, Value>,
    /// The error body: a string is sent as is, other JSON as its text; by default the
    /// provider's own error shape for the status.
    #[serde(default)]
    pub body: Option<Value>,
    /// Close the connection after this many body bytes (the head is always sent whole).
    #[serde(default)]
    pub disconnect_after_bytes: Option<u64>,
    /// Wait this long before sending anything.
    #[serde(default)]
    pub delay_before_first_byte_ms: Option<u64>,
    /// Send the body a few bytes at a time.
    #[serde(default)]
    pub trickle: Option<Trickle>,
    /// Send the head, then nothing, holding the connection open until the client leaves.
    #[serde(default)]
    pub stall: bool,
    /// Close the connection without answering at all.
    #[serde(default)]
    pub drop: bool,
}

/// `bytes` body bytes every `interval_ms`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trickle {
    /// Bytes per write (at least 1).
    pub bytes: usize,
    /// Pause between writes.
    pub interval_ms: u64,
}

/// A fixture to replay: a path, or `{"path": ..., "interaction": N}` for a file holding
/// several recorded exchanges (VCR cassettes, JSON exchange arrays).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ReplaySpec {
    /// The file's first interaction.
    Path(String),
    /// A chosen interaction.
    Interaction {
        /// The fixture path.
        path: String,
        /// Which interaction, from 0.
        #[serde(default)]
        interaction: usize,
    },
}

/// A loaded fixture interaction, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    /// The path as resolved.
    pub(crate) path: PathBuf,
    pub(crate) kind: FixtureKind,
    pub(crate) status: Option<u16>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) is_sse: bool,
}

/// Why a script could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScriptError {
    /// The script file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The script is not JSON of the script's shape.
    Syntax {
        /// serde's message, with line and column.
        message: String,
    },
    /// A turn is well-formed JSON but means nothing sensible.
    InvalidTurn {
        /// The turn's index.
        turn: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A replayed fixture could not be found or loaded.
    Replay {
        /// The turn's index.
        turn: usize,
        /// What went wrong.
        reason: String,
    },
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ScriptError::Syntax { message } => write!(f, "invalid script: {message}"),
            ScriptError::InvalidTurn { turn, reason } => write!(f, "turn {turn}: {reason}"),
            ScriptError::Replay { turn, reason } => write!(f, "turn {turn}: replay: {reason}"),
        }
    }
}

impl std::error::Error for ScriptError {}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScriptFile {
    Turns(Vec<Turn>),
    Object { turns: Vec<Turn> },
}

impl Script {
    /// A script of these turns; replay paths are resolved against the fixtures directory.
    pub fn new(turns: Vec<Turn>) -> Result<Script, ScriptError> {
        Script::build(turns, None)
    }

    /// Parses a script from JSON text; relative replay paths are resolved against the
    /// fixtures directory.
    pub fn from_json(text: &str) -> Result<Script, ScriptError> {
        Script::parse(text, None)
    }

    /// Parses a script from a JSON value (handy with `serde_json::json!`).
    pub fn from_value(value: Value) -> Result<Script, ScriptError> {
        let file: ScriptFile = serde_json::from_value(value).map_err(|e| ScriptError::Syntax {
            message: e.to_string(),
        })?;
        Script::build(file.into_turns(), None)
    }

    /// Reads a script file; relative replay paths are resolved against the fixtures
    /// directory first, then against the script's own directory.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Io {
            path: path.to_owned(),
            source,
        })?;
        Script::parse(&text, path.parent())
    }

    /// How many requests the script answers before it is exhausted.
    pub fn len(&self) -> usize {
        self.turns.len()
    }

    /// Whether the script answers no request at all.
    pub fn is_empty(&self) -> bool {
        self.turns.is_empty()
    }

    fn parse(text: &str, base: Option<&Path>) -> Result<Script, ScriptError> {
        let file: ScriptFile = serde_json::from_str(text).map_err(|e| ScriptError::Syntax {
            message: e.to_string(),
        })?;
        Script::build(file.into_turns(), base)
    }

    fn build(turns: Vec<Turn>, base: Option<&Path>) -> Result<Script, ScriptError> {
        let mut served = Vec::new();
        for (index, turn) in turns.into_iter().enumerate() {
            validate(index, &turn)?;
            let replay = match &turn.replay {
                Some(spec) => Some(load_replay(index, spec, base)?),
                None => None,
            };
            for _ in 0..turn.repeat.unwrap_or(1) {
                served.push(ScriptedTurn {
                    index,
                    turn: turn.clone(),
                    replay: replay.clone(),
                });
            }
        }
        Ok(Script { turns: served })
    }
}

impl ScriptFile {
    fn into_turns(self) -> Vec<Turn> {
        match self {
            ScriptFile::Turns(turns) | ScriptFile::Object { turns } => turns,
        }
    }
}

fn validate(index: usize, turn: &Turn) -> Result<(), ScriptError> {
    let invalid = |reason: &str| {
        Err(ScriptError::InvalidTurn {
            turn: index,
            reason: reason.to_string(),
        })
    };
    if turn.repeat == Some(0) {
        return invalid("repeat must be at least 1");
    }
    let answers = turn.text.is_some() || turn.reasoning.is_some() || !turn.tool_calls.is_empty();
    if turn.replay.is_some() && answers {
        return invalid("replay cannot be combined with text, reasoning or tool_calls");
    }
    if let Some(fault) = &turn.fault {
        if let Some(status) = fault.status {
            if !(200..=999).contains(&status) || status == 204 || status == 304 {
                return invalid("fault status must be 200..=999 and allow a body");
            }
        }
        if fault.trickle.is_some_and(|t| t.bytes == 0) {
            return invalid("trickle bytes must be at least 1");
        }
        for (name, value) in &fault.headers {
            let text = header_value_text(value);
            let name_ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !name_ok || text.contains(['\r', '\n', '\0']) {
                return invalid(&format!("fault header {name:?} is not a valid header"));
            }
        }
    }
    for call in &turn.tool_calls {
        if call.name.is_empty() {
            return invalid("a tool call needs a name");
        }
    }
    Ok(())
}

/// The text of a header value given in JSON: strings as is, other values as JSON text.
pub(crate) fn header_value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn load_replay(turn: usize, spec: &ReplaySpec, base: Option<&Path>) -> Result<Replay, ScriptError> {
    let (path, interaction) = match spec {
        ReplaySpec::Path(path) => (path.as_str(), 0),
        ReplaySpec::Interaction { path, interaction } => (path.as_str(), *interaction),
    };
    let error = |reason: String| ScriptError::Replay { turn, reason };
    let resolved = resolve(Path::new(path), base).ok_or_else(|| {
        error(format!(
            "no fixture {path:?} (looked in the fixtures directory{})",
            if base.is_some() {
                " and next to the script"
            } else {
                ""
            }
        ))
    })?;
    let fixture: Fixture = fixtures::load_file(&resolved).map_err(|e| error(e.to_string()))?;
    let count = fixture.interactions.len();
    let recorded = fixture
        .interactions
        .into_iter()
        .nth(interaction)
        .ok_or_else(|| {
            error(format!(
                "{path:?} has {count} interaction(s); there is no interaction {interaction}"
            ))
        })?;
    Ok(Replay {
        path: resolved,
        kind: fixture.kind,
        status: recorded.status,
        headers: recorded.headers,
        body: recorded.body,
        is_sse: recorded.is_sse,
    })
}

/// An absolute path as is; a relative one under the fixtures directory, else under `base`.
fn resolve(path: &Path, base: Option<&Path>) -> Option<PathBuf> {
    if path.is_absolute() {
        return path.is_file().then(|| path.to_owned());
    }
    let in_fixtures = fixtures::fixtures_dir().join(path);
    if in_fixtures.is_file() {
        return Some(in_fixtures);
    }
    base.map(|base| base.join(path)).filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_or_an_object_of_turns() {
        let list = Script::from_json(r#"[{"text": "hi"}, {"text": "again", "repeat": 2}]"#)
            .expect("valid");
        assert_eq!(list.len(), 3);
        assert_eq!(list.turns[2].index, 1);
        let object = Script::from_json(r#"{"turns": [{"text": "hi"}]}"#).expect("valid");
        assert_eq!(object.len(), 1);
    }

    #[test]
    fn typos_are_errors() {
        let error = Script::from_json(r#"[{"txt": "hi"}]"#).unwrap_err();
        assert!(matches!(error, ScriptError::Syntax { .. }), "{error}");
        let error = Script::from_value(json!([{"expect": {"contain": "x"}}])).unwrap_err();
        assert!(matches!(error, ScriptError::Syntax { .. }), "{error}");
    }

    #[test]
    fn nonsense_turns_are_refused() {
        let error = Script::from_value(json!([{"text": "a"}, {"repeat": 0}])).unwrap_err();
        assert_eq!(error.to_string(), "turn 1: repeat must be at least 1");
        let error =
            Script::from_value(json!([{"text": "a", "replay": "anthropic/basic_response.txt"}]))
                .unwrap_err();
        assert!(matches!(error, ScriptError::InvalidTurn { turn: 0, .. }));
        let error =
            Script::from_value(json!([{"fault": {"headers": {"x": "a\r\nb: c"}}}])).unwrap_err();
        assert!(matches!(error, ScriptError::InvalidTurn { .. }));
    }

    #[test]
    fn missing_replay_files_fail_at_load() {
        let error = Script::from_value(json!([{"replay": "anthropic/nope.txt"}])).unwrap_err();
        assert!(
            matches!(error, ScriptError::Replay { turn: 0, .. }),
            "{error}"
        );
        let script = Script::from_value(json!([{"replay": "anthropic/basic_response.txt"}]))
            .expect("the fixture exists");
        let replay = script.turns[0].replay.as_ref().expect("loaded");
        assert!(replay.is_sse && replay.body.starts_with(b"event: message_start"));
    }

    #[test]
    fn arguments_text_keeps_raw_strings() {
        let call: ToolCallSpec =
            serde_json::from_value(json!({"name": "read", "arguments": "{\"path\": "})).unwrap();
        assert_eq!(call.arguments_text(), "{\"path\": ");
        let call: ToolCallSpec =
            serde_json::from_value(json!({"name": "read", "arguments": {"path": "a"}})).unwrap();
        assert_eq!(call.arguments_text(), r#"{"path":"a"}"#);
        let call: ToolCallSpec = serde_json::from_value(json!({"name": "ls"})).unwrap();
        assert_eq!(call.arguments_text(), "{}");
    }
}

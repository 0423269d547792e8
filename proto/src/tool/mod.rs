//! Tools: what the model is told about them, and the pure logic of the built-ins.
//!
//! The set of tools is data, not a closed enum: built-ins, MCP servers and sub-agents all
//! describe themselves with a [`ToolDef`] — the [`ToolSpec`] the model sees plus the
//! permission that guards it. The agent knows tools only through these; whoever runs the
//! tools (cm-host natively, the browser build over a virtual file system) dispatches by
//! name and answers with a [`ToolOutcome`].
//!
//! File tools run over the [`FileSystem`] trait, so the same logic serves the real disk and
//! an in-memory tree ([`MemoryFs`]). Each built-in is a function from the parsed arguments,
//! the file system and the session's [`ReadLog`] to a [`ToolOutcome`]; failures are
//! outcomes too (`is_error`), worded so the model can correct itself. [`run_builtin`]
//! dispatches the file tools by name; the host adds `bash` and whatever else it runs.

pub mod apply_patch;
pub mod args;
mod builtin;
pub mod diff;
mod edit;
pub mod file_format;
mod fs;
pub mod html;
mod memory_fs;
mod multiedit;
mod read;
mod read_log;
mod similar_paths;
pub mod sniff;
pub mod todo;
pub mod webfetch;
mod write;

/// Base64 moved to [`crate::base64`]; kept here so existing paths still work.
pub use crate::base64;
pub use apply_patch::apply_patch;
pub use builtin::{
    apply_patch_def, bash_def, builtin_defs, edit_def, multiedit_def, read_def, run_builtin,
    write_def, BASH_DEFAULT_TIMEOUT_MS, BASH_MAX_TIMEOUT_MS,
};
pub use edit::edit;
pub use fs::{DirEntry, FileKind, FileSystem, FsError, Metadata};
pub use memory_fs::MemoryFs;
pub use multiedit::multiedit;
pub use read::{read, DEFAULT_READ_LIMIT, MAX_LINE_CHARS, MAX_READ_OUTPUT_BYTES};
pub use read_log::{fnv1a64, ReadLog, StaleRead};
pub use todo::{todoread_def, todowrite_def, Todo, TodoPriority, TodoStatus};
pub use webfetch::webfetch_def;
pub use write::write;

use serde::{Deserialize, Serialize};

use crate::message::ToolOutput;

/// What the model is told about one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by; providers require `^[a-zA-Z0-9_-]{1,64}$`.
    pub name: String,
    /// When and how to use the tool, written for the model.
    pub description: String,
    /// A JSON Schema object (`"type": "object"`) for the tool's arguments.
    pub input_schema: serde_json::Value,
}

/// A tool as the agent knows it: its spec and how it is guarded and scheduled.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    /// What the model sees.
    pub spec: ToolSpec,
    /// The permission key that guards it (`read`, `edit`, `bash`, `webfetch`, `todo`, …).
    pub permission: String,
    /// The argument whose value permission patterns match (`command`, `path`, `url`).
    ///
    /// An argument named `patch` holds an `apply_patch`-format patch: each file path it
    /// touches is a subject of its own (see [`ToolDef::subjects`]).
    pub subject: Option<String>,
    /// Whether it must run alone; shared tools (reads, searches) may run concurrently.
    pub exclusive: bool,
}

impl ToolDef {
    /// The values permission rules must allow for a call with `input`: the subject
    /// argument's value, every path of a `patch` argument, or one empty subject when the
    /// tool has none (so its permission is still checked once).
    pub fn subjects(&self, input: &serde_json::Value) -> Vec<String> {
        let Some(key) = self.subject.as_deref() else {
            return vec![String::new()];
        };
        if key == "patch" {
            let paths = apply_patch::paths(input);
            return if paths.is_empty() {
                vec![String::new()]
            } else {
                paths
            };
        }
        match input.get(key) {
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            Some(other) => vec![other.to_string()],
            None => vec![String::new()],
        }
    }
}

/// A tool call the agent has cleared to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInvocation {
    /// The model's call id.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The parsed arguments (always a JSON object).
    pub input: serde_json::Value,
    /// Extra permissions granted for this run (e.g. `external_directory` after the user
    /// allowed a path outside the workspace).
    pub granted: Vec<String>,
}

/// What running a tool produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolOutcome {
    /// What the model sees.
    pub content: Vec<ToolOutput>,
    /// Whether the tool failed; `content` says why, in words the model can act on.
    pub is_error: bool,
    /// One line for people ("read src/main.rs (120 lines)").
    pub summary: String,
    /// Files changed, with what an exact undo needs.
    pub changes: Vec<FileChange>,
    /// The tool did not run: it needs this permission first.
    pub needs: Option<PermissionNeed>,
    /// Structured data for people's interfaces, passed on in `Event::ToolDone`; the model
    /// never sees it (`todowrite`/`todoread`: `{"todos": [...]}`).
    pub display: Option<serde_json::Value>,
}

#[cfg(test)]
mod file_change_tests {
    use super::FileChange;

    #[test]
    fn text_is_a_string_and_binary_is_base64_and_both_round_trip() {
        let change = FileChange {
            path: "a.txt".into(),
            before: Some(b"hello\n".to_vec()),
            after: Some(vec![0xff, 0x00, 0x10]),
        };
        let json = serde_json::to_value(&change).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"path": "a.txt", "before": "hello\n", "after": {"base64": "/wAQ"}})
        );
        let back: FileChange = serde_json::from_value(json).unwrap();
        assert_eq!(back, change);
        let created = FileChange {
            path: "n".into(),
            before: None,
            after: Some(Vec::new()),
        };
        let json = serde_json::to_string(&created).unwrap();
        assert_eq!(json, r#"{"path":"n","before":null,"after":""}"#);
        assert_eq!(serde_json::from_str::<FileChange>(&json).unwrap(), created);
    }
}

impl ToolOutcome {
    /// A successful outcome with one text output.
    pub fn text(text: impl Into<String>, summary: impl Into<String>) -> ToolOutcome {
        ToolOutcome {
            content: vec![ToolOutput::Text { text: text.into() }],
            summary: summary.into(),
            ..ToolOutcome::default()
        }
    }

    /// The failed outcome for a file-system error; a path outside the workspace also
    /// sets [`ToolOutcome::needs`] to `external_directory` for the resolved path.
    pub fn fs_error(error: &FsError) -> ToolOutcome {
        let mut outcome = ToolOutcome::error(error.to_string());
        if let FsError::OutsideWorkspace { resolved, .. } = error {
            outcome.needs = Some(PermissionNeed {
                permission: "external_directory".into(),
                subject: resolved.clone(),
            });
        }
        outcome
    }

    /// A failed outcome whose text tells the model what went wrong.
    pub fn error(text: impl Into<String>) -> ToolOutcome {
        let text = text.into();
        ToolOutcome {
            summary: text.lines().next().unwrap_or_default().to_string(),
            content: vec![ToolOutput::Text { text }],
            is_error: true,
            ..ToolOutcome::default()
        }
    }
}

/// One file change, recorded so a turn can be undone exactly.
///
/// In JSON each content is a string when it is UTF-8 and `{"base64": "…"}` otherwise, so
/// session logs stay readable and exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path as the tool resolved it.
    pub path: String,
    /// The content before; `None` when the file did not exist.
    #[serde(with = "file_content")]
    pub before: Option<Vec<u8>>,
    /// The content after; `None` when the file was deleted.
    #[serde(with = "file_content")]
    pub after: Option<Vec<u8>>,
}

/// The serde form of file contents in [`FileChange`].
mod file_content {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Binary { base64: String },
    }

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        let repr = bytes.as_ref().map(|b| match std::str::from_utf8(b) {
            Ok(text) => Repr::Text(text.to_string()),
            Err(_) => Repr::Binary {
                base64: super::base64::encode(b),
            },
        });
        repr.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(None),
            Some(Repr::Text(text)) => Ok(Some(text.into_bytes())),
            Some(Repr::Binary { base64 }) => super::base64::decode(&base64)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("invalid base64 in file content")),
        }
    }
}

/// A permission a tool found it needs before it can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionNeed {
    /// The permission key (`external_directory`).
    pub permission: String,
    /// What the rules match against (the resolved path).
    pub subject: String,
}

/// What the caller tells the file tools about the model and the medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolOptions {
    /// The model accepts images in tool results; `read` then returns images as images.
    pub images: bool,
    /// Files larger than this are not read at all (the file system reads whole files).
    pub max_file_bytes: u64,
    /// Images larger than this are refused (providers cap an image near 5 MB of base64).
    pub max_image_bytes: u64,
}

impl Default for ToolOptions {
    /// No images; 50 MiB per file; 3.75 MiB per image (5 MiB once base64-encoded).
    fn default() -> ToolOptions {
        ToolOptions {
            images: false,
            max_file_bytes: 50 * 1024 * 1024,
            max_image_bytes: 3_932_160,
        }
    }
}

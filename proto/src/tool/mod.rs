//! Tools: what the model is told about them, and the pure logic of the built-ins.
//!
//! The set of tools is data, not a closed enum: built-ins, MCP servers and sub-agents all
//! describe themselves with a [`ToolDef`] — the [`ToolSpec`] the model sees plus the
//! permission that guards it. The agent knows tools only through these; whoever runs the
//! tools (cm-host natively, the browser build over a virtual file system) dispatches by
//! name and answers with a [`ToolOutcome`].
//!
//! File tools run over the [`FileSystem`] trait, so the same logic serves the real disk and
//! an in-memory tree.

mod fs;

pub use fs::{DirEntry, FileKind, FileSystem, FsError, Metadata};

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
    pub subject: Option<String>,
    /// Whether it must run alone; shared tools (reads, searches) may run concurrently.
    pub exclusive: bool,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path as the tool resolved it.
    pub path: String,
    /// The content before; `None` when the file did not exist.
    pub before: Option<Vec<u8>>,
    /// The content after; `None` when the file was deleted.
    pub after: Option<Vec<u8>>,
}

/// A permission a tool found it needs before it can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionNeed {
    /// The permission key (`external_directory`).
    pub permission: String,
    /// What the rules match against (the resolved path).
    pub subject: String,
}

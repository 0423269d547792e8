//! Tools as the model sees them: a name, a description and a JSON schema.
//!
//! The set of tools is data, not a closed enum: built-ins, MCP servers and sub-agents all
//! describe themselves with a [`ToolSpec`]. The built-in tools' logic arrives with the
//! agent issue.

use serde::{Deserialize, Serialize};

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

//! What the model is told about the search tools.

use cm_proto::tool::{ToolDef, ToolSpec};
use serde_json::{json, Value};

fn shared_read_def(name: &str, description: &str, input_schema: Value) -> ToolDef {
    ToolDef {
        spec: ToolSpec {
            name: name.into(),
            description: description.into(),
            input_schema,
        },
        permission: "read".into(),
        subject: Some("path".into()),
        exclusive: false,
    }
}

/// `glob`: permission `read`, subject `path`, shared.
pub fn glob_def() -> ToolDef {
    shared_read_def(
        "glob",
        "Find files by name pattern. Returns matching file paths, most recently modified \
         first, one per line.\n\
         - A pattern without a slash matches file names at any depth: `*.rs`, \
         `Cargo.toml`, `*.{ts,tsx}`. A pattern with a slash matches the path relative to \
         the searched directory: `src/**/*.rs` (`**` crosses directories, `*` does not).\n\
         - Files hidden by .gitignore (and .ignore) and everything in .git are left out.\n\
         - At most 100 paths are returned; a note says how many more matched, so narrow \
         the pattern or the path when you see it.\n\
         - Use it to locate files; use grep to search their contents. Several searches \
         can run in parallel.",
        json!({
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "description": "The glob pattern, e.g. `*.py` or `src/**/*.test.ts`."
                },
                "path": {
                    "type": "string",
                    "description": "The directory to search, relative to the workspace root or absolute. Default: the workspace root."
                }
            },
            "required": ["pattern"],
            "additionalProperties": false
        }),
    )
}

/// `grep`: permission `read`, subject `path`, shared.
pub fn grep_def() -> ToolDef {
    shared_read_def(
        "grep",
        "Search file contents with a regular expression. Returns matching lines as \
         `path:line: text`, files in path order.\n\
         - The pattern is a Rust regex (like ripgrep's): `fn\\s+main`, `TODO|FIXME`, \
         `log\\.error\\(`. Escape ( ) [ ] { } . * + ? | with a backslash to match them \
         literally; look-around and backreferences are not supported. Matching is per \
         line and case-sensitive; start the pattern with `(?i)` to ignore case.\n\
         - Narrow the files with `include`, a glob such as `*.rs` or `*.{ts,tsx}`, and \
         with `path` (a directory, or one file).\n\
         - Files hidden by .gitignore, .git and binary files are skipped. Long lines are \
         cut.\n\
         - At most 100 matching lines are returned; a note says when there were more.\n\
         - To find files by name use glob instead.",
        json!({
            "type": "object",
            "properties": {
                "pattern": {
                    "type": "string",
                    "description": "The regular expression to search for."
                },
                "path": {
                    "type": "string",
                    "description": "The directory (or file) to search, relative to the workspace root or absolute. Default: the workspace root."
                },
                "include": {
                    "type": "string",
                    "description": "Only search files matching this glob, e.g. `*.js` or `src/**/*.py`."
                }
            },
            "required": ["pattern"],
            "additionalProperties": false
        }),
    )
}

/// `ls`: permission `read`, subject `path`, shared.
pub fn ls_def() -> ToolDef {
    shared_read_def(
        "ls",
        "List a directory as an indented tree (directories end with `/`).\n\
         - Files hidden by .gitignore are left out, and so are directories such as \
         node_modules, target, dist, build, .git, __pycache__, .venv and vendor \
         (list one by path to see inside it).\n\
         - At most 100 entries, gathered level by level; a note says when there are \
         more, so list a subdirectory next.\n\
         - Prefer glob and grep when you know what you are looking for.",
        json!({
            "type": "object",
            "properties": {
                "path": {
                    "type": "string",
                    "description": "The directory to list, relative to the workspace root or absolute. Default: the workspace root."
                },
                "ignore": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Extra glob patterns of entries to leave out, e.g. [\"*.log\", \"fixtures\"]."
                }
            },
            "additionalProperties": false
        }),
    )
}

/// The search tools' definitions: `glob`, `grep`, `ls`.
pub fn search_defs() -> Vec<ToolDef> {
    vec![glob_def(), grep_def(), ls_def()]
}

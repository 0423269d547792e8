//! The search tools: `glob`, `grep` and `ls`, over any [`FileSystem`].
//!
//! They walk the tree through the trait's `list` and `metadata` (module `walk`), so the
//! browser build runs them over an in-memory workspace with this crate's default
//! features off. Every walk honours `.gitignore`, `.ignore` and `.git/info/exclude`
//! (matched by the `ignore` crate's gitignore matcher), skips `.git`, never follows a
//! symbolic link, and refuses a start outside the workspace with the
//! `external_directory` need. Output is capped so a huge tree costs the model little:
//! `glob` keeps the newest [`MAX_GLOB_RESULTS`] in a bounded heap, `grep` stops at
//! [`MAX_GREP_MATCHES`], `ls` at [`MAX_LS_ENTRIES`]; a note says what was left out.
//!
//! With the `native` feature, `run_native` takes a faster road on the real disk where
//! it gives the same answer (the `ignore` crate's parallel walker for `glob`).

mod defs;
mod glob;
mod grep;
mod ls;
#[cfg(feature = "native")]
mod native;
mod newest;
mod pattern;
mod rules;
mod walk;

pub use defs::{glob_def, grep_def, ls_def, search_defs};
pub use glob::glob;
pub use grep::grep;
pub use ls::{ls, DEFAULT_IGNORED_DIRS};
#[cfg(feature = "native")]
pub use native::{glob_native, run_native};

use cm_proto::tool::args::ArgError;
use cm_proto::tool::{FileSystem, ToolOutcome};
use serde_json::Value;

/// The most paths `glob` lists.
pub const MAX_GLOB_RESULTS: usize = 100;
/// The most matching lines `grep` shows.
pub const MAX_GREP_MATCHES: usize = 100;
/// Characters of a matching line `grep` shows before cutting it.
pub const MAX_GREP_LINE_CHARS: usize = 500;
/// The most entries `ls` shows.
pub const MAX_LS_ENTRIES: usize = 100;

/// Runs the search tool called `name` over `fs`; `None` when it is not one of them.
pub fn run_search(name: &str, input: &Value, fs: &dyn FileSystem) -> Option<ToolOutcome> {
    match name {
        "glob" => Some(glob(fs, input)),
        "grep" => Some(grep(fs, input)),
        "ls" => Some(ls(fs, input)),
        _ => None,
    }
}

/// An optional string argument; empty counts as absent (models send `""` for "none").
fn optional_str<'a>(input: &'a Value, name: &'static str) -> Result<Option<&'a str>, ArgError> {
    let object = input.as_object().ok_or(ArgError::NotAnObject)?;
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ArgError::Invalid {
            field: name,
            expected: "a string",
            got: other.to_string().chars().take(60).collect(),
        }),
    }
}

#[cfg(test)]
mod tests;

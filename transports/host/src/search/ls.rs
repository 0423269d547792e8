//! `ls`: a directory as an indented tree.
//!
//! The tree is gathered breadth first, so when the cap cuts it the top levels are whole
//! and the model can list a subdirectory for more. Besides the ignore files it hides the
//! directories nobody wants listed ([`DEFAULT_IGNORED_DIRS`]) below the start.

use std::collections::BTreeMap;

use cm_proto::tool::args::ArgError;
use cm_proto::tool::{FileSystem, ToolOutcome};
use serde_json::Value;

use super::pattern::Pattern;
use super::walk::{relative, start, Flow, Found, Kind, Start, Walker};
use super::{optional_str, MAX_LS_ENTRIES};

/// Directories `ls` does not descend into or show: dependencies, build output, caches,
/// virtual environments and editor state.
pub const DEFAULT_IGNORED_DIRS: &[&str] = &[
    ".cache",
    ".git",
    ".gradle",
    ".idea",
    ".mypy_cache",
    ".next",
    ".nuxt",
    ".pytest_cache",
    ".terraform",
    ".tox",
    ".venv",
    ".vscode",
    ".zig-cache",
    "__pycache__",
    "build",
    "coverage",
    "dist",
    "node_modules",
    "target",
    "vendor",
    "venv",
    "zig-out",
];

/// Runs `ls` over any [`FileSystem`].
pub fn ls(fs: &dyn FileSystem, input: &Value) -> ToolOutcome {
    let fail = |e: ArgError| ToolOutcome::error(format!("ls: {e}"));
    let path = match optional_str(input, "path") {
        Ok(path) => path,
        Err(e) => return fail(e),
    };
    let extra = match ignore_patterns(input) {
        Ok(patterns) => patterns,
        Err(outcome) => return *outcome,
    };
    let dir = match start(fs, path) {
        Ok(Start::Dir(dir)) => dir,
        Ok(Start::File(file)) => {
            return ToolOutcome::error(format!(
                "ls: {file} is a file, not a directory; use read to see its contents"
            ))
        }
        Err(e) => return ToolOutcome::fs_error(&e),
    };
    let mut entries: Vec<Found> = Vec::new();
    let mut more = false;
    Walker::new(fs)
        .skipping(DEFAULT_IGNORED_DIRS)
        .trusting_file_kinds()
        .breadth_first(&dir, &mut |found| {
            let rel = relative(&dir.path, &found.path);
            if extra.iter().any(|p| p.matches(rel)) {
                return Flow::Skip;
            }
            if entries.len() == MAX_LS_ENTRIES {
                more = true;
                return Flow::Stop;
            }
            entries.push(found.clone());
            Flow::Continue
        });
    let text = render(&dir.path, &entries, more);
    let noun = if entries.len() == 1 {
        "entry"
    } else {
        "entries"
    };
    let plus = if more { "+" } else { "" };
    ToolOutcome::text(
        text,
        format!("ls {} ({}{plus} {noun})", dir.path, entries.len()),
    )
}

fn ignore_patterns(input: &Value) -> Result<Vec<Pattern>, Box<ToolOutcome>> {
    let Some(value) = input.get("ignore").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let invalid = || {
        ToolOutcome::error(format!(
            "ls: {}",
            ArgError::Invalid {
                field: "ignore",
                expected: "an array of glob patterns",
                got: value.to_string().chars().take(60).collect(),
            }
        ))
    };
    let items = value.as_array().ok_or_else(invalid)?;
    let mut patterns = Vec::with_capacity(items.len());
    for item in items {
        let text = item.as_str().ok_or_else(invalid)?;
        let text = text.trim_end_matches('/');
        patterns.push(
            Pattern::new(text).map_err(|e| {
                ToolOutcome::error(format!("ls: invalid ignore glob {text:?}: {e}"))
            })?,
        );
    }
    Ok(patterns)
}

/// Writes the entries under `dir`, then each subdirectory's, indented by `depth`
/// (at most the cap deep: every level holds at least one entry).
fn write_level(out: &mut String, children: &BTreeMap<&str, Vec<&Found>>, dir: &str, depth: usize) {
    for found in children.get(dir).into_iter().flatten() {
        out.push_str(&"  ".repeat(depth));
        out.push_str(&found.name);
        if found.kind == Kind::Dir {
            out.push('/');
            out.push('\n');
            write_level(out, children, &found.path, depth + 1);
        } else {
            out.push('\n');
        }
    }
}

/// Renders the entries as a tree under `root`: directories first, then files, each by
/// name; directories end in `/`.
fn render(root: &str, entries: &[Found], more: bool) -> String {
    let mut children: BTreeMap<&str, Vec<&Found>> = BTreeMap::new();
    for found in entries {
        let parent =
            found.path.rsplit_once('/').map_or(
                ".",
                |(parent, _)| if parent.is_empty() { "/" } else { parent },
            );
        children.entry(parent).or_default().push(found);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| (a.kind != Kind::Dir, &a.name).cmp(&(b.kind != Kind::Dir, &b.name)));
    }
    let mut out = format!("{}/\n", root.trim_end_matches('/'));
    write_level(&mut out, &children, root, 1);
    if more {
        out.push_str(&format!(
            "\n(Showing the first {MAX_LS_ENTRIES} entries, level by level; there are more. \
             List a subdirectory to see the rest.)\n"
        ));
    }
    out
}

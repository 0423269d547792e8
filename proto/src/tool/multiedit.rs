//! The `multiedit` tool: several `old_string` → `new_string` edits to one file, all or
//! nothing.
//!
//! The edits are applied in order to the file's text in memory, each to the result of the
//! ones before, with `edit`'s own matching ([`apply_edit`]). Only when every edit applied
//! is the file written, once, as one [`FileChange`]; if any edit fails the file is
//! untouched and the error names the edit (`edits[i]`) and why. The read-before-edit rule,
//! BOM and line endings are as for `edit`; a missing file may be created when the first
//! edit's `old_string` is empty.

use serde_json::Value;

use super::args::{optional_bool, required_array, required_str, ArgError};
use super::edit::matching::line_of;
use super::edit::{apply_edit, EditFailure};
use super::file_format::{TextFormat, BOM};
use super::fs::{FileKind, FileSystem, FsError};
use super::similar_paths::not_found_message;
use super::{FileChange, ReadLog, StaleRead, ToolOutcome};

/// One edit of the list.
struct OneEdit {
    old: String,
    new: String,
    replace_all: bool,
}

/// Why the arguments cannot be used.
fn parse(input: &Value) -> Result<(&str, Vec<OneEdit>), String> {
    let path = required_str(input, "path").map_err(|e| e.to_string())?;
    let items = required_array(input, "edits").map_err(|e| e.to_string())?;
    if items.is_empty() {
        return Err("`edits` is empty; give at least one edit".into());
    }
    let mut edits = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let named = |err: ArgError| format!("edits[{index}]: {err}");
        edits.push(OneEdit {
            old: required_str(item, "old_string").map_err(named)?.to_string(),
            new: required_str(item, "new_string").map_err(named)?.to_string(),
            replace_all: optional_bool(item, "replace_all")
                .map_err(named)?
                .unwrap_or(false),
        });
    }
    Ok((path, edits))
}

/// Runs `multiedit` with arguments `path` and `edits` (`old_string`, `new_string`,
/// `replace_all` each).
pub fn multiedit(fs: &mut dyn FileSystem, input: &Value, log: &mut ReadLog) -> ToolOutcome {
    let (path, edits) = match parse(input) {
        Ok(args) => args,
        Err(text) => return ToolOutcome::error(text),
    };
    let count = edits.len();
    for (index, edit) in edits.iter().enumerate() {
        if edit.old == edit.new {
            return ToolOutcome::error(format!(
                "edits[{index}]: old_string and new_string are identical; there is nothing to \
                 change. No edit was applied."
            ));
        }
        if edit.old.is_empty() && index > 0 {
            return ToolOutcome::error(format!(
                "edits[{index}]: old_string is empty; only the first edit may have an empty \
                 old_string, to create a new file. No edit was applied."
            ));
        }
    }
    let resolved = match fs.resolve(path) {
        Ok(resolved) => resolved,
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    let creates = edits[0].old.is_empty();
    let before = match fs.metadata(path) {
        Ok(meta) if meta.kind == FileKind::Dir => {
            return ToolOutcome::error(format!("{path} is a directory, not a file"))
        }
        Ok(_) if !log.has_seen(&resolved) => {
            // Refused before reading: an unread file may be huge.
            return ToolOutcome::error(StaleRead::NotRead { path: resolved }.to_string());
        }
        Ok(_) => match fs.read(path) {
            Ok(bytes) => Some(bytes),
            Err(err) => return ToolOutcome::fs_error(&err),
        },
        Err(FsError::NotFound { .. }) if creates => None,
        Err(FsError::NotFound { .. }) => {
            return ToolOutcome::error(format!(
                "{}. To create a new file, give the first edit an empty old_string.",
                not_found_message(fs, path)
            ))
        }
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    let original = match before.as_deref().map(std::str::from_utf8) {
        None => "",
        Some(Ok(text)) => text,
        Some(Err(err)) => {
            return ToolOutcome::error(format!(
                "{path} is not valid UTF-8 (the first undecodable byte is at offset {}); \
                 multiedit cannot change it without corrupting it, so it was left untouched.",
                err.valid_up_to()
            ))
        }
    };
    if let Some(bytes) = &before {
        if let Err(stale) = log.check(&resolved, bytes) {
            return ToolOutcome::error(stale.to_string());
        }
    }
    if creates && !original.is_empty() {
        return ToolOutcome::error(format!(
            "edits[0]: {path} already exists and is not empty; an empty old_string only \
             creates a file. Give the text to replace as old_string. No edit was applied."
        ));
    }
    let mut format = TextFormat::detect(original);
    let mut body = original.strip_prefix(BOM).unwrap_or(original).to_string();
    let mut report = Vec::with_capacity(count);
    for (index, edit) in edits.iter().enumerate() {
        if edit.old.is_empty() {
            body = edit.new.clone();
            format = TextFormat::detect(&body);
            report.push(format!("edits[{index}]: created the file"));
            continue;
        }
        match apply_edit(&body, format.crlf, &edit.old, &edit.new, edit.replace_all) {
            Ok(applied) => {
                let lines: Vec<String> = applied
                    .changed
                    .iter()
                    .map(|&(at, _)| line_of(&applied.text, at).to_string())
                    .collect();
                let mut line = match lines.len() {
                    1 => format!("edits[{index}]: line {}", lines[0]),
                    n => format!("edits[{index}]: {n} places, lines {}", lines.join(", ")),
                };
                if let Some(ignored) = applied.strategy.ignored() {
                    line.push_str(&format!(" (matched after ignoring {ignored})"));
                }
                report.push(line);
                body = applied.text;
            }
            Err(failure) => {
                return ToolOutcome::error(failed(path, index, count, &failure, &body, &edit.old))
            }
        }
    }
    let after = if format.bom && !body.starts_with(BOM) {
        format!("{BOM}{body}")
    } else {
        body
    };
    if let Err(err) = fs.write(path, after.as_bytes()) {
        return ToolOutcome::fs_error(&err);
    }
    log.record(&resolved, after.as_bytes());
    let plural = if count == 1 { "" } else { "s" };
    let mut outcome = ToolOutcome::text(
        format!(
            "Applied {count} edit{plural} to {path} (lines as they were right after each \
             edit):\n{}",
            report.join("\n")
        ),
        format!("edited {resolved} ({count} edit{plural})"),
    );
    outcome.changes.push(FileChange {
        path: resolved,
        before,
        after: Some(after.into_bytes()),
    });
    outcome
}

fn failed(
    path: &str,
    index: usize,
    count: usize,
    failure: &EditFailure,
    body: &str,
    old: &str,
) -> String {
    let applied_before = if index == 0 {
        String::new()
    } else {
        format!(" (tried on the text as edits[0..{index}] left it)")
    };
    format!(
        "edits[{index}] of {count} failed{applied_before}: {}\nNo edit was applied; {path} is \
         unchanged. Fix that edit and send all of them again.",
        failure.message(path, body, old)
    )
}

#[cfg(test)]
mod tests;

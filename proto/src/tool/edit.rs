//! The `edit` tool: replace `old_string` with `new_string` in one file.
//!
//! Order of checks: arguments; `old_string != new_string`; the file exists (an empty
//! `old_string` on a missing file creates it); the file is UTF-8 (others are refused, their
//! bytes untouched); the [`ReadLog`] allows the change; then [`matching::find`] locates the
//! text (exact, then fallbacks for drift). The file's BOM and line endings are kept: the
//! replacement is converted to them. On failure the message says what to do; when nothing
//! matched it shows the most similar region ([`closest`]).

pub(super) mod closest;
pub(super) mod matching;

use serde_json::Value;

use super::args::{optional_bool, required_str, ArgError};
use super::file_format::{line_count, lines_phrase, to_crlf, to_lf, TextFormat, BOM};
use super::fs::{FileKind, FileSystem, FsError};
use super::similar_paths::not_found_message;
use super::{FileChange, ReadLog, StaleRead, ToolOutcome};
use matching::{find, line_of, Found, Strategy};

/// Lines of context shown around a change or a near miss.
const CONTEXT_LINES: usize = 2;
/// The most lines of a region shown in a message.
const MAX_SHOWN_LINES: usize = 30;

struct EditArgs<'a> {
    path: &'a str,
    old: &'a str,
    new: &'a str,
    replace_all: bool,
}

fn parse(input: &Value) -> Result<EditArgs<'_>, ArgError> {
    Ok(EditArgs {
        path: required_str(input, "path")?,
        old: required_str(input, "old_string")?,
        new: required_str(input, "new_string")?,
        replace_all: optional_bool(input, "replace_all")?.unwrap_or(false),
    })
}

/// Runs `edit` with arguments `path`, `old_string`, `new_string` and `replace_all`.
pub fn edit(fs: &mut dyn FileSystem, input: &Value, log: &mut ReadLog) -> ToolOutcome {
    let args = match parse(input) {
        Ok(args) => args,
        Err(err) => return ToolOutcome::error(err.to_string()),
    };
    let path = args.path;
    if args.old == args.new {
        return ToolOutcome::error(
            "old_string and new_string are identical; there is nothing to change",
        );
    }
    let resolved = match fs.resolve(path) {
        Ok(resolved) => resolved,
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    match fs.metadata(path) {
        Ok(meta) if meta.kind == FileKind::Dir => {
            return ToolOutcome::error(format!("{path} is a directory, not a file"))
        }
        Ok(_) => {}
        Err(FsError::NotFound { .. }) if args.old.is_empty() => {
            return create(fs, path, resolved, args.new, log)
        }
        Err(FsError::NotFound { .. }) => {
            return ToolOutcome::error(format!(
                "{}. To create a new file, use write (or edit with an empty old_string).",
                not_found_message(fs, path)
            ))
        }
        Err(err) => return ToolOutcome::fs_error(&err),
    }
    if !log.has_seen(&resolved) {
        // Refused before reading: an unread file may be huge.
        return ToolOutcome::error(StaleRead::NotRead { path: resolved }.to_string());
    }
    let before = match fs.read(path) {
        Ok(bytes) => bytes,
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    let text = match std::str::from_utf8(&before) {
        Ok(text) => text,
        Err(err) => {
            return ToolOutcome::error(format!(
                "{path} is not valid UTF-8 (the first undecodable byte is at offset {}); edit \
                 cannot change it without corrupting it, so it was left untouched. Use bash \
                 for this file.",
                err.valid_up_to()
            ))
        }
    };
    if let Err(stale) = log.check(&resolved, &before) {
        return ToolOutcome::error(stale.to_string());
    }
    if args.old.is_empty() {
        if !text.is_empty() {
            return ToolOutcome::error(format!(
                "{path} already exists and is not empty; an empty old_string only creates a \
                 file. Give the text to replace as old_string, or use write to replace the \
                 whole file."
            ));
        }
        return create(fs, path, resolved, args.new, log);
    }
    let format = TextFormat::detect(text);
    let body = text.strip_prefix(BOM).unwrap_or(text);
    let applied = match apply_edit(body, format.crlf, args.old, args.new, args.replace_all) {
        Ok(applied) => applied,
        Err(failure) => return ToolOutcome::error(failure.message(path, body, args.old)),
    };
    let after = if format.bom {
        format!("{BOM}{}", applied.text)
    } else {
        applied.text.clone()
    };
    if let Err(err) = fs.write(path, after.as_bytes()) {
        return ToolOutcome::fs_error(&err);
    }
    log.record(&resolved, after.as_bytes());
    let message = success_message(path, &applied.text, applied.strategy, &applied.changed);
    let count = applied.changed.len();
    let plural = if count == 1 { "" } else { "s" };
    let mut outcome = ToolOutcome::text(
        message,
        format!("edited {resolved} ({count} replacement{plural})"),
    );
    outcome.changes.push(FileChange {
        path: resolved,
        before: Some(before),
        after: Some(after.into_bytes()),
    });
    outcome
}

/// One edit applied to a file's text.
pub(super) struct Applied {
    /// The whole new text (BOM excluded).
    pub text: String,
    /// How `old_string` was found.
    pub strategy: Strategy,
    /// Byte offset and length of each replacement in `text`.
    pub changed: Vec<(usize, usize)>,
}

/// Why one edit could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EditFailure {
    /// `old_string` matches several places.
    Ambiguous {
        strategy: Strategy,
        lines: Vec<usize>,
    },
    /// The only fuzzy match is far longer than `old_string`.
    Disproportionate {
        strategy: Strategy,
        line: usize,
        matched: usize,
    },
    /// `old_string` is not in the text.
    NotFound,
    /// The replacement equals what it replaces.
    Unchanged,
}

impl EditFailure {
    /// The message for the model; `body` is the text the edit was tried on.
    pub(super) fn message(&self, path: &str, body: &str, old: &str) -> String {
        match self {
            EditFailure::Ambiguous { strategy, lines } => ambiguous_message(path, *strategy, lines),
            EditFailure::Disproportionate {
                strategy,
                line,
                matched,
            } => format!(
                "the only match for old_string in {path} (at line {line}, found by ignoring {}) \
                 spans {matched} bytes, far more than old_string's {}; it was not applied. Read \
                 the file and copy the exact text into old_string.",
                strategy.ignored().unwrap_or("nothing"),
                old.len()
            ),
            EditFailure::NotFound => not_found_in_file(path, body, old),
            EditFailure::Unchanged => format!(
                "the edit leaves {path} unchanged: new_string equals the text it would replace"
            ),
        }
    }
}

/// Replaces `old` with `new` in `body` (a file's text without BOM), finding it as `edit`
/// does; the replacement takes CRLF line endings when `crlf`.
pub(super) fn apply_edit(
    body: &str,
    crlf: bool,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<Applied, EditFailure> {
    let (strategy, spans) = match find(body, old, new, replace_all) {
        Found::Matches { strategy, spans } => (strategy, spans),
        Found::Ambiguous { strategy, lines } => {
            return Err(EditFailure::Ambiguous { strategy, lines })
        }
        Found::Disproportionate {
            strategy,
            line,
            matched,
        } => {
            return Err(EditFailure::Disproportionate {
                strategy,
                line,
                matched,
            })
        }
        Found::Nothing => return Err(EditFailure::NotFound),
    };
    let mut out = String::with_capacity(body.len());
    let mut changed = Vec::with_capacity(spans.len());
    let mut last = 0;
    for span in &spans {
        out.push_str(&body[last..span.range.start]);
        let replacement = if crlf {
            to_crlf(&span.replacement)
        } else {
            to_lf(&span.replacement)
        };
        changed.push((out.len(), replacement.len()));
        out.push_str(&replacement);
        last = span.range.end;
    }
    out.push_str(&body[last..]);
    if out == body {
        return Err(EditFailure::Unchanged);
    }
    Ok(Applied {
        text: out,
        strategy,
        changed,
    })
}

fn create(
    fs: &mut dyn FileSystem,
    path: &str,
    resolved: String,
    content: &str,
    log: &mut ReadLog,
) -> ToolOutcome {
    let before = fs.read(path).ok();
    if let Err(err) = fs.write(path, content.as_bytes()) {
        return ToolOutcome::fs_error(&err);
    }
    log.record(&resolved, content.as_bytes());
    let lines = lines_phrase(line_count(content));
    let mut outcome = ToolOutcome::text(
        format!("Created {path} ({lines})."),
        format!("created {resolved} ({lines})"),
    );
    outcome.changes.push(FileChange {
        path: resolved,
        before,
        after: Some(content.as_bytes().to_vec()),
    });
    outcome
}

/// `N: text` lines `first..=last` (1-based) of `text`, long lines cut.
pub(super) fn numbered(text: &str, first: usize, last: usize) -> String {
    let mut out = String::new();
    let shown_last = last.min(first.saturating_add(MAX_SHOWN_LINES - 1));
    for (index, line) in text.split('\n').enumerate().skip(first.saturating_sub(1)) {
        let number = index + 1;
        if number > shown_last {
            break;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line.char_indices().nth(200) {
            Some((cut, _)) => out.push_str(&format!("{number}: {}…\n", &line[..cut])),
            None => out.push_str(&format!("{number}: {line}\n")),
        }
    }
    if shown_last < last {
        out.push_str(&format!("(… {} more lines)\n", last - shown_last));
    }
    out
}

pub(super) fn success_message(
    path: &str,
    out: &str,
    strategy: Strategy,
    changed: &[(usize, usize)],
) -> String {
    let lines: Vec<usize> = changed.iter().map(|&(at, _)| line_of(out, at)).collect();
    let mut message = if let [(at, len)] = changed {
        let first = line_of(out, *at);
        let last = line_of(out, at.saturating_add(*len)).max(first);
        let total = line_count(out);
        format!(
            "Edited {path} at line {first}. The changed region now reads:\n{}",
            numbered(
                out,
                first.saturating_sub(CONTEXT_LINES).max(1),
                last.saturating_add(CONTEXT_LINES).min(total.max(1))
            )
        )
    } else {
        format!(
            "Edited {path}: replaced {} occurrences, at lines {}.",
            changed.len(),
            list_lines(&lines)
        )
    };
    if let Some(ignored) = strategy.ignored() {
        message.push_str(&format!(
            "\n(old_string did not match exactly; it matched after ignoring {ignored}.)"
        ));
    }
    message
}

fn list_lines(lines: &[usize]) -> String {
    let mut shown: Vec<String> = lines.iter().take(10).map(usize::to_string).collect();
    if lines.len() > 10 {
        shown.push(format!("… ({} more)", lines.len() - 10));
    }
    shown.join(", ")
}

fn ambiguous_message(path: &str, strategy: Strategy, lines: &[usize]) -> String {
    let count = lines.len();
    let at = list_lines(lines);
    match strategy.ignored() {
        None => format!(
            "old_string matches {count} places in {path} (starting at lines {at}). Include \
             more surrounding lines in old_string to make it unique, or set replace_all to \
             true to change every occurrence."
        ),
        Some(ignored) => format!(
            "old_string does not match {path} exactly, and after ignoring {ignored} it \
             matches {count} places (starting at lines {at}). Read the file and copy the \
             exact text, with enough surrounding lines to make it unique."
        ),
    }
}

fn not_found_in_file(path: &str, body: &str, old: &str) -> String {
    let mut message = format!("old_string was not found in {path}.");
    match closest::closest_region(body, old) {
        Some(region) => {
            let first = region.first_line;
            let last = first + region.lines - 1;
            let total = line_count(body);
            message.push_str(&format!(
                " The most similar part of the file is lines {first}-{last}:\n{}Copy the exact \
                 text from the file (whitespace and indentation included) into old_string, \
                 or read the file again if it may have changed.",
                numbered(
                    body,
                    first.saturating_sub(CONTEXT_LINES).max(1),
                    last.saturating_add(CONTEXT_LINES).min(total)
                )
            ));
        }
        None => message.push_str(
            " Nothing in the file resembles it; read the file to see its current content.",
        ),
    }
    message
}

#[cfg(test)]
mod tests;

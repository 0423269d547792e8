//! The `apply_patch` tool: add, delete, update and move files with one `*** Begin Patch`
//! text ([`parse`] reads it, [`apply`] applies each update's hunks).
//!
//! All or nothing: every file's new content is computed first, in memory, each operation
//! seeing the ones before it (a file may be deleted and then re-added, or updated twice);
//! only then are files written — new contents first, removals last — and if a write fails,
//! what was already written is restored. Updated and deleted files obey the read-before-edit
//! rule ([`ReadLog`]); adding a file needs none, adding one that exists is an error. A move
//! is recorded as the old path's deletion and the new path's addition. Updated files keep
//! their BOM and line endings.

pub mod apply;
pub mod parse;

use serde_json::Value;

use super::edit::closest::closest_region;
use super::edit::numbered;
use super::file_format::{line_count, lines_phrase, TextFormat, BOM};
use super::fs::{FileKind, FileSystem, FsError};
use super::similar_paths::not_found_message;
use super::{FileChange, ReadLog, StaleRead, ToolOutcome};
use apply::{apply_hunks, HunkError, Tolerance};
use parse::{FileOp, Hunk, HunkLine, Patch};

/// The argument holding the patch, then the names other agents' tools use for it.
const PATCH_ARGS: [&str; 4] = ["patch", "patchText", "patch_text", "input"];

/// The patch text of the arguments, under `patch` or a name other agents use.
fn patch_text(input: &Value) -> Option<&str> {
    PATCH_ARGS
        .iter()
        .find_map(|name| input.get(*name).and_then(Value::as_str))
}

/// Every path the patch in `input` touches (move targets included), as written and in
/// order, each once: what the `edit` permission must allow. Empty when the patch does
/// not parse — the tool then refuses it the same way, touching nothing.
pub fn paths(input: &Value) -> Vec<String> {
    let Some(Ok(patch)) = patch_text(input).map(parse::parse) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for op in &patch.ops {
        let mut add = |p: &str| {
            if !out.iter().any(|seen| seen == p) {
                out.push(p.to_string());
            }
        };
        add(op.path());
        if let FileOp::Update {
            move_to: Some(to), ..
        } = op
        {
            add(to);
        }
    }
    out
}

/// One file as the patch leaves it, before anything is written.
struct Staged {
    /// The path as first written in the patch (what the file system is given).
    path: String,
    resolved: String,
    /// On disk before the patch; `None` when absent.
    original: Option<Vec<u8>>,
    /// After the operations so far; `None` when absent.
    current: Option<Vec<u8>>,
    /// The read-before-edit rule was checked.
    checked: bool,
}

/// Why the patch cannot be applied: the outcome to return.
type Refusal = Box<ToolOutcome>;

fn refuse(text: String) -> Refusal {
    Box::new(ToolOutcome::error(format!(
        "{text}\nNo file was changed by this patch."
    )))
}

/// The files the patch touches, in the order it first touches them.
struct Stage<'a> {
    fs: &'a dyn FileSystem,
    log: &'a ReadLog,
    files: Vec<Staged>,
}

impl Stage<'_> {
    /// The staged file for `path`, loaded from disk on first touch; `must_read` applies
    /// the read-before-edit rule to an existing file.
    fn file(&mut self, path: &str, must_read: bool) -> Result<usize, Refusal> {
        let resolved = self
            .fs
            .resolve(path)
            .map_err(|err| Box::new(ToolOutcome::fs_error(&err)))?;
        let index = match self.files.iter().position(|f| f.resolved == resolved) {
            Some(index) => index,
            None => {
                let original = match self.fs.metadata(path) {
                    Ok(meta) if meta.kind == FileKind::Dir => {
                        return Err(refuse(format!("{path} is a directory, not a file.")))
                    }
                    Ok(_) if must_read && !self.log.has_seen(&resolved) => {
                        // Refused before reading: an unread file may be huge.
                        return Err(refuse(StaleRead::NotRead { path: resolved }.to_string()));
                    }
                    Ok(_) => Some(
                        self.fs
                            .read(path)
                            .map_err(|err| Box::new(ToolOutcome::fs_error(&err)))?,
                    ),
                    Err(FsError::NotFound { .. }) => None,
                    Err(err) => return Err(Box::new(ToolOutcome::fs_error(&err))),
                };
                self.files.push(Staged {
                    path: path.to_string(),
                    resolved,
                    current: original.clone(),
                    original,
                    checked: false,
                });
                self.files.len() - 1
            }
        };
        let staged = &mut self.files[index];
        if must_read && !staged.checked {
            // Only the first change of a file on disk needs the check; later ones in
            // the same patch build on it.
            if let Some(original) = &staged.original {
                if let Err(stale) = self.log.check(&staged.resolved, original) {
                    return Err(refuse(stale.to_string()));
                }
            }
            staged.checked = true;
        }
        Ok(index)
    }
}

/// Runs `apply_patch` with argument `patch` (the `*** Begin Patch` text).
pub fn apply_patch(fs: &mut dyn FileSystem, input: &Value, log: &mut ReadLog) -> ToolOutcome {
    if !input.is_object() {
        return ToolOutcome::error("the arguments must be a JSON object");
    }
    let Some(text) = patch_text(input) else {
        return ToolOutcome::error(
            "missing required argument `patch` (a string holding the whole patch, from \
             `*** Begin Patch` to `*** End Patch`)",
        );
    };
    let patch = match parse::parse(text) {
        Ok(patch) => patch,
        Err(err) => {
            return ToolOutcome::error(format!(
                "the patch is malformed: {err}. No file was changed. The format is \
                 `*** Begin Patch`, then for each file `*** Add File: path` (every line \
                 prefixed `+`), `*** Delete File: path`, or `*** Update File: path` with \
                 hunks (`@@`, then lines prefixed ` `, `-` or `+`), and `*** End Patch`."
            ))
        }
    };
    let (files, report) = match stage(&*fs, log, &patch) {
        Ok(staged) => staged,
        Err(refusal) => return *refusal,
    };
    let changed: Vec<&Staged> = files.iter().filter(|f| f.current != f.original).collect();
    if let Err(refusal) = commit(fs, &changed) {
        return *refusal;
    }
    let mut outcome = ToolOutcome::text(
        format!("Applied the patch:\n{}", report.join("\n")),
        format!(
            "patched {} file{}",
            changed.len(),
            if changed.len() == 1 { "" } else { "s" }
        ),
    );
    for file in changed {
        match &file.current {
            Some(bytes) => log.record(&file.resolved, bytes),
            None => log.forget(&file.resolved),
        }
        outcome.changes.push(FileChange {
            path: file.resolved.clone(),
            before: file.original.clone(),
            after: file.current.clone(),
        });
    }
    outcome
}

/// Computes every file's new content; the report has one line per operation.
fn stage(
    fs: &dyn FileSystem,
    log: &ReadLog,
    patch: &Patch,
) -> Result<(Vec<Staged>, Vec<String>), Refusal> {
    let mut stage = Stage {
        fs,
        log,
        files: Vec::new(),
    };
    let mut report = Vec::new();
    for op in &patch.ops {
        match op {
            FileOp::Add { path, content } => {
                let index = stage.file(path, false)?;
                let file = &mut stage.files[index];
                if file.current.is_some() {
                    return Err(refuse(format!(
                        "cannot add {path}: it already exists. Use `*** Update File: {path}` \
                         to change it (after reading it), or delete it first."
                    )));
                }
                file.current = Some(content.as_bytes().to_vec());
                report.push(format!(
                    "added {path} ({})",
                    lines_phrase(line_count(content))
                ));
            }
            FileOp::Delete { path } => {
                let index = stage.file(path, true)?;
                let file = &mut stage.files[index];
                if file.current.is_none() {
                    return Err(refuse(missing(fs, path, file.original.is_some(), "delete")));
                }
                file.current = None;
                report.push(format!("deleted {path}"));
            }
            FileOp::Update {
                path,
                move_to,
                hunks,
            } => {
                let index = stage.file(path, true)?;
                let file = &stage.files[index];
                let Some(bytes) = &file.current else {
                    return Err(refuse(missing(fs, path, file.original.is_some(), "update")));
                };
                let updated = update(path, bytes, hunks)?;
                let mut line = format!(
                    "updated {path} ({} hunk{})",
                    hunks.len(),
                    if hunks.len() == 1 { "" } else { "s" }
                );
                if let Some(ignored) = updated.1.ignored() {
                    line.push_str(&format!("; context matched after ignoring {ignored}"));
                }
                match move_to {
                    None => stage.files[index].current = Some(updated.0),
                    Some(target) => {
                        let to = stage.file(target, false)?;
                        if to != index {
                            if stage.files[to].current.is_some() {
                                return Err(refuse(format!(
                                    "cannot move {path} to {target}: {target} already \
                                     exists. Delete it first in the same patch if it should \
                                     be replaced."
                                )));
                            }
                            stage.files[index].current = None;
                        }
                        stage.files[to].current = Some(updated.0);
                        line.push_str(&format!(" and moved it to {target}"));
                    }
                }
                report.push(line);
            }
        }
    }
    Ok((stage.files, report))
}

fn missing(fs: &dyn FileSystem, path: &str, existed: bool, verb: &str) -> String {
    if existed {
        format!("cannot {verb} {path}: an earlier part of this patch deleted or moved it.")
    } else {
        format!(
            "cannot {verb} {path}: {}. To create a file use `*** Add File: {path}`.",
            not_found_message(fs, path)
        )
    }
}

/// The new bytes of a file after `hunks`, and the loosest tolerance used.
fn update(path: &str, bytes: &[u8], hunks: &[Hunk]) -> Result<(Vec<u8>, Tolerance), Refusal> {
    let text = std::str::from_utf8(bytes).map_err(|err| {
        refuse(format!(
            "cannot update {path}: it is not valid UTF-8 (the first undecodable byte is at \
             offset {}), so a patch cannot change it without corrupting it.",
            err.valid_up_to()
        ))
    })?;
    let format = TextFormat::detect(text);
    let body = text.strip_prefix(BOM).unwrap_or(text);
    match apply_hunks(body, format.crlf, hunks) {
        Ok(updated) => {
            let out = if format.bom {
                format!("{BOM}{}", updated.text)
            } else {
                updated.text
            };
            Ok((out.into_bytes(), updated.loosest))
        }
        Err(err) => Err(refuse(hunk_failure(path, body, hunks, &err))),
    }
}

/// The message for a hunk that did not apply: which, the lines that did not match, and
/// the part of the file most like them.
fn hunk_failure(path: &str, body: &str, hunks: &[Hunk], err: &HunkError) -> String {
    let number = match err {
        HunkError::AnchorNotFound { hunk, .. }
        | HunkError::ContextNotFound { hunk, .. }
        | HunkError::Ambiguous { hunk, .. } => *hunk,
    };
    let mut message = format!("cannot update {path}: {err}.");
    let Some(hunk) = number.checked_sub(1).and_then(|i| hunks.get(i)) else {
        return message;
    };
    match err {
        HunkError::Ambiguous { .. } => message.push_str(
            " Add context lines, or an `@@` line naming the enclosing function or class, so \
             the hunk matches one place.",
        ),
        HunkError::AnchorNotFound { .. } => message.push_str(
            " The text after `@@` must be a line of the file (such as a function's first \
             line), or leave it empty.",
        ),
        HunkError::ContextNotFound { .. } => {
            let expected: Vec<String> = hunk
                .lines
                .iter()
                .filter_map(|l| match l {
                    HunkLine::Context(t) => Some(format!(" {t}")),
                    HunkLine::Remove(t) => Some(format!("-{t}")),
                    HunkLine::Add(_) => None,
                })
                .collect();
            message.push_str(" These lines of the hunk did not match:\n");
            for line in expected.iter().take(30) {
                message.push_str(line);
                message.push('\n');
            }
            if expected.len() > 30 {
                message.push_str(&format!("(… {} more lines)\n", expected.len() - 30));
            }
            let old: Vec<&str> = expected.iter().map(|l| &l[1..]).collect();
            match closest_region(body, &old.join("\n")) {
                Some(region) => {
                    let last = region.first_line + region.lines - 1;
                    message.push_str(&format!(
                        "The most similar part of {path} is lines {}-{last}:\n{}",
                        region.first_line,
                        numbered(
                            body,
                            region.first_line.saturating_sub(2).max(1),
                            last.saturating_add(2).min(line_count(body).max(1))
                        )
                    ));
                }
                None => message.push_str(&format!("Nothing in {path} resembles them.\n")),
            }
            message.push_str(
                "Copy context and removed lines exactly from the file (read it again if it \
                 may have changed), without the `N: ` prefix read shows.",
            );
        }
    }
    message
}

/// Writes new contents, then removes deleted files; on a failure restores what was done.
fn commit(fs: &mut dyn FileSystem, changed: &[&Staged]) -> Result<(), Refusal> {
    let order: Vec<&Staged> = changed
        .iter()
        .filter(|f| f.current.is_some())
        .chain(changed.iter().filter(|f| f.current.is_none()))
        .copied()
        .collect();
    for (done, file) in order.iter().enumerate() {
        let result = match &file.current {
            Some(bytes) => fs.write(&file.path, bytes),
            None => fs.remove(&file.path),
        };
        let Err(err) = result else { continue };
        let mut unrestored = Vec::new();
        for earlier in order[..done].iter().rev() {
            let undone = match &earlier.original {
                Some(bytes) => fs.write(&earlier.path, bytes),
                None => fs.remove(&earlier.path),
            };
            if undone.is_err() {
                unrestored.push(earlier.resolved.as_str());
            }
        }
        let mut outcome = ToolOutcome::fs_error(&err);
        let note = if unrestored.is_empty() {
            format!(
                "\nThe patch was not applied: {done} file{} already changed {} restored.",
                if done == 1 { "" } else { "s" },
                if done == 1 { "was" } else { "were" }
            )
        } else {
            format!(
                "\nThe patch was not applied, and these files could not be restored: {}.",
                unrestored.join(", ")
            )
        };
        if let Some(crate::message::ToolOutput::Text { text }) = outcome.content.first_mut() {
            text.push_str(&note);
        }
        return Err(Box::new(outcome));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

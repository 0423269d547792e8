//! The `write` tool: a whole file's new content.
//!
//! Creating a file needs nothing; overwriting one needs a fresh read ([`ReadLog`]). An
//! overwritten UTF-8 file keeps its BOM and CRLF line endings even when the model wrote
//! plain LF text. The change is recorded (before/after) for undo.

use serde_json::Value;

use super::args::required_str;
use super::file_format::{line_count, lines_phrase, TextFormat};
use super::fs::{FileKind, FileSystem, FsError};
use super::{FileChange, ReadLog, StaleRead, ToolOutcome};

/// Runs `write` with arguments `path` and `content`.
pub fn write(fs: &mut dyn FileSystem, input: &Value, log: &mut ReadLog) -> ToolOutcome {
    let (path, content) = match required_str(input, "path")
        .and_then(|path| Ok((path, required_str(input, "content")?)))
    {
        Ok(args) => args,
        Err(err) => return ToolOutcome::error(err.to_string()),
    };
    let resolved = match fs.resolve(path) {
        Ok(resolved) => resolved,
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    let before = match fs.metadata(path) {
        Ok(meta) if meta.kind == FileKind::Dir => {
            return ToolOutcome::error(format!("{path} is a directory; give a file path"))
        }
        Ok(_) if !log.has_seen(&resolved) => {
            // Refused before reading: an unread file may be huge.
            return ToolOutcome::error(StaleRead::NotRead { path: resolved }.to_string());
        }
        Ok(_) => match fs.read(path) {
            Ok(bytes) => Some(bytes),
            Err(err) => return ToolOutcome::fs_error(&err),
        },
        Err(FsError::NotFound { .. }) => None,
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    if let Some(before) = &before {
        if let Err(stale) = log.check(&resolved, before) {
            return ToolOutcome::error(stale.to_string());
        }
    }
    let after = match before.as_deref().map(std::str::from_utf8) {
        Some(Ok(old)) => TextFormat::detect(old).apply(content),
        _ => content.to_string(),
    }
    .into_bytes();
    if let Err(err) = fs.write(path, &after) {
        return ToolOutcome::fs_error(&err);
    }
    log.record(&resolved, &after);
    let lines = lines_phrase(line_count(content));
    let (text, summary) = match &before {
        None => (
            format!("Created {path} ({lines})."),
            format!("created {resolved} ({lines})"),
        ),
        Some(old) => {
            let old_lines = lines_phrase(line_count(&String::from_utf8_lossy(old)));
            (
                format!("Overwrote {path} ({lines}; it had {old_lines})."),
                format!("overwrote {resolved} ({lines})"),
            )
        }
    };
    let mut outcome = ToolOutcome::text(text, summary);
    outcome.changes.push(FileChange {
        path: resolved,
        before,
        after: Some(after),
    });
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ToolOutput;
    use crate::tool::{read, MemoryFs, ToolOptions};
    use serde_json::json;

    fn text_of(outcome: &ToolOutcome) -> &str {
        match &outcome.content[..] {
            [ToolOutput::Text { text }] => text,
            other => panic!("expected one text output, got {other:?}"),
        }
    }

    fn read_it(fs: &MemoryFs, log: &mut ReadLog, path: &str) {
        let outcome = read(fs, &json!({ "path": path }), log, &ToolOptions::default());
        assert!(!outcome.is_error, "{outcome:?}");
    }

    #[test]
    fn write_new_file_creates_parents_and_records_the_change() {
        let mut fs = MemoryFs::new();
        let mut log = ReadLog::new();
        let input = json!({"path": "src/new/mod.rs", "content": "a\nb\n"});
        let outcome = write(&mut fs, &input, &mut log);
        assert!(!outcome.is_error, "{outcome:?}");
        assert_eq!(text_of(&outcome), "Created src/new/mod.rs (2 lines).");
        assert_eq!(outcome.summary, "created src/new/mod.rs (2 lines)");
        assert_eq!(fs.file("src/new/mod.rs"), Some(&b"a\nb\n"[..]));
        assert_eq!(
            outcome.changes,
            vec![FileChange {
                path: "src/new/mod.rs".into(),
                before: None,
                after: Some(b"a\nb\n".to_vec())
            }]
        );
        assert!(log.check("src/new/mod.rs", b"a\nb\n").is_ok());
    }

    #[test]
    fn write_existing_unread_file_is_refused() {
        let mut fs = MemoryFs::new().with_file("a.txt", "old\n");
        let outcome = write(
            &mut fs,
            &json!({"path": "a.txt", "content": "new"}),
            &mut ReadLog::new(),
        );
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("has not been read in this session; read it first"));
        assert_eq!(fs.file("a.txt"), Some(&b"old\n"[..]));
    }

    #[test]
    fn write_after_read_overwrites_and_keeps_the_before_content() {
        let mut fs = MemoryFs::new().with_file("a.txt", "old\n");
        let mut log = ReadLog::new();
        read_it(&fs, &mut log, "a.txt");
        let outcome = write(
            &mut fs,
            &json!({"path": "a.txt", "content": "n1\nn2\n"}),
            &mut log,
        );
        assert!(!outcome.is_error, "{outcome:?}");
        assert_eq!(
            text_of(&outcome),
            "Overwrote a.txt (2 lines; it had 1 line)."
        );
        assert_eq!(outcome.changes[0].before.as_deref(), Some(&b"old\n"[..]));
        assert_eq!(fs.file("a.txt"), Some(&b"n1\nn2\n"[..]));
        let again = write(
            &mut fs,
            &json!({"path": "a.txt", "content": "n3\n"}),
            &mut log,
        );
        assert!(!again.is_error, "its own write counts as seen: {again:?}");
    }

    #[test]
    fn write_file_changed_on_disk_since_read_is_refused() {
        let mut fs = MemoryFs::new().with_file("a.txt", "v1");
        let mut log = ReadLog::new();
        read_it(&fs, &mut log, "a.txt");
        fs.write("a.txt", b"v2 by someone else").unwrap();
        let outcome = write(
            &mut fs,
            &json!({"path": "a.txt", "content": "v3"}),
            &mut log,
        );
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("changed on disk since you last read it"));
        assert_eq!(fs.file("a.txt"), Some(&b"v2 by someone else"[..]));
    }

    #[test]
    fn write_over_crlf_bom_file_keeps_its_format() {
        let mut fs = MemoryFs::new().with_file("w.txt", "\u{feff}a\r\nb\r\n");
        let mut log = ReadLog::new();
        read_it(&fs, &mut log, "w.txt");
        let outcome = write(
            &mut fs,
            &json!({"path": "w.txt", "content": "x\ny\n"}),
            &mut log,
        );
        assert!(!outcome.is_error);
        assert_eq!(fs.file("w.txt"), Some("\u{feff}x\r\ny\r\n".as_bytes()));
    }

    #[test]
    fn write_to_a_directory_is_refused() {
        let mut fs = MemoryFs::new().with_file("src/a", "");
        let outcome = write(
            &mut fs,
            &json!({"path": "src", "content": ""}),
            &mut ReadLog::new(),
        );
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("is a directory"));
    }

    #[test]
    fn write_outside_the_workspace_needs_external_directory() {
        let mut fs = MemoryFs::new();
        let input = json!({"path": "/tmp/x", "content": "x"});
        let outcome = write(&mut fs, &input, &mut ReadLog::new());
        assert!(outcome.is_error);
        assert_eq!(outcome.needs.unwrap().subject, "/tmp/x");
        assert!(fs.file("/tmp/x").is_none());
    }

    #[test]
    fn write_bad_arguments_name_the_field() {
        let mut fs = MemoryFs::new();
        let outcome = write(&mut fs, &json!({"path": "a"}), &mut ReadLog::new());
        assert_eq!(
            text_of(&outcome),
            "missing required argument `content` (a string)"
        );
        let outcome = write(
            &mut fs,
            &json!({"path": "a\0", "content": ""}),
            &mut ReadLog::new(),
        );
        assert!(text_of(&outcome).contains("NUL"));
    }
}

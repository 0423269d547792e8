//! The `read` tool: a file's lines, numbered, for the model.
//!
//! Output format: one line per file line, `N: text`, where `N` is the 1-based line number
//! and `text` the line without its line ending. A footer in parentheses follows when
//! anything was left out, naming the `offset=` to continue from. Limits: `limit` lines
//! (default [`DEFAULT_READ_LIMIT`]), each cut at [`MAX_LINE_CHARS`] characters with a
//! marker, the whole output at most [`MAX_READ_OUTPUT_BYTES`]. Files over
//! [`ToolOptions::max_file_bytes`] are refused before they are read, since the file system
//! reads whole files. Images come back as image parts when the model accepts them; other
//! binary files are refused; non-UTF-8 text is shown lossily with a note.
//! A successful read is recorded in the [`ReadLog`], which lets `write` and `edit` change
//! the file.

use serde_json::Value;

use super::args::{optional_uint, required_str};
use super::base64;
use super::file_format::{line_count, lines_phrase};
use super::fs::{FileKind, FileSystem, FsError};
use super::similar_paths::not_found_message;
use super::sniff::{classify, Content};
use super::{ReadLog, ToolOptions, ToolOutcome};
use crate::message::{Image, ToolOutput};

/// Lines shown when the model gives no `limit`.
pub const DEFAULT_READ_LIMIT: u64 = 2000;
/// Characters kept of one line; the rest is replaced by a marker.
pub const MAX_LINE_CHARS: usize = 2000;
/// The most output `read` produces, in bytes (footer excluded).
pub const MAX_READ_OUTPUT_BYTES: usize = 50 * 1024;

/// Runs `read` with arguments `path`, `offset` (1-based first line) and `limit`.
pub fn read(
    fs: &dyn FileSystem,
    input: &Value,
    log: &mut ReadLog,
    options: &ToolOptions,
) -> ToolOutcome {
    let args = (|| {
        let path = required_str(input, "path")?;
        let offset = optional_uint(input, "offset", 0, "a line number (1 or more)")?;
        let limit = optional_uint(input, "limit", 1, "a positive number of lines")?;
        Ok::<_, super::args::ArgError>((path, offset.unwrap_or(1).max(1), limit))
    })();
    let (path, offset, limit) = match args {
        Ok(args) => args,
        Err(err) => return ToolOutcome::error(err.to_string()),
    };
    let limit = limit.unwrap_or(DEFAULT_READ_LIMIT);
    let resolved = match fs.resolve(path) {
        Ok(resolved) => resolved,
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    let metadata = match fs.metadata(path) {
        Ok(metadata) => metadata,
        Err(FsError::NotFound { .. }) => return ToolOutcome::error(not_found_message(fs, path)),
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    match metadata.kind {
        FileKind::File => {}
        FileKind::Dir => {
            return ToolOutcome::error(format!(
                "{path} is a directory; list it with ls instead of reading it"
            ))
        }
        FileKind::Other => {
            return ToolOutcome::error(format!("{path} is not a regular file; read cannot show it"))
        }
    }
    if metadata.len > options.max_file_bytes {
        return ToolOutcome::error(format!(
            "{path} is {} bytes, over read's limit of {} bytes. Search it with grep, or show \
             a part with bash (e.g. `sed -n '1000,1100p' {path}`).",
            metadata.len, options.max_file_bytes
        ));
    }
    let bytes = match fs.read(path) {
        Ok(bytes) => bytes,
        Err(err) => return ToolOutcome::fs_error(&err),
    };
    match classify(&resolved, &bytes) {
        Content::Image(media_type) => read_image(path, &resolved, &bytes, media_type, log, options),
        Content::Binary(why) => ToolOutcome::error(format!(
            "{path} looks like a binary file ({why}); read shows only text. \
             Inspect it with bash if needed (e.g. `file {path}` or `xxd {path} | head`)."
        )),
        Content::Text => {
            let outcome = read_text(path, &resolved, &bytes, offset, limit);
            if !outcome.is_error {
                log.record(&resolved, &bytes);
            }
            outcome
        }
    }
}

fn read_image(
    path: &str,
    resolved: &str,
    bytes: &[u8],
    media_type: &str,
    log: &mut ReadLog,
    options: &ToolOptions,
) -> ToolOutcome {
    let len = bytes.len();
    if !options.images {
        return ToolOutcome::error(format!(
            "{path} is an image ({media_type}, {len} bytes); the current model cannot view images"
        ));
    }
    if u64::try_from(len).unwrap_or(u64::MAX) > options.max_image_bytes {
        return ToolOutcome::error(format!(
            "{path} is an image of {len} bytes, over the limit of {} bytes for images",
            options.max_image_bytes
        ));
    }
    log.record(resolved, bytes);
    ToolOutcome {
        content: vec![
            ToolOutput::Text {
                text: format!("Image {path} ({media_type}, {len} bytes):"),
            },
            ToolOutput::Image(Image::Base64 {
                media_type: media_type.to_string(),
                data: base64::encode(bytes),
            }),
        ],
        summary: format!("read {resolved} (image, {len} bytes)"),
        ..ToolOutcome::default()
    }
}

fn read_text(path: &str, resolved: &str, bytes: &[u8], offset: u64, limit: u64) -> ToolOutcome {
    let (text, lossy) = match std::str::from_utf8(bytes) {
        Ok(text) => (std::borrow::Cow::Borrowed(text), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    };
    let text = text.strip_prefix(super::file_format::BOM).unwrap_or(&text);
    let total = line_count(text);
    if total == 0 {
        return ToolOutcome::text(
            format!("({path} is empty)"),
            format!("read {resolved} (empty)"),
        );
    }
    let first = usize::try_from(offset).unwrap_or(usize::MAX);
    if first > total {
        return ToolOutcome::error(format!(
            "offset {offset} is past the end of {path}, which has {total} lines"
        ));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = String::new();
    if lossy {
        out.push_str(&format!(
            "(note: {path} is not valid UTF-8; undecodable bytes are shown as \u{fffd}, and \
             edit will refuse this file)\n"
        ));
    }
    let mut last = first - 1;
    let mut capped = false;
    for (index, line) in text.split('\n').enumerate().skip(first - 1).take(limit) {
        let number = index + 1;
        if number > total {
            break;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let entry = match line.char_indices().nth(MAX_LINE_CHARS) {
            Some((cut, _)) => format!(
                "{number}: {}… [line cut: {} characters in all]\n",
                &line[..cut],
                line.chars().count()
            ),
            None => format!("{number}: {line}\n"),
        };
        if out.len().saturating_add(entry.len()) > MAX_READ_OUTPUT_BYTES && number > first {
            capped = true;
            break;
        }
        out.push_str(&entry);
        last = number;
    }
    if capped {
        out.push_str(&format!(
            "(Output capped at {} KB: showed lines {first}-{last} of {total}. Use offset={} to \
             read on.)\n",
            MAX_READ_OUTPUT_BYTES / 1024,
            last + 1
        ));
    } else if last < total {
        out.push_str(&format!(
            "(Showed lines {first}-{last} of {total}. Use offset={} to read on.)\n",
            last + 1
        ));
    } else if first > 1 {
        out.push_str(&format!("(End of file: {total} lines.)\n"));
    }
    let summary = if first == 1 && last == total {
        format!("read {resolved} ({})", lines_phrase(total))
    } else {
        format!("read {resolved} lines {first}-{last} of {total}")
    };
    ToolOutcome::text(out, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::MemoryFs;
    use serde_json::json;

    fn run(fs: &MemoryFs, input: Value) -> (ToolOutcome, ReadLog) {
        let mut log = ReadLog::new();
        let outcome = read(fs, &input, &mut log, &ToolOptions::default());
        (outcome, log)
    }

    fn text_of(outcome: &ToolOutcome) -> String {
        match &outcome.content[..] {
            [ToolOutput::Text { text }] => text.clone(),
            other => panic!("expected one text output, got {other:?}"),
        }
    }

    #[test]
    fn read_numbers_lines_from_one() {
        let fs = MemoryFs::new().with_file("src/a.rs", "fn main() {\n    x();\n}\n");
        let (outcome, log) = run(&fs, json!({"path": "src/a.rs"}));
        assert!(!outcome.is_error);
        assert_eq!(text_of(&outcome), "1: fn main() {\n2:     x();\n3: }\n");
        assert_eq!(outcome.summary, "read src/a.rs (3 lines)");
        assert!(log.has_seen("src/a.rs"));
    }

    #[test]
    fn read_with_offset_and_limit_says_how_to_continue() {
        let body: String = (1..=10).map(|i| format!("line {i}\n")).collect();
        let fs = MemoryFs::new().with_file("f.txt", body);
        let (outcome, _) = run(&fs, json!({"path": "f.txt", "offset": 3, "limit": 2}));
        assert_eq!(
            text_of(&outcome),
            "3: line 3\n4: line 4\n(Showed lines 3-4 of 10. Use offset=5 to read on.)\n"
        );
        assert_eq!(outcome.summary, "read f.txt lines 3-4 of 10");
        let (outcome, _) = run(&fs, json!({"path": "f.txt", "offset": "9"}));
        assert_eq!(
            text_of(&outcome),
            "9: line 9\n10: line 10\n(End of file: 10 lines.)\n"
        );
    }

    #[test]
    fn read_defaults_to_2000_lines() {
        let body: String = (1..=2500).map(|i| format!("{i}\n")).collect();
        let fs = MemoryFs::new().with_file("big.txt", body);
        let (outcome, _) = run(&fs, json!({"path": "big.txt"}));
        let text = text_of(&outcome);
        assert!(text.contains("\n2000: 2000\n"));
        assert!(!text.contains("2001: "));
        assert!(text.ends_with("(Showed lines 1-2000 of 2500. Use offset=2001 to read on.)\n"));
    }

    #[test]
    fn read_offset_past_the_end_is_an_error() {
        let fs = MemoryFs::new().with_file("f", "a\nb\n");
        let (outcome, _) = run(&fs, json!({"path": "f", "offset": 3}));
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("past the end of f, which has 2 lines"));
    }

    #[test]
    fn read_cuts_long_lines_with_a_marker() {
        let long = "é".repeat(2500);
        let fs = MemoryFs::new().with_file("long.txt", format!("{long}\nshort\n"));
        let (outcome, _) = run(&fs, json!({"path": "long.txt"}));
        let text = text_of(&outcome);
        let first = text.lines().next().unwrap();
        assert_eq!(first.matches('é').count(), MAX_LINE_CHARS);
        assert!(
            first.ends_with("… [line cut: 2500 characters in all]"),
            "{first}"
        );
        assert!(text.contains("2: short\n"));
    }

    #[test]
    fn read_caps_output_near_50_kb_and_names_the_next_offset() {
        let body: String = (1..=1000)
            .map(|i| format!("{i:04}{}\n", "x".repeat(196)))
            .collect();
        let fs = MemoryFs::new().with_file("wide.txt", body);
        let (outcome, _) = run(&fs, json!({"path": "wide.txt"}));
        let text = text_of(&outcome);
        assert!(text.len() <= MAX_READ_OUTPUT_BYTES + 200, "{}", text.len());
        let footer = text.lines().last().unwrap();
        assert!(
            footer.starts_with("(Output capped at 50 KB: showed lines 1-"),
            "{footer}"
        );
        let shown = text.lines().count() - 1;
        assert!(
            footer.contains(&format!("Use offset={} to read on", shown + 1)),
            "{footer}"
        );
    }

    #[test]
    fn read_crlf_file_shows_lines_without_carriage_returns() {
        let fs = MemoryFs::new().with_file("w.txt", "\u{feff}a\r\nb\r\n");
        let (outcome, _) = run(&fs, json!({"path": "w.txt"}));
        assert_eq!(text_of(&outcome), "1: a\n2: b\n");
    }

    #[test]
    fn read_empty_file_says_it_is_empty() {
        let fs = MemoryFs::new().with_file("e", "");
        let (outcome, log) = run(&fs, json!({"path": "e"}));
        assert!(!outcome.is_error);
        assert_eq!(text_of(&outcome), "(e is empty)");
        assert!(log.has_seen("e"));
    }

    #[test]
    fn read_directory_suggests_ls() {
        let fs = MemoryFs::new().with_file("src/a.rs", "");
        let (outcome, log) = run(&fs, json!({"path": "src"}));
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("is a directory; list it with ls"));
        assert!(!log.has_seen("src"));
    }

    #[test]
    fn read_missing_file_suggests_similar_names() {
        let fs = MemoryFs::new()
            .with_file("src/config.rs", "")
            .with_file("src/confg.rs.bak", "")
            .with_file("src/zzz.rs", "");
        let (outcome, _) = run(&fs, json!({"path": "src/confi.rs"}));
        assert!(outcome.is_error);
        let text = text_of(&outcome);
        assert!(
            text.starts_with("src/confi.rs does not exist. Did you mean: src/config.rs"),
            "{text}"
        );
        assert!(!text.contains("zzz"), "{text}");
    }

    #[test]
    fn read_binary_file_is_refused() {
        let fs = MemoryFs::new()
            .with_file("data.bin.txt", b"abc\0def")
            .with_file("lib.so", b"ELF");
        let (outcome, log) = run(&fs, json!({"path": "data.bin.txt"}));
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("looks like a binary file (it contains NUL bytes)"));
        assert!(!log.has_seen("data.bin.txt"));
        let (outcome, _) = run(&fs, json!({"path": "lib.so"}));
        assert!(text_of(&outcome).contains("extension"));
    }

    #[test]
    fn read_non_utf8_text_lossily_with_a_note() {
        let fs = MemoryFs::new().with_file("latin1.txt", b"caf\xe9\n");
        let (outcome, log) = run(&fs, json!({"path": "latin1.txt"}));
        assert!(!outcome.is_error);
        let text = text_of(&outcome);
        assert!(
            text.starts_with("(note: latin1.txt is not valid UTF-8"),
            "{text}"
        );
        assert!(text.contains("1: caf\u{fffd}\n"), "{text}");
        assert!(log.has_seen("latin1.txt"));
    }

    #[test]
    fn read_image_returns_an_image_part_when_the_model_accepts_images() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let fs = MemoryFs::new().with_file("logo.png", png.clone());
        let mut log = ReadLog::new();
        let options = ToolOptions {
            images: true,
            ..ToolOptions::default()
        };
        let outcome = read(&fs, &json!({"path": "logo.png"}), &mut log, &options);
        assert!(!outcome.is_error);
        assert_eq!(
            outcome.content[1],
            ToolOutput::Image(Image::Base64 {
                media_type: "image/png".into(),
                data: base64::encode(&png),
            })
        );
        assert_eq!(outcome.summary, "read logo.png (image, 16 bytes)");
    }

    #[test]
    fn read_image_for_a_text_only_model_says_it_cannot_view_it() {
        let fs = MemoryFs::new().with_file("p.gif", b"GIF89a....");
        let (outcome, _) = run(&fs, json!({"path": "p.gif"}));
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("cannot view images"));
    }

    #[test]
    fn read_oversized_image_is_refused() {
        let fs = MemoryFs::new().with_file("big.jpg", [0xff, 0xd8, 0xff, 0, 0, 0]);
        let options = ToolOptions {
            images: true,
            max_image_bytes: 4,
            ..ToolOptions::default()
        };
        let outcome = read(
            &fs,
            &json!({"path": "big.jpg"}),
            &mut ReadLog::new(),
            &options,
        );
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("over the limit of 4 bytes"));
    }

    #[test]
    fn read_huge_file_is_refused_before_reading_with_a_hint() {
        let fs = MemoryFs::new().with_file("huge.log", vec![b'a'; 4096]);
        let options = ToolOptions {
            max_file_bytes: 4095,
            ..ToolOptions::default()
        };
        let outcome = read(
            &fs,
            &json!({"path": "huge.log"}),
            &mut ReadLog::new(),
            &options,
        );
        assert!(outcome.is_error);
        let text = text_of(&outcome);
        assert!(
            text.contains("4096 bytes, over read's limit of 4095 bytes"),
            "{text}"
        );
        assert!(text.contains("grep"), "{text}");
    }

    #[test]
    fn read_hostile_paths_are_refused() {
        let fs = MemoryFs::new().with_file("a", "x");
        let (outcome, _) = run(&fs, json!({"path": "../../etc/passwd"}));
        assert!(outcome.is_error);
        let need = outcome
            .needs
            .expect("outside the workspace needs a permission");
        assert_eq!(need.permission, "external_directory");
        assert_eq!(need.subject, "/etc/passwd");
        let (outcome, _) = run(&fs, json!({"path": "a\u{0}b"}));
        assert!(outcome.is_error);
        assert!(text_of(&outcome).contains("NUL"));
        assert!(outcome.needs.is_none());
    }

    #[test]
    fn read_bad_arguments_name_the_field() {
        let fs = MemoryFs::new().with_file("a", "x");
        let (outcome, _) = run(&fs, json!({}));
        assert_eq!(
            text_of(&outcome),
            "missing required argument `path` (a string)"
        );
        let (outcome, _) = run(&fs, json!({"path": "a", "limit": 0}));
        assert!(text_of(&outcome).starts_with("argument `limit` must be a positive number"));
        let (outcome, _) = run(&fs, json!({"path": "a", "offset": "x"}));
        assert!(text_of(&outcome).starts_with("argument `offset`"));
    }
}

//! Reading the `*** Begin Patch` format into file operations.
//!
//! ```text
//! *** Begin Patch
//! *** Add File: path            followed by lines prefixed `+`
//! *** Delete File: path
//! *** Update File: path
//! *** Move to: new/path         optional, right after Update File
//! @@ optional anchor line       starts a hunk; stacked @@ lines narrow the search
//!  context / -removed / +added
//! *** End of File               the hunk ends at the end of the file
//! *** End Patch
//! ```
//!
//! Tolerated: a heredoc wrapper (`apply_patch <<'EOF'` … `EOF`) or a Markdown fence around
//! the patch, blank lines around it and between files, CRLF, a missing first `@@`, unified
//! diff `@@ -1,3 +1,4 @@ text` headers (their trailing text is the anchor), bare empty lines
//! standing for empty context lines, and blank lines at the end of a hunk (dropped).

use std::fmt;

/// A parsed patch: its file operations, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The operations, in the order written.
    pub ops: Vec<FileOp>,
}

/// One file operation of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    /// Create a file that does not exist.
    Add {
        /// The path as written.
        path: String,
        /// The new content (LF line endings, ending with a newline).
        content: String,
    },
    /// Remove a file.
    Delete {
        /// The path as written.
        path: String,
    },
    /// Change a file by hunks, and maybe move it.
    Update {
        /// The path as written.
        path: String,
        /// Where the file moves to, if anywhere.
        move_to: Option<String>,
        /// The hunks, in file order.
        hunks: Vec<Hunk>,
    },
}

impl FileOp {
    /// The path the operation names first.
    pub fn path(&self) -> &str {
        match self {
            FileOp::Add { path, .. } | FileOp::Delete { path } | FileOp::Update { path, .. } => {
                path
            }
        }
    }
}

/// One `@@` section of an update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hunk {
    /// The texts after `@@`, each a line to find (in order) before the hunk's lines.
    pub anchors: Vec<String>,
    /// Context, removed and added lines.
    pub lines: Vec<HunkLine>,
    /// The hunk must end at the end of the file (`*** End of File`).
    pub end_of_file: bool,
}

/// One line of a hunk, without its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    /// ` text`: must be in the file, stays.
    Context(String),
    /// `-text`: must be in the file, goes.
    Remove(String),
    /// `+text`: comes in.
    Add(String),
}

/// Why a patch could not be read; `line` numbers count lines of the patch text from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The patch text is empty.
    Empty,
    /// The first line is not `*** Begin Patch`.
    MissingBegin {
        /// The first line found.
        found: String,
    },
    /// No `*** End Patch` line.
    MissingEnd,
    /// Something other than blank lines follows `*** End Patch`.
    TextAfterEnd {
        /// Where.
        line: usize,
    },
    /// The patch names no file.
    NoFiles,
    /// A line where a file header belongs is not one.
    ExpectedFileHeader {
        /// Where.
        line: usize,
        /// The line.
        text: String,
    },
    /// A file header without a path.
    EmptyPath {
        /// Where.
        line: usize,
    },
    /// A line of an added file without its `+`.
    AddLineWithoutPlus {
        /// Where.
        line: usize,
        /// The file being added.
        path: String,
        /// The line.
        text: String,
    },
    /// A line of an update that is not a hunk line.
    BadHunkLine {
        /// Where.
        line: usize,
        /// The file being updated.
        path: String,
        /// The line.
        text: String,
    },
    /// An update with no hunks and no move.
    UpdateWithoutHunks {
        /// The file.
        path: String,
    },
    /// An `@@` line with no lines under it.
    EmptyHunk {
        /// Where the hunk started.
        line: usize,
        /// The file being updated.
        path: String,
    },
    /// `*** End of File` outside a hunk.
    StrayEndOfFile {
        /// Where.
        line: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "the patch is empty"),
            ParseError::MissingBegin { found } => write!(
                f,
                "the patch must start with `*** Begin Patch`, but starts with `{}`",
                cut(found)
            ),
            ParseError::MissingEnd => write!(f, "the patch must end with `*** End Patch`"),
            ParseError::TextAfterEnd { line } => {
                write!(f, "line {line}: text after `*** End Patch`")
            }
            ParseError::NoFiles => write!(f, "the patch names no file to change"),
            ParseError::ExpectedFileHeader { line, text } => write!(
                f,
                "line {line}: expected `*** Add File: `, `*** Update File: ` or \
                 `*** Delete File: ` followed by a path, got `{}`",
                cut(text)
            ),
            ParseError::EmptyPath { line } => write!(f, "line {line}: the file header has no path"),
            ParseError::AddLineWithoutPlus { line, path, text } => write!(
                f,
                "line {line}: every line of added file {path} must start with `+`, got `{}`",
                cut(text)
            ),
            ParseError::BadHunkLine { line, path, text } => write!(
                f,
                "line {line}: in the update of {path}, a line must start with ` ` (context), \
                 `-` (removed), `+` (added), `@@` or `***`, got `{}`",
                cut(text)
            ),
            ParseError::UpdateWithoutHunks { path } => {
                write!(f, "the update of {path} has no hunks")
            }
            ParseError::EmptyHunk { line, path } => {
                write!(f, "line {line}: a hunk of {path} has no lines")
            }
            ParseError::StrayEndOfFile { line } => {
                write!(f, "line {line}: `*** End of File` outside a hunk")
            }
        }
    }
}

impl std::error::Error for ParseError {}

fn cut(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const ADD: &str = "*** Add File:";
const DELETE: &str = "*** Delete File:";
const UPDATE: &str = "*** Update File:";
const MOVE: &str = "*** Move to:";
const END_OF_FILE: &str = "*** End of File";

fn is_file_header(line: &str) -> bool {
    let line = line.trim();
    line.starts_with(ADD) || line.starts_with(DELETE) || line.starts_with(UPDATE) || line == END
}

/// The lines of the patch proper with their 1-based numbers: wrapper and blank lines
/// around it removed.
fn unwrap(text: &str) -> Vec<(usize, &str)> {
    let mut lines: Vec<(usize, &str)> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    trim_blank(&mut lines);
    if let Some(delimiter) = lines.first().and_then(|(_, l)| heredoc_delimiter(l)) {
        lines.remove(0);
        let closes = |l: &str| l.trim().trim_end_matches(['\'', '"', ')']) == delimiter;
        if lines.last().is_some_and(|(_, l)| closes(l)) {
            lines.pop();
        }
        trim_blank(&mut lines);
    }
    let fenced = lines.len() >= 2
        && lines
            .first()
            .is_some_and(|(_, l)| l.trim().starts_with("```"))
        && lines.last().is_some_and(|(_, l)| l.trim() == "```");
    if fenced {
        lines.remove(0);
        lines.pop();
        trim_blank(&mut lines);
    }
    lines
}

fn trim_blank(lines: &mut Vec<(usize, &str)>) {
    while lines.last().is_some_and(|(_, l)| l.trim().is_empty()) {
        lines.pop();
    }
    let leading = lines
        .iter()
        .take_while(|(_, l)| l.trim().is_empty())
        .count();
    lines.drain(..leading);
}

/// `EOF` for `apply_patch <<'EOF'`, `cat <<EOF`, `<<-"END"`; `None` for other lines.
fn heredoc_delimiter(line: &str) -> Option<&str> {
    let line = line.trim();
    if line.starts_with("***") {
        return None;
    }
    let (_, rest) = line.split_once("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let rest = rest.trim_start_matches(['\'', '"']);
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let delimiter = &rest[..end];
    (!delimiter.is_empty()).then_some(delimiter)
}

/// The text after a header, trimmed; an error when empty.
fn header_path(line: usize, rest: &str) -> Result<String, ParseError> {
    let path = rest.trim();
    if path.is_empty() {
        return Err(ParseError::EmptyPath { line });
    }
    Ok(path.to_string())
}

/// The anchor of an `@@` line: its text, or for a unified-diff header
/// (`@@ -3,7 +3,8 @@ fn f()`) the text after the second `@@`.
fn anchor_of(rest: &str) -> String {
    let rest = rest.trim();
    let unified = rest.starts_with('-')
        && rest.contains('+')
        && rest
            .split("@@")
            .next()
            .is_some_and(|range| range.chars().all(|c| "0123456789,+- ".contains(c)));
    if unified {
        return rest
            .split_once("@@")
            .map(|(_, after)| after.trim().to_string())
            .unwrap_or_default();
    }
    rest.to_string()
}

/// Reads a patch.
pub fn parse(text: &str) -> Result<Patch, ParseError> {
    let lines = unwrap(text);
    let Some(&(_, first)) = lines.first() else {
        return Err(ParseError::Empty);
    };
    if first.trim() != BEGIN {
        return Err(ParseError::MissingBegin {
            found: first.trim().to_string(),
        });
    }
    let end = lines
        .iter()
        .position(|(_, l)| l.trim() == END)
        .ok_or(ParseError::MissingEnd)?;
    if let Some(&(line, _)) = lines[end + 1..].iter().find(|(_, l)| !l.trim().is_empty()) {
        return Err(ParseError::TextAfterEnd { line });
    }
    let body = &lines[1..end];
    let mut ops = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let (number, raw) = body[i];
        let line = raw.trim();
        i += 1;
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix(ADD) {
            let path = header_path(number, rest)?;
            let mut content_lines: Vec<&str> = Vec::new();
            let mut blank_tail = 0;
            while i < body.len() && !is_file_header(body[i].1) {
                let (number, raw) = body[i];
                i += 1;
                if let Some(text) = raw.strip_prefix('+') {
                    content_lines.push(text);
                    blank_tail = 0;
                } else if raw.trim().is_empty() {
                    content_lines.push("");
                    blank_tail += 1;
                } else {
                    return Err(ParseError::AddLineWithoutPlus {
                        line: number,
                        path,
                        text: raw.to_string(),
                    });
                }
            }
            content_lines.truncate(content_lines.len() - blank_tail);
            let mut content = content_lines.join("\n");
            if !content_lines.is_empty() {
                content.push('\n');
            }
            ops.push(FileOp::Add { path, content });
        } else if let Some(rest) = line.strip_prefix(DELETE) {
            ops.push(FileOp::Delete {
                path: header_path(number, rest)?,
            });
        } else if let Some(rest) = line.strip_prefix(UPDATE) {
            let path = header_path(number, rest)?;
            let mut move_to = None;
            if let Some(rest) = body.get(i).and_then(|(_, l)| l.trim().strip_prefix(MOVE)) {
                move_to = Some(header_path(body[i].0, rest)?);
                i += 1;
            }
            let (hunks, next) = parse_hunks(body, i, &path)?;
            i = next;
            if hunks.is_empty() && move_to.is_none() {
                return Err(ParseError::UpdateWithoutHunks { path });
            }
            ops.push(FileOp::Update {
                path,
                move_to,
                hunks,
            });
        } else {
            return Err(ParseError::ExpectedFileHeader {
                line: number,
                text: raw.to_string(),
            });
        }
    }
    if ops.is_empty() {
        return Err(ParseError::NoFiles);
    }
    Ok(Patch { ops })
}

/// A hunk being read: where it started and how many bare blank lines end it.
struct OpenHunk {
    hunk: Hunk,
    line: usize,
    blank_tail: usize,
}

impl OpenHunk {
    fn new(line: usize) -> OpenHunk {
        OpenHunk {
            hunk: Hunk::default(),
            line,
            blank_tail: 0,
        }
    }

    fn close(mut self, path: &str) -> Result<Hunk, ParseError> {
        let keep = self.hunk.lines.len() - self.blank_tail;
        self.hunk.lines.truncate(keep);
        if self.hunk.lines.is_empty() {
            return Err(ParseError::EmptyHunk {
                line: self.line,
                path: path.to_string(),
            });
        }
        Ok(self.hunk)
    }
}

/// Reads the hunks of an update from `body[start..]` up to the next file header; returns
/// them and where reading stopped.
fn parse_hunks(
    body: &[(usize, &str)],
    start: usize,
    path: &str,
) -> Result<(Vec<Hunk>, usize), ParseError> {
    let mut hunks = Vec::new();
    let mut open: Option<OpenHunk> = None;
    let mut i = start;
    while i < body.len() && !is_file_header(body[i].1) {
        let (number, raw) = body[i];
        i += 1;
        if let Some(rest) = raw.strip_prefix("@@") {
            let anchor = anchor_of(rest);
            match &mut open {
                Some(current) if current.hunk.lines.is_empty() => {
                    if !anchor.is_empty() {
                        current.hunk.anchors.push(anchor);
                    }
                }
                _ => {
                    if let Some(done) = open.take() {
                        hunks.push(done.close(path)?);
                    }
                    let mut next = OpenHunk::new(number);
                    if !anchor.is_empty() {
                        next.hunk.anchors.push(anchor);
                    }
                    open = Some(next);
                }
            }
            continue;
        }
        if raw.trim() == END_OF_FILE {
            let Some(mut current) = open.take() else {
                return Err(ParseError::StrayEndOfFile { line: number });
            };
            current.hunk.end_of_file = true;
            hunks.push(current.close(path)?);
            continue;
        }
        let (line, blank) = match raw.chars().next() {
            None => (HunkLine::Context(String::new()), true),
            Some(' ') => (HunkLine::Context(raw[1..].to_string()), false),
            Some('-') => (HunkLine::Remove(raw[1..].to_string()), false),
            Some('+') => (HunkLine::Add(raw[1..].to_string()), false),
            Some(_) if raw.trim().is_empty() => (HunkLine::Context(String::new()), true),
            Some(_) => {
                return Err(ParseError::BadHunkLine {
                    line: number,
                    path: path.to_string(),
                    text: raw.to_string(),
                })
            }
        };
        let current = open.get_or_insert_with(|| OpenHunk::new(number));
        current.hunk.lines.push(line);
        current.blank_tail = if blank { current.blank_tail + 1 } else { 0 };
    }
    if let Some(done) = open {
        hunks.push(done.close(path)?);
    }
    Ok((hunks, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(s: &str) -> HunkLine {
        HunkLine::Context(s.into())
    }
    fn rm(s: &str) -> HunkLine {
        HunkLine::Remove(s.into())
    }
    fn add(s: &str) -> HunkLine {
        HunkLine::Add(s.into())
    }

    #[test]
    fn every_operation_parses() {
        let patch = parse(
            "*** Begin Patch\n\
             *** Add File: new.txt\n\
             +one\n\
             +\n\
             +two\n\
             *** Delete File: old.txt\n\
             *** Update File: src/a.rs\n\
             *** Move to: src/b.rs\n\
             @@ fn main() {\n\
             \x20    let x = 1;\n\
             -    let y = 2;\n\
             +    let y = 3;\n\
             @@\n\
             -last\n\
             +final\n\
             *** End of File\n\
             *** End Patch\n",
        )
        .unwrap();
        assert_eq!(
            patch.ops,
            vec![
                FileOp::Add {
                    path: "new.txt".into(),
                    content: "one\n\ntwo\n".into()
                },
                FileOp::Delete {
                    path: "old.txt".into()
                },
                FileOp::Update {
                    path: "src/a.rs".into(),
                    move_to: Some("src/b.rs".into()),
                    hunks: vec![
                        Hunk {
                            anchors: vec!["fn main() {".into()],
                            lines: vec![
                                ctx("    let x = 1;"),
                                rm("    let y = 2;"),
                                add("    let y = 3;")
                            ],
                            end_of_file: false,
                        },
                        Hunk {
                            anchors: vec![],
                            lines: vec![rm("last"), add("final")],
                            end_of_file: true,
                        },
                    ],
                },
            ]
        );
    }

    #[test]
    fn heredoc_fence_crlf_and_blank_lines_around_are_unwrapped() {
        let want = vec![FileOp::Delete { path: "a".into() }];
        for text in [
            "apply_patch <<'EOF'\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF\n",
            "cat <<EOF\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF",
            "bash -lc \"apply_patch <<'EOF'\n*** Begin Patch\n*** Delete File: a\n*** End Patch\nEOF\"",
            "\n\n  \n*** Begin Patch\r\n*** Delete File: a\r\n*** End Patch\r\n\n\n",
            "```\n*** Begin Patch\n*** Delete File: a\n*** End Patch\n```\n",
            "apply_patch <<\"PATCH\"\n*** Begin Patch\n\n*** Delete File: a\n\n*** End Patch\nPATCH\n",
        ] {
            assert_eq!(parse(text).map(|p| p.ops), Ok(want.clone()), "{text:?}");
        }
    }

    #[test]
    fn missing_first_at_at_starts_a_hunk() {
        let patch =
            parse("*** Begin Patch\n*** Update File: a\n x\n-y\n+z\n*** End Patch").unwrap();
        let FileOp::Update { hunks, .. } = &patch.ops[0] else {
            panic!("{patch:?}")
        };
        assert_eq!(hunks[0].lines, vec![ctx("x"), rm("y"), add("z")]);
    }

    #[test]
    fn unified_diff_headers_and_stacked_anchors() {
        let patch = parse(
            "*** Begin Patch\n*** Update File: a\n@@ -3,7 +3,8 @@ impl A {\n@@ fn f() {\n-a\n+b\n@@ -10 +10 @@\n-c\n+d\n*** End Patch",
        )
        .unwrap();
        let FileOp::Update { hunks, .. } = &patch.ops[0] else {
            panic!("{patch:?}")
        };
        assert_eq!(hunks[0].anchors, vec!["impl A {", "fn f() {"]);
        assert!(hunks[1].anchors.is_empty());
    }

    #[test]
    fn bare_blank_lines_are_empty_context_but_dropped_at_a_hunk_end() {
        let patch = parse(
            "*** Begin Patch\n*** Update File: a\n@@\n a\n\n-b\n+c\n\n\n*** Update File: b\n-x\n*** End Patch",
        )
        .unwrap();
        let FileOp::Update { hunks, .. } = &patch.ops[0] else {
            panic!("{patch:?}")
        };
        assert_eq!(hunks[0].lines, vec![ctx("a"), ctx(""), rm("b"), add("c")]);
    }

    #[test]
    fn malformed_headers_are_named_with_their_line() {
        let cases = [
            ("", ParseError::Empty),
            ("  \n\n", ParseError::Empty),
            (
                "*** Update File: a\n-x\n*** End Patch",
                ParseError::MissingBegin {
                    found: "*** Update File: a".into(),
                },
            ),
            ("*** Begin Patch\n*** Delete File: a\n", ParseError::MissingEnd),
            ("*** Begin Patch\n*** End Patch", ParseError::NoFiles),
            (
                "*** Begin Patch\n*** Delete File: a\n*** End Patch\nmore",
                ParseError::TextAfterEnd { line: 4 },
            ),
            (
                "*** Begin Patch\n*** Modify File: a\n*** End Patch",
                ParseError::ExpectedFileHeader {
                    line: 2,
                    text: "*** Modify File: a".into(),
                },
            ),
            (
                "*** Begin Patch\n*** Add File:   \n+x\n*** End Patch",
                ParseError::EmptyPath { line: 2 },
            ),
            (
                "*** Begin Patch\n*** Add File: a\nx\n*** End Patch",
                ParseError::AddLineWithoutPlus {
                    line: 3,
                    path: "a".into(),
                    text: "x".into(),
                },
            ),
            (
                "*** Begin Patch\n*** Update File: a\n@@\nx\n*** End Patch",
                ParseError::BadHunkLine {
                    line: 4,
                    path: "a".into(),
                    text: "x".into(),
                },
            ),
            (
                "*** Begin Patch\n*** Update File: a\n*** End Patch",
                ParseError::UpdateWithoutHunks { path: "a".into() },
            ),
            (
                "*** Begin Patch\n*** Update File: a\n@@ fn f\n*** End Patch",
                ParseError::EmptyHunk {
                    line: 3,
                    path: "a".into(),
                },
            ),
            (
                "*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** End of File\n*** End Patch",
                ParseError::StrayEndOfFile { line: 4 },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn errors_read_as_instructions() {
        let err = parse("*** Begin Patch\n*** Add File: a\nx\n*** End Patch").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: every line of added file a must start with `+`, got `x`"
        );
    }

    #[test]
    fn a_pure_move_needs_no_hunks() {
        let patch =
            parse("*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** End Patch").unwrap();
        assert_eq!(
            patch.ops,
            vec![FileOp::Update {
                path: "a".into(),
                move_to: Some("b".into()),
                hunks: vec![]
            }]
        );
    }

    #[test]
    fn odd_fragments_are_errors_not_panics() {
        for text in [
            "@@",
            "*** Begin Patch\n@@\n*** End Patch",
            "<<",
            "<<'",
            "```",
            "\r",
            "+",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }
}

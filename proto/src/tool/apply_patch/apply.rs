//! Applying an update's hunks to a file's text.
//!
//! Hunks apply in order, each searched from where the last one ended. A hunk's `@@` anchors
//! are found first (each the first matching line from there on); then its context and
//! removed lines, searched from the last anchor's line on, must match one run of file
//! lines — exactly first, then with increasing [`Tolerance`]; the first level that finds
//! anything decides, and it must find exactly one place. Context lines keep the file's own text; added lines take the file's line
//! endings and, when indentation differed, the file's indentation.

use std::borrow::Cow;
use std::fmt;

use super::parse::{Hunk, HunkLine};
use crate::tool::edit::matching::common_indent;

/// How loosely lines were compared to find a hunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tolerance {
    /// Byte for byte (line endings aside).
    Exact,
    /// Ignoring trailing whitespace.
    TrailingWhitespace,
    /// Ignoring all differences in whitespace, indentation included.
    Whitespace,
    /// Also treating typographic quotes, dashes and spaces as their ASCII forms.
    Punctuation,
}

const LEVELS: [Tolerance; 4] = [
    Tolerance::Exact,
    Tolerance::TrailingWhitespace,
    Tolerance::Whitespace,
    Tolerance::Punctuation,
];

impl Tolerance {
    /// What was ignored, for the model; `None` when exact.
    pub fn ignored(self) -> Option<&'static str> {
        match self {
            Tolerance::Exact => None,
            Tolerance::TrailingWhitespace => Some("trailing whitespace"),
            Tolerance::Whitespace => Some("differences in whitespace and indentation"),
            Tolerance::Punctuation => {
                Some("differences in whitespace and typographic quotes or dashes")
            }
        }
    }

    fn key(self, line: &str) -> Cow<'_, str> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match self {
            Tolerance::Exact => Cow::Borrowed(line),
            Tolerance::TrailingWhitespace => Cow::Borrowed(line.trim_end()),
            Tolerance::Whitespace => Cow::Owned(collapse(line)),
            Tolerance::Punctuation => Cow::Owned(collapse(&ascii_punctuation(line))),
        }
    }
}

fn collapse(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `line` with typographic quotes, dashes, spaces and ellipses in their ASCII forms.
pub fn ascii_punctuation(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => out.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{AB}'
            | '\u{BB}' => out.push('"'),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
            '\u{A0}' | '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => {
                out.push(' ')
            }
            '\u{2026}' => out.push_str("..."),
            other => out.push(other),
        }
    }
    out
}

/// The new text of a file and how loosely its hunks matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    /// The whole new text (BOM excluded).
    pub text: String,
    /// The loosest tolerance any hunk needed.
    pub loosest: Tolerance,
}

/// Why a hunk did not apply; `hunk` counts from 1, lines of the file from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkError {
    /// An `@@` anchor matches no line at or after `from_line`.
    AnchorNotFound {
        /// Which hunk.
        hunk: usize,
        /// The anchor text.
        anchor: String,
        /// Where the search started.
        from_line: usize,
    },
    /// The context and removed lines match no place at or after `from_line`.
    ContextNotFound {
        /// Which hunk.
        hunk: usize,
        /// Where the search started.
        from_line: usize,
    },
    /// They match several places.
    Ambiguous {
        /// Which hunk.
        hunk: usize,
        /// The tolerance at which they matched.
        tolerance: Tolerance,
        /// Where each place starts.
        lines: Vec<usize>,
    },
}

impl fmt::Display for HunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HunkError::AnchorNotFound {
                hunk,
                anchor,
                from_line,
            } => write!(
                f,
                "hunk {hunk}: the line `@@ {anchor}` names no line of the file at or after \
                 line {from_line}"
            ),
            HunkError::ContextNotFound { hunk, from_line } => write!(
                f,
                "hunk {hunk}: its context and removed lines were not found at or after line \
                 {from_line}"
            ),
            HunkError::Ambiguous {
                hunk,
                tolerance,
                lines,
            } => {
                let at: Vec<String> = lines.iter().take(10).map(usize::to_string).collect();
                write!(
                    f,
                    "hunk {hunk}: its context and removed lines match {} places (starting at \
                     lines {})",
                    lines.len(),
                    at.join(", ")
                )?;
                if let Some(ignored) = tolerance.ignored() {
                    write!(f, " once {ignored} are ignored")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for HunkError {}

/// A line of the file: its text without line ending, and whether that ending is CRLF.
#[derive(Debug, Clone)]
struct Line<'a> {
    text: Cow<'a, str>,
    crlf: bool,
}

/// The lines of `body` and whether it ends with a newline (an empty body counts as
/// ending with one, so added lines get one).
fn split_lines(body: &str, crlf: bool) -> (Vec<Line<'_>>, bool) {
    let mut lines = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find('\n') {
        let segment = &rest[..at];
        let (text, cr) = match segment.strip_suffix('\r') {
            Some(text) => (text, true),
            None => (segment, false),
        };
        lines.push(Line {
            text: Cow::Borrowed(text),
            crlf: cr,
        });
        rest = &rest[at + 1..];
    }
    if rest.is_empty() {
        return (lines, true);
    }
    lines.push(Line {
        text: Cow::Borrowed(rest),
        crlf,
    });
    (lines, false)
}

/// Each file line's comparison key, per tolerance, computed when first needed.
struct Keys<'a> {
    lines: &'a [Line<'a>],
    by_level: [Option<Vec<String>>; 4],
}

impl<'a> Keys<'a> {
    fn new(lines: &'a [Line<'a>]) -> Keys<'a> {
        Keys {
            lines,
            by_level: [None, None, None, None],
        }
    }

    fn at(&mut self, tolerance: Tolerance) -> &[String] {
        let lines = self.lines;
        self.by_level[tolerance as usize].get_or_insert_with(|| {
            lines
                .iter()
                .map(|l| tolerance.key(&l.text).into_owned())
                .collect()
        })
    }
}

/// Applies `hunks` to `body` (a file's text without BOM); added lines end in CRLF when
/// `crlf`.
pub fn apply_hunks(body: &str, crlf: bool, hunks: &[Hunk]) -> Result<Updated, HunkError> {
    let (lines, trailing_newline) = split_lines(body, crlf);
    let mut keys = Keys::new(&lines);
    let mut out: Vec<Line<'_>> = Vec::with_capacity(lines.len());
    let mut copied = 0;
    let mut loosest = Tolerance::Exact;
    for (index, hunk) in hunks.iter().enumerate() {
        let number = index + 1;
        let mut anchor_line: Option<usize> = None;
        for anchor in &hunk.anchors {
            let from = anchor_line.map_or(copied, |a| a + 1);
            let found =
                find_anchor(&mut keys, from, anchor).ok_or_else(|| HunkError::AnchorNotFound {
                    hunk: number,
                    anchor: anchor.clone(),
                    from_line: from + 1,
                })?;
            anchor_line = Some(found);
        }
        // The hunk may begin on the anchor line itself.
        let cursor = anchor_line.unwrap_or(copied);
        let old: Vec<&str> = hunk
            .lines
            .iter()
            .filter_map(|l| match l {
                HunkLine::Context(t) | HunkLine::Remove(t) => Some(t.as_str()),
                HunkLine::Add(_) => None,
            })
            .collect();
        let (start, tolerance) = if old.is_empty() {
            let at = match anchor_line {
                Some(a) if !hunk.end_of_file => a + 1,
                _ => lines.len(),
            };
            (at, Tolerance::Exact)
        } else {
            locate(&mut keys, &old, cursor, hunk.end_of_file, number)?
        };
        loosest = loosest.max(tolerance);
        out.extend(lines[copied..start].iter().cloned());
        let matched: Vec<&str> = lines[start..start + old.len()]
            .iter()
            .map(|l| l.text.as_ref())
            .collect();
        let (from_indent, to_indent) = if tolerance >= Tolerance::Whitespace {
            (common_indent(&old), common_indent(&matched))
        } else {
            ("", "")
        };
        let mut at = start;
        for line in &hunk.lines {
            match line {
                HunkLine::Context(_) => {
                    out.push(lines[at].clone());
                    at += 1;
                }
                HunkLine::Remove(_) => at += 1,
                HunkLine::Add(text) => out.push(Line {
                    text: Cow::Owned(reindent(text, from_indent, to_indent)),
                    crlf,
                }),
            }
        }
        copied = at;
    }
    out.extend(lines[copied..].iter().cloned());
    let mut text = String::with_capacity(body.len());
    let last = out.len().saturating_sub(1);
    for (k, line) in out.iter().enumerate() {
        text.push_str(&line.text);
        if k < last || trailing_newline {
            text.push_str(if line.crlf { "\r\n" } else { "\n" });
        }
    }
    Ok(Updated { text, loosest })
}

fn reindent(text: &str, from: &str, to: &str) -> String {
    if from == to || text.trim().is_empty() {
        return text.to_string();
    }
    match text.strip_prefix(from) {
        Some(rest) => format!("{to}{rest}"),
        None => text.to_string(),
    }
}

/// The first line at or after `from` that the anchor names: equal at some tolerance,
/// else containing it.
fn find_anchor(keys: &mut Keys<'_>, from: usize, anchor: &str) -> Option<usize> {
    for level in LEVELS {
        let wanted = level.key(anchor).into_owned();
        let found = keys.at(level).iter().skip(from).position(|k| *k == wanted);
        if let Some(offset) = found {
            return Some(from + offset);
        }
    }
    let wanted = Tolerance::Punctuation.key(anchor).into_owned();
    if wanted.is_empty() {
        return None;
    }
    keys.at(Tolerance::Punctuation)
        .iter()
        .skip(from)
        .position(|k| k.contains(&wanted))
        .map(|offset| from + offset)
}

/// Where `old` matches, at the first tolerance that finds it anywhere.
fn locate(
    keys: &mut Keys<'_>,
    old: &[&str],
    from: usize,
    end_of_file: bool,
    hunk: usize,
) -> Result<(usize, Tolerance), HunkError> {
    let total = keys.lines.len();
    let len = old.len();
    let Some(last_start) = total.checked_sub(len) else {
        return Err(HunkError::ContextNotFound {
            hunk,
            from_line: from + 1,
        });
    };
    let first = if end_of_file { last_start } else { from };
    for level in LEVELS {
        let wanted: Vec<Cow<'_, str>> = old.iter().map(|l| level.key(l)).collect();
        let file = keys.at(level);
        let starts: Vec<usize> = (first..=last_start)
            .filter(|&s| s >= from)
            .filter(|&s| file[s..s + len].iter().zip(&wanted).all(|(a, b)| a == b))
            .collect();
        match starts[..] {
            [] => continue,
            [start] => return Ok((start, level)),
            _ => {
                return Err(HunkError::Ambiguous {
                    hunk,
                    tolerance: level,
                    lines: starts.iter().map(|s| s + 1).collect(),
                })
            }
        }
    }
    Err(HunkError::ContextNotFound {
        hunk,
        from_line: from + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunk(lines: &[&str]) -> Hunk {
        Hunk {
            anchors: vec![],
            lines: lines
                .iter()
                .map(|l| match l.split_at(1) {
                    ("-", t) => HunkLine::Remove(t.into()),
                    ("+", t) => HunkLine::Add(t.into()),
                    (_, t) => HunkLine::Context(t.into()),
                })
                .collect(),
            end_of_file: false,
        }
    }

    fn applied(body: &str, hunks: &[Hunk]) -> (String, Tolerance) {
        let u = apply_hunks(body, body.contains("\r\n"), hunks).expect("applies");
        (u.text, u.loosest)
    }

    #[test]
    fn exact_hunk_replaces_lines_and_keeps_the_rest() {
        let (text, tol) = applied("a\nb\nc\n", &[hunk(&[" a", "-b", "+B", " c"])]);
        assert_eq!(text, "a\nB\nc\n");
        assert_eq!(tol, Tolerance::Exact);
    }

    #[test]
    fn hunks_apply_in_order_from_where_the_last_ended() {
        let body = "x\n1\nx\n2\n";
        let (text, _) = applied(body, &[hunk(&["-x", "+y", " 1"]), hunk(&["-x", "+z"])]);
        assert_eq!(text, "y\n1\nz\n2\n");
    }

    #[test]
    fn context_lines_keep_the_files_text_under_tolerance() {
        let body = "fn f() {   \n    a();\n}\n";
        let (text, tol) = applied(body, &[hunk(&[" fn f() {", "-    a();", "+    b();"])]);
        assert_eq!(text, "fn f() {   \n    b();\n}\n");
        assert_eq!(tol, Tolerance::TrailingWhitespace);
    }

    #[test]
    fn indentation_drift_reindents_added_lines() {
        let body = "impl A {\n        fn f() {\n            a();\n        }\n}\n";
        let (text, tol) = applied(
            body,
            &[hunk(&[
                "     fn f() {",
                "-        a();",
                "+        b();",
                "+        c();",
            ])],
        );
        assert_eq!(
            text,
            "impl A {\n        fn f() {\n            b();\n            c();\n        }\n}\n"
        );
        assert_eq!(tol, Tolerance::Whitespace);
    }

    #[test]
    fn typographic_punctuation_matches_ascii() {
        let body = "say(\"it's a - b\")\n";
        let (text, tol) = applied(
            body,
            &[hunk(&[
                "-say(\u{201C}it\u{2019}s a \u{2013} b\u{201D})",
                "+say(\"ok\")",
            ])],
        );
        assert_eq!(text, "say(\"ok\")\n");
        assert_eq!(tol, Tolerance::Punctuation);
    }

    #[test]
    fn an_exact_match_wins_before_a_looser_one_makes_it_ambiguous() {
        let body = "a \na\n";
        let (text, tol) = applied(body, &[hunk(&["-a", "+b"])]);
        assert_eq!(text, "a \nb\n");
        assert_eq!(tol, Tolerance::Exact);
    }

    #[test]
    fn ambiguous_context_is_refused() {
        let err = apply_hunks("a\nb\na\nb\n", false, &[hunk(&[" a", "-b", "+c"])]).unwrap_err();
        assert_eq!(
            err,
            HunkError::Ambiguous {
                hunk: 1,
                tolerance: Tolerance::Exact,
                lines: vec![1, 3]
            }
        );
    }

    #[test]
    fn anchors_narrow_the_search() {
        let body = "fn a() {\n    x\n}\nfn b() {\n    x\n}\n";
        let mut h = hunk(&["-    x", "+    y"]);
        h.anchors = vec!["fn b() {".into()];
        let (text, _) = applied(body, &[h]);
        assert_eq!(text, "fn a() {\n    x\n}\nfn b() {\n    y\n}\n");
    }

    #[test]
    fn an_anchor_may_be_part_of_the_line() {
        let body = "def a(x):\n    return 1\ndef b(x, y):\n    return 1\n";
        let mut h = hunk(&["-    return 1", "+    return 2"]);
        h.anchors = vec!["def b".into()];
        let (text, _) = applied(body, &[h]);
        assert!(text.ends_with("def b(x, y):\n    return 2\n"), "{text}");
    }

    #[test]
    fn missing_anchor_and_missing_context_are_errors() {
        let mut h = hunk(&["-x"]);
        h.anchors = vec!["nowhere".into()];
        assert!(matches!(
            apply_hunks("x\n", false, &[h]),
            Err(HunkError::AnchorNotFound { hunk: 1, .. })
        ));
        assert_eq!(
            apply_hunks("x\n", false, &[hunk(&["-y"])]),
            Err(HunkError::ContextNotFound {
                hunk: 1,
                from_line: 1
            })
        );
        assert_eq!(
            apply_hunks("", false, &[hunk(&["-y"])]),
            Err(HunkError::ContextNotFound {
                hunk: 1,
                from_line: 1
            })
        );
    }

    #[test]
    fn end_of_file_hunks_must_match_the_last_lines() {
        let body = "end\nmid\nend\n";
        let mut h = hunk(&["-end", "+fin"]);
        h.end_of_file = true;
        let (text, _) = applied(body, &[h]);
        assert_eq!(text, "end\nmid\nfin\n");
    }

    #[test]
    fn pure_additions_go_to_the_end_or_after_the_anchor() {
        let (text, _) = applied("a\nb\n", &[hunk(&["+c"])]);
        assert_eq!(text, "a\nb\nc\n");
        let mut h = hunk(&["+a2"]);
        h.anchors = vec!["a".into()];
        let (text, _) = applied("a\nb\n", &[h]);
        assert_eq!(text, "a\na2\nb\n");
        let (text, _) = applied("", &[hunk(&["+only"])]);
        assert_eq!(text, "only\n");
    }

    #[test]
    fn crlf_and_a_missing_final_newline_are_kept() {
        let (text, _) = applied("a\r\nb\r\nc", &[hunk(&[" a", "-b", "+B"])]);
        assert_eq!(text, "a\r\nB\r\nc");
        let mut h = hunk(&[" c", "+d"]);
        h.end_of_file = true;
        let (text, _) = applied("a\r\nc", &[h]);
        assert_eq!(text, "a\r\nc\r\nd");
    }

    #[test]
    fn ascii_punctuation_maps_the_usual_suspects() {
        assert_eq!(
            ascii_punctuation(
                "\u{2018}a\u{2019} \u{201C}b\u{201D} \u{2013}\u{2014} x\u{A0}y\u{2026}"
            ),
            "'a' \"b\" -- x y..."
        );
    }
}

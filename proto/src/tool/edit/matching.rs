//! Where `old_string` is in a file: an exact match first, then fallbacks for drift.
//!
//! Stages, in order; the first stage that finds anything decides:
//!
//! 1. exact — `old_string` as written (every occurrence with `replace_all`);
//! 2. line endings — `old_string` converted to the file's CRLF or LF;
//! 3. escapes — `\n`, `\t`, `\"`, `\\` … written literally by the model, unescaped;
//! 4. indentation — whole lines equal once each side's common indent is removed;
//! 5. trimmed lines — whole lines equal once each is trimmed;
//! 6. whitespace — whole lines equal once runs of whitespace collapse to one space.
//!
//! Stages 3–6 are fuzzy: their match must be unique, and must not be far longer than
//! `old_string`. Line-based matches re-indent the new text from `old_string`'s indent to
//! the file's.

use std::ops::Range;

use crate::tool::file_format::{to_crlf, to_lf};

/// How `old_string` was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// As written.
    Exact,
    /// After converting its line endings to the file's.
    LineEndings,
    /// After unescaping `\n`, `\t`, `\"` and friends written literally.
    Escapes,
    /// Ignoring a different common indentation.
    Indentation,
    /// Ignoring leading and trailing whitespace of each line.
    TrimmedLines,
    /// Ignoring how much whitespace separates words.
    Whitespace,
}

impl Strategy {
    /// What was ignored, for the model; `None` for an exact match.
    pub fn ignored(self) -> Option<&'static str> {
        match self {
            Strategy::Exact | Strategy::LineEndings => None,
            Strategy::Escapes => Some("escape sequences (\\n, \\t, \\\") written literally"),
            Strategy::Indentation => Some("a different indentation"),
            Strategy::TrimmedLines => Some("leading and trailing whitespace on each line"),
            Strategy::Whitespace => Some("differences in whitespace"),
        }
    }
}

/// One place to change: a byte range of the file text and what replaces it (LF form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Bytes of the file text (BOM excluded) to replace.
    pub range: Range<usize>,
    /// The replacement, before conversion to the file's line endings.
    pub replacement: String,
}

/// The result of looking for `old_string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The places to change, in file order, without overlap.
    Matches {
        /// How they were found.
        strategy: Strategy,
        /// The places.
        spans: Vec<Span>,
    },
    /// Several places match and the edit does not say which.
    Ambiguous {
        /// How they were found.
        strategy: Strategy,
        /// The 1-based line where each candidate starts.
        lines: Vec<usize>,
    },
    /// The only fuzzy match is far longer than `old_string`.
    Disproportionate {
        /// How it was found.
        strategy: Strategy,
        /// Its 1-based first line.
        line: usize,
        /// Its length in bytes.
        matched: usize,
    },
    /// Nothing matched.
    Nothing,
}

/// Looks for `old` in `text` (the file without BOM); `new` is what replaces it.
pub fn find(text: &str, old: &str, new: &str, replace_all: bool) -> Found {
    if old.is_empty() {
        return Found::Nothing;
    }
    let file_has_crlf = text.contains("\r\n");
    let mut exact = vec![(Strategy::Exact, old.to_string())];
    if file_has_crlf && old.contains('\n') {
        exact.push((Strategy::LineEndings, to_crlf(old)));
    }
    if old.contains("\r\n") {
        exact.push((Strategy::LineEndings, to_lf(old)));
    }
    for (strategy, needle) in exact {
        if strategy == Strategy::LineEndings && needle == old {
            continue;
        }
        let starts: Vec<usize> = text
            .match_indices(needle.as_str())
            .map(|(i, _)| i)
            .collect();
        if starts.is_empty() {
            continue;
        }
        if starts.len() > 1 && !replace_all {
            let lines = starts.iter().map(|&i| line_of(text, i)).collect();
            return Found::Ambiguous { strategy, lines };
        }
        let spans = starts
            .into_iter()
            .map(|start| Span {
                range: start..start + needle.len(),
                replacement: new.to_string(),
            })
            .collect();
        return Found::Matches { strategy, spans };
    }
    if let Some(found) = find_unescaped(text, old, new) {
        return found;
    }
    find_lines(text, old, new)
}

fn find_unescaped(text: &str, old: &str, new: &str) -> Option<Found> {
    if !old.contains('\\') {
        return None;
    }
    let old_plain = unescape(old);
    if old_plain == old || old_plain.is_empty() {
        return None;
    }
    let new_plain = if new.contains('\\') {
        unescape(new)
    } else {
        new.to_string()
    };
    let mut needles = vec![old_plain.clone()];
    if text.contains("\r\n") && old_plain.contains('\n') {
        needles.push(to_crlf(&old_plain));
    }
    for needle in needles {
        let starts: Vec<usize> = text
            .match_indices(needle.as_str())
            .map(|(i, _)| i)
            .collect();
        match starts[..] {
            [] => continue,
            [start] => {
                let span = Span {
                    range: start..start + needle.len(),
                    replacement: new_plain,
                };
                return Some(checked(text, Strategy::Escapes, old, span));
            }
            _ => {
                let lines = starts.iter().map(|&i| line_of(text, i)).collect();
                return Some(Found::Ambiguous {
                    strategy: Strategy::Escapes,
                    lines,
                });
            }
        }
    }
    None
}

/// Turns `\n`, `\t`, `\r`, `\"`, `\'`, `` \` ``, `\$` and `\\` into what they stand for.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(q @ ('"' | '\'' | '`' | '$' | '\\')) => out.push(q),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The lines of the file: byte ranges of each line's content, line ending excluded.
fn file_lines(text: &str) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('\n') {
        let end = if text[..i].ends_with('\r') { i - 1 } else { i };
        lines.push(start..end);
        start = i + 1;
    }
    if start < text.len() {
        let end = if text.ends_with('\r') {
            text.len() - 1
        } else {
            text.len()
        };
        lines.push(start..end);
    }
    lines
}

/// The longest run of leading whitespace shared by every non-blank line (`apply_patch`
/// re-indents with it too).
pub fn common_indent<'a>(lines: &[&'a str]) -> &'a str {
    let mut common: Option<&'a str> = None;
    for line in lines.iter().filter(|l| !l.trim().is_empty()) {
        let indent = &line[..line.len() - line.trim_start().len()];
        common = Some(match common {
            None => indent,
            Some(c) => {
                let shared = c
                    .char_indices()
                    .zip(indent.chars())
                    .find(|((_, a), b)| a != b)
                    .map_or(c.len().min(indent.len()), |((i, _), _)| i);
                &c[..shared]
            }
        });
    }
    common.unwrap_or("")
}

fn without_indent<'a>(line: &'a str, indent: &str) -> &'a str {
    if line.trim().is_empty() {
        ""
    } else {
        line.strip_prefix(indent).unwrap_or(line).trim_end()
    }
}

fn collapse(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn find_lines(text: &str, old: &str, new: &str) -> Found {
    let old_lf = to_lf(old);
    let trailing = old_lf.len() - old_lf.trim_end_matches('\n').len();
    let leading = old_lf.len() - old_lf.trim_start_matches('\n').len();
    let old_body = old_lf.trim_matches('\n');
    let old_lines: Vec<&str> = old_body.split('\n').collect();
    if old_lines.iter().all(|l| l.trim().is_empty()) {
        return Found::Nothing;
    }
    let ranges = file_lines(text);
    let lines: Vec<&str> = ranges.iter().map(|r| &text[r.clone()]).collect();
    let n = old_lines.len();
    if lines.len() < n {
        return Found::Nothing;
    }
    let old_indent = common_indent(&old_lines);
    let old_trimmed: Vec<&str> = old_lines.iter().map(|l| l.trim()).collect();
    let old_collapsed: Vec<String> = old_lines.iter().map(|l| collapse(l)).collect();
    let file_collapsed: Vec<String> = lines.iter().map(|l| collapse(l)).collect();
    let windows = 0..=lines.len() - n;

    let stages: [(Strategy, &dyn Fn(usize) -> bool); 3] = [
        (Strategy::Indentation, &|start| {
            let window = &lines[start..start + n];
            if window[0].trim() != old_trimmed[0] {
                return false;
            }
            let indent = common_indent(window);
            window
                .iter()
                .zip(&old_lines)
                .all(|(w, o)| without_indent(w, indent) == without_indent(o, old_indent))
        }),
        (Strategy::TrimmedLines, &|start| {
            lines[start..start + n]
                .iter()
                .zip(&old_trimmed)
                .all(|(w, o)| w.trim() == *o)
        }),
        (Strategy::Whitespace, &|start| {
            file_collapsed[start..start + n] == old_collapsed[..]
        }),
    ];
    for (strategy, matches) in stages {
        let starts: Vec<usize> = windows.clone().filter(|&s| matches(s)).collect();
        match starts[..] {
            [] => continue,
            [start] => {
                let window = &lines[start..start + n];
                let mut body = to_lf(new);
                for _ in 0..trailing {
                    if body.ends_with('\n') {
                        body.pop();
                    }
                }
                for _ in 0..leading {
                    if body.starts_with('\n') {
                        body.remove(0);
                    }
                }
                let window_indent = common_indent(window);
                let new_lines: Vec<&str> = body.split('\n').collect();
                let replacement = if common_indent(&new_lines) == window_indent {
                    body.clone()
                } else {
                    reindent(&body, old_indent, window_indent)
                };
                let span = Span {
                    range: ranges[start].start..ranges[start + n - 1].end,
                    replacement,
                };
                return checked(text, strategy, old, span);
            }
            _ => {
                return Found::Ambiguous {
                    strategy,
                    lines: starts.into_iter().map(|s| s + 1).collect(),
                }
            }
        }
    }
    Found::Nothing
}

/// Moves lines of `text` indented by `from` to be indented by `to` instead.
fn reindent(text: &str, from: &str, to: &str) -> String {
    if from == to {
        return text.to_string();
    }
    text.split('\n')
        .map(|line| match line.strip_prefix(from) {
            Some(rest) if !line.trim().is_empty() => format!("{to}{rest}"),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Refuses a fuzzy match far longer than what the model asked to replace.
fn checked(text: &str, strategy: Strategy, old: &str, span: Span) -> Found {
    let matched = span.range.len();
    if matched > old.len().saturating_mul(2).saturating_add(100) {
        return Found::Disproportionate {
            strategy,
            line: line_of(text, span.range.start),
            matched,
        };
    }
    Found::Matches {
        strategy,
        spans: vec![span],
    }
}

/// The 1-based line holding byte `offset`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only_span(found: Found) -> (Strategy, Span) {
        match found {
            Found::Matches {
                strategy,
                mut spans,
            } if spans.len() == 1 => (strategy, spans.remove(0)),
            other => panic!("expected one match, got {other:?}"),
        }
    }

    #[test]
    fn exact_match_wins_over_fallbacks() {
        let (strategy, span) = only_span(find("a\n  b\nc\n", "  b", "x", false));
        assert_eq!(strategy, Strategy::Exact);
        assert_eq!(span.range, 2..5);
    }

    #[test]
    fn two_exact_matches_are_ambiguous_unless_replace_all() {
        let text = "x = 1\ny = 2\nx = 1\n";
        assert_eq!(
            find(text, "x = 1", "x = 3", false),
            Found::Ambiguous {
                strategy: Strategy::Exact,
                lines: vec![1, 3]
            }
        );
        match find(text, "x = 1", "x = 3", true) {
            Found::Matches { spans, .. } => assert_eq!(spans.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lf_old_string_matches_a_crlf_file() {
        let (strategy, span) = only_span(find("a\r\nb\r\nc\r\n", "a\nb", "z", false));
        assert_eq!(strategy, Strategy::LineEndings);
        assert_eq!(span.range, 0..4);
    }

    #[test]
    fn literal_escapes_are_unescaped() {
        let text = "fn f() {\n\tprintln!(\"hi\");\n}\n";
        let (strategy, span) = only_span(find(
            text,
            "{\\n\\tprintln!(\\\"hi\\\");",
            "{\\n\\tg();",
            false,
        ));
        assert_eq!(strategy, Strategy::Escapes);
        assert_eq!(&text[span.range], "{\n\tprintln!(\"hi\");");
        assert_eq!(span.replacement, "{\n\tg();");
    }

    #[test]
    fn indentation_drift_is_reindented() {
        let text = "fn f() {\n        if x {\n            y();\n        }\n}\n";
        let (strategy, span) = only_span(find(
            text,
            "if x {\n    y();\n}",
            "if x {\n    z();\n}",
            false,
        ));
        assert_eq!(strategy, Strategy::Indentation);
        assert_eq!(
            &text[span.range],
            "        if x {\n            y();\n        }"
        );
        assert_eq!(
            span.replacement,
            "        if x {\n            z();\n        }"
        );
    }

    #[test]
    fn trailing_whitespace_drift_matches_trimmed_lines() {
        let text = "a  \n  b\t\nc\n";
        let (strategy, span) = only_span(find(text, "a\n b", "q", false));
        assert_eq!(strategy, Strategy::TrimmedLines);
        assert_eq!(&text[span.range], "a  \n  b\t");
    }

    #[test]
    fn inner_whitespace_drift_matches_collapsed_lines() {
        let text = "let  x =   1;\nlet y = 2;\n";
        let (strategy, span) = only_span(find(text, "let x = 1;\nlet y = 2;\n", "z\n", false));
        assert_eq!(strategy, Strategy::Whitespace);
        assert_eq!(&text[span.range], "let  x =   1;\nlet y = 2;");
        assert_eq!(span.replacement, "z");
    }

    #[test]
    fn fuzzy_matches_must_be_unique() {
        let text = "  a\n  b\nc\n    a\n    b\n";
        assert_eq!(
            find(text, "a\nb", "x", false),
            Found::Ambiguous {
                strategy: Strategy::Indentation,
                lines: vec![1, 4]
            }
        );
    }

    #[test]
    fn disproportionate_fuzzy_match_is_refused() {
        let text = format!("a{}\nb\n", " ".repeat(500));
        assert_eq!(
            find(&text, "a \nb", "x", false),
            Found::Disproportionate {
                strategy: Strategy::Indentation,
                line: 1,
                matched: 503
            }
        );
    }

    #[test]
    fn nothing_found_is_nothing() {
        assert_eq!(find("abc\n", "xyz", "q", false), Found::Nothing);
        assert_eq!(find("abc\n", "\n\n", "q", false), Found::Nothing);
        assert_eq!(find("", "a", "q", false), Found::Nothing);
    }

    #[test]
    fn common_indent_ignores_blank_lines() {
        assert_eq!(common_indent(&["    a", "", "  b", "  \t"]), "  ");
        assert_eq!(common_indent(&["\ta", "  b"]), "");
    }

    #[test]
    fn unescape_keeps_unknown_escapes() {
        assert_eq!(unescape(r#"a\nb\t\"c\"\\d\q"#), "a\nb\t\"c\"\\d\\q");
    }
}

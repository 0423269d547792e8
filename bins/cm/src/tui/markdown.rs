//! Markdown to styled, wrapped lines, incrementally as the text streams in.
//!
//! Layout is line by line: a source line's look depends only on itself and on whether it
//! is inside a fenced code block, so [`Markdown::update`] lays out only the source lines
//! completed since the last call (plus the unfinished last line, every time). Supported:
//! headings, `**strong**`, `*emphasis*`, `` `code` ``, fenced code on a background with
//! keywords, strings and comments coloured for common languages, `-`/`*`/`1.` lists,
//! `>` quotes and `[links](url)`. Each source line is its own line (no reflow), as the
//! model meant it in a terminal.

use super::text::{char_width, width};
use super::theme::Role;

/// A run of text in one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The text (no newlines, no control characters).
    pub text: String,
    /// How it looks.
    pub role: Role,
}

impl Span {
    /// A span.
    pub fn new(text: impl Into<String>, role: Role) -> Span {
        Span {
            text: text.into(),
            role,
        }
    }
}

/// One screen row of laid-out text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The spans, left to right.
    pub spans: Vec<Span>,
    /// The rest of the row is filled in this role (code blocks' background).
    pub fill: Option<Role>,
}

impl Line {
    /// A line of spans.
    pub fn new(spans: Vec<Span>) -> Line {
        Line { spans, fill: None }
    }

    /// A line of one span.
    pub fn plain(text: impl Into<String>, role: Role) -> Line {
        Line::new(vec![Span::new(text, role)])
    }

    /// The line's text without styles.
    #[cfg(test)]
    pub fn text(&self) -> String {
        self.spans.iter().map(|s| s.text.as_str()).collect()
    }
}

/// The laid-out form of one growing markdown text.
#[derive(Debug, Clone, Default)]
pub struct Markdown {
    width: usize,
    /// Source bytes laid out into `done` (up to and including a newline).
    done_len: usize,
    /// The fence open at `done_len`: `Some(language)` inside a code block.
    fence: Option<String>,
    done: Vec<Line>,
    tail: Vec<Line>,
}

impl Markdown {
    /// Nothing laid out yet.
    pub fn new() -> Markdown {
        Markdown::default()
    }

    /// Lays out `source` at `width` columns, reusing the lines of the part already laid
    /// out when `source` only grew and the width is the same.
    pub fn update(&mut self, source: &str, width: usize) {
        let width = width.max(8);
        if width != self.width
            || source.len() < self.done_len
            || !source.is_char_boundary(self.done_len)
        {
            *self = Markdown {
                width,
                ..Markdown::default()
            };
        }
        let complete = source[self.done_len..]
            .rfind('\n')
            .map(|i| self.done_len + i + 1);
        if let Some(end) = complete {
            for line in source[self.done_len..end].split_terminator('\n') {
                lay_out_line(line, width, &mut self.fence, &mut self.done);
            }
            self.done_len = end;
        }
        self.tail.clear();
        let rest = &source[self.done_len..];
        if !rest.is_empty() {
            let mut fence = self.fence.clone();
            lay_out_line(rest, width, &mut fence, &mut self.tail);
        }
    }

    /// Every row.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.done.iter().chain(self.tail.iter())
    }
}

/// `source` laid out at `width` in one go.
#[cfg(test)]
pub fn lay_out(source: &str, width: usize) -> Vec<Line> {
    let mut markdown = Markdown::new();
    markdown.update(source, width);
    markdown.lines().cloned().collect()
}

fn lay_out_line(line: &str, width: usize, fence: &mut Option<String>, out: &mut Vec<Line>) {
    let trimmed = line.trim_start();
    if let Some(after) = trimmed.strip_prefix("```").or(trimmed.strip_prefix("~~~")) {
        if fence.take().is_some() {
            // A closing fence shows nothing.
            return;
        }
        *fence = Some(after.trim().to_ascii_lowercase());
        // The opening fence shows as the block's first row, with the language.
        let mut bar = Line::plain(after.trim(), Role::Comment);
        bar.fill = Some(Role::CodeBlock);
        out.push(bar);
        return;
    }
    if let Some(language) = fence {
        for row in wrap_code(&highlight(line, language), width) {
            out.push(Line {
                spans: row,
                fill: Some(Role::CodeBlock),
            });
        }
        return;
    }
    if trimmed.is_empty() {
        out.push(Line::default());
        return;
    }
    let hashes = trimmed.chars().take_while(|&c| c == '#').count();
    if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
        let text = trimmed[hashes..].trim();
        let spans = vec![Span::new(text, Role::Heading)];
        out.extend(wrap(spans, width, Vec::new(), Vec::new()));
        return;
    }
    if let Some(quoted) = trimmed.strip_prefix('>') {
        let spans = restyle(inline(quoted.trim_start()), Role::Quote);
        let bar = vec![Span::new("│ ", Role::Quote)];
        out.extend(wrap(spans, width, bar.clone(), bar));
        return;
    }
    let indent = line.len() - trimmed.len();
    let pad = " ".repeat(indent.min(width / 2));
    if let Some(rest) = ["- ", "* ", "+ "]
        .iter()
        .find_map(|b| trimmed.strip_prefix(b))
    {
        let first = vec![Span::new(format!("{pad}• "), Role::Bullet)];
        let next = vec![Span::new(format!("{pad}  "), Role::Text)];
        out.extend(wrap(inline(rest), width, first, next));
        return;
    }
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    if (1..=9).contains(&digits) && trimmed[digits..].starts_with(". ") {
        let number = &trimmed[..digits + 1];
        let first = vec![Span::new(format!("{pad}{number} "), Role::Bullet)];
        let next = vec![Span::new(
            format!("{pad}{}", " ".repeat(digits + 2)),
            Role::Text,
        )];
        out.extend(wrap(inline(&trimmed[digits + 2..]), width, first, next));
        return;
    }
    let pad_span = vec![Span::new(pad.clone(), Role::Text)];
    out.extend(wrap(inline(trimmed), width, pad_span.clone(), pad_span));
}

/// Plain spans become `role`; styled ones keep theirs.
fn restyle(spans: Vec<Span>, role: Role) -> Vec<Span> {
    spans
        .into_iter()
        .map(|s| match s.role {
            Role::Text => Span::new(s.text, role),
            _ => s,
        })
        .collect()
}

/// Inline markup: code, strong, emphasis and links.
pub fn inline(text: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut current = String::new();
    let mut strong = false;
    let mut emphasis = false;
    let role = |strong: bool, emphasis: bool| match (strong, emphasis) {
        (true, _) => Role::Strong,
        (false, true) => Role::Emphasis,
        _ => Role::Text,
    };
    let flush = |current: &mut String, spans: &mut Vec<Span>, role: Role| {
        if !current.is_empty() {
            spans.push(Span::new(std::mem::take(current), role));
        }
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        if c == '`' {
            if let Some(len) = chars[i + 1..].iter().position(|&d| d == '`') {
                flush(&mut current, &mut spans, role(strong, emphasis));
                let code: String = chars[i + 1..i + 1 + len].iter().collect();
                spans.push(Span::new(code, Role::Code));
                i += len + 2;
                continue;
            }
        } else if c == '*' && next == Some('*') {
            flush(&mut current, &mut spans, role(strong, emphasis));
            strong = !strong;
            i += 2;
            continue;
        } else if (c == '*' || c == '_')
            && (emphasis || next.is_some_and(|n| !n.is_whitespace()))
            && (c == '*' || !prev.is_some_and(char::is_alphanumeric))
            && (c == '*' || !emphasis || !next.is_some_and(char::is_alphanumeric))
        {
            flush(&mut current, &mut spans, role(strong, emphasis));
            emphasis = !emphasis;
            i += 1;
            continue;
        } else if c == '[' {
            if let Some((label, url, used)) = link(&chars[i..]) {
                flush(&mut current, &mut spans, role(strong, emphasis));
                spans.push(Span::new(label, Role::Link));
                if !url.is_empty() {
                    spans.push(Span::new(format!(" ({url})"), Role::Dim));
                }
                i += used;
                continue;
            }
        }
        current.push(c);
        i += 1;
    }
    flush(&mut current, &mut spans, role(strong, emphasis));
    spans
}

/// `[label](url)` at the start of `chars`: the label, the url and the chars used.
fn link(chars: &[char]) -> Option<(String, String, usize)> {
    let close = chars.iter().position(|&c| c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = chars[close + 2..].iter().position(|&c| c == ')')? + close + 2;
    let label: String = chars[1..close].iter().collect();
    let url: String = chars[close + 2..end].iter().collect();
    Some((label, url, end + 1))
}

/// Word-wraps `spans` to `width`: the first row starts with `first`, later rows with
/// `next`; a word longer than a row is broken.
pub fn wrap(spans: Vec<Span>, width: usize, first: Vec<Span>, next: Vec<Span>) -> Vec<Line> {
    let mut rows = Vec::new();
    let mut row = first;
    let mut used: usize = row.iter().map(|s| width_of(&s.text)).sum();
    let next_used: usize = next.iter().map(|s| width_of(&s.text)).sum();
    let fresh = |row: &Vec<Span>| row.iter().all(|s| s.text.trim().is_empty());
    for span in spans {
        for word in split_words(&span.text) {
            let w = width_of(word);
            if used + w > width && !fresh(&row) {
                trim_end(&mut row);
                rows.push(Line::new(std::mem::replace(&mut row, next.clone())));
                used = next_used;
                if word.trim().is_empty() {
                    continue;
                }
            }
            if used + w <= width {
                push_text(&mut row, word, span.role);
                used += w;
                continue;
            }
            // A word wider than a row: break it by characters.
            for c in word.chars() {
                let cw = char_width(c);
                if used + cw > width && !fresh(&row) {
                    rows.push(Line::new(std::mem::replace(&mut row, next.clone())));
                    used = next_used;
                }
                push_text(&mut row, &c.to_string(), span.role);
                used += cw;
            }
        }
    }
    rows.push(Line::new(row));
    rows
}

/// Drops the spaces a row ends with where it was broken.
fn trim_end(row: &mut Vec<Span>) {
    loop {
        let only = row.len() == 1;
        let Some(last) = row.last_mut() else {
            return;
        };
        let kept = last.text.trim_end_matches(' ').len();
        if kept > 0 || only {
            last.text.truncate(kept);
            return;
        }
        row.pop();
    }
}

fn width_of(text: &str) -> usize {
    width(text)
}

fn push_text(row: &mut Vec<Span>, text: &str, role: Role) {
    match row.last_mut() {
        Some(last) if last.role == role => last.text.push_str(text),
        _ => row.push(Span::new(text, role)),
    }
}

/// Words and the runs of spaces between them, in order.
fn split_words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_space = None;
    for (i, c) in text.char_indices() {
        let space = c == ' ';
        if in_space.is_some_and(|s| s != space) {
            out.push(&text[start..i]);
            start = i;
        }
        in_space = Some(space);
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Code rows are broken by characters, not words.
fn wrap_code(spans: &[Span], width: usize) -> Vec<Vec<Span>> {
    let mut rows = vec![Vec::new()];
    let mut used = 0;
    for span in spans {
        for c in span.text.chars() {
            let w = char_width(c);
            if used + w > width {
                rows.push(Vec::new());
                used = 0;
            }
            if let Some(row) = rows.last_mut() {
                push_text(row, &c.to_string(), span.role);
            }
            used += w;
        }
    }
    rows
}

const RUST: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while",
];
const PYTHON: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "False", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "None", "not", "or", "pass", "raise", "return", "True", "try", "while", "with",
    "yield",
];
const JS: &[&str] = &[
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "default",
    "delete",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "return",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "type",
    "typeof",
    "undefined",
    "var",
    "while",
    "yield",
];
const GO: &[&str] = &[
    "break",
    "case",
    "chan",
    "const",
    "continue",
    "default",
    "defer",
    "else",
    "false",
    "for",
    "func",
    "go",
    "if",
    "import",
    "interface",
    "map",
    "nil",
    "package",
    "range",
    "return",
    "select",
    "struct",
    "switch",
    "true",
    "type",
    "var",
];
const C: &[&str] = &[
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "if",
    "int",
    "long",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "while",
    "class",
    "namespace",
    "public",
    "private",
    "template",
    "nullptr",
    "true",
    "false",
];
const SHELL: &[&str] = &[
    "case", "do", "done", "elif", "else", "esac", "export", "fi", "for", "function", "if", "in",
    "local", "return", "then", "while",
];

fn language(name: &str) -> (&'static [&'static str], &'static str) {
    match name {
        "rust" | "rs" => (RUST, "//"),
        "python" | "py" => (PYTHON, "#"),
        "js" | "javascript" | "ts" | "typescript" | "jsx" | "tsx" => (JS, "//"),
        "go" => (GO, "//"),
        "c" | "h" | "cpp" | "c++" | "java" | "cs" => (C, "//"),
        "sh" | "bash" | "shell" | "zsh" | "console" => (SHELL, "#"),
        "toml" | "yaml" | "yml" => (&[], "#"),
        _ => (&[], ""),
    }
}

/// One code line's spans: keywords, strings and comments of `language`.
pub fn highlight(line: &str, language_name: &str) -> Vec<Span> {
    let (keywords, comment) = language(language_name);
    let mut spans = Vec::new();
    let mut plain = String::new();
    let flush = |plain: &mut String, spans: &mut Vec<Span>| {
        if !plain.is_empty() {
            spans.push(Span::new(std::mem::take(plain), Role::CodeBlock));
        }
    };
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if !comment.is_empty() && rest.starts_with(comment) {
            flush(&mut plain, &mut spans);
            spans.push(Span::new(rest, Role::Comment));
            return spans;
        }
        if (c == '"' || c == '\'') && !keywords.is_empty() {
            let end = rest[1..]
                .find(c)
                .map_or(rest.len(), |i| i + 2)
                .min(rest.len());
            flush(&mut plain, &mut spans);
            spans.push(Span::new(&rest[..end], Role::StringLit));
            rest = &rest[end..];
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let end = rest
                .find(|d: char| !(d.is_alphanumeric() || d == '_'))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            if keywords.contains(&word) {
                flush(&mut plain, &mut spans);
                spans.push(Span::new(word, Role::Keyword));
            } else {
                plain.push_str(word);
            }
            rest = &rest[end..];
            continue;
        }
        plain.push(c);
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut plain, &mut spans);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<String> {
        lines.iter().map(Line::text).collect()
    }

    fn roles(line: &Line) -> Vec<(String, Role)> {
        line.spans
            .iter()
            .map(|s| (s.text.clone(), s.role))
            .collect()
    }

    #[test]
    fn inline_markup_becomes_roles() {
        let spans = inline("a **bold** and *it* `x_y` [docs](https://d.rs) snake_case_name");
        let got: Vec<(&str, Role)> = spans.iter().map(|s| (s.text.as_str(), s.role)).collect();
        assert_eq!(
            got,
            [
                ("a ", Role::Text),
                ("bold", Role::Strong),
                (" and ", Role::Text),
                ("it", Role::Emphasis),
                (" ", Role::Text),
                ("x_y", Role::Code),
                (" ", Role::Text),
                ("docs", Role::Link),
                (" (https://d.rs)", Role::Dim),
                (" snake_case_name", Role::Text),
            ]
        );
        assert_eq!(inline("2 * 3 = `6"), [Span::new("2 * 3 = `6", Role::Text)]);
    }

    #[test]
    fn blocks_headings_lists_quotes_and_code() {
        let lines = lay_out(
            "# Title\n- one\n  - nested\n12. twelve\n> said\n```rust\nlet x = \"s\"; // c\n```\nend",
            40,
        );
        assert_eq!(
            texts(&lines),
            [
                "Title",
                "• one",
                "  • nested",
                "12. twelve",
                "│ said",
                "rust",
                "let x = \"s\"; // c",
                "end"
            ]
        );
        assert_eq!(lines[0].spans[0].role, Role::Heading);
        assert_eq!(lines[4].spans[0].role, Role::Quote);
        assert_eq!(
            roles(&lines[6]),
            [
                ("let".to_string(), Role::Keyword),
                (" x = ".to_string(), Role::CodeBlock),
                ("\"s\"".to_string(), Role::StringLit),
                ("; ".to_string(), Role::CodeBlock),
                ("// c".to_string(), Role::Comment),
            ]
        );
        assert_eq!(lines[6].fill, Some(Role::CodeBlock));
        assert_eq!(lines[7].fill, None, "the fence closed");
    }

    #[test]
    fn long_lines_wrap_at_words_with_hanging_list_indent() {
        let lines = lay_out(
            "- a list item that is long enough to wrap\nsupercalifragilistic",
            16,
        );
        assert_eq!(
            texts(&lines),
            [
                "• a list item",
                "  that is long",
                "  enough to wrap",
                "supercalifragili",
                "stic"
            ]
        );
    }

    #[test]
    fn streaming_in_any_pieces_gives_the_same_layout_as_all_at_once() {
        let source = "# Plan\n\nSome **bold** text that wraps around the edge.\n```py\ndef f():\n    return 'x'  # done\n```\n1. last `item`";
        let whole = lay_out(source, 20);
        for step in [1, 2, 3, 7, 13] {
            let mut markdown = Markdown::new();
            let mut end = 0;
            while end < source.len() {
                end = (end + step).min(source.len());
                while !source.is_char_boundary(end) {
                    end += 1;
                }
                markdown.update(&source[..end], 20);
            }
            let streamed: Vec<Line> = markdown.lines().cloned().collect();
            assert_eq!(streamed, whole, "steps of {step}");
        }
        let mut markdown = Markdown::new();
        markdown.update(source, 20);
        markdown.update(source, 30);
        assert_eq!(
            markdown.lines().cloned().collect::<Vec<_>>(),
            lay_out(source, 30)
        );
    }
}

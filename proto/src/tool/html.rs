//! HTML to markdown or plain text, good enough for documentation pages.
//!
//! A forgiving tokenizer (tags, attributes, comments, raw-text `script`/`style`) feeds a
//! renderer that keeps what a reader needs: headings, paragraphs, lists (nested, ordered),
//! links (`[text](url)`, resolved against the page's URL), emphasis, inline code, `pre`
//! blocks (fenced, with the language from a `language-*` class), block quotes and tables
//! (one `| a | b |` row per line). Navigation, scripts, styles, forms' buttons, hidden
//! elements and the like are dropped. Entities are decoded and whitespace collapsed as a
//! browser would, except inside `pre`. Broken markup never fails: unknown or unbalanced
//! tags are ignored, and the cost stays linear in the input.

/// What to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Markdown: `#` headings, `[text](url)` links, `**bold**`, fenced code.
    Markdown,
    /// Plain text: the same layout without markup; links keep only their text.
    Text,
}

/// Converts `html` to markdown; relative links are resolved against `base_url` if given.
pub fn to_markdown(html: &str, base_url: Option<&str>) -> String {
    convert(html, Style::Markdown, base_url)
}

/// Converts `html` to plain text.
pub fn to_text(html: &str) -> String {
    convert(html, Style::Text, None)
}

/// Converts `html` in `style`; relative links are resolved against `base_url` if given.
pub fn convert(html: &str, style: Style, base_url: Option<&str>) -> String {
    let mut renderer = Renderer::new(style, base_url);
    let mut tokens = Tokenizer::new(html);
    while let Some(token) = tokens.next_token() {
        renderer.token(token);
    }
    renderer.finish()
}

// ---- tokens ----------------------------------------------------------------------------

enum Token<'a> {
    Text(&'a str),
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        self_closing: bool,
    },
    End {
        name: String,
    },
}

/// Elements whose content is not markup.
const RAW_TEXT: [&str; 5] = ["script", "style", "textarea", "title", "xmp"];

struct Tokenizer<'a> {
    src: &'a str,
    /// `src` in ASCII lower case: the same byte offsets, for case-blind searches.
    lower: String,
    pos: usize,
    raw_until: Option<String>,
}

impl<'a> Tokenizer<'a> {
    fn new(src: &'a str) -> Tokenizer<'a> {
        Tokenizer {
            src,
            lower: src.to_ascii_lowercase(),
            pos: 0,
            raw_until: None,
        }
    }

    fn find(&self, needle: &str, from: usize) -> Option<usize> {
        self.lower.get(from..)?.find(needle).map(|i| i + from)
    }

    fn next_token(&mut self) -> Option<Token<'a>> {
        let src = self.src;
        if self.pos >= src.len() {
            return None;
        }
        if let Some(name) = self.raw_until.take() {
            let end = self
                .find(&format!("</{name}"), self.pos)
                .unwrap_or(src.len());
            let text = &src[self.pos..end];
            self.pos = end;
            if !text.is_empty() {
                return Some(Token::Text(text));
            }
        }
        let rest = &src[self.pos..];
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            self.pos += end;
            return Some(Token::Text(&rest[..end]));
        }
        let bytes = rest.as_bytes();
        let next = bytes.get(1).copied().unwrap_or(b' ');
        if rest.starts_with("<!--") {
            self.pos = self
                .find("-->", self.pos + 4)
                .map_or(src.len(), |end| end + 3);
            return self.next_token();
        }
        if next == b'!' || next == b'?' {
            self.pos = self.find(">", self.pos).map_or(src.len(), |end| end + 1);
            return self.next_token();
        }
        let closing = next == b'/';
        let name_start = if closing { 2 } else { 1 };
        if !bytes
            .get(name_start)
            .is_some_and(|b| b.is_ascii_alphabetic())
        {
            // A `<` that starts no tag is text.
            self.pos += 1;
            return Some(Token::Text("<"));
        }
        let tag_end = tag_end(rest).unwrap_or(rest.len());
        let body = &rest[name_start..tag_end.min(rest.len())];
        self.pos += (tag_end + 1).min(rest.len());
        let name_len = body
            .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .unwrap_or(body.len());
        let name = body[..name_len].to_ascii_lowercase();
        if closing {
            return Some(Token::End { name });
        }
        let attrs_text = &body[name_len..];
        let self_closing = attrs_text.trim_end().ends_with('/');
        if RAW_TEXT.contains(&name.as_str()) && !self_closing {
            self.raw_until = Some(name.clone());
        }
        Some(Token::Start {
            attrs: attributes(attrs_text),
            name,
            self_closing,
        })
    }
}

/// Where the tag starting `rest` ends (its `>`), quotes respected.
fn tag_end(rest: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in rest.bytes().enumerate().skip(1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn attributes(text: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return attrs;
        }
        let name_len = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len())
            .max(1);
        let name = rest[..name_len].to_ascii_lowercase();
        rest = rest[name_len..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (raw, remaining) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let end = inner.find(q).unwrap_or(inner.len());
                    (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = decode_entities(raw);
            rest = remaining;
        }
        attrs.push((name, value));
    }
}

fn attr<'v>(attrs: &'v [(String, String)], name: &str) -> Option<&'v str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

// ---- entities --------------------------------------------------------------------------

/// Decodes character references: `&amp;`, `&#8212;`, `&#x2014;` and the common named ones.
/// Unknown references stay as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        match reference(rest) {
            Some((decoded, used)) => {
                out.push(decoded);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character `text` (starting with `&`) refers to, and how many bytes it spans.
fn reference(text: &str) -> Option<(char, usize)> {
    let body = &text[1..];
    if let Some(number) = body.strip_prefix('#') {
        let (digits, radix, skip) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16, 3),
            None => (number, 10, 2),
        };
        let len = digits
            .find(|c: char| !c.is_digit(radix))
            .unwrap_or(digits.len());
        if len == 0 || len > 8 {
            return None;
        }
        let code = u32::from_str_radix(&digits[..len], radix).ok()?;
        let decoded = match code {
            0 => '\u{fffd}',
            code => char::from_u32(code).unwrap_or('\u{fffd}'),
        };
        let semicolon = usize::from(digits[len..].starts_with(';'));
        return Some((decoded, skip + len + semicolon));
    }
    let len = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let name = &body[..len];
    let decoded = named_entity(name)?;
    if body[len..].starts_with(';') {
        Some((decoded, len + 2))
    } else if matches!(name, "amp" | "lt" | "gt" | "quot" | "nbsp") {
        Some((decoded, len + 1))
    } else {
        None
    }
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "ensp" => '\u{2002}',
        "emsp" => '\u{2003}',
        "thinsp" => '\u{2009}',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        "shy" => '\u{ad}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "minus" => '−',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "lsaquo" => '‹',
        "rsaquo" => '›',
        "bull" => '•',
        "middot" => '·',
        "times" => '×',
        "divide" => '÷',
        "plusmn" => '±',
        "deg" => '°',
        "para" => '¶',
        "sect" => '§',
        "dagger" => '†',
        "Dagger" => '‡',
        "prime" => '′',
        "Prime" => '″',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "harr" => '↔',
        "lArr" => '⇐',
        "rArr" => '⇒',
        "hArr" => '⇔',
        "le" => '≤',
        "ge" => '≥',
        "ne" => '≠',
        "asymp" => '≈',
        "infin" => '∞',
        "check" => '✓',
        "frac12" => '½',
        "frac14" => '¼',
        "frac34" => '¾',
        "sup2" => '²',
        "sup3" => '³',
        "micro" => 'µ',
        "iexcl" => '¡',
        "iquest" => '¿',
        "szlig" => 'ß',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "aacute" => 'á',
        "eacute" => 'é',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "agrave" => 'à',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "ccedil" => 'ç',
        "ntilde" => 'ñ',
        "oslash" => 'ø',
        "aring" => 'å',
        "aelig" => 'æ',
        "alpha" => 'α',
        "beta" => 'β',
        "gamma" => 'γ',
        "delta" => 'δ',
        "lambda" => 'λ',
        "mu" => 'μ',
        "pi" => 'π',
        "sigma" => 'σ',
        "omega" => 'ω',
        _ => return None,
    })
}

// ---- rendering -------------------------------------------------------------------------

/// Elements dropped with everything inside them.
const DROPPED: [&str; 17] = [
    "script", "style", "noscript", "template", "head", "title", "nav", "footer", "svg", "math",
    "iframe", "canvas", "select", "button", "object", "audio", "video",
];

const VOID: [&str; 14] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// How far nesting shows in line prefixes and how far an end tag looks for its start;
/// deeper structure still renders, flatter, and the cost stays linear.
const MAX_DEPTH: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    None,
    Line,
    Paragraph,
}

enum Block {
    Quote,
    List { ordered: bool, next: u64 },
    Item { marker: String, pending: bool },
}

struct Link {
    start: usize,
    href: Option<String>,
    flushes: u64,
}

struct Pre {
    text: String,
    language: Option<String>,
}

struct Table {
    rows: usize,
    cells: usize,
    in_row: bool,
}

struct Renderer {
    style: Style,
    base: Option<String>,
    out: String,
    line: String,
    space_pending: bool,
    /// The inline marker that ends `line`, if nothing was written after it yet.
    fresh_mark: Option<&'static str>,
    pending: Break,
    flushes: u64,
    blocks: Vec<Block>,
    /// How many of `blocks` are lists.
    lists: usize,
    links: Vec<Link>,
    skip: Option<(String, usize)>,
    pre: Option<Pre>,
    tables: Vec<Table>,
}

impl Renderer {
    fn new(style: Style, base: Option<&str>) -> Renderer {
        Renderer {
            style,
            base: base.filter(|b| b.contains("://")).map(str::to_string),
            out: String::new(),
            line: String::new(),
            space_pending: false,
            fresh_mark: None,
            pending: Break::None,
            flushes: 0,
            blocks: Vec::new(),
            lists: 0,
            links: Vec::new(),
            skip: None,
            pre: None,
            tables: Vec::new(),
        }
    }

    fn markdown(&self) -> bool {
        self.style == Style::Markdown
    }

    fn token(&mut self, token: Token<'_>) {
        if let Some((skipped, depth)) = &mut self.skip {
            match &token {
                Token::Start {
                    name, self_closing, ..
                } if name == skipped && !self_closing => *depth += 1,
                Token::End { name } if name == skipped => {
                    *depth -= 1;
                    if *depth == 0 {
                        self.skip = None;
                    }
                }
                _ => {}
            }
            return;
        }
        match token {
            Token::Text(text) => self.text(text),
            Token::Start {
                name,
                attrs,
                self_closing,
            } => {
                let void = VOID.contains(&name.as_str());
                if dropped(&name, &attrs) {
                    if !void && !self_closing {
                        self.skip = Some((name, 1));
                    }
                    return;
                }
                self.start(&name, &attrs);
                if self_closing && !void {
                    self.end(&name);
                }
            }
            Token::End { name } => self.end(&name),
        }
    }

    // ---- text ----

    fn text(&mut self, text: &str) {
        let text = decode_entities(text);
        if let Some(pre) = &mut self.pre {
            pre.text.push_str(&text);
            return;
        }
        for c in text.chars() {
            if c.is_whitespace() {
                self.space_pending = true;
                continue;
            }
            if c == '\u{ad}' || c == '\u{200b}' {
                continue;
            }
            self.pending_space();
            self.line.push(c);
        }
    }

    /// Writes the space collapsed whitespace left, if any: before a marker that was just
    /// opened (`a **b**`, not `a** b**`), else at the end.
    fn pending_space(&mut self) {
        let fresh = self.fresh_mark.take().filter(|m| self.line.ends_with(m));
        if !self.space_pending {
            return;
        }
        self.space_pending = false;
        let at = self.line.len() - fresh.map_or(0, str::len);
        if at > 0 && !self.line[..at].ends_with(' ') {
            self.line.insert(at, ' ');
        }
    }

    /// Opens an inline marker (`**`, `` ` ``) where the text continues.
    fn open_mark(&mut self, mark: &'static str) {
        if self.markdown() {
            self.pending_space();
            self.line.push_str(mark);
            self.fresh_mark = Some(mark);
        }
    }

    /// Closes an inline marker; a space before it moves after it.
    fn close_mark(&mut self, mark: &str) {
        if !self.markdown() {
            return;
        }
        if self.line.ends_with(mark) {
            // Nothing inside: drop the pair.
            let cut = self.line.len() - mark.len();
            self.line.truncate(cut);
            return;
        }
        if self.line.ends_with(' ') {
            self.line.pop();
            self.space_pending = true;
        }
        self.line.push_str(mark);
    }

    // ---- blocks ----

    fn in_cell(&self) -> bool {
        self.tables.last().is_some_and(|t| t.in_row)
    }

    fn block_break(&mut self, kind: Break) {
        if self.in_cell() {
            self.space_pending = true;
            return;
        }
        self.flush_line();
        // The first paragraph of a list item starts on the marker's line, not below it.
        let at_marker = matches!(self.blocks.last(), Some(Block::Item { pending: true, .. }));
        if !(at_marker && kind == Break::Paragraph) {
            self.pending = self.pending.max(kind);
        }
    }

    fn prefix(&mut self, first_line: bool) -> String {
        let mut prefix = String::new();
        let depth = self.blocks.len().min(MAX_DEPTH);
        let markdown = self.markdown();
        for block in &mut self.blocks[..depth] {
            match block {
                Block::Quote if markdown => prefix.push_str("> "),
                Block::Quote => prefix.push_str("  "),
                Block::List { .. } => {}
                Block::Item { marker, pending } => {
                    if *pending && first_line {
                        prefix.push_str(marker);
                        *pending = false;
                    } else {
                        prefix.extend(std::iter::repeat_n(' ', marker.chars().count()));
                    }
                }
            }
        }
        prefix
    }

    /// Writes the pending break, then `text` as one line under the current prefix.
    fn write_line(&mut self, text: &str) {
        if !self.out.is_empty() && self.pending == Break::Paragraph {
            let quote = self.quote_prefix();
            self.out.push_str(quote.trim_end());
            self.out.push('\n');
        }
        self.pending = Break::None;
        let prefix = self.prefix(true);
        self.out.push_str(&prefix);
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn quote_prefix(&self) -> String {
        let quotes = self.blocks[..self.blocks.len().min(MAX_DEPTH)]
            .iter()
            .filter(|b| matches!(b, Block::Quote))
            .count();
        if self.markdown() {
            "> ".repeat(quotes)
        } else {
            String::new()
        }
    }

    fn flush_line(&mut self) {
        self.space_pending = false;
        if self.line.trim().is_empty() {
            self.line.clear();
            return;
        }
        let line = std::mem::take(&mut self.line);
        self.write_line(line.trim());
        self.flushes += 1;
    }

    fn push_block(&mut self, block: Block) {
        if matches!(block, Block::List { .. }) {
            self.lists += 1;
        }
        self.blocks.push(block);
    }

    /// Pops blocks down to and including the innermost one `is` accepts, if there is one
    /// near the top.
    fn pop_block(&mut self, is: fn(&Block) -> bool) {
        let top = self.blocks.len();
        let floor = top.saturating_sub(MAX_DEPTH);
        if let Some(at) = (floor..top).rev().find(|&i| is(&self.blocks[i])) {
            let lists = self.blocks[at..]
                .iter()
                .filter(|b| matches!(b, Block::List { .. }))
                .count();
            self.lists -= lists;
            self.blocks.truncate(at);
        }
    }

    fn list_depth(&self) -> usize {
        self.lists
    }

    // ---- elements ----

    fn start(&mut self, name: &str, attrs: &[(String, String)]) {
        if let Some(pre) = &mut self.pre {
            match name {
                "br" => pre.text.push('\n'),
                "code" if pre.language.is_none() => pre.language = language(attrs),
                _ => {}
            }
            return;
        }
        match name {
            "p" | "section" | "article" | "main" | "header" | "aside" | "figure" | "address"
            | "details" | "fieldset" | "dl" | "center" | "body" | "html" => {
                self.block_break(Break::Paragraph)
            }
            "div" | "figcaption" | "summary" | "dt" | "dd" | "tbody" | "thead" | "tfoot"
            | "caption" | "form" | "legend" => self.block_break(Break::Line),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.block_break(Break::Paragraph);
                if self.markdown() {
                    let level = usize::from(name.as_bytes()[1] - b'0');
                    self.line = format!("{} ", "#".repeat(level));
                }
            }
            "br" => {
                if self.in_cell() {
                    self.space_pending = true;
                } else {
                    self.flush_line();
                }
            }
            "hr" => {
                self.block_break(Break::Paragraph);
                if self.markdown() {
                    self.write_line("---");
                }
                self.pending = Break::Paragraph;
            }
            "ul" | "ol" | "menu" => {
                let kind = if self.list_depth() == 0 {
                    Break::Paragraph
                } else {
                    Break::Line
                };
                self.block_break(kind);
                let next = attr(attrs, "start")
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1);
                self.push_block(Block::List {
                    ordered: name == "ol",
                    next,
                });
            }
            "li" => {
                self.block_break(Break::Line);
                if matches!(self.blocks.last(), Some(Block::Item { .. })) {
                    self.blocks.pop();
                }
                let marker = match self.blocks.last_mut() {
                    Some(Block::List {
                        ordered: true,
                        next,
                    }) => {
                        let marker = format!("{next}. ");
                        *next = next.saturating_add(1);
                        marker
                    }
                    _ => "- ".to_string(),
                };
                self.push_block(Block::Item {
                    marker,
                    pending: true,
                });
            }
            "blockquote" => {
                self.block_break(Break::Paragraph);
                self.push_block(Block::Quote);
            }
            "pre" | "listing" | "plaintext" => {
                self.block_break(Break::Paragraph);
                self.pre = Some(Pre {
                    text: String::new(),
                    language: language(attrs),
                });
            }
            "table" => {
                self.block_break(Break::Paragraph);
                self.tables.push(Table {
                    rows: 0,
                    cells: 0,
                    in_row: false,
                });
            }
            "tr" => {
                self.end_row();
                if let Some(table) = self.tables.last_mut() {
                    table.in_row = true;
                    table.cells = 0;
                }
            }
            "td" | "th" => self.start_cell(),
            "strong" | "b" => self.open_mark("**"),
            "em" | "i" => self.open_mark("*"),
            "code" | "kbd" | "samp" | "tt" => self.open_mark("`"),
            "a" => {
                self.pending_space();
                if self.links.len() < MAX_DEPTH {
                    let href = attr(attrs, "href").and_then(|h| self.link_target(h));
                    self.links.push(Link {
                        start: self.line.len(),
                        href,
                        flushes: self.flushes,
                    });
                }
            }
            "img" => {
                let alt = attr(attrs, "alt").map(str::trim).unwrap_or_default();
                if alt.is_empty() {
                    return;
                }
                self.pending_space();
                let src = attr(attrs, "src").and_then(|s| self.link_target(s));
                match src {
                    Some(src) if self.markdown() => {
                        let image = format!("![{alt}]({src})");
                        self.line.push_str(&image);
                    }
                    _ => self.line.push_str(alt),
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, name: &str) {
        if self.pre.is_some() {
            if matches!(name, "pre" | "listing" | "plaintext") {
                if let Some(pre) = self.pre.take() {
                    self.write_pre(pre);
                }
            }
            return;
        }
        match name {
            "p" | "section" | "article" | "main" | "header" | "aside" | "figure" | "address"
            | "details" | "fieldset" | "dl" | "center" | "h1" | "h2" | "h3" | "h4" | "h5"
            | "h6" => {
                if name.len() == 2 && self.line.trim_start_matches('#').trim().is_empty() {
                    self.line.clear();
                }
                self.block_break(Break::Paragraph);
            }
            "div" | "figcaption" | "summary" | "dt" | "dd" | "caption" | "form" | "legend" => {
                self.block_break(Break::Line)
            }
            "ul" | "ol" | "menu" => {
                self.block_break(Break::Line);
                self.pop_block(|b| matches!(b, Block::List { .. }));
                let kind = if self.list_depth() == 0 {
                    Break::Paragraph
                } else {
                    Break::Line
                };
                self.pending = self.pending.max(kind);
            }
            "li" => {
                self.block_break(Break::Line);
                if matches!(self.blocks.last(), Some(Block::Item { .. })) {
                    self.blocks.pop();
                }
            }
            "blockquote" => {
                self.block_break(Break::Paragraph);
                self.pop_block(|b| matches!(b, Block::Quote));
            }
            "table" => {
                self.end_row();
                self.tables.pop();
                self.block_break(Break::Paragraph);
            }
            "tr" => self.end_row(),
            "strong" | "b" => self.close_mark("**"),
            "em" | "i" => self.close_mark("*"),
            "code" | "kbd" | "samp" | "tt" => self.close_mark("`"),
            "a" => self.end_link(),
            _ => {}
        }
    }

    fn end_link(&mut self) {
        let Some(link) = self.links.pop() else {
            return;
        };
        // The line may have been cut back and regrown since the link opened.
        if !self.markdown()
            || link.flushes != self.flushes
            || !self.line.is_char_boundary(link.start)
        {
            return;
        }
        let Some(href) = link.href else {
            return;
        };
        let text = self.line[link.start..].trim().to_string();
        if text.is_empty() {
            return;
        }
        self.line.truncate(link.start);
        self.line.push_str(&format!("[{text}]({href})"));
    }

    /// Where a link goes, resolved; `None` for links that lead nowhere a reader can follow.
    fn link_target(&self, href: &str) -> Option<String> {
        let href = href.trim();
        let lower = href.to_ascii_lowercase();
        if href.is_empty()
            || href.starts_with('#')
            || lower.starts_with("javascript:")
            || lower.starts_with("data:")
        {
            return None;
        }
        let href = href.replace(' ', "%20");
        Some(match &self.base {
            Some(base) => resolve(base, &href),
            None => href,
        })
    }

    fn start_cell(&mut self) {
        let markdown = self.markdown();
        let Some(table) = self.tables.last_mut() else {
            return;
        };
        if !table.in_row {
            table.in_row = true;
            table.cells = 0;
        }
        table.cells += 1;
        let separator = match (table.cells, markdown) {
            (1, true) => "| ",
            (1, false) => "",
            (_, true) => " | ",
            (_, false) => " | ",
        };
        if self.line.ends_with(' ') {
            self.line.pop();
        }
        self.line.push_str(separator);
        self.space_pending = false;
    }

    fn end_row(&mut self) {
        let markdown = self.markdown();
        let Some(table) = self.tables.last_mut() else {
            return;
        };
        if !table.in_row {
            return;
        }
        table.in_row = false;
        let cells = table.cells;
        table.rows += 1;
        let first = table.rows == 1;
        if cells == 0 {
            self.line.clear();
            table.rows -= 1;
            return;
        }
        if markdown {
            let trimmed = self.line.trim_end().len();
            self.line.truncate(trimmed);
            self.line.push_str(" |");
        }
        self.flush_line();
        if markdown && first {
            let separator = vec!["---"; cells].join(" | ");
            self.write_line(&format!("| {separator} |"));
        }
    }

    fn write_pre(&mut self, pre: Pre) {
        let text = pre.text.replace("\r\n", "\n");
        let text = text.strip_prefix('\n').unwrap_or(&text).trim_end();
        if text.trim().is_empty() {
            return;
        }
        self.flush_line();
        let mut lines: Vec<String> = Vec::new();
        if self.markdown() {
            let fence = fence_for(text);
            lines.push(format!("{fence}{}", pre.language.unwrap_or_default()));
            lines.extend(text.lines().map(str::to_string));
            lines.push(fence);
        } else {
            lines.extend(text.lines().map(str::to_string));
        }
        self.pending = self.pending.max(Break::Paragraph);
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                self.pending = Break::None;
            }
            self.write_line(line.trim_end());
        }
        self.flushes += 1;
        self.pending = Break::Paragraph;
    }

    fn finish(mut self) -> String {
        if let Some(pre) = self.pre.take() {
            self.write_pre(pre);
        }
        self.end_row();
        self.flush_line();
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out
    }
}

/// Whether an element is noise to drop with its content.
fn dropped(name: &str, attrs: &[(String, String)]) -> bool {
    DROPPED.contains(&name)
        || attrs.iter().any(|(n, v)| match n.as_str() {
            "hidden" => true,
            "aria-hidden" => v.eq_ignore_ascii_case("true"),
            "role" => v.eq_ignore_ascii_case("navigation"),
            _ => false,
        })
}

/// The language named by a `language-*`, `lang-*` or `highlight-source-*` class.
fn language(attrs: &[(String, String)]) -> Option<String> {
    let class = attr(attrs, "class")?;
    class.split_ascii_whitespace().find_map(|c| {
        ["language-", "lang-", "highlight-source-"]
            .iter()
            .find_map(|p| c.strip_prefix(p))
            .filter(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-_#".contains(c))
            })
            .map(str::to_string)
    })
}

/// A backtick fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat(longest.max(2) + 1)
}

/// `href` resolved against the absolute URL `base` (RFC 3986, simplified).
pub fn resolve(base: &str, href: &str) -> String {
    let has_scheme = href.find(':').is_some_and(|i| {
        i > 0
            && href[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if has_scheme {
        return href.to_string();
    }
    let Some(scheme_end) = base.find("://") else {
        return href.to_string();
    };
    let scheme = &base[..scheme_end];
    let after = &base[scheme_end + 3..];
    let authority_len = after.find(['/', '?', '#']).unwrap_or(after.len());
    let origin = &base[..scheme_end + 3 + authority_len];
    if let Some(rest) = href.strip_prefix("//") {
        return format!("{scheme}://{rest}");
    }
    let path_and_more = &after[authority_len..];
    let path_len = path_and_more
        .find(['?', '#'])
        .unwrap_or(path_and_more.len());
    let base_path = &path_and_more[..path_len];
    if href.starts_with('?') {
        return format!("{origin}{base_path}{href}");
    }
    let joined = if href.starts_with('/') {
        href.to_string()
    } else {
        let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
        format!("{dir}{href}")
    };
    let (path, suffix) = match joined.find(['?', '#']) {
        Some(i) => joined.split_at(i),
        None => (joined.as_str(), ""),
    };
    format!("{origin}{}{suffix}", normalize_path(path))
}

/// Removes `.` and `..` segments.
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').collect();
    let last = parts.len().saturating_sub(1);
    for (i, segment) in parts.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    segments.push("");
                }
            }
            ".." => {
                if segments.len() > 1 {
                    segments.pop();
                }
                if i == last {
                    segments.push("");
                }
            }
            s => segments.push(s),
        }
    }
    let joined = segments.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(html: &str) -> String {
        to_markdown(html, None)
    }

    #[test]
    fn a_documentation_page_keeps_its_content_and_loses_its_chrome() {
        let html = r##"<!DOCTYPE html>
<html><head><title>Guide</title><style>body { color: red }</style>
<script>var x = "<p>not text</p>";</script></head>
<body>
<nav><ul><li><a href="/">Home</a></li></ul></nav>
<main>
<h1>Getting   started</h1>
<p>Install the <code>cm</code> tool, then run it.
It is <strong>fast</strong> and <em>small</em>.</p>
<h2 id="usage">Usage <a class="anchor" href="#usage">¶</a></h2>
<ul>
  <li>First &amp; foremost</li>
  <li>See <a href="/docs/config.html">the config</a></li>
</ul>
<pre><code class="language-rust">fn main() {
    println!("&lt;hi&gt;");
}
</code></pre>
</main>
<footer>© 2024 Example</footer>
</body></html>"##;
        assert_eq!(
            to_markdown(html, Some("https://example.com/guide/start.html")),
            "# Getting started\n\
             \n\
             Install the `cm` tool, then run it. It is **fast** and *small*.\n\
             \n\
             ## Usage ¶\n\
             \n\
             - First & foremost\n\
             - See [the config](https://example.com/docs/config.html)\n\
             \n\
             ```rust\n\
             fn main() {\n    println!(\"<hi>\");\n}\n\
             ```"
        );
    }

    #[test]
    fn text_style_keeps_the_layout_without_markup() {
        let html = "<h2>Title</h2><p>A <a href='x'>link</a> and <b>bold</b>.</p>\
                    <ol><li>one</li><li>two</li></ol><pre>  indented\n  code</pre>";
        assert_eq!(
            to_text(html),
            "Title\n\nA link and bold.\n\n1. one\n2. two\n\n  indented\n  code"
        );
    }

    #[test]
    fn nested_and_ordered_lists_are_indented_under_their_markers() {
        let html = "<ol start='3'><li>three<ul><li>a</li><li>b<li>c (unclosed li)</ul></li>\
                    <li><p>four</p><p>more</p></li></ol><p>after</p>";
        assert_eq!(
            md(html),
            "3. three\n   - a\n   - b\n   - c (unclosed li)\n4. four\n\n   more\n\nafter"
        );
    }

    #[test]
    fn tables_become_one_row_per_line() {
        let html = "<table><thead><tr><th>Name</th><th>Type</th></tr></thead>\
                    <tbody><tr><td>id</td><td><p>u64</p></td></tr>\
                    <tr><td>name<br>(optional)</td><td>String</td></tr></tbody></table>";
        assert_eq!(
            md(html),
            "| Name | Type |\n| --- | --- |\n| id | u64 |\n| name (optional) | String |"
        );
        assert_eq!(
            to_text(html),
            "Name | Type\nid | u64\nname (optional) | String"
        );
    }

    #[test]
    fn blockquotes_are_prefixed_line_by_line() {
        assert_eq!(
            md("<blockquote><p>one</p><p>two</p></blockquote><p>out</p>"),
            "> one\n>\n> two\n\nout"
        );
    }

    #[test]
    fn entities_are_decoded_in_text_and_attributes() {
        assert_eq!(
            decode_entities(
                "a &lt;b&gt; &amp;amp; &#65;&#x42;&#X43; &mdash; &nbsp;&unknown; & x &amp"
            ),
            "a <b> &amp; ABC — \u{a0}&unknown; & x &"
        );
        assert_eq!(
            decode_entities("&#0;&#xD800;&#99999999999;"),
            "\u{fffd}\u{fffd}&#99999999999;"
        );
        assert_eq!(md(r#"<a href="/a?x=1&amp;y=2">q</a>"#), "[q](/a?x=1&y=2)");
    }

    #[test]
    fn whitespace_collapses_outside_pre_and_stays_inside() {
        assert_eq!(md("<p>  a \n\t b  </p>\n\n\n<p>c</p>"), "a b\n\nc");
        assert_eq!(md("<p>x<b> y </b>z</p>"), "x **y** z");
        assert_eq!(md("<pre>\n  a\n\n    b\n</pre>"), "```\n  a\n\n    b\n```");
        assert_eq!(
            md("<pre>has ``` inside</pre>"),
            "````\nhas ``` inside\n````"
        );
    }

    #[test]
    fn links_without_a_target_keep_their_text_and_empty_ones_vanish() {
        assert_eq!(
            md("<p><a href='#top'>Top</a> <a href='javascript:void(0)'>JS</a> <a href='/x'></a>end</p>"),
            "Top JS end"
        );
        assert_eq!(
            md("<a href='https://a.example/'><img alt='logo' src='l.png'> Home</a>"),
            "[![logo](l.png) Home](https://a.example/)"
        );
    }

    #[test]
    fn hidden_and_noise_elements_are_dropped_with_their_content() {
        let html = "<div hidden>secret</div><div aria-hidden=\"true\">icon</div>\
                    <div role=navigation>menu</div><svg><text>t</text></svg>\
                    <button>Copy</button><noscript>enable js</noscript><p>kept</p>\
                    <nav><nav>inner</nav>still nav</nav><p>also kept</p>";
        assert_eq!(md(html), "kept\n\nalso kept");
    }

    #[test]
    fn broken_markup_is_tolerated() {
        assert_eq!(md("a < b and c<d"), "a < b and c");
        assert_eq!(md("<p>unclosed <b>bold"), "unclosed **bold");
        assert_eq!(
            md("<p class=\"x>y\">quoted > inside</p>"),
            "quoted > inside"
        );
        assert_eq!(md("</ul></li></blockquote>text"), "text");
        assert_eq!(md("<!-- <p>comment</p> -->after<!-- never closed"), "after");
        assert_eq!(md("<script>never closed"), "");
        assert_eq!(md("<SCRIPT>x</SCRIPT><P>Upper</P>"), "Upper");
        assert_eq!(md(""), "");
        assert_eq!(md("<"), "<");
        assert_eq!(md("<a href="), "");
    }

    #[test]
    fn any_tag_soup_converts_without_panicking() {
        let pieces = [
            "<b>",
            "</b>",
            "<a href=x>",
            "</a>",
            "€",
            " ",
            "<li>",
            "</ul>",
            "<ul>",
            "<ol>",
            "<pre>",
            "</pre>",
            "<td>",
            "<tr>",
            "<table>",
            "</table>",
            "<h2>",
            "</h2>",
            "&amp",
            "<code>",
            "</code>",
            "<blockquote>",
            "</blockquote>",
            "<br>",
            "<p>",
            "<img alt=é>",
            "<nav>",
            "</nav>",
            "<",
            "&#x",
            "x",
        ];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let html = format!("{a}{b}{c}");
                    to_markdown(&html, Some("https://h.example/d/"));
                    to_text(&html);
                }
            }
        }
        let mut seed: u64 = 7;
        for _ in 0..2000 {
            let mut html = String::new();
            for _ in 0..30 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                html.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            to_markdown(&html, None);
            to_text(&html);
        }
    }

    #[test]
    fn deep_nesting_stays_bounded() {
        let depth = 20_000;
        let html = format!(
            "{}x{}",
            "<blockquote><ul><li>".repeat(depth),
            "</ul>".repeat(depth)
        );
        let out = md(&html);
        assert!(out.ends_with('x'));
        assert!(out.len() < 200, "{}", out.len());
    }

    #[test]
    fn relative_links_resolve_against_the_page() {
        let base = "https://docs.example.com/guide/intro/page.html?q=1#frag";
        let cases = [
            (
                "other.html",
                "https://docs.example.com/guide/intro/other.html",
            ),
            ("../api/", "https://docs.example.com/guide/api/"),
            ("./a/../b", "https://docs.example.com/guide/intro/b"),
            ("/root", "https://docs.example.com/root"),
            ("//cdn.example.com/x", "https://cdn.example.com/x"),
            (
                "?page=2",
                "https://docs.example.com/guide/intro/page.html?page=2",
            ),
            ("mailto:a@b.c", "mailto:a@b.c"),
            ("http://else.example/", "http://else.example/"),
            ("../../../../up", "https://docs.example.com/up"),
        ];
        for (href, want) in cases {
            assert_eq!(resolve(base, href), want, "{href}");
        }
        assert_eq!(resolve("https://h.example", "a"), "https://h.example/a");
    }

    #[test]
    fn headings_of_all_levels_and_rules() {
        assert_eq!(
            md("<h3>Three</h3><hr><h6>Six</h6><h2></h2><p>p</p>"),
            "### Three\n\n---\n\n###### Six\n\np"
        );
    }
}

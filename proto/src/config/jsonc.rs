//! JSONC: JSON plus `//` and `/* */` comments and trailing commas, parsed into a tree
//! that remembers where each value and key starts (a byte offset into the text).
//!
//! Duplicate keys in one object are an error (a config that says `model` twice is a
//! mistake, not a choice). Nesting is capped at [`MAX_DEPTH`] so no input can exhaust
//! the stack.

use std::fmt;

/// The deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 64;

/// A parsed value and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Byte offset of the value's first character.
    pub at: usize,
    /// The value.
    pub value: Value,
}

/// A JSON value whose children keep their positions.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string, escapes resolved.
    String(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, its entries in the order written.
    Object(Vec<Entry>),
}

/// A number, kept as an integer when it is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Signed(i64),
    /// Anything else (fractions, exponents, integers too large for 64 bits).
    Float(f64),
}

/// One key and value of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Byte offset of the key's opening quote.
    pub key_at: usize,
    /// The key.
    pub key: String,
    /// The value.
    pub value: Node,
}

/// What broke the JSONC syntax, at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset where the problem is.
    pub at: usize,
    /// The problem.
    pub kind: SyntaxErrorKind,
}

/// The syntax rule a JSONC text broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxErrorKind {
    /// Something else was found where `expected` belongs (`found` is `None` at the end).
    Unexpected {
        /// What belongs here, in words.
        expected: &'static str,
        /// The character found, or `None` for the end of the text.
        found: Option<char>,
    },
    /// A `/*` comment is never closed.
    UnclosedComment,
    /// A string is never closed.
    UnclosedString,
    /// A backslash escape that JSON does not have.
    InvalidEscape,
    /// A raw control character (such as a tab or newline) inside a string.
    ControlCharacterInString,
    /// A number JSON cannot read (`01`, `1.`, `+1`, `.5`).
    InvalidNumber,
    /// The same key twice in one object.
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for SyntaxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxErrorKind::Unexpected {
                expected,
                found: Some(c),
            } => write!(f, "expected {expected}, found `{c}`"),
            SyntaxErrorKind::Unexpected {
                expected,
                found: None,
            } => write!(f, "expected {expected}, but the file ends here"),
            SyntaxErrorKind::UnclosedComment => {
                write!(f, "this `/*` comment is never closed; add `*/`")
            }
            SyntaxErrorKind::UnclosedString => {
                write!(f, "this string is never closed; add the closing `\"`")
            }
            SyntaxErrorKind::InvalidEscape => {
                write!(f, "invalid escape in a string; write a backslash as `\\\\`")
            }
            SyntaxErrorKind::ControlCharacterInString => write!(
                f,
                "a string holds a raw control character; write it as `\\n` or `\\t`"
            ),
            SyntaxErrorKind::InvalidNumber => {
                write!(f, "invalid number; write it like `42` or `0.5`")
            }
            SyntaxErrorKind::DuplicateKey { key } => {
                write!(
                    f,
                    "the key \"{key}\" appears twice in this object; keep one"
                )
            }
            SyntaxErrorKind::TooDeep => {
                write!(f, "nested more than {MAX_DEPTH} levels deep")
            }
        }
    }
}

/// Parses a whole JSONC text (an optional byte order mark is skipped).
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: text.strip_prefix('\u{feff}').map_or(0, |_| 3),
    };
    let node = parser.value(0)?;
    parser.skip_blank()?;
    if parser.pos < parser.bytes.len() {
        return Err(parser.unexpected("the end of the file after the value"));
    }
    Ok(node)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, at: usize, kind: SyntaxErrorKind) -> SyntaxError {
        SyntaxError { at, kind }
    }

    fn unexpected(&self, expected: &'static str) -> SyntaxError {
        let found = self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next());
        self.error(self.pos, SyntaxErrorKind::Unexpected { expected, found })
    }

    /// Skips whitespace and comments.
    fn skip_blank(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') => match self.bytes.get(self.pos + 1) {
                    Some(b'/') => {
                        while !matches!(self.peek(), None | Some(b'\n')) {
                            self.pos += 1;
                        }
                    }
                    Some(b'*') => {
                        let start = self.pos;
                        match self.text[self.pos + 2..].find("*/") {
                            Some(end) => self.pos += 2 + end + 2,
                            None => return Err(self.error(start, SyntaxErrorKind::UnclosedComment)),
                        }
                    }
                    _ => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        self.skip_blank()?;
        let at = self.pos;
        let value = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
            Some(b't') if self.eat_word("true") => Value::Bool(true),
            Some(b'f') if self.eat_word("false") => Value::Bool(false),
            Some(b'n') if self.eat_word("null") => Value::Null,
            _ => return Err(self.unexpected("a value (a string in double quotes, a number, true, false, null, an object or an array)")),
        };
        Ok(Node { at, value })
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let end = self.pos + word.len();
        let whole = self.bytes.get(self.pos..end) == Some(word.as_bytes())
            && !self
                .bytes
                .get(end)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if whole {
            self.pos = end;
        }
        whole
    }

    fn enter(&self, depth: usize) -> Result<usize, SyntaxError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(self.pos, SyntaxErrorKind::TooDeep));
        }
        Ok(depth + 1)
    }

    fn array(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        let depth = self.enter(depth)?;
        self.pos += 1; // `[`
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(b']') {
                self.pos += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value(depth)?);
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(self.unexpected("`,` or `]` after an array item")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        let depth = self.enter(depth)?;
        self.pos += 1; // `{`
        let mut entries: Vec<Entry> = Vec::new();
        loop {
            self.skip_blank()?;
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(entries));
                }
                Some(b'"') => {}
                _ => return Err(self.unexpected("a key in double quotes or `}`")),
            }
            let key_at = self.pos;
            let key = self.string()?;
            if entries.iter().any(|e| e.key == key) {
                return Err(self.error(key_at, SyntaxErrorKind::DuplicateKey { key }));
            }
            self.skip_blank()?;
            if self.peek() != Some(b':') {
                return Err(self.unexpected("`:` after the key"));
            }
            self.pos += 1;
            let value = self.value(depth)?;
            entries.push(Entry { key_at, key, value });
            self.skip_blank()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.unexpected("`,` or `}` after a value")),
            }
        }
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.pos += 1; // `"`
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(c) = rest.chars().next() else {
                return Err(self.error(start, SyntaxErrorKind::UnclosedString));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => {
                    let escape_at = self.pos;
                    self.pos += 1;
                    let decoded = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape(escape_at)?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error(escape_at, SyntaxErrorKind::InvalidEscape)),
                    };
                    self.pos += 1;
                    out.push(decoded);
                }
                c if u32::from(c) < 0x20 => {
                    return Err(self.error(self.pos, SyntaxErrorKind::ControlCharacterInString))
                }
                c => {
                    self.pos += c.len_utf8();
                    out.push(c);
                }
            }
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` for a surrogate pair.
    fn unicode_escape(&mut self, escape_at: usize) -> Result<char, SyntaxError> {
        let invalid = self.error(escape_at, SyntaxErrorKind::InvalidEscape);
        let first = self.hex4().ok_or_else(|| invalid.clone())?;
        if !(0xD800..0xDC00).contains(&first) {
            return char::from_u32(first).ok_or(invalid);
        }
        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
            return Err(invalid);
        }
        self.pos += 2;
        let second = self.hex4().ok_or_else(|| invalid.clone())?;
        if !(0xDC00..0xE000).contains(&second) {
            return Err(invalid);
        }
        char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)).ok_or(invalid)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    fn number(&mut self) -> Result<Number, SyntaxError> {
        let start = self.pos;
        let invalid = |p: &Self| p.error(start, SyntaxErrorKind::InvalidNumber);
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(invalid(self)),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(invalid(self));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(invalid(self));
            }
            self.digits();
        }
        if self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.')
        {
            return Err(invalid(self));
        }
        let text = &self.text[start..self.pos];
        if integer {
            if let Ok(n) = text.parse::<u64>() {
                return Ok(Number::Unsigned(n));
            }
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Number::Signed(n));
            }
        }
        text.parse::<f64>()
            .map(Number::Float)
            .map_err(|_| invalid(self))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        parse(text).unwrap().value
    }

    fn error(text: &str) -> SyntaxError {
        parse(text).unwrap_err()
    }

    fn string(s: &str) -> Value {
        Value::String(s.into())
    }

    #[test]
    fn comments_are_skipped_everywhere() {
        let text = "// head\n{ /* a */ \"a\" /* b */ : /* c */ 1 // d\n /* e */ } // tail";
        let Value::Object(entries) = value(text) else {
            panic!("not an object");
        };
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].key, "a");
        assert_eq!(entries[0].value.value, Value::Number(Number::Unsigned(1)));
    }

    #[test]
    fn comment_markers_inside_strings_are_text() {
        assert_eq!(value(r#""http://x/*y*/""#), string("http://x/*y*/"));
    }

    #[test]
    fn trailing_commas_are_accepted() {
        assert_eq!(
            value("[1, 2,]"),
            Value::Array(vec![
                Node {
                    at: 1,
                    value: Value::Number(Number::Unsigned(1))
                },
                Node {
                    at: 4,
                    value: Value::Number(Number::Unsigned(2))
                },
            ])
        );
        assert!(matches!(value("{\"a\": 1,\n}"), Value::Object(e) if e.len() == 1));
        // A lone comma is not a trailing comma.
        assert_eq!(error("[,]").at, 1);
        assert_eq!(error("[1,,]").at, 3);
    }

    #[test]
    fn positions_are_byte_offsets_of_value_starts() {
        let node = parse("{\"k\": [true, null]}").unwrap();
        let Value::Object(entries) = node.value else {
            panic!("not an object");
        };
        assert_eq!(entries[0].key_at, 1);
        assert_eq!(entries[0].value.at, 6);
        let Value::Array(items) = &entries[0].value.value else {
            panic!("not an array");
        };
        assert_eq!((items[0].at, items[1].at), (7, 13));
    }

    #[test]
    fn strings_resolve_escapes() {
        assert_eq!(
            value(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#),
            string("a\"\\/\u{8}\u{c}\n\r\té😀")
        );
        assert_eq!(value("\"é\""), string("é"));
    }

    #[test]
    fn numbers_keep_integers_exact() {
        assert_eq!(
            value("18446744073709551615"),
            Value::Number(Number::Unsigned(u64::MAX))
        );
        assert_eq!(value("-5"), Value::Number(Number::Signed(-5)));
        assert_eq!(value("0.5"), Value::Number(Number::Float(0.5)));
        assert_eq!(value("1e3"), Value::Number(Number::Float(1000.0)));
        assert_eq!(
            value("99999999999999999999"),
            Value::Number(Number::Float(1e20))
        );
        for bad in ["01", "1.", "-", "1e", "1x", ".5", "+1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_rule_and_the_offset() {
        let cases: &[(&str, usize, SyntaxErrorKind)] = &[
            ("/* open", 0, SyntaxErrorKind::UnclosedComment),
            ("  \"open", 2, SyntaxErrorKind::UnclosedString),
            ("\"a\\x\"", 2, SyntaxErrorKind::InvalidEscape),
            ("\"a\\ud800\"", 2, SyntaxErrorKind::InvalidEscape),
            ("\"a\tb\"", 2, SyntaxErrorKind::ControlCharacterInString),
            (
                "{\"a\": 1, \"a\": 2}",
                9,
                SyntaxErrorKind::DuplicateKey { key: "a".into() },
            ),
            (
                "{\"a\": 1 \"b\": 2}",
                8,
                SyntaxErrorKind::Unexpected {
                    expected: "`,` or `}` after a value",
                    found: Some('"'),
                },
            ),
            (
                "{a: 1}",
                1,
                SyntaxErrorKind::Unexpected {
                    expected: "a key in double quotes or `}`",
                    found: Some('a'),
                },
            ),
            (
                "{\"a\" 1}",
                5,
                SyntaxErrorKind::Unexpected {
                    expected: "`:` after the key",
                    found: Some('1'),
                },
            ),
            (
                "[1",
                2,
                SyntaxErrorKind::Unexpected {
                    expected: "`,` or `]` after an array item",
                    found: None,
                },
            ),
            (
                "{} x",
                3,
                SyntaxErrorKind::Unexpected {
                    expected: "the end of the file after the value",
                    found: Some('x'),
                },
            ),
            ("trueish", 0, SyntaxErrorKind::Unexpected {
                expected: "a value (a string in double quotes, a number, true, false, null, an object or an array)",
                found: Some('t'),
            }),
        ];
        for (text, at, kind) in cases {
            assert_eq!(
                error(text),
                SyntaxError {
                    at: *at,
                    kind: kind.clone()
                },
                "{text}"
            );
        }
    }

    #[test]
    fn an_empty_text_is_an_error() {
        assert!(matches!(
            error("  // nothing\n").kind,
            SyntaxErrorKind::Unexpected { found: None, .. }
        ));
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(value("\u{feff}null"), Value::Null);
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert_eq!(error(&deep).kind, SyntaxErrorKind::TooDeep);
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn no_prefix_of_a_valid_text_panics() {
        let text = "{\"a\": [1, -2.5e3, \"é\\u00e9\", {\"b\": null}], /* c */ \"d\": true, }";
        for end in 0..=text.len() {
            if let Some(prefix) = text.get(..end) {
                let _ = parse(prefix);
            }
        }
        assert!(parse(text).is_ok());
    }
}

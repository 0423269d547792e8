//! Words, quotes, escapes and operators: a bash line as tokens.
//!
//! Quote removal happens here: `'r'm`, `"rm"` and `r\m` are all the word `rm`. What the
//! shell would only know when it runs (`$VAR`, `$(..)`, globs, brace expansion) becomes an
//! unknown piece of the word, and the text of every command substitution (`$( )`,
//! backticks, `<( )`, `>( )`, also inside double quotes) is lexed into tokens of its own,
//! so the parser can check the commands inside.

use super::{Piece, Unanalysable, MAX_DEPTH};

/// One token of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A word, before the parser decides whether it is a name, an argument or a keyword.
    Word(Word),
    /// A control or redirection operator (`;`, `&&`, `|`, `(`, `>>`, `<<<`, ...).
    Op(&'static str),
    /// A newline, which ends a command like `;`.
    Newline,
    /// The digits (or `{name}`) right before a redirection: `2` in `2>file`.
    IoNumber,
    /// An arithmetic command `(( .. ))` holding no substitution.
    Arith,
}

/// A word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Word {
    /// The text, known parts and unknown parts in order.
    pub pieces: Vec<Piece>,
    /// The word as written.
    pub raw: String,
    /// The tokens of each command or process substitution inside the word.
    pub subs: Vec<Vec<Token>>,
}

impl Word {
    /// The whole text when nothing in it is unknown.
    pub fn literal(&self) -> Option<String> {
        let mut text = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Unknown(_) => return None,
            }
        }
        Some(text)
    }

    fn push_char(&mut self, c: char) {
        match self.pieces.last_mut() {
            Some(Piece::Text(t)) => t.push(c),
            _ => self.pieces.push(Piece::Text(c.to_string())),
        }
    }

    fn push_unknown(&mut self, source: String) {
        self.pieces.push(Piece::Unknown(source));
    }
}

/// Lexes a whole line; `depth` counts the substitutions and `sh -c` levels around it.
pub(crate) fn lex(line: &str, depth: usize) -> Result<Vec<Token>, Unanalysable> {
    let chars: Vec<char> = line.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
        depth,
    };
    lexer.tokens(false)
}

/// Operators, longest first so the first prefix that matches is the right one.
const OPERATORS: &[&str] = &[
    ";;&", ";;", ";&", ";", "&&", "&>>", "&>", "&", "||", "|&", "|", "<<<", "<<-", "<<", "<&",
    "<>", "<", ">>", ">&", ">|", ">",
];

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    depth: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos.saturating_add(ahead)).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars()
            .enumerate()
            .all(|(i, c)| self.peek(i) == Some(c))
    }

    fn slice(&self, from: usize) -> String {
        self.chars
            .get(from..self.pos.min(self.chars.len()))
            .map_or_else(String::new, |s| s.iter().collect())
    }

    /// Tokens up to the end, or (inside `$(`/`<(`) up to the unmatched `)`, consumed.
    fn tokens(&mut self, in_substitution: bool) -> Result<Vec<Token>, Unanalysable> {
        let mut tokens = Vec::new();
        let mut open_parens = 0usize;
        loop {
            let Some(c) = self.peek(0) else {
                return if in_substitution {
                    Err(Unanalysable::Unbalanced('('))
                } else {
                    Ok(tokens)
                };
            };
            match c {
                ' ' | '\t' => self.pos += 1,
                '\n' => {
                    self.pos += 1;
                    tokens.push(Token::Newline);
                }
                '\\' if self.peek(1) == Some('\n') => self.pos += 2,
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                ')' => {
                    self.pos += 1;
                    if in_substitution && open_parens == 0 {
                        return Ok(tokens);
                    }
                    open_parens = open_parens.saturating_sub(1);
                    tokens.push(Token::Op(")"));
                }
                '(' if self.peek(1) == Some('(') => {
                    self.pos += 2;
                    self.arithmetic()?;
                    tokens.push(Token::Arith);
                }
                '(' => {
                    self.pos += 1;
                    open_parens += 1;
                    tokens.push(Token::Op("("));
                }
                '<' | '>' if self.peek(1) == Some('(') => tokens.push(self.word()?),
                ';' | '&' | '|' | '<' | '>' => {
                    let op = OPERATORS
                        .iter()
                        .find(|op| self.starts_with(op))
                        .copied()
                        .unwrap_or(";");
                    self.pos += op.chars().count();
                    tokens.push(Token::Op(op));
                }
                _ => {
                    let word = self.word()?;
                    let next = self.peek(0);
                    let is_fd = matches!(&word, Token::Word(w) if is_io_number(&w.raw));
                    if is_fd && matches!(next, Some('<' | '>')) && self.peek(1) != Some('(') {
                        tokens.push(Token::IoNumber);
                    } else {
                        tokens.push(word);
                    }
                }
            }
        }
    }

    /// One word, starting at a character that is not a separator.
    fn word(&mut self) -> Result<Token, Unanalysable> {
        let start = self.pos;
        let mut word = Word::default();
        // Unquoted `[ ] { } , .` in order: enough to spot globs and brace expansion.
        let mut shape = String::new();
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' => break,
                '<' | '>' if self.peek(1) == Some('(') => {
                    let from = self.pos;
                    self.pos += 2;
                    let tokens = self.nested(|lexer| lexer.tokens(true))?;
                    word.subs.push(tokens);
                    word.push_unknown(self.slice(from));
                }
                '<' | '>' => break,
                '\\' => match self.peek(1) {
                    Some('\n') => self.pos += 2,
                    Some(next) => {
                        self.pos += 2;
                        word.push_char(next);
                    }
                    None => {
                        self.pos += 1;
                        word.push_char('\\');
                    }
                },
                '\'' => {
                    self.pos += 1;
                    loop {
                        match self.peek(0) {
                            None => return Err(Unanalysable::UnclosedQuote('\'')),
                            Some('\'') => break,
                            Some(q) => {
                                word.push_char(q);
                                self.pos += 1;
                            }
                        }
                    }
                    self.pos += 1;
                }
                '"' => {
                    self.pos += 1;
                    self.double_quoted(&mut word)?;
                }
                '$' => self.dollar(&mut word, false)?,
                '`' => self.backticks(&mut word, false)?,
                '*' | '?' => {
                    self.pos += 1;
                    word.push_unknown(c.to_string());
                }
                '[' | ']' | '{' | '}' | ',' | '.' => {
                    shape.push(c);
                    self.pos += 1;
                    word.push_char(c);
                }
                c if c.is_control() => return Err(Unanalysable::ControlCharacter(c)),
                c => {
                    self.pos += 1;
                    word.push_char(c);
                }
            }
        }
        word.raw = self.slice(start);
        if expands(&shape) {
            // A glob like `[ab]` or a brace expansion like `{a,b}`: the words it makes
            // depend on the file system or split into several; none of them is known.
            word.pieces = vec![Piece::Unknown(word.raw.clone())];
        }
        Ok(Token::Word(word))
    }

    /// The inside of `"..."`, after the opening quote, up to and including the closing one.
    fn double_quoted(&mut self, word: &mut Word) -> Result<(), Unanalysable> {
        // An empty `""` still makes a word.
        if word.pieces.is_empty() {
            word.pieces.push(Piece::Text(String::new()));
        }
        loop {
            match self.peek(0) {
                None => return Err(Unanalysable::UnclosedQuote('"')),
                Some('"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('\\') => match self.peek(1) {
                    Some('\n') => self.pos += 2,
                    Some(e @ ('$' | '`' | '"' | '\\')) => {
                        self.pos += 2;
                        word.push_char(e);
                    }
                    _ => {
                        self.pos += 1;
                        word.push_char('\\');
                    }
                },
                Some('$') => self.dollar(word, true)?,
                Some('`') => self.backticks(word, true)?,
                Some(c) => {
                    self.pos += 1;
                    word.push_char(c);
                }
            }
        }
    }

    /// A `$` and what follows it.
    fn dollar(&mut self, word: &mut Word, quoted: bool) -> Result<(), Unanalysable> {
        let from = self.pos;
        match self.peek(1) {
            Some('(') if self.peek(2) == Some('(') => {
                self.pos += 3;
                self.arithmetic()?;
            }
            Some('(') => {
                self.pos += 2;
                let tokens = self.nested(|lexer| lexer.tokens(true))?;
                word.subs.push(tokens);
            }
            Some('{') => {
                self.pos += 2;
                let inner = self.balanced('{', '}')?;
                if inner.contains("$(") || inner.contains('`') {
                    return Err(Unanalysable::HiddenSubstitution("${"));
                }
            }
            Some('\'') if !quoted => {
                self.pos += 2;
                let mut text = String::new();
                loop {
                    match self.peek(0) {
                        None => return Err(Unanalysable::UnclosedQuote('\'')),
                        Some('\'') => break,
                        Some('\\') => {
                            text.push('\\');
                            text.extend(self.peek(1));
                            self.pos = self.pos.saturating_add(2);
                        }
                        Some(c) => {
                            text.push(c);
                            self.pos += 1;
                        }
                    }
                }
                self.pos += 1;
                // Without escapes `$'..'` is plain single-quoted text.
                if !text.contains('\\') {
                    text.chars().for_each(|c| word.push_char(c));
                    return Ok(());
                }
            }
            Some('"') if !quoted => {
                self.pos += 2;
                return self.double_quoted(word);
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                self.pos += 1;
                while self
                    .peek(0)
                    .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
                {
                    self.pos += 1;
                }
            }
            Some(c) if c.is_ascii_digit() || "@*#?-$!".contains(c) => self.pos += 2,
            _ => {
                self.pos += 1;
                word.push_char('$');
                return Ok(());
            }
        }
        word.push_unknown(self.slice(from));
        Ok(())
    }

    /// A backtick substitution; its text loses one level of backslashes, then is lexed.
    fn backticks(&mut self, word: &mut Word, quoted: bool) -> Result<(), Unanalysable> {
        let from = self.pos;
        self.pos += 1;
        let mut inner = String::new();
        loop {
            match self.peek(0) {
                None => return Err(Unanalysable::UnclosedQuote('`')),
                Some('`') => break,
                Some('\\') => {
                    match self.peek(1) {
                        Some(e @ ('$' | '`' | '\\')) => inner.push(e),
                        Some('"') if quoted => inner.push('"'),
                        Some(other) => {
                            inner.push('\\');
                            inner.push(other);
                        }
                        None => inner.push('\\'),
                    }
                    self.pos = self.pos.saturating_add(2);
                }
                Some(c) => {
                    inner.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        let depth = self.depth.saturating_add(1);
        if depth > MAX_DEPTH {
            return Err(Unanalysable::TooDeep);
        }
        word.subs.push(lex(&inner, depth)?);
        word.push_unknown(self.slice(from));
        Ok(())
    }

    /// Skips an arithmetic body after `((` or `$((` up to the matching `))`.
    fn arithmetic(&mut self) -> Result<(), Unanalysable> {
        let inner = self.balanced('(', ')')?;
        if self.peek(0) != Some(')') {
            return Err(Unanalysable::Unbalanced('('));
        }
        self.pos += 1;
        if inner.contains("$(") || inner.contains('`') {
            return Err(Unanalysable::HiddenSubstitution("(("));
        }
        Ok(())
    }

    /// The text up to the `close` that matches an `open` already consumed, consumed too.
    fn balanced(&mut self, open: char, close: char) -> Result<String, Unanalysable> {
        let from = self.pos;
        let mut level = 0usize;
        loop {
            match self.peek(0) {
                None => return Err(Unanalysable::Unbalanced(open)),
                Some('\\') => self.pos = self.pos.saturating_add(2).min(self.chars.len()),
                Some(c) if c == open => {
                    level += 1;
                    self.pos += 1;
                }
                Some(c) if c == close => {
                    if level == 0 {
                        let inner = self.slice(from);
                        self.pos += 1;
                        return Ok(inner);
                    }
                    level -= 1;
                    self.pos += 1;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Unanalysable>,
    ) -> Result<T, Unanalysable> {
        if self.depth >= MAX_DEPTH {
            return Err(Unanalysable::TooDeep);
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }
}

/// `2` in `2>file`, or bash's `{fd}` in `{fd}>file`.
fn is_io_number(raw: &str) -> bool {
    (!raw.is_empty() && raw.chars().all(|c| c.is_ascii_digit()))
        || (raw.len() > 2 && raw.starts_with('{') && raw.ends_with('}'))
}

/// Whether the unquoted `[ ] { } , .` of a word make a glob bracket or a brace expansion.
fn expands(shape: &str) -> bool {
    let bracket = shape
        .find('[')
        .is_some_and(|open| shape[open..].contains(']'));
    let brace = shape.find('{').is_some_and(|open| {
        let rest = &shape[open..];
        rest.find([',', '.'])
            .is_some_and(|sep| rest[sep..].contains('}'))
    });
    bracket || brace
}

//! The command structure of a token list: every simple command it runs, wherever it sits.
//!
//! The parser is lenient where leniency cannot hide a command: `;`, `&`, `&&`, `||`, `|`,
//! `|&` and newlines all just end a command, and the reserved words of `if`, `while`,
//! `until`, `{ }`, `!` and `time` are skipped in command position, so their bodies are
//! plain lists. It is exact where words would otherwise look like commands: `for NAME in
//! WORDS`, `case WORD in PATTERN)`, `[[ .. ]]`, function definitions and redirection
//! targets. Each command substitution in any word is parsed the same way, one level down.

use super::lexer::{Token, Word};
use super::{Unanalysable, MAX_DEPTH};

/// What a token list runs and writes.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Every simple command's words (assignments and redirections left out).
    pub commands: Vec<Vec<Word>>,
    /// The targets of output redirections to files.
    pub writes: Vec<Word>,
}

/// Reserved words skipped in command position.
const SKIPPED: &[&str] = &[
    "!", "{", "}", "if", "then", "elif", "else", "fi", "while", "until", "do", "done", "time",
    "coproc",
];

/// Parses a token list `depth` levels deep, adding what it finds to `out`.
pub(crate) fn parse(tokens: &[Token], depth: usize, out: &mut Parsed) -> Result<(), Unanalysable> {
    if depth > MAX_DEPTH {
        return Err(Unanalysable::TooDeep);
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth,
    };
    parser.list(&[], out)?;
    match parser.peek() {
        None => Ok(()),
        Some(token) => Err(Unanalysable::Syntax(describe(token))),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    depth: usize,
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => w.raw.clone(),
        Token::Op(op) => (*op).to_string(),
        Token::Newline => "newline".into(),
        Token::IoNumber => "a file descriptor".into(),
        Token::Arith => "((".into(),
    }
}

fn reserved(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.raw == word)
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, ahead: usize) -> Option<&'a Token> {
        self.tokens.get(self.pos.saturating_add(ahead))
    }

    /// Commands until the end or a stop (an operator or reserved word), not consumed.
    fn list(&mut self, stops: &[&str], out: &mut Parsed) -> Result<(), Unanalysable> {
        loop {
            match self.peek() {
                None => return Ok(()),
                Some(Token::Op(op)) if stops.contains(op) => return Ok(()),
                Some(Token::Word(w)) if stops.contains(&w.raw.as_str()) => return Ok(()),
                Some(Token::Newline | Token::Op(";" | "&" | "&&" | "||" | "|" | "|&")) => {
                    self.pos += 1;
                }
                Some(_) => self.command(out)?,
            }
        }
    }

    /// One command in command position.
    fn command(&mut self, out: &mut Parsed) -> Result<(), Unanalysable> {
        let Some(token) = self.peek() else {
            return Ok(());
        };
        match token {
            Token::Arith => self.pos += 1,
            Token::Op("(") => {
                self.pos += 1;
                self.nested(|p| p.list(&[")"], out))?;
                if self.peek() != Some(&Token::Op(")")) {
                    return Err(Unanalysable::Unbalanced('('));
                }
                self.pos += 1;
            }
            Token::Op(op) if !is_redirection(op) => {
                return Err(Unanalysable::Syntax((*op).to_string()));
            }
            Token::Word(w) if SKIPPED.contains(&w.raw.as_str()) => {
                self.pos += 1;
                if w.raw == "time" && reserved(self.peek(), "-p") {
                    self.pos += 1;
                }
            }
            Token::Word(w) if w.raw == "for" || w.raw == "select" => {
                self.pos += 1;
                self.for_head(out)?;
            }
            Token::Word(w) if w.raw == "case" => {
                self.pos += 1;
                self.nested(|p| p.case(out))?;
            }
            Token::Word(w) if w.raw == "[[" => {
                self.pos += 1;
                self.condition(out)?;
            }
            Token::Word(w) if w.raw == "function" => {
                self.pos += 1;
                if let Some(Token::Word(name)) = self.peek() {
                    self.substitutions(name, out)?;
                    self.pos += 1;
                }
                if self.peek() == Some(&Token::Op("(")) && self.peek_at(1) == Some(&Token::Op(")"))
                {
                    self.pos += 2;
                }
            }
            _ => self.simple(out)?,
        }
        Ok(())
    }

    /// `NAME [in WORDS]` after `for` or `select`, or the `((..))` of a C-style `for`.
    fn for_head(&mut self, out: &mut Parsed) -> Result<(), Unanalysable> {
        match self.peek() {
            Some(Token::Arith) => {
                self.pos += 1;
                return Ok(());
            }
            Some(Token::Word(_)) => self.pos += 1,
            _ => return Err(Unanalysable::Syntax("for".into())),
        }
        while self.peek() == Some(&Token::Newline) {
            self.pos += 1;
        }
        if reserved(self.peek(), "in") {
            self.pos += 1;
            while let Some(Token::Word(w)) = self.peek() {
                self.substitutions(w, out)?;
                self.pos += 1;
            }
        }
        Ok(())
    }

    /// `WORD in [(]PATTERN[|PATTERN]) LIST ;; ... esac` after `case`.
    fn case(&mut self, out: &mut Parsed) -> Result<(), Unanalysable> {
        let Some(Token::Word(subject)) = self.peek() else {
            return Err(Unanalysable::Syntax("case".into()));
        };
        self.substitutions(subject, out)?;
        self.pos += 1;
        self.skip_newlines();
        if !reserved(self.peek(), "in") {
            return Err(Unanalysable::Syntax("case".into()));
        }
        self.pos += 1;
        loop {
            self.skip_newlines();
            match self.peek() {
                None => return Err(Unanalysable::Syntax("case without esac".into())),
                Some(t) if reserved(Some(t), "esac") => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(Token::Op("(")) => self.pos += 1,
                Some(_) => {}
            }
            loop {
                match self.peek() {
                    Some(Token::Word(w)) => {
                        self.substitutions(w, out)?;
                        self.pos += 1;
                    }
                    Some(Token::Op("|")) => self.pos += 1,
                    Some(Token::Op(")")) => {
                        self.pos += 1;
                        break;
                    }
                    Some(t) => return Err(Unanalysable::Syntax(describe(t))),
                    None => return Err(Unanalysable::Syntax("case without esac".into())),
                }
            }
            self.list(&[";;", ";&", ";;&", "esac"], out)?;
            if let Some(Token::Op(";;" | ";&" | ";;&")) = self.peek() {
                self.pos += 1;
            }
        }
    }

    /// The inside of `[[ .. ]]`: no commands, but substitutions in its words run.
    fn condition(&mut self, out: &mut Parsed) -> Result<(), Unanalysable> {
        loop {
            match self.peek() {
                None => return Err(Unanalysable::Syntax("[[ without ]]".into())),
                Some(Token::Word(w)) => {
                    self.substitutions(w, out)?;
                    self.pos += 1;
                    if w.raw == "]]" {
                        return Ok(());
                    }
                }
                Some(Token::Op("<<" | "<<-")) => return Err(Unanalysable::HereDocument),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Assignments, words and redirections up to an operator that ends the command.
    fn simple(&mut self, out: &mut Parsed) -> Result<(), Unanalysable> {
        let mut words: Vec<Word> = Vec::new();
        loop {
            match self.peek() {
                Some(Token::Word(w)) => {
                    self.substitutions(w, out)?;
                    self.pos += 1;
                    if words.is_empty() && is_assignment(&w.raw) {
                        if w.raw.ends_with('=') && self.peek() == Some(&Token::Op("(")) {
                            return Err(Unanalysable::Syntax("an array assignment".into()));
                        }
                        continue;
                    }
                    words.push(w.clone());
                }
                Some(Token::IoNumber) => self.pos += 1,
                Some(Token::Op(op)) if is_redirection(op) => {
                    let op = *op;
                    self.pos += 1;
                    if let Err(problem) = self.redirection(op, out) {
                        // What the command is stays known: check it too.
                        if !words.is_empty() {
                            out.commands.push(words);
                        }
                        return Err(problem);
                    }
                }
                Some(Token::Op("("))
                    if words.len() == 1 && self.peek_at(1) == Some(&Token::Op(")")) =>
                {
                    // `name () body`: a function definition; the body is parsed next.
                    self.pos += 2;
                    return Ok(());
                }
                _ => break,
            }
        }
        if !words.is_empty() {
            out.commands.push(words);
        }
        Ok(())
    }

    fn redirection(&mut self, op: &str, out: &mut Parsed) -> Result<(), Unanalysable> {
        if op == "<<" || op == "<<-" {
            return Err(Unanalysable::HereDocument);
        }
        let Some(Token::Word(target)) = self.peek() else {
            return Err(Unanalysable::Syntax(format!("`{op}` without a target")));
        };
        self.substitutions(target, out)?;
        self.pos += 1;
        let duplicates = target
            .raw
            .trim_end_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit());
        let writes = match op {
            ">" | ">>" | ">|" | "&>" | "&>>" | "<>" => true,
            ">&" => !duplicates,
            _ => false,
        };
        if writes && !is_device(target) {
            out.writes.push(target.clone());
        }
        Ok(())
    }

    /// Parses the command substitutions of a word into `out`.
    fn substitutions(&self, word: &Word, out: &mut Parsed) -> Result<(), Unanalysable> {
        for tokens in &word.subs {
            parse(tokens, self.depth.saturating_add(1), out)?;
        }
        Ok(())
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Some(Token::Newline | Token::Op(";"))) {
            self.pos += 1;
        }
    }

    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<(), Unanalysable>,
    ) -> Result<(), Unanalysable> {
        if self.depth >= MAX_DEPTH {
            return Err(Unanalysable::TooDeep);
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }
}

fn is_redirection(op: &str) -> bool {
    matches!(
        op,
        "<" | ">" | ">>" | ">|" | "<>" | "<&" | ">&" | "&>" | "&>>" | "<<" | "<<-" | "<<<"
    )
}

/// Files that are not files: writing there edits nothing.
fn is_device(target: &Word) -> bool {
    target.literal().is_some_and(|path| {
        matches!(
            path.as_str(),
            "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty"
        ) || path
            .strip_prefix("/dev/fd/")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// `NAME=...`, `NAME+=...` or `NAME[i]=...` as written, with a valid shell variable name.
pub(crate) fn is_assignment(raw: &str) -> bool {
    let Some((name, _)) = raw.split_once('=') else {
        return false;
    };
    let name = name.strip_suffix('+').unwrap_or(name);
    let name = match name.split_once('[') {
        Some((base, index)) if index.ends_with(']') => base,
        Some(_) => return false,
        None => name,
    };
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

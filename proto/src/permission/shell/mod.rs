//! A bash command line as the permission rules see it: the simple commands it runs and
//! the files it writes by redirection.
//!
//! [`analyze`] lexes the line (`lexer`: quotes, escapes, substitutions), finds every
//! simple command (`parse`: lists, pipelines, groups, compound commands, substitutions)
//! and turns each into the subjects the rules match (`commands`: base names, wrappers,
//! `sh -c`, `find -exec`). A subject is text with unknown parts: `$HOME`, `$(date)` or a
//! glob are only known when the line runs, so the rules ask whether a pattern *could*
//! match them. What cannot be judged at all (`eval`, here-documents, an unclosed quote, a
//! command name that is itself an expansion) is an [`Unanalysable`] problem.

mod commands;
mod lexer;
mod parse;

use std::fmt;

/// How deep substitutions, subshells, wrappers and `sh -c` scripts may nest.
pub(crate) const MAX_DEPTH: usize = 32;

/// A part of a word or subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text known now, after quote removal.
    Text(String),
    /// Text only known when the line runs (an expansion, substitution or glob), as written.
    Unknown(String),
}

/// One text the rules check: a command's words joined by single spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pieces: Vec<Piece>,
}

impl Subject {
    /// A subject from pieces; adjacent known text is merged.
    pub fn new(pieces: Vec<Piece>) -> Subject {
        let mut merged: Vec<Piece> = Vec::with_capacity(pieces.len());
        for piece in pieces {
            match (merged.last_mut(), piece) {
                (Some(Piece::Text(last)), Piece::Text(text)) => last.push_str(&text),
                (_, piece) => merged.push(piece),
            }
        }
        Subject { pieces: merged }
    }

    /// The pieces in order.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// The text with unknown parts as written (`ls $HOME`): what a session grant stores.
    pub fn text(&self) -> String {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) | Piece::Unknown(t) => t.as_str(),
            })
            .collect()
    }

    /// Whether every part is known now.
    pub fn is_known(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Text(_)))
    }
}

/// What a line runs and writes, and what about it cannot be judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Every subject to check, in the order found.
    pub subjects: Vec<Subject>,
    /// Files written by output redirection (`>`, `>>`, `&>`, `>|`, `2>file`), as written;
    /// `/dev/null` and descriptor duplications such as `2>&1` are left out.
    pub writes: Vec<String>,
    /// Why (parts of) the line cannot be judged; empty when it all can.
    pub problems: Vec<Unanalysable>,
}

/// Why a line, or a part of it, cannot be judged by its text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unanalysable {
    /// A quote (or backtick) is never closed.
    UnclosedQuote(char),
    /// A parenthesis or brace is never closed (or closed without being opened).
    Unbalanced(char),
    /// Text bash would reject, or that this parser does not follow.
    Syntax(String),
    /// A here-document (`<<`), whose body this parser does not read.
    HereDocument,
    /// A command substitution inside `${..}` or arithmetic.
    HiddenSubstitution(&'static str),
    /// Nesting deeper than the parser follows.
    TooDeep,
    /// A control character other than tab and newline outside quotes.
    ControlCharacter(char),
    /// The command name is an expansion, substitution or glob (`$CMD`, `$(echo rm)`, `r?`).
    UnknownName(String),
    /// Runs code the line does not show: `eval`, `source`, `.`, `alias`.
    HiddenCode(String),
    /// A shell (or `su`) reading its commands from input.
    ReadsCommands(String),
    /// A script given as an expansion: `sh -c "$X"`, `trap "$X" EXIT`.
    UnknownScript(String),
}

impl fmt::Display for Unanalysable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unanalysable::UnclosedQuote(q) => write!(f, "a `{q}` quote is never closed"),
            Unanalysable::Unbalanced(c) => write!(f, "a `{c}` is not balanced"),
            Unanalysable::Syntax(near) => write!(f, "it does not parse near `{near}`"),
            Unanalysable::HereDocument => write!(f, "it has a here-document"),
            Unanalysable::HiddenSubstitution(s) => {
                write!(f, "a command substitution hides inside `{s}`")
            }
            Unanalysable::TooDeep => write!(f, "it nests too deeply"),
            Unanalysable::ControlCharacter(c) => {
                write!(f, "it has the control character U+{:04X}", u32::from(*c))
            }
            Unanalysable::UnknownName(name) => {
                write!(f, "the command name `{name}` is only known when it runs")
            }
            Unanalysable::HiddenCode(name) => {
                write!(f, "`{name}` runs code the line does not show")
            }
            Unanalysable::ReadsCommands(name) => {
                write!(f, "`{name}` reads commands from its input")
            }
            Unanalysable::UnknownScript(script) => {
                write!(f, "the script `{script}` is only known when it runs")
            }
        }
    }
}

impl std::error::Error for Unanalysable {}

/// Analyses a command line. Never panics; whatever it cannot follow is a problem.
pub fn analyze(line: &str) -> Analysis {
    let mut analysis = Analysis::default();
    analyze_into(line, 0, &mut analysis);
    analysis
}

/// Analyses a line `depth` levels down (inside `sh -c` and the like) into `out`.
fn analyze_into(line: &str, depth: usize, out: &mut Analysis) {
    if depth > MAX_DEPTH {
        out.problems.push(Unanalysable::TooDeep);
        return;
    }
    let tokens = match lexer::lex(line, depth) {
        Ok(tokens) => tokens,
        Err(problem) => {
            out.problems.push(problem);
            return;
        }
    };
    let mut parsed = parse::Parsed::default();
    if let Err(problem) = parse::parse(&tokens, depth, &mut parsed) {
        out.problems.push(problem);
    }
    out.writes.extend(
        parsed
            .writes
            .iter()
            .map(|w| Subject::new(w.pieces.clone()).text()),
    );
    for words in &parsed.commands {
        commands::resolve(words, depth, out);
    }
}

#[cfg(test)]
mod tests;

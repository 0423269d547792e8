//! The interim bash splitter: turns a command line into the simple commands the rules
//! check, or says why it cannot.
//!
//! This version accepts only a line that is exactly one simple command: words with no
//! operators, substitutions, expansions, redirections, grouping or comments. Anything else
//! is [`NotSimple`], which the rules turn into ask (or deny when bash has a deny rule).
//! The full parser (split at `&&`, `|`, `;`, into `$( )`, `sh -c`, wrappers) replaces
//! [`split`] with the same signature and returns several commands.
//!
//! Quotes that can be split safely keep a line simple: single-quoted text is literal, and
//! double-quoted text is literal when it holds no `$`, backtick or backslash. Quoted text
//! joins its word as bash does, so `'r'm -rf /` is the command `rm -rf /` and
//! `echo "a;b"` is `echo` with the one word `a;b`. A backslash outside quotes makes the
//! next character literal (`r\m` is `rm`).

use std::fmt;

/// One simple command: its words after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The words, the command name first.
    pub words: Vec<String>,
}

impl Command {
    /// The text rules match: the words joined by single spaces (`git  status` → `git status`).
    pub fn subject(&self) -> String {
        self.words.join(" ")
    }

    /// The same text with a command named by path reduced to its base name
    /// (`/bin/rm -rf x` → `rm -rf x`); `None` when the name has no `/`.
    pub fn subject_by_base_name(&self) -> Option<String> {
        let (name, rest) = self.words.split_first()?;
        let (_, base) = name.rsplit_once('/')?;
        let mut words = vec![base.to_string()];
        words.extend(rest.iter().cloned());
        Some(words.join(" "))
    }
}

/// Why a line is not one simple command the interim check can judge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotSimple {
    /// A control operator: `;`, `&`, `&&`, `|`, `||`.
    Operator(&'static str),
    /// A newline (or a backslash-newline continuation) joins several commands.
    Newline,
    /// A redirection `>` or `<`.
    Redirection(char),
    /// Command substitution: `$(` or a backtick.
    Substitution(&'static str),
    /// A `$` expansion (`$VAR`, `${..}`, `$'..'`), whose value is unknown here.
    Expansion,
    /// Grouping or brace expansion: `(`, `)`, `{`, `}`.
    Grouping(char),
    /// A `#` comment hides the rest of the line.
    Comment,
    /// A quote is never closed.
    UnclosedQuote(char),
    /// Double quotes holding `$`, a backtick or a backslash.
    QuotedExpansion(char),
    /// The line ends in a lone backslash.
    TrailingBackslash,
    /// A control character other than tab.
    ControlCharacter(char),
    /// A `NAME=value` prefix in front of the command.
    Assignment(String),
    /// A shell keyword (`if`, `!`, `coproc`, ...) in command position.
    Keyword(String),
    /// A command that runs another command (`sudo`, `env`, `xargs`, `sh`, `find -exec`).
    Wrapper(String),
    /// A glob character in the command name, which could expand to any program.
    GlobInName(String),
}

impl fmt::Display for NotSimple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSimple::Operator(op) => write!(f, "the operator `{op}` joins several commands"),
            NotSimple::Newline => write!(f, "a newline joins several commands"),
            NotSimple::Redirection(c) => write!(f, "it has a redirection `{c}`"),
            NotSimple::Substitution(s) => write!(f, "it has a command substitution `{s}`"),
            NotSimple::Expansion => write!(f, "it expands a `$` value"),
            NotSimple::Grouping(c) => write!(f, "it groups or expands with `{c}`"),
            NotSimple::Comment => write!(f, "it has a `#` comment"),
            NotSimple::UnclosedQuote(q) => write!(f, "a `{q}` quote is never closed"),
            NotSimple::QuotedExpansion(c) => write!(f, "double quotes hold a `{c}`"),
            NotSimple::TrailingBackslash => write!(f, "it ends in a backslash"),
            NotSimple::ControlCharacter(c) => {
                write!(f, "it has the control character U+{:04X}", u32::from(*c))
            }
            NotSimple::Assignment(w) => write!(f, "it sets `{w}` before the command"),
            NotSimple::Keyword(w) => write!(f, "it starts with the shell keyword `{w}`"),
            NotSimple::Wrapper(w) => write!(f, "`{w}` runs another command"),
            NotSimple::GlobInName(w) => write!(f, "the command name `{w}` is a glob"),
        }
    }
}

impl std::error::Error for NotSimple {}

/// Shell keywords that change what the following words mean.
const KEYWORDS: &[&str] = &[
    "!", "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "select", "function", "coproc", "[[", "]]", "time",
];

/// Commands whose arguments are themselves a command.
const WRAPPERS: &[&str] = &[
    "env", "command", "builtin", "exec", "nohup", "nice", "timeout", "sudo", "doas", "su", "xargs",
    "eval", "source", ".", "sh", "bash", "zsh", "dash", "ksh", "fish", "busybox", "setsid",
    "stdbuf", "watch", "parallel",
];

/// Splits a line into the simple commands it runs; this interim version accepts exactly
/// one (an empty line is one command with no words).
pub fn split(line: &str) -> Result<Vec<Command>, NotSimple> {
    let words = words(line)?;
    check_command_position(&words)?;
    Ok(vec![Command { words }])
}

fn words(line: &str) -> Result<Vec<String>, NotSimple> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\n' => return Err(NotSimple::Newline),
            ';' => return Err(NotSimple::Operator(";")),
            '&' if chars.peek() == Some(&'&') => return Err(NotSimple::Operator("&&")),
            '&' => return Err(NotSimple::Operator("&")),
            '|' if chars.peek() == Some(&'|') => return Err(NotSimple::Operator("||")),
            '|' => return Err(NotSimple::Operator("|")),
            '>' | '<' => return Err(NotSimple::Redirection(c)),
            '`' => return Err(NotSimple::Substitution("`")),
            '$' if chars.peek() == Some(&'(') => return Err(NotSimple::Substitution("$(")),
            '$' => return Err(NotSimple::Expansion),
            '(' | ')' | '{' | '}' => return Err(NotSimple::Grouping(c)),
            '#' if !in_word => return Err(NotSimple::Comment),
            '\\' => match chars.next() {
                None => return Err(NotSimple::TrailingBackslash),
                Some('\n') => return Err(NotSimple::Newline),
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
            },
            '\'' => {
                loop {
                    match chars.next() {
                        None => return Err(NotSimple::UnclosedQuote('\'')),
                        Some('\'') => break,
                        Some(q) => word.push(q),
                    }
                }
                in_word = true;
            }
            '"' => {
                loop {
                    match chars.next() {
                        None => return Err(NotSimple::UnclosedQuote('"')),
                        Some('"') => break,
                        Some(q @ ('$' | '`' | '\\')) => return Err(NotSimple::QuotedExpansion(q)),
                        Some(q) => word.push(q),
                    }
                }
                in_word = true;
            }
            c if c.is_control() => return Err(NotSimple::ControlCharacter(c)),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn check_command_position(words: &[String]) -> Result<(), NotSimple> {
    let Some(name) = words.first() else {
        return Ok(());
    };
    if is_assignment(name) {
        return Err(NotSimple::Assignment(name.clone()));
    }
    if KEYWORDS.contains(&name.as_str()) {
        return Err(NotSimple::Keyword(name.clone()));
    }
    let base = name
        .rsplit_once('/')
        .map_or(name.as_str(), |(_, base)| base);
    if WRAPPERS.contains(&base) {
        return Err(NotSimple::Wrapper(base.to_string()));
    }
    if base == "find" {
        let exec = ["-exec", "-execdir", "-ok", "-okdir"];
        if let Some(flag) = words.iter().find(|w| exec.contains(&w.as_str())) {
            return Err(NotSimple::Wrapper(format!("find {flag}")));
        }
    }
    if name.contains(['*', '?', '[']) {
        return Err(NotSimple::GlobInName(name.clone()));
    }
    Ok(())
}

/// `NAME=...` with a valid shell variable name.
fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(line: &str) -> Result<String, NotSimple> {
        let commands = split(line)?;
        assert_eq!(commands.len(), 1);
        Ok(commands[0].subject())
    }

    #[test]
    fn words_are_joined_by_single_spaces() {
        assert_eq!(subject("git  status"), Ok("git status".into()));
        assert_eq!(subject("  ls\t-la  "), Ok("ls -la".into()));
        assert_eq!(subject(""), Ok("".into()));
    }

    #[test]
    fn quotes_that_split_safely_stay_simple() {
        assert_eq!(subject("echo \"a;b\""), Ok("echo a;b".into()));
        assert_eq!(subject("echo 'a | b > c'"), Ok("echo a | b > c".into()));
        assert_eq!(subject("'r'm -rf /"), Ok("rm -rf /".into()));
        assert_eq!(subject("\"rm\" x"), Ok("rm x".into()));
        assert_eq!(
            subject("git commit -m \"fix  it\""),
            Ok("git commit -m fix  it".into())
        );
        assert_eq!(subject("rm ''"), Ok("rm ".into()));
    }

    #[test]
    fn a_backslash_makes_the_next_character_literal() {
        assert_eq!(subject("r\\m -rf /"), Ok("rm -rf /".into()));
        assert_eq!(subject("echo a\\;b"), Ok("echo a;b".into()));
        assert_eq!(subject("ls \\"), Err(NotSimple::TrailingBackslash));
        assert_eq!(subject("ls \\\nrm x"), Err(NotSimple::Newline));
    }

    #[test]
    fn operators_and_substitutions_are_not_simple() {
        assert_eq!(subject("ls; rm x"), Err(NotSimple::Operator(";")));
        assert_eq!(subject("a && b"), Err(NotSimple::Operator("&&")));
        assert_eq!(subject("a || b"), Err(NotSimple::Operator("||")));
        assert_eq!(subject("a | b"), Err(NotSimple::Operator("|")));
        assert_eq!(subject("sleep 9 &"), Err(NotSimple::Operator("&")));
        assert_eq!(subject("ls\nrm x"), Err(NotSimple::Newline));
        assert_eq!(subject("echo $(rm x)"), Err(NotSimple::Substitution("$(")));
        assert_eq!(subject("echo `rm x`"), Err(NotSimple::Substitution("`")));
        assert_eq!(subject("echo $HOME"), Err(NotSimple::Expansion));
        assert_eq!(subject("cat <file"), Err(NotSimple::Redirection('<')));
        assert_eq!(subject("echo x>file"), Err(NotSimple::Redirection('>')));
        assert_eq!(subject("(rm x)"), Err(NotSimple::Grouping('(')));
        assert_eq!(subject("{rm,-rf,/}"), Err(NotSimple::Grouping('{')));
        assert_eq!(subject("ls # x"), Err(NotSimple::Comment));
        assert_eq!(subject("ls\r"), Err(NotSimple::ControlCharacter('\r')));
    }

    #[test]
    fn quotes_that_cannot_be_split_safely_are_not_simple() {
        assert_eq!(
            subject("echo \"$(rm x)\""),
            Err(NotSimple::QuotedExpansion('$'))
        );
        assert_eq!(
            subject("echo \"`rm x`\""),
            Err(NotSimple::QuotedExpansion('`'))
        );
        assert_eq!(
            subject("echo \"a\\\"b\""),
            Err(NotSimple::QuotedExpansion('\\'))
        );
        assert_eq!(subject("echo 'abc"), Err(NotSimple::UnclosedQuote('\'')));
        assert_eq!(subject("echo \"abc"), Err(NotSimple::UnclosedQuote('"')));
    }

    #[test]
    fn what_runs_another_command_is_not_simple() {
        assert_eq!(
            subject("FOO=1 rm x"),
            Err(NotSimple::Assignment("FOO=1".into()))
        );
        assert_eq!(subject("! rm x"), Err(NotSimple::Keyword("!".into())));
        assert_eq!(subject("sudo rm x"), Err(NotSimple::Wrapper("sudo".into())));
        assert_eq!(
            subject("/usr/bin/env rm x"),
            Err(NotSimple::Wrapper("env".into()))
        );
        assert_eq!(
            subject("bash -c 'rm x'"),
            Err(NotSimple::Wrapper("bash".into()))
        );
        assert_eq!(
            subject("find . -exec rm x"),
            Err(NotSimple::Wrapper("find -exec".into()))
        );
        assert_eq!(
            subject("/bin/r? x"),
            Err(NotSimple::GlobInName("/bin/r?".into()))
        );
        // Not in command position, these are plain words.
        assert_eq!(subject("echo a=b sudo !"), Ok("echo a=b sudo !".into()));
        assert_eq!(subject("ls *.rs"), Ok("ls *.rs".into()));
        assert_eq!(subject("find . -name x"), Ok("find . -name x".into()));
    }

    #[test]
    fn a_command_named_by_path_also_has_its_base_name() {
        let commands = split("/bin/rm -rf x").unwrap();
        assert_eq!(commands[0].subject_by_base_name(), Some("rm -rf x".into()));
        let commands = split("rm -rf x").unwrap();
        assert_eq!(commands[0].subject_by_base_name(), None);
    }
}

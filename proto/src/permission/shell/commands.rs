//! From a simple command's words to the subjects the rules check.
//!
//! Each command is checked as written and, when named by path, by its base name
//! (`/bin/rm x` is also `rm x`). A command that runs another command (`sudo`, `env`,
//! `nice -n 5`, `timeout 5`, `xargs`, `find -exec`, ...) is checked as written and the
//! command it runs is checked too, with the wrapper's options removed. The script of
//! `sh -c`, `bash -c`, `su -c`, `trap` and `watch` is analysed as a line of its own, one
//! level down. What runs code the line does not show (`eval`, `source`, a shell reading
//! its commands from input) is [`Unanalysable`].

use super::lexer::Word;
use super::parse::is_assignment;
use super::{analyze_into, Analysis, Piece, Subject, Unanalysable, MAX_DEPTH};

/// Shells whose `-c` argument is a script.
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "yash", "rbash",
];

/// Adds the subjects (and problems) of one simple command to `out`.
pub(crate) fn resolve(words: &[Word], depth: usize, out: &mut Analysis) {
    let Some((first, rest)) = words.split_first() else {
        return;
    };
    // An unknown name could be anything: a problem, not a subject (which, matching any
    // pattern, would be denied even outside yes mode).
    let Some(name) = first.literal() else {
        out.problems
            .push(Unanalysable::UnknownName(first.raw.clone()));
        return;
    };
    out.subjects.push(subject(words));
    let base = name.rsplit('/').next().unwrap_or_default().to_string();
    if name.contains('/') && !base.is_empty() {
        let mut pieces = vec![Piece::Text(base.clone())];
        for word in rest {
            pieces.push(Piece::Text(" ".into()));
            pieces.extend(word.pieces.iter().cloned());
        }
        out.subjects.push(Subject::new(pieces));
    }
    if depth >= MAX_DEPTH {
        out.problems.push(Unanalysable::TooDeep);
        return;
    }
    let depth = depth + 1;
    match base.as_str() {
        "eval" | "source" | "." => out.problems.push(Unanalysable::HiddenCode(base)),
        "alias" if !rest.is_empty() => out.problems.push(Unanalysable::HiddenCode(base)),
        "env" => env(rest, depth, out),
        "command" => {
            let options = Options::parse(rest, "", &[], false);
            if !options.has("-v") && !options.has("-V") {
                resolve(options.operands(rest), depth, out);
            }
        }
        "builtin" | "nohup" | "busybox" | "setsid" => {
            resolve(
                Options::parse(rest, "", &[], false).operands(rest),
                depth,
                out,
            );
        }
        "exec" => resolve(
            Options::parse(rest, "a", &[], false).operands(rest),
            depth,
            out,
        ),
        "nice" => {
            let options = Options::parse(rest, "n", &["--adjustment"], false);
            resolve(options.operands(rest), depth, out);
        }
        "ionice" => resolve(
            Options::parse(rest, "cn", &[], false).operands(rest),
            depth,
            out,
        ),
        "stdbuf" => {
            let long = ["--input", "--output", "--error"];
            resolve(
                Options::parse(rest, "ioe", &long, false).operands(rest),
                depth,
                out,
            );
        }
        "time" => {
            let options = Options::parse(rest, "fo", &["--format", "--output"], false);
            resolve(options.operands(rest), depth, out);
        }
        "timeout" => {
            let options = Options::parse(rest, "sk", &["--signal", "--kill-after"], false);
            let operands = options.operands(rest);
            resolve(operands.get(1..).unwrap_or_default(), depth, out);
        }
        "chroot" => {
            let options = Options::parse(rest, "", &["--userspec", "--groups"], false);
            let operands = options.operands(rest);
            resolve(operands.get(1..).unwrap_or_default(), depth, out);
        }
        "doas" => {
            let options = Options::parse(rest, "uC", &[], false);
            resolve(options.operands(rest), depth, out);
        }
        "sudo" => sudo(rest, depth, out),
        "xargs" => xargs(rest, depth, out),
        "find" => find(rest, depth, out),
        "su" => su(rest, depth, out),
        "trap" => trap(rest, depth, out),
        "watch" => {
            let options = Options::parse(rest, "n", &["--interval"], false);
            script(&joined(options.operands(rest)), depth, out);
        }
        shell if SHELLS.contains(&shell) => self::shell(&base, rest, depth, out),
        _ => {}
    }
}

/// The words joined by single spaces, unknown parts kept as written.
fn subject(words: &[Word]) -> Subject {
    let mut pieces = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            pieces.push(Piece::Text(" ".into()));
        }
        pieces.extend(word.pieces.iter().cloned());
    }
    Subject::new(pieces)
}

/// Words as written, joined by spaces: a line the shell would parse again.
fn joined(words: &[Word]) -> String {
    words
        .iter()
        .map(|w| w.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Analyses a script that is a known word; an unknown one cannot be judged.
fn script_word(word: &Word, depth: usize, out: &mut Analysis) {
    match word.literal() {
        Some(text) => script(&text, depth, out),
        None => out
            .problems
            .push(Unanalysable::UnknownScript(word.raw.clone())),
    }
}

fn script(text: &str, depth: usize, out: &mut Analysis) {
    analyze_into(text, depth, out);
}

/// `env [-i] [-u NAME] [-C DIR] [-S STRING] [NAME=VALUE]... [COMMAND [ARG]...]`.
fn env(words: &[Word], depth: usize, out: &mut Analysis) {
    let start = words.iter().take_while(|w| w.raw == "-").count();
    let words = words.get(start..).unwrap_or_default();
    let long = ["--unset", "--chdir", "--split-string"];
    let options = Options::parse(words, "uCS", &long, false);
    let operands = options.operands(words);
    let assignments = operands
        .iter()
        .take_while(|w| w.literal().is_some_and(|t| is_assignment(&t)))
        .count();
    let command = operands.get(assignments..).unwrap_or_default();
    let split = options
        .values
        .iter()
        .find(|(name, _)| name == "-S" || name == "--split-string");
    match split {
        Some((_, Some(value))) => {
            let line = format!("{} {}", value, joined(command));
            script(&line, depth, out);
        }
        Some((_, None)) => out
            .problems
            .push(Unanalysable::UnknownScript("env -S".into())),
        None => resolve(command, depth, out),
    }
}

fn sudo(words: &[Word], depth: usize, out: &mut Analysis) {
    let long = [
        "--user",
        "--group",
        "--prompt",
        "--close-from",
        "--chdir",
        "--role",
        "--type",
        "--command-timeout",
        "--other-user",
        "--chroot",
        "--host",
    ];
    let options = Options::parse(words, "ugpCDrtTUR", &long, false);
    let operands = options.operands(words);
    if options.has("-e") || options.has("--edit") {
        return;
    }
    let shell = ["-s", "-i", "--shell", "--login"];
    if shell.iter().any(|s| options.has(s)) && !operands.is_empty() {
        script(&joined(operands), depth, out);
    } else {
        resolve(operands, depth, out);
    }
}

/// The command xargs runs gets arguments from input: one more unknown word.
fn xargs(words: &[Word], depth: usize, out: &mut Analysis) {
    let long = [
        "--arg-file",
        "--delimiter",
        "--max-args",
        "--max-procs",
        "--max-chars",
        "--process-slot-var",
    ];
    let options = Options::parse(words, "adEILnPs", &long, false);
    let operands = options.operands(words);
    if operands.is_empty() {
        return;
    }
    let mut command = operands.to_vec();
    command.push(Word {
        pieces: vec![Piece::Unknown("...".into())],
        raw: "...".into(),
        subs: Vec::new(),
    });
    resolve(&command, depth, out);
}

/// Each `-exec`, `-execdir`, `-ok`, `-okdir` command up to its `;` or `+`.
fn find(words: &[Word], depth: usize, out: &mut Analysis) {
    let mut i = 0;
    while let Some(word) = words.get(i) {
        i += 1;
        if !matches!(word.raw.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            continue;
        }
        let start = i;
        while words
            .get(i)
            .is_some_and(|w| !matches!(w.literal().as_deref(), Some(";" | "+")))
        {
            i += 1;
        }
        resolve(words.get(start..i).unwrap_or_default(), depth, out);
    }
}

/// `su [options] [user] -c SCRIPT`; without `-c`, su runs a shell reading its input.
fn su(words: &[Word], depth: usize, out: &mut Analysis) {
    let mut i = 0;
    while let Some(word) = words.get(i) {
        i += 1;
        let raw = word.raw.as_str();
        if raw == "-c" || raw == "--command" {
            match words.get(i) {
                Some(script) => script_word(script, depth, out),
                None => out.problems.push(Unanalysable::ReadsCommands("su".into())),
            }
            return;
        }
        if let Some(text) = raw.strip_prefix("--command=") {
            return script(text, depth, out);
        }
    }
    out.problems.push(Unanalysable::ReadsCommands("su".into()));
}

/// `trap ACTION SIGNAL...`: the action is a script run later.
fn trap(words: &[Word], depth: usize, out: &mut Analysis) {
    let options = Options::parse(words, "", &[], false);
    let operands = options.operands(words);
    if let [action, _, ..] = operands {
        if !matches!(action.literal().as_deref(), Some("-" | "")) {
            script_word(action, depth, out);
        }
    }
}

/// `sh -c SCRIPT`, `bash -lc SCRIPT`, `sh script.sh`, or a shell reading its input.
fn shell(name: &str, words: &[Word], depth: usize, out: &mut Analysis) {
    let options = Options::parse(words, "oO", &["--rcfile", "--init-file"], true);
    let operands = options.operands(words);
    if options.has("-c") {
        if let Some(script) = operands.first() {
            script_word(script, depth, out);
        }
    } else if (options.has("-s") || operands.is_empty())
        && !options.has("--version")
        && !options.has("--help")
    {
        out.problems.push(Unanalysable::ReadsCommands(name.into()));
    }
}

/// The options before a command's operands, read the way getopt reads them.
struct Options {
    /// Each option seen (`-u`, `--user`), with its value if it takes one.
    values: Vec<(String, Option<String>)>,
    /// The index of the first operand.
    end: usize,
}

impl Options {
    /// `short` lists the letters that take a value, `long` the long options that do;
    /// `plus` accepts `+o` style groups (shells).
    fn parse(words: &[Word], short: &str, long: &[&str], plus: bool) -> Options {
        let mut values = Vec::new();
        let mut i = 0;
        while let Some(word) = words.get(i) {
            let Some(text) = word.literal() else { break };
            if text == "--" {
                i += 1;
                break;
            }
            if let Some(name) = text.strip_prefix("--") {
                i += 1;
                match name.split_once('=') {
                    Some((name, value)) => values.push((format!("--{name}"), Some(value.into()))),
                    None if long.contains(&text.as_str()) => {
                        let value = words.get(i).and_then(Word::literal);
                        i += 1;
                        values.push((text.clone(), value));
                    }
                    None => values.push((text.clone(), None)),
                }
                continue;
            }
            let group = match text.strip_prefix('-') {
                Some(group) => group,
                None if plus => match text.strip_prefix('+') {
                    Some(group) => group,
                    None => break,
                },
                None => break,
            };
            if group.is_empty() {
                break;
            }
            i += 1;
            for (at, letter) in group.char_indices() {
                let flag = format!("-{letter}");
                if short.contains(letter) {
                    let attached = &group[at + letter.len_utf8()..];
                    let value = if attached.is_empty() {
                        i += 1;
                        words.get(i - 1).and_then(Word::literal)
                    } else {
                        Some(attached.to_string())
                    };
                    values.push((flag, value));
                    break;
                }
                values.push((flag, None));
            }
        }
        Options {
            values,
            end: i.min(words.len()),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| n == name)
    }

    fn operands<'w>(&self, words: &'w [Word]) -> &'w [Word] {
        words.get(self.end..).unwrap_or_default()
    }
}

//! Permission questions: on the terminal when there is one, otherwise a denial that
//! says how to allow the call next time.
//!
//! The question is written to stderr and the answer read from `/dev/tty`, so it works
//! while stdin carries piped input and stdout is redirected. Without a terminal nobody
//! can answer: the call is denied, the model is told so, and the user is told to pass
//! `--yes` or add a rule to the config.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};

use cm_proto::agent::{Decision, Question};
use cm_proto::permission::{Action, Reason, Rules};

/// Where questions can be asked.
#[derive(Debug)]
pub enum Asker {
    /// A terminal: ask on stderr, read `/dev/tty`.
    Terminal,
    /// No terminal: deny and explain.
    Nobody,
}

impl Asker {
    /// A terminal asker when stderr is a terminal and `/dev/tty` opens.
    pub fn detect() -> Asker {
        if io::stderr().is_terminal() && File::open("/dev/tty").is_ok() {
            Asker::Terminal
        } else {
            Asker::Nobody
        }
    }
}

/// What the model is told when nobody could answer.
pub const NO_TERMINAL_FOR_MODEL: &str = "The user could not be asked for permission \
(cm runs without a terminal), so this call was denied. Do not retry it; finish what you can \
without it and tell the user what you needed.";

/// What the user is told when a question was denied for lack of a terminal.
pub fn no_terminal_note(question: &Question) -> String {
    let denied = format!(
        "denied {} {} (no terminal to ask on)",
        question.permission,
        describe_subject(&question.subject)
    );
    let rule = match question.permission.as_str() {
        "bash" => {
            let allows = |patterns: &[String]| {
                let mut rules = Rules::new();
                for pattern in patterns {
                    rules.add("bash", pattern, Action::Allow);
                }
                rules.evaluate("bash", &question.subject)
            };
            let exact = question.subject.trim().to_string();
            let mut candidates = vec![vec![first_word_pattern(&exact)], vec![exact.clone()]];
            // A command named by a path is checked under its base name too.
            if let Some((name, rest)) = exact.split_once(' ').or(Some((exact.as_str(), ""))) {
                if let Some((_, base)) = name.rsplit_once('/') {
                    let by_base = format!("{base} {rest}").trim_end().to_string();
                    candidates.push(vec![exact.clone(), by_base]);
                }
            }
            let Some(patterns) = candidates
                .into_iter()
                .find(|set| allows(set).action == Action::Allow)
            else {
                let why = match Rules::new().evaluate("bash", &question.subject).reason {
                    Reason::NotSimple { why, .. } => why,
                    _ => "it is not one simple command".to_string(),
                };
                return format!(
                    "{denied}; to allow it, rerun with --yes (a pattern rule cannot allow \
                     this line: {why})"
                );
            };
            let entries: Vec<String> = patterns
                .iter()
                .map(|p| {
                    format!(
                        "\"{}\": \"allow\"",
                        p.replace('\\', "\\\\").replace('"', "\\\"")
                    )
                })
                .collect();
            format!("\"permission\": {{\"bash\": {{{}}}}}", entries.join(", "))
        }
        key => format!("\"permission\": {{\"{key}\": \"allow\"}}"),
    };
    format!("{denied}; to allow it, rerun with --yes or add to cm.json: {rule}")
}

/// `cargo test --all` → `cargo *`, a pattern a user would likely write.
fn first_word_pattern(command: &str) -> String {
    match command.split_whitespace().next() {
        Some(word) => format!("{word} *"),
        None => "*".to_string(),
    }
}

fn describe_subject(subject: &str) -> String {
    let line = subject.lines().next().unwrap_or_default();
    let short: String = line.chars().take(80).collect();
    if short.len() < subject.len() {
        format!("`{short}…`")
    } else {
        format!("`{short}`")
    }
}

/// The question as put to the user.
pub fn question_text(question: &Question) -> String {
    let what = match question.permission.as_str() {
        "edit" => format!("edit {}", describe_subject(&question.subject)),
        "bash" => format!("run {}", describe_subject(&question.subject)),
        "external_directory" => format!(
            "use {} outside the workspace",
            describe_subject(&question.subject)
        ),
        "doom_loop" => format!(
            "call {} again with the same arguments (the third time in a row)",
            question.tool
        ),
        other => format!("{other} {}", describe_subject(&question.subject)),
    };
    format!(
        "cm wants to {what}\n  [y] allow once  [a] allow always (this session)  [n] deny, or type why to deny: "
    )
}

/// Reads an answer: `y`, `a`, `n`/empty, or any other text as a denial with that message.
pub fn parse_answer(line: &str) -> Decision {
    match line.trim() {
        "y" | "Y" | "yes" => Decision::AllowOnce,
        "a" | "A" | "always" => Decision::AllowAlways,
        "" | "n" | "N" | "no" => Decision::Deny { message: None },
        other => Decision::Deny {
            message: Some(other.to_string()),
        },
    }
}

/// Asks on the terminal and waits for the answer (deny when the terminal fails).
pub fn ask_terminal(question: &Question) -> Decision {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{}", question_text(question));
    let _ = err.flush();
    drop(err);
    let Ok(tty) = File::open("/dev/tty") else {
        return Decision::Deny { message: None };
    };
    let mut line = String::new();
    match BufReader::new(tty).read_line(&mut line) {
        Ok(0) | Err(_) => Decision::Deny { message: None },
        Ok(_) => parse_answer(&line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(permission: &str, subject: &str) -> Question {
        Question {
            permission: permission.into(),
            subject: subject.into(),
            tool: "bash".into(),
            call_id: "c".into(),
            arguments: "{}".into(),
        }
    }

    #[test]
    fn answers_map_to_decisions() {
        assert_eq!(parse_answer("y\n"), Decision::AllowOnce);
        assert_eq!(parse_answer("a"), Decision::AllowAlways);
        assert_eq!(parse_answer("\n"), Decision::Deny { message: None });
        assert_eq!(
            parse_answer("use the test script instead\n"),
            Decision::Deny {
                message: Some("use the test script instead".into())
            }
        );
    }

    #[test]
    fn the_no_terminal_note_says_how_to_allow() {
        assert_eq!(
            no_terminal_note(&question("bash", "cargo test --all")),
            "denied bash `cargo test --all` (no terminal to ask on); to allow it, rerun with \
             --yes or add to cm.json: \"permission\": {\"bash\": {\"cargo *\": \"allow\"}}"
        );
        assert_eq!(
            no_terminal_note(&question("bash", "sh test.sh")),
            "denied bash `sh test.sh` (no terminal to ask on); to allow it, rerun with \
             --yes or add to cm.json: \"permission\": {\"bash\": {\"sh *\": \"allow\"}}"
        );
        assert!(no_terminal_note(&question("bash", "./test.sh"))
            .ends_with("{\"bash\": {\"./test.sh\": \"allow\", \"test.sh\": \"allow\"}}"));
        assert!(no_terminal_note(&question("edit", "src/a.rs"))
            .ends_with("\"permission\": {\"edit\": \"allow\"}"));
    }

    #[test]
    fn questions_name_the_action() {
        assert!(
            question_text(&question("edit", "src/a.rs")).starts_with("cm wants to edit `src/a.rs`")
        );
        assert!(question_text(&question("bash", "ls")).contains("[a] allow always"));
    }
}

//! The command line: `cm [--help | --version]`, `cm help [COMMAND]`, `cm run [OPTIONS] [PROMPT]`.
//!
//! Parsing is pure: it takes the arguments and returns a [`Command`] or a usage
//! [`Failure`] that says what to type instead. Reading stdin, files and the environment
//! happens later, in `run`.

use std::ffi::OsString;

use lexopt::prelude::*;

use crate::exit::Failure;
use crate::help;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print a help text.
    Help(&'static str),
    /// Print the version.
    Version,
    /// Run one prompt.
    Run(RunArgs),
}

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The answer on stdout, progress on stderr.
    #[default]
    Text,
    /// One JSON event object per line on stdout.
    Json,
}

/// The options of `cm run`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunArgs {
    /// The prompt from the arguments (words joined by spaces); `None` if none given.
    pub prompt: Option<String>,
    /// `--model provider/model`.
    pub model: Option<String>,
    /// `-c/--continue`: the newest session of this directory.
    pub continue_last: bool,
    /// `--session ID`.
    pub session: Option<String>,
    /// `--format`.
    pub format: Format,
    /// `--yes`: allow every ask (never a deny).
    pub yes: bool,
    /// `--max-steps N`.
    pub max_steps: Option<u32>,
    /// `-q/--quiet`: only the answer.
    pub quiet: bool,
}

const RUN_OPTIONS: &[&str] = &[
    "--model",
    "--continue",
    "--session",
    "--format",
    "--yes",
    "--max-steps",
    "--quiet",
    "--help",
];

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, Failure> {
    let mut parser = lexopt::Parser::from_args(args);
    let first = parser.next().map_err(|e| usage_error(e, "cm --help"))?;
    match first {
        None => Ok(Command::Help(help::MAIN)),
        Some(Short('h') | Long("help")) => Ok(Command::Help(help::MAIN)),
        Some(Short('V') | Long("version")) => Ok(Command::Version),
        Some(Value(word)) => match word.to_str() {
            Some("run") => parse_run(&mut parser),
            Some("help") => parse_help(&mut parser),
            Some(other) => Err(Failure::usage(format!(
                "unknown command `{other}`\n\
                 to run a prompt, type: cm run \"{other} ...\"\n\
                 see `cm --help` for the commands"
            ))),
            None => Err(Failure::usage(
                "the command is not valid UTF-8; the commands are `run` and `help`",
            )),
        },
        Some(other) => Err(Failure::usage(format!(
            "unknown option {}; the only options before a command are --help and --version\n\
             to run a prompt, type: cm run \"your prompt\"",
            other.unexpected()
        ))),
    }
}

fn parse_help(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    match parser.next().map_err(|e| usage_error(e, "cm help"))? {
        None => Ok(Command::Help(help::MAIN)),
        Some(Value(topic)) if topic == "run" => Ok(Command::Help(help::RUN)),
        Some(other) => Err(Failure::usage(format!(
            "no help for {}; type `cm help run` or `cm --help`",
            describe(&other)
        ))),
    }
}

fn describe(arg: &lexopt::Arg<'_>) -> String {
    match arg {
        Value(v) => format!("`{}`", v.to_string_lossy()),
        other => other.clone().unexpected().to_string(),
    }
}

fn parse_run(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    let mut run = RunArgs::default();
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = parser.next().map_err(|e| usage_error(e, "cm run --help"))? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help::RUN)),
            Long("model") | Short('m') => {
                let value = text_value(parser, "--model", "--model anthropic/claude-sonnet-4-5")?;
                run.model = Some(value);
            }
            Short('c') | Long("continue") => run.continue_last = true,
            Long("session") | Short('s') => {
                run.session = Some(text_value(parser, "--session", "--session 01J...")?);
            }
            Long("format") => {
                let value = text_value(parser, "--format", "--format json")?;
                run.format = match value.as_str() {
                    "text" => Format::Text,
                    "json" => Format::Json,
                    other => {
                        return Err(Failure::usage(format!(
                            "--format takes `text` or `json`, not `{other}`; \
                             type e.g. `cm run --format json \"...\"`"
                        )))
                    }
                };
            }
            Short('y') | Long("yes") => run.yes = true,
            Long("max-steps") => {
                let value = text_value(parser, "--max-steps", "--max-steps 20")?;
                run.max_steps = Some(match value.parse::<u32>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(Failure::usage(format!(
                            "--max-steps takes a whole number of at least 1, not `{value}`; \
                             type e.g. `--max-steps 20`"
                        )))
                    }
                });
            }
            Short('q') | Long("quiet") => run.quiet = true,
            Value(word) => words.push(word.into_string().map_err(|_| {
                Failure::usage("the prompt is not valid UTF-8; pipe it through stdin instead")
            })?),
            Long(name) => {
                let name = format!("--{name}");
                let hint = suggestion(&name)
                    .map(|near| format!("; did you mean {near}?"))
                    .unwrap_or_default();
                return Err(Failure::usage(format!(
                    "unknown option {name} for `cm run`{hint}\n\
                     a prompt that starts with `-` goes after `--`: cm run -- \"-v is broken\"\n\
                     see `cm run --help` for the options"
                )));
            }
            Short(c) => {
                return Err(Failure::usage(format!(
                    "unknown option -{c} for `cm run`\n\
                     a prompt that starts with `-` goes after `--`: cm run -- \"-{c} ...\"\n\
                     see `cm run --help` for the options"
                )))
            }
        }
    }
    if run.continue_last && run.session.is_some() {
        return Err(Failure::usage(
            "--continue and --session both choose a session; give one of them\n\
             --continue picks the newest session of this directory, --session ID a given one",
        ));
    }
    if !words.is_empty() {
        run.prompt = Some(words.join(" "));
    }
    Ok(Command::Run(run))
}

/// The value of an option that takes one, as UTF-8 text.
fn text_value(parser: &mut lexopt::Parser, option: &str, example: &str) -> Result<String, Failure> {
    let value = parser
        .value()
        .map_err(|_| Failure::usage(format!("{option} needs a value; type e.g. `{example}`")))?;
    value
        .into_string()
        .map_err(|_| Failure::usage(format!("the value of {option} is not valid UTF-8")))
}

/// The known option closest to a misspelt one.
fn suggestion(name: &str) -> Option<&'static str> {
    RUN_OPTIONS
        .iter()
        .copied()
        .find(|known| edit_distance(known, name) <= 2)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let best = (previous[j] + usize::from(ca != *cb))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
            current.push(best);
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

fn usage_error(error: lexopt::Error, help: &str) -> Failure {
    Failure::usage(format!("{error}; see `{help}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &[&str]) -> Result<Command, Failure> {
        parse(words.iter().map(OsString::from))
    }

    fn run(words: &[&str]) -> RunArgs {
        match parse_words(words) {
            Ok(Command::Run(run)) => run,
            other => panic!("expected a run command, got {other:?}"),
        }
    }

    fn usage_message(words: &[&str]) -> String {
        match parse_words(words) {
            Err(failure) => {
                assert_eq!(failure.status, crate::exit::Status::Usage);
                failure.message
            }
            Ok(command) => panic!("expected a usage error, got {command:?}"),
        }
    }

    #[test]
    fn no_arguments_and_help_print_the_main_help() {
        assert_eq!(parse_words(&[]), Ok(Command::Help(help::MAIN)));
        assert_eq!(parse_words(&["--help"]), Ok(Command::Help(help::MAIN)));
        assert_eq!(parse_words(&["help", "run"]), Ok(Command::Help(help::RUN)));
        assert_eq!(
            parse_words(&["run", "--help"]),
            Ok(Command::Help(help::RUN))
        );
        assert_eq!(parse_words(&["-V"]), Ok(Command::Version));
    }

    #[test]
    fn run_takes_every_option_and_joins_the_prompt_words() {
        let got = run(&[
            "run",
            "--model",
            "openai/gpt-5",
            "fix",
            "-q",
            "the tests",
            "--format=json",
            "--yes",
            "--max-steps",
            "7",
            "-c",
        ]);
        assert_eq!(
            got,
            RunArgs {
                prompt: Some("fix the tests".into()),
                model: Some("openai/gpt-5".into()),
                continue_last: true,
                session: None,
                format: Format::Json,
                yes: true,
                max_steps: Some(7),
                quiet: true,
            }
        );
    }

    #[test]
    fn a_prompt_after_double_dash_may_start_with_a_dash() {
        assert_eq!(
            run(&["run", "--", "-v", "is", "broken"]).prompt.as_deref(),
            Some("-v is broken")
        );
        assert_eq!(run(&["run"]).prompt, None);
    }

    #[test]
    fn usage_errors_say_what_to_type_instead() {
        assert!(usage_message(&["run", "--modle", "x/y"]).contains("did you mean --model?"));
        assert!(
            usage_message(&["run", "--format", "xml"]).contains("`--format json`")
                || usage_message(&["run", "--format", "xml"]).contains("--format json")
        );
        assert!(usage_message(&["run", "--max-steps", "0"]).contains("--max-steps 20"));
        assert!(usage_message(&["run", "--model"]).contains("--model anthropic/"));
        assert!(usage_message(&["run", "-c", "--session", "x"]).contains("give one of them"));
        assert!(usage_message(&["fix", "it"]).contains("cm run \"fix ...\""));
        assert!(usage_message(&["run", "-z"]).contains("cm run -- "));
    }
}

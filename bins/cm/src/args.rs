//! The command line: `cm` (a chat), `cm [--help | --version]`, `cm help [COMMAND]`,
//! `cm run [OPTIONS] [PROMPT]`, `cm sessions list|show|export|delete`.
//!
//! Parsing is pure: it takes the arguments and returns a [`Command`] or a usage
//! [`Failure`] that says what to type instead. Reading stdin, files and the environment
//! happens later, in `run`.

use std::ffi::OsString;

use lexopt::prelude::*;

use cm_proto::provider::Effort;

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
    /// No arguments: the full-screen UI on a terminal, the help (exit 2) otherwise.
    Chat,
    /// `cm tui [OPTIONS]`: the full-screen UI (`--model`, `-c`, `--session`, `--yes`, …
    /// as for `cm run`, without a prompt).
    Tui(RunArgs),
    /// `cm chat`: the line-mode chat.
    LineChat,
    /// Look at or remove stored sessions.
    Sessions(SessionsCommand),
    /// Store, list or remove provider keys.
    Auth(AuthCommand),
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// The model catalog.
    Models(crate::models_cmd::ModelsCommand),
    /// What cm sees: config, credentials, directories.
    Status(crate::status_cmd::StatusArgs),
    /// Write AGENTS.md for this repository.
    Init(crate::init_cmd::InitArgs),
}

/// The options of `cm serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// `--host`: the address to bind (default `127.0.0.1`).
    pub host: String,
    /// `--port`: the port (default 4096; 0 picks a free one).
    pub port: u16,
    /// `--token`: the bearer token clients must send (else `CM_SERVER_TOKEN`, else random).
    pub token: Option<String>,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            host: "127.0.0.1".into(),
            port: 4096,
            token: None,
        }
    }
}

/// `cm auth ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthCommand {
    /// Store a key for a provider (chosen on a terminal when `None`).
    Login {
        /// The provider id.
        provider: Option<String>,
    },
    /// Remove one stored key, or all when `None`.
    Logout {
        /// The provider id.
        provider: Option<String>,
        /// `--yes`: do not ask.
        yes: bool,
    },
    /// Every credential cm can see, masked.
    List,
}

/// `cm sessions ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionsCommand {
    /// Every session, newest first.
    List {
        /// `--json`: one JSON array instead of a table.
        json: bool,
    },
    /// The conversation as readable text.
    Show {
        /// The session id.
        id: String,
    },
    /// The conversation for another program or a document.
    Export {
        /// The session id.
        id: String,
        /// `--format`.
        format: ExportFormat,
    },
    /// Remove a session's log.
    Delete {
        /// The session id.
        id: String,
        /// `--yes`: do not ask.
        yes: bool,
    },
}

/// How `cm sessions export` writes a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// `{"info": ..., "messages": [...]}`: the replayed conversation.
    #[default]
    Json,
    /// A readable transcript.
    Markdown,
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
    /// `-f/--file FILE`, repeatable: files attached to the prompt.
    pub files: Vec<String>,
    /// `--effort`: how hard the model should think.
    pub effort: Option<Effort>,
    /// `--debug`: write the debug log.
    pub debug: bool,
    /// `--compact`: summarise the session before the turn (or instead of it).
    pub compact: bool,
}

const RUN_OPTIONS: &[&str] = &[
    "--model",
    "--continue",
    "--session",
    "--format",
    "--yes",
    "--max-steps",
    "--quiet",
    "--file",
    "--effort",
    "--debug",
    "--compact",
    "--help",
];

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, Failure> {
    let mut parser = lexopt::Parser::from_args(args);
    let first = parser.next().map_err(|e| usage_error(e, "cm --help"))?;
    match first {
        None => Ok(Command::Chat),
        Some(Short('h') | Long("help")) => Ok(Command::Help(help::MAIN)),
        Some(Short('V') | Long("version")) => Ok(Command::Version),
        Some(Value(word)) => match word.to_str() {
            Some("run") => parse_run(&mut parser),
            Some("help") => parse_help(&mut parser),
            Some("sessions") => parse_sessions(&mut parser),
            Some("auth") => parse_auth(&mut parser),
            Some("tui") => parse_tui(&mut parser),
            Some("chat") => match parser.next().map_err(|e| usage_error(e, "cm --help"))? {
                None => Ok(Command::LineChat),
                Some(Short('h') | Long("help")) => Ok(Command::Help(help::MAIN)),
                Some(other) => Err(Failure::usage(format!(
                    "`cm chat` takes no arguments, not {}; type your prompts in the chat",
                    describe(&other)
                ))),
            },
            Some("serve") => parse_serve(&mut parser),
            Some("models") => crate::models_cmd::parse(&mut parser),
            Some("status") => crate::status_cmd::parse(&mut parser),
            Some("init") => crate::init_cmd::parse(&mut parser),
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
        Some(Value(topic)) if topic == "sessions" => Ok(Command::Help(help::SESSIONS)),
        Some(Value(topic)) if topic == "auth" => Ok(Command::Help(help::AUTH)),
        Some(Value(topic)) if topic == "tui" => Ok(Command::Help(help::TUI)),
        Some(Value(topic)) if topic == "serve" => Ok(Command::Help(help::SERVE)),
        Some(Value(topic)) if topic == "models" => Ok(Command::Help(help::MODELS)),
        Some(Value(topic)) if topic == "status" => Ok(Command::Help(help::STATUS)),
        Some(Value(topic)) if topic == "init" => Ok(Command::Help(help::INIT)),
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
            Short('f') | Long("file") => {
                run.files
                    .push(text_value(parser, "--file", "--file src/main.rs")?);
            }
            Long("effort") => {
                let value = text_value(parser, "--effort", "--effort high")?;
                run.effort = Some(parse_effort(&value)?);
            }
            Long("debug") => run.debug = true,
            Long("compact") => run.compact = true,
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
    if run.compact && !run.continue_last && run.session.is_none() {
        return Err(Failure::usage(
            "--compact summarises an existing session; say which one:\n  \
             cm run -c --compact              the newest session here\n  \
             cm run --session ID --compact \"go on\"",
        ));
    }
    if !words.is_empty() {
        run.prompt = Some(words.join(" "));
    }
    Ok(Command::Run(run))
}

fn parse_tui(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    match parse_run(parser).map_err(|f| Failure::usage(f.message.replace("cm run", "cm tui")))? {
        Command::Help(_) => Ok(Command::Help(help::TUI)),
        Command::Run(run) if run.prompt.is_some() => Err(Failure::usage(
            "`cm tui` takes no prompt; type it in the UI, or run one prompt with: cm run \"...\"",
        )),
        Command::Run(run) if run.compact || !run.files.is_empty() || run.quiet => {
            Err(Failure::usage(
                "--compact, --file and --quiet are for `cm run`; in the UI type /compact or @path",
            ))
        }
        Command::Run(run) => Ok(Command::Tui(run)),
        other => Ok(other),
    }
}

fn parse_serve(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    let mut serve = ServeArgs::default();
    while let Some(arg) = parser
        .next()
        .map_err(|e| usage_error(e, "cm serve --help"))?
    {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help::SERVE)),
            Long("host") => serve.host = text_value(parser, "--host", "--host 127.0.0.1")?,
            Long("port") | Short('p') => {
                let value = text_value(parser, "--port", "--port 4096")?;
                serve.port = value.parse().map_err(|_| {
                    Failure::usage(format!(
                        "--port takes a port number from 0 to 65535, not `{value}`; \
                         0 picks a free one: cm serve --port 0"
                    ))
                })?;
            }
            Long("token") => {
                let value = text_value(parser, "--token", "--token \"$(openssl rand -hex 32)\"")?;
                serve.token = Some(value);
            }
            other => {
                return Err(Failure::usage(format!(
                    "unexpected {} for `cm serve`; it takes --host, --port and --token \
                     (see `cm serve --help`)",
                    describe(&other)
                )))
            }
        }
    }
    Ok(Command::Serve(serve))
}

/// `low`, `medium` or `high` (and `minimal`, which some OpenAI models take).
pub fn parse_effort(value: &str) -> Result<Effort, Failure> {
    match value {
        "minimal" => Ok(Effort::Minimal),
        "low" => Ok(Effort::Low),
        "medium" => Ok(Effort::Medium),
        "high" => Ok(Effort::High),
        other => Err(Failure::usage(format!(
            "--effort takes `low`, `medium` or `high`, not `{other}`; type e.g. `--effort high`"
        ))),
    }
}

fn parse_auth(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    let mut words: Vec<String> = Vec::new();
    let mut yes = false;
    while let Some(arg) = parser
        .next()
        .map_err(|e| usage_error(e, "cm auth --help"))?
    {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help::AUTH)),
            Short('y') | Long("yes") => yes = true,
            Value(word) => words.push(word.to_string_lossy().into_owned()),
            other => {
                return Err(Failure::usage(format!(
                    "unknown option {} for `cm auth`; see `cm auth --help`",
                    other.unexpected()
                )))
            }
        }
    }
    let mut words = words.into_iter();
    let action = words.next();
    let provider = words.next();
    if let Some(extra) = words.next() {
        return Err(Failure::usage(format!(
            "unexpected `{extra}`; `cm auth` takes one provider id"
        )));
    }
    let command = match action.as_deref() {
        Some("login") => AuthCommand::Login { provider },
        Some("logout") => AuthCommand::Logout { provider, yes },
        Some("list") | Some("ls") if provider.is_none() => AuthCommand::List,
        Some("list") | Some("ls") => {
            return Err(Failure::usage("`cm auth list` takes no provider id"))
        }
        None => return Ok(Command::Help(help::AUTH)),
        Some(other) => {
            return Err(Failure::usage(format!(
                "unknown auth command `{other}`; the commands are login, logout and list"
            )))
        }
    };
    Ok(Command::Auth(command))
}

fn parse_sessions(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    let mut words: Vec<String> = Vec::new();
    let mut json = false;
    let mut yes = false;
    let mut format = None;
    while let Some(arg) = parser
        .next()
        .map_err(|e| usage_error(e, "cm sessions --help"))?
    {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help::SESSIONS)),
            Long("json") => json = true,
            Short('y') | Long("yes") => yes = true,
            Long("format") => {
                let value = text_value(parser, "--format", "--format markdown")?;
                format = Some(match value.as_str() {
                    "json" => ExportFormat::Json,
                    "markdown" | "md" => ExportFormat::Markdown,
                    other => {
                        return Err(Failure::usage(format!(
                            "--format takes `json` or `markdown`, not `{other}`; \
                             type e.g. `cm sessions export ID --format markdown`"
                        )))
                    }
                });
            }
            Value(word) => words.push(word.to_string_lossy().into_owned()),
            other => {
                return Err(Failure::usage(format!(
                    "unknown option {} for `cm sessions`; see `cm sessions --help`",
                    other.unexpected()
                )))
            }
        }
    }
    let mut words = words.into_iter();
    let action = words.next();
    let id = words.next();
    if let Some(extra) = words.next() {
        return Err(Failure::usage(format!(
            "unexpected `{extra}`; `cm sessions` takes one session id"
        )));
    }
    let need_id = |action: &str, id: Option<String>| {
        id.ok_or_else(|| {
            Failure::usage(format!(
                "`cm sessions {action}` needs a session id; list them with `cm sessions list`"
            ))
        })
    };
    let command = match action.as_deref() {
        None | Some("list") | Some("ls") => SessionsCommand::List { json },
        Some("show") => SessionsCommand::Show {
            id: need_id("show", id)?,
        },
        Some("export") => SessionsCommand::Export {
            id: need_id("export", id)?,
            format: format.unwrap_or_default(),
        },
        Some("delete") | Some("rm") => SessionsCommand::Delete {
            id: need_id("delete", id)?,
            yes,
        },
        Some(other) => {
            return Err(Failure::usage(format!(
                "unknown sessions command `{other}`; the commands are list, show, export and delete"
            )))
        }
    };
    Ok(Command::Sessions(command))
}

/// The value of an option that takes one, as UTF-8 text.
pub(crate) fn text_value(
    parser: &mut lexopt::Parser,
    option: &str,
    example: &str,
) -> Result<String, Failure> {
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

/// A lexopt error as a usage failure that points at `help`.
pub(crate) fn usage_error(error: lexopt::Error, help: &str) -> Failure {
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
    fn no_arguments_chat_and_help_prints_the_main_help() {
        assert_eq!(parse_words(&[]), Ok(Command::Chat));
        assert_eq!(parse_words(&["chat"]), Ok(Command::LineChat));
        assert_eq!(
            parse_words(&["tui", "-c", "--model", "openai/gpt-5"]),
            Ok(Command::Tui(RunArgs {
                continue_last: true,
                model: Some("openai/gpt-5".into()),
                ..RunArgs::default()
            }))
        );
        assert_eq!(
            parse_words(&["tui", "--help"]),
            Ok(Command::Help(help::TUI))
        );
        assert!(usage_message(&["tui", "fix", "it"]).contains("takes no prompt"));
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
                ..RunArgs::default()
            }
        );
    }

    #[test]
    fn files_effort_debug_and_compact() {
        let got = run(&[
            "run",
            "-f",
            "a.rs",
            "--file=b.png",
            "--effort",
            "high",
            "--debug",
            "-c",
            "--compact",
        ]);
        assert_eq!(got.files, ["a.rs", "b.png"]);
        assert_eq!(got.effort, Some(Effort::High));
        assert!(got.debug && got.compact && got.continue_last);
        assert_eq!(got.prompt, None);
        assert!(usage_message(&["run", "--effort", "max"]).contains("`--effort high`"));
        assert!(usage_message(&["run", "--compact", "x"]).contains("cm run -c --compact"));
    }

    #[test]
    fn auth_subcommands() {
        assert_eq!(
            parse_words(&["auth", "login", "anthropic"]),
            Ok(Command::Auth(AuthCommand::Login {
                provider: Some("anthropic".into())
            }))
        );
        assert_eq!(
            parse_words(&["auth", "login"]),
            Ok(Command::Auth(AuthCommand::Login { provider: None }))
        );
        assert_eq!(
            parse_words(&["auth", "logout", "--yes"]),
            Ok(Command::Auth(AuthCommand::Logout {
                provider: None,
                yes: true
            }))
        );
        assert_eq!(
            parse_words(&["auth", "list"]),
            Ok(Command::Auth(AuthCommand::List))
        );
        assert_eq!(parse_words(&["auth"]), Ok(Command::Help(help::AUTH)));
        assert_eq!(
            parse_words(&["help", "auth"]),
            Ok(Command::Help(help::AUTH))
        );
        let unknown = parse_words(&["auth", "signin"]).unwrap_err();
        assert!(
            unknown.message.contains("login, logout and list"),
            "{}",
            unknown.message
        );
    }

    #[test]
    fn sessions_subcommands() {
        let sessions = |words: &[&str]| match parse_words(words) {
            Ok(Command::Sessions(command)) => command,
            other => panic!("expected a sessions command, got {other:?}"),
        };
        assert_eq!(
            sessions(&["sessions"]),
            SessionsCommand::List { json: false }
        );
        assert_eq!(
            sessions(&["sessions", "list", "--json"]),
            SessionsCommand::List { json: true }
        );
        assert_eq!(
            sessions(&["sessions", "export", "ses_1", "--format", "markdown"]),
            SessionsCommand::Export {
                id: "ses_1".into(),
                format: ExportFormat::Markdown
            }
        );
        assert_eq!(
            sessions(&["sessions", "delete", "-y", "ses_1"]),
            SessionsCommand::Delete {
                id: "ses_1".into(),
                yes: true
            }
        );
        assert!(usage_message(&["sessions", "show"]).contains("cm sessions list"));
        assert!(usage_message(&["sessions", "frob"]).contains("list, show, export and delete"));
    }

    #[test]
    fn serve_options() {
        assert_eq!(
            parse_words(&["serve"]),
            Ok(Command::Serve(ServeArgs::default()))
        );
        assert_eq!(
            parse_words(&["serve", "--host", "0.0.0.0", "--port=0", "--token", "t"]),
            Ok(Command::Serve(ServeArgs {
                host: "0.0.0.0".into(),
                port: 0,
                token: Some("t".into())
            }))
        );
        assert_eq!(
            parse_words(&["serve", "--help"]),
            Ok(Command::Help(help::SERVE))
        );
        assert!(usage_message(&["serve", "--port", "http"]).contains("cm serve --port 0"));
        assert!(usage_message(&["serve", "extra"]).contains("--host, --port and --token"));
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

//! `cm init [--model M] [--yes] [--write-config]`: an agent task that studies the
//! repository and writes `AGENTS.md` (how to build and test, the layout, conventions).
//!
//! It is `cm run` with a built-in prompt ([`PROMPT`]) and one extra permission: writing
//! `AGENTS.md` at the workspace root is allowed without asking; anything else asks (or is
//! denied without a terminal) as in `cm run`. An existing `AGENTS.md` is only replaced
//! after a yes on the terminal, or with `--yes`; without a terminal and without `--yes`
//! cm refuses before any request. `--write-config` records the model used in the
//! project's `cm.json`.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use cm_host::Workspace;
use cm_proto::permission::Action;
use lexopt::prelude::*;

use crate::args::{text_value, usage_error, Command, RunArgs};
use crate::exit::{Failure, Status};
use crate::output::{Mode, Ui};
use crate::sessions::Choice;
use crate::{attach, config_files, help, run};

/// The file `cm init` writes.
pub const AGENTS_FILE: &str = "AGENTS.md";

/// The task given to the model.
pub const PROMPT: &str = "\
Study this repository and write AGENTS.md at its root: the guide a coding agent (or a new
contributor) reads before changing anything here.

Look before you write: list the top-level files and directories, read the README and the
build files (Cargo.toml, package.json, pyproject.toml, go.mod, Makefile, CI scripts, …),
and open a few source and test files to learn the conventions. If AGENTS.md already exists,
read it first and keep what is still true.

Then write AGENTS.md with these sections, short and concrete, with the exact commands:
- Build and test: how to build, run all tests, run one test, lint and format.
- Layout: the main directories and what lives in each.
- Conventions: code style, naming, error handling, how tests are written, anything a
  change must respect (generated files, dependency rules, commit style).
Only write what you found in the repository; do not invent commands. Keep it under about
150 lines. Write the file with the write tool, then answer with one line saying so.";

/// The options of `cm init`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitArgs {
    /// `--model provider/model`.
    pub model: Option<String>,
    /// `--yes`/`--force`: replace an existing AGENTS.md without asking.
    pub yes: bool,
    /// `--write-config`: record the model in the project's cm.json.
    pub write_config: bool,
    /// `-q/--quiet`: only the answer.
    pub quiet: bool,
}

/// Parses the arguments after `cm init`.
pub fn parse(parser: &mut lexopt::Parser) -> Result<Command, Failure> {
    let mut args = InitArgs::default();
    while let Some(arg) = parser
        .next()
        .map_err(|e| usage_error(e, "cm init --help"))?
    {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(help::INIT)),
            Short('m') | Long("model") => {
                args.model = Some(text_value(
                    parser,
                    "--model",
                    "--model anthropic/claude-sonnet-4-5",
                )?);
            }
            Short('y') | Long("yes") | Long("force") => args.yes = true,
            Long("write-config") => args.write_config = true,
            Short('q') | Long("quiet") => args.quiet = true,
            Value(word) => {
                return Err(Failure::usage(format!(
                    "`cm init` takes no words (`{}`); it writes AGENTS.md for the repository \
                     it is run in. To ask something else, type: cm run \"...\"",
                    word.to_string_lossy()
                )))
            }
            other => {
                return Err(Failure::usage(format!(
                    "unknown option {} for `cm init`; see `cm init --help`",
                    other.unexpected()
                )))
            }
        }
    }
    Ok(Command::Init(args))
}

/// Runs `cm init` and says how cm exits.
pub fn main(args: &InitArgs) -> Status {
    let mut ui = Ui::to_terminal(Mode::new(Default::default(), args.quiet));
    match init(args, &mut ui) {
        Ok(status) => status,
        Err(failure) => {
            ui.fatal(&failure.message);
            failure.status
        }
    }
}

fn init(args: &InitArgs, ui: &mut Ui) -> Result<Status, Failure> {
    let cwd = std::env::current_dir()
        .and_then(|d| d.canonicalize())
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    let workspace = Workspace::detect(&cwd)
        .map_err(|e| Failure::usage(format!("cannot use the working directory: {e}")))?;
    let root = workspace.root().to_path_buf();
    let target = root.join(AGENTS_FILE);
    let before = std::fs::read(&target).ok();
    if before.is_some() && !args.yes && !confirm_overwrite(&target)? {
        eprintln!("cm: {} kept as it is", target.display());
        return Ok(Status::Done);
    }

    let run_args = RunArgs {
        model: args.model.clone(),
        prompt: Some(PROMPT.to_string()),
        quiet: args.quiet,
        ..RunArgs::default()
    };
    let mut prepared = run::prepare(&run_args, ui)?;
    let dirs = cm_host::Dirs::from_process_env().map_err(|e| Failure::usage(e.to_string()))?;
    let config = config_files::load(&dirs.config_file(), &cwd, &root)?.config;
    let mut rules = config.permission_rules();
    for subject in [
        AGENTS_FILE.to_string(),
        format!("./{AGENTS_FILE}"),
        target.display().to_string(),
    ] {
        rules.add("edit", &subject, Action::Allow);
    }
    prepared.config.permissions = Box::new(rules);
    let model = format!("{}/{}", prepared.provider.id, prepared.provider.model);

    let parts = attach::build(
        PROMPT,
        &[],
        &prepared.cwd,
        &prepared.workspace,
        prepared.provider.images,
    )?;
    let mut turns = prepared.open(&Choice::New, "cm init: write AGENTS.md", ui)?;
    let status = turns.turn(parts, ui)?;
    if status != Status::Done {
        return Ok(status);
    }
    let after = std::fs::read(&target).ok();
    if after.is_none() || after == before {
        return Err(Failure::failed(format!(
            "the model finished without writing {}; try again, or with another model \
             (cm init --model PROVIDER/MODEL)",
            target.display()
        )));
    }
    eprintln!("cm: wrote {}", target.display());
    if args.write_config {
        let file = root.join(config_files::PROJECT_FILE);
        match write_model(&file, &model) {
            Ok(()) => eprintln!("cm: set \"model\": \"{model}\" in {}", file.display()),
            Err(why) => eprintln!(
                "cm: {} not changed ({why}); add \"model\": \"{model}\" to it yourself",
                file.display()
            ),
        }
    }
    Ok(Status::Done)
}

/// Asks on the terminal; refuses without one.
fn confirm_overwrite(target: &Path) -> Result<bool, Failure> {
    if !io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "{} already exists; to replace it, run: cm init --yes",
            target.display()
        )));
    }
    eprint!("{} exists; replace it? [y/N] ", target.display());
    let _ = io::stderr().flush();
    let mut answer = String::new();
    let _ = io::stdin().lock().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Sets `"model"` in the project's cm.json, creating it if needed. A file that is not a
/// plain JSON object (comments included) is left alone.
fn write_model(file: &PathBuf, model: &str) -> Result<(), String> {
    let mut object = match std::fs::read_to_string(file) {
        Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(object)) => object,
            _ => return Err("it is not plain JSON, so cm does not rewrite it".into()),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(e.to_string()),
    };
    object.insert("model".into(), model.into());
    let text = serde_json::to_string_pretty(&serde_json::Value::Object(object))
        .map_err(|e| e.to_string())?;
    std::fs::write(file, format!("{text}\n")).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use std::ffi::OsString;

    #[test]
    fn options_and_refusals() {
        let parse_words = |words: &[&str]| crate::args::parse(words.iter().map(OsString::from));
        assert_eq!(
            parse_words(&[
                "init",
                "--model",
                "openai/gpt-5",
                "--force",
                "--write-config"
            ]),
            Ok(Command::Init(InitArgs {
                model: Some("openai/gpt-5".into()),
                yes: true,
                write_config: true,
                quiet: false
            }))
        );
        assert_eq!(parse_words(&["init", "-h"]), Ok(Command::Help(help::INIT)));
        assert!(parse_words(&["init", "please"])
            .unwrap_err()
            .message
            .contains("cm run"));
    }

    #[test]
    fn the_model_is_merged_into_a_plain_cm_json_and_a_commented_one_is_left_alone() {
        let dir = TestDir::new("cm-init-config");
        let file = dir.join("cm.json");
        write_model(&file, "openai/gpt-5").unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(written["model"], "openai/gpt-5");

        std::fs::write(&file, r#"{"limits": {"max_steps": 9}, "model": "x/y"}"#).unwrap();
        write_model(&file, "anthropic/claude-sonnet-4-5").unwrap();
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(written["model"], "anthropic/claude-sonnet-4-5");
        assert_eq!(written["limits"]["max_steps"], 9);

        std::fs::write(&file, "{ // mine\n}").unwrap();
        assert!(write_model(&file, "a/b").is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "{ // mine\n}");
    }
}

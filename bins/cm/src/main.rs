//! cm: an AI coding assistant for the terminal.
//!
//! `main` parses the command line ([`args`]) and dispatches; `cm run` ([`run`]) loads the
//! config ([`config_files`]), resolves the provider ([`providers`]), opens the session
//! ([`sessions`]), builds the system prompt ([`system_prompt`]) and drives the agent,
//! showing what happens ([`output`], [`spinner`], [`ask`]) until the turn ends or Ctrl-C
//! ([`interrupt`]). Every way out is an exit code ([`exit`]). `cm` alone is the
//! full-screen UI ([`tui`]) over the same pieces (`cm chat` is the line-mode [`chat`]);
//! `cm sessions` reads the logs ([`sessions_cmd`]); `cm auth` keeps provider keys
//! ([`auth_cmd`]); `cm serve` is the HTTP API ([`serve`]); `cm models` shows the model
//! catalog ([`models_cmd`], [`catalog_cache`]), `cm status` what cm sees ([`status_cmd`])
//! and `cm init` writes AGENTS.md ([`init_cmd`]).
#![forbid(unsafe_code)]

mod args;
mod ask;
mod attach;
mod auth_cmd;
mod catalog_cache;
mod chat;
mod config_files;
mod debug_log;
mod drive;
mod exit;
mod fetch_once;
mod help;
mod init_cmd;
mod interrupt;
mod models_cmd;
mod oauth_login;
mod oauth_settings;
mod output;
mod prompt;
mod providers;
mod renewal;
mod run;
mod secrets;
mod serve;
mod sessions;
mod sessions_cmd;
mod spinner;
mod status_cmd;
mod system_prompt;
#[cfg(test)]
#[path = "../../../transports/host/src/test_dir.rs"]
mod test_dir;
mod tui;

use std::process::ExitCode;

use args::Command;
use exit::Status;

fn main() -> ExitCode {
    let command = match args::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(failure) => {
            eprintln!("cm: {failure}");
            return failure.status.into();
        }
    };
    match command {
        Command::Help(text) => {
            print!("{text}");
            Status::Done.into()
        }
        Command::Version => {
            println!("cm {}", env!("CARGO_PKG_VERSION"));
            Status::Done.into()
        }
        Command::Run(run_args) => run::main(&run_args).into(),
        Command::Sessions(command) => sessions_cmd::main(&command).into(),
        Command::Auth(command) => auth_cmd::main(&command).into(),
        Command::Models(command) => models_cmd::main(&command).into(),
        Command::Status(status_args) => status_cmd::main(&status_args).into(),
        Command::Init(init_args) => init_cmd::main(&init_args).into(),
        Command::Serve(serve_args) => serve::main(&serve_args).into(),
        Command::Tui(run_args) => on_terminal(|| tui::main(&run_args)),
        Command::LineChat => on_terminal(chat::main),
        Command::Chat => on_terminal(|| tui::main(&args::RunArgs::default())),
    }
}

/// Runs `interactive` when stdin and stdout are terminals; otherwise says how to use cm.
fn on_terminal(interactive: impl FnOnce() -> Status) -> ExitCode {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        interactive().into()
    } else {
        // Without a terminal there is no one to chat with: say how to use cm.
        eprint!("{}", help::MAIN);
        eprintln!("\ncm: no terminal to chat on; to run one prompt, type: cm run \"...\"");
        Status::Usage.into()
    }
}

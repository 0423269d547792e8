//! cm: an AI coding assistant for the terminal.
//!
//! This first build only answers `--version` and `--help`; the agent, `cm run` and the
//! rest arrive with the agent issue.
#![forbid(unsafe_code)]

use std::process::ExitCode;

const HELP: &str = "\
cm — an AI coding assistant for the terminal

Usage: cm [--help | --version]

The agent (`cm run`), sessions and the terminal UI are not built yet.
To see the protocol core at work today, decode a recorded provider stream:

    cargo run -p cm-decode -- --format anthropic path/to/stream.sse
";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    match args.next().as_deref().and_then(|a| a.to_str()) {
        None | Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("cm {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("cm: unknown argument `{other}`; see `cm --help`");
            ExitCode::from(2)
        }
    }
}

//! `cm` with no arguments on a terminal: a line-mode chat in one session.
//!
//! Each line typed at the `> ` prompt is one turn, streamed as `cm run` streams it, with
//! `@path` attachments and permission questions asked on the terminal. The session is
//! created at the first prompt (which gives it its title). `/exit`, `/quit` or Ctrl-D
//! leave; Ctrl-C stops the running turn, and a second Ctrl-C (also at the prompt) exits.
//! The full-screen interface is a separate program mode; this one needs only a line
//! discipline, so it also works over `ssh` and in `script`.

use std::io::{self, BufRead, Write};

use crate::args::RunArgs;
use crate::attach;
use crate::drive::Turns;
use crate::exit::Status;
use crate::output::{Mode, Ui};
use crate::run;
use crate::sessions::Choice;

/// What the loop does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Prompt for the next line.
    Next,
    /// Leave the chat.
    Exit,
}

/// What a typed line means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// Nothing typed.
    Empty,
    /// `/exit` or `/quit`.
    Exit,
    /// `/help`.
    Help,
    /// An unknown `/command`.
    Unknown(&'a str),
    /// A prompt for the model.
    Prompt(&'a str),
}

/// Reads one typed line.
pub fn classify(line: &str) -> Line<'_> {
    let line = line.trim();
    match line {
        "" => Line::Empty,
        "/exit" | "/quit" | "/q" => Line::Exit,
        "/help" | "/?" => Line::Help,
        // `//text` sends `/text`; a path such as `/etc/hosts is odd` is a prompt.
        _ if line.starts_with("//") => Line::Prompt(&line[1..]),
        _ if line.starts_with('/') && !line[1..].contains(['/', ' ']) => Line::Unknown(line),
        _ => Line::Prompt(line),
    }
}

const CHAT_HELP: &str = "\
type a prompt and press Enter; each line is one turn of the same session
  @path          attach a project file (e.g. explain @src/main.rs)
  /exit, Ctrl-D  leave (the session is saved; continue it with cm run -c)
  Ctrl-C         stop the running turn; twice to leave
";

/// Prompts with `> ` on `out`, reads lines from `input` until end of input or
/// [`Flow::Exit`], and hands each prompt to `on_prompt`.
pub fn run_loop(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    on_prompt: &mut dyn FnMut(&str) -> Flow,
) -> io::Result<()> {
    loop {
        write!(out, "> ")?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            return Ok(());
        }
        match classify(&line) {
            Line::Empty => {}
            Line::Exit => return Ok(()),
            Line::Help => write!(out, "{CHAT_HELP}")?,
            Line::Unknown(command) => writeln!(
                out,
                "unknown command {command}; the commands are /help and /exit (start with // to send a /)"
            )?,
            Line::Prompt(prompt) => {
                if on_prompt(prompt) == Flow::Exit {
                    return Ok(());
                }
            }
        }
    }
}

/// Runs the chat until the user leaves.
pub fn main() -> Status {
    let mut ui = Ui::to_terminal(Mode::Text);
    let args = RunArgs::default();
    let prepared = match run::prepare(&args, &mut ui) {
        Ok(prepared) => prepared,
        Err(failure) => {
            ui.fatal(&failure.message);
            return failure.status;
        }
    };
    let cwd = prepared.cwd.clone();
    let workspace = prepared.workspace.clone();
    let images = prepared.provider.images;
    eprintln!(
        "cm · {}/{} · type a prompt, /help for help, /exit or Ctrl-D to leave",
        prepared.provider.id, prepared.provider.model
    );
    let mut prepared = Some(prepared);
    let mut turns: Option<Turns> = None;
    let mut on_prompt = |prompt: &str| {
        let parts = match attach::build(prompt, &[], &cwd, &workspace, images) {
            Ok(parts) => parts,
            Err(failure) => {
                ui.fatal(&failure.message);
                return Flow::Next;
            }
        };
        if turns.is_none() {
            let Some(ready) = prepared.take() else {
                return Flow::Exit;
            };
            match ready.open(&Choice::New, prompt, &mut ui) {
                Ok(opened) => turns = Some(opened),
                Err(failure) => {
                    ui.fatal(&failure.message);
                    return Flow::Exit;
                }
            }
        }
        let Some(active) = turns.as_mut() else {
            return Flow::Exit;
        };
        active.reset_interrupt();
        if let Err(failure) = active.turn(parts, &mut ui) {
            ui.fatal(&failure.message);
        }
        active.reset_interrupt();
        Flow::Next
    };
    let stdin = io::stdin();
    let result = run_loop(&mut stdin.lock(), &mut io::stdout(), &mut on_prompt);
    if let Some(active) = &turns {
        eprintln!(
            "session {0} saved; continue it with: cm run --session {0} \"...\"",
            active.session_id()
        );
    }
    match result {
        Ok(()) => Status::Done,
        Err(e) => {
            eprintln!("cm: cannot read the terminal: {e}");
            Status::Failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prompts_commands_or_nothing() {
        assert_eq!(classify("  \n"), Line::Empty);
        assert_eq!(classify("/exit\n"), Line::Exit);
        assert_eq!(classify("/help"), Line::Help);
        assert_eq!(classify("/frob"), Line::Unknown("/frob"));
        assert_eq!(classify("//exit"), Line::Prompt("/exit"));
        assert_eq!(
            classify("/etc/hosts looks odd"),
            Line::Prompt("/etc/hosts looks odd")
        );
        assert_eq!(classify(" fix it \n"), Line::Prompt("fix it"));
    }

    #[test]
    fn each_prompt_line_is_one_turn_until_exit() {
        let mut input = io::Cursor::new("hello\n\n/help\nsecond turn\n/exit\nnever\n");
        let mut out = Vec::new();
        let mut seen = Vec::new();
        run_loop(&mut input, &mut out, &mut |p| {
            seen.push(p.to_string());
            Flow::Next
        })
        .unwrap();
        assert_eq!(seen, ["hello", "second turn"]);
        let out = String::from_utf8(out).unwrap();
        assert!(out.starts_with("> > > type a prompt"), "{out}");
        assert_eq!(out.matches("> ").count(), 5, "{out}");
    }

    #[test]
    fn end_of_input_leaves_and_a_turn_may_end_the_chat() {
        let mut seen = 0;
        run_loop(&mut io::Cursor::new("one"), &mut Vec::new(), &mut |_| {
            seen += 1;
            Flow::Next
        })
        .unwrap();
        assert_eq!(seen, 1, "a last line without a newline still counts");
        let mut seen = 0;
        run_loop(&mut io::Cursor::new("a\nb\n"), &mut Vec::new(), &mut |_| {
            seen += 1;
            Flow::Exit
        })
        .unwrap();
        assert_eq!(seen, 1);
    }
}

//! The full-screen terminal UI (`cm` on a terminal, `cm tui`).
//!
//! Threads: one reads the terminal's keys (blocking), two turn signals into messages
//! (SIGWINCH: redraw; SIGTERM, SIGHUP: leave, restoring the terminal), the agent's thread ([`agent`]) runs turns, and a ticker sends spinner frames
//! only while a turn runs. All of them send [`agent::Msg`]s on one channel that the main
//! loop blocks on; nothing polls. After each batch of messages the loop renders the state
//! ([`state`]) into a virtual screen ([`render`], [`screen`]) and writes only the cells
//! that changed — or nothing, when the frame is the same.
//!
//! Modules: [`keys`] decodes input bytes, [`keymap`] applies keys to the state,
//! [`editor`] is the input box, [`markdown`] lays out answers, [`text`] neutralises
//! escape sequences and measures widths, [`theme`] picks colours.

pub mod agent;
pub mod editor;
pub mod keymap;
pub mod keys;
pub mod markdown;
pub mod render;
pub mod screen;
pub mod state;
pub mod text;
pub mod theme;

#[cfg(test)]
mod render_tests;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use cm_driver::Input;
use cm_proto::agent::{AskId, Question};
use signal_hook::consts::{SIGHUP, SIGTERM, SIGWINCH};
use termion::raw::IntoRawMode;
use termion::screen::IntoAlternateScreen;

use crate::args::RunArgs;
use crate::exit::Status;
use agent::{Msg, Request};
use keymap::Action;
use render::Layouts;
use screen::Screen;
use state::{Dialog, Entry, State, Status as Bar};
use theme::Theme;

/// The spinner's period: at most ten frames a second.
const TICK: Duration = Duration::from_millis(100);

/// Runs the UI until the user leaves.
pub fn main(args: &RunArgs) -> Status {
    let (tx, rx) = mpsc::channel::<Msg>();
    let (requests, inbox) = mpsc::channel::<Request>();
    let agent_tx = tx.clone();
    let agent_args = args.clone();
    let spawned = std::thread::Builder::new()
        .name("cm-agent".into())
        .spawn(move || agent::run(agent_args, inbox, agent_tx));
    if let Err(e) = spawned {
        eprintln!("cm: cannot start the agent thread: {e}");
        return Status::Failed;
    }
    // The first answer says whether the config, provider and session are usable; a
    // failure is printed before the screen is taken over.
    let first = match rx.recv() {
        Ok(Msg::Fatal(failure)) => {
            eprintln!("cm: {}", failure.message);
            return failure.status;
        }
        Ok(msg) => msg,
        Err(_) => {
            eprintln!("cm: the agent thread stopped");
            return Status::Failed;
        }
    };
    let cwd = std::env::current_dir()
        .map(|d| home_relative(&d.display().to_string()))
        .unwrap_or_default();
    let theme = Theme::from_env(&|name| std::env::var(name).ok());
    let mut app = App::new(State::new(
        theme,
        Bar {
            cwd,
            ..Bar::default()
        },
    ));
    app.requests = Some(requests);
    app.handle(first);
    // Mouse reporting only when asked for, so the terminal's own selection keeps working.
    app.mouse = std::env::var("CM_MOUSE").is_ok_and(|v| v == "1");
    app.mouse_changed = app.mouse;
    let result = run_terminal(&mut app, &tx, rx);
    if let Some(id) = &app.state.status.session {
        eprintln!("session {id} saved; continue it with: cm tui --session {id}");
    }
    match result {
        Ok(()) => Status::Done,
        Err(e) => {
            eprintln!("cm: the terminal failed: {e}");
            Status::Failed
        }
    }
}

fn home_relative(path: &str) -> String {
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() && path.starts_with(&home) => {
            format!("~{}", &path[home.len()..])
        }
        _ => path.to_string(),
    }
}

fn run_terminal(app: &mut App, tx: &Sender<Msg>, rx: Receiver<Msg>) -> io::Result<()> {
    let raw = io::stdout().into_raw_mode()?;
    let mut out = raw.into_alternate_screen()?;
    // Bracketed paste on: a paste arrives as one piece, its newlines do not send. xterm's
    // modifyOtherKeys level 1 makes Shift+Enter distinct (terminals without it ignore it).
    write!(out, "\u{1b}[?2004h\u{1b}[>4;1m")?;
    out.flush()?;
    spawn_input(tx.clone())?;
    spawn_signals(tx.clone())?;
    app.ticker = Some(spawn_ticker(tx.clone())?);
    let result = event_loop(app, rx, &mut out);
    let _ = write!(
        out,
        "\u{1b}[?2004l\u{1b}[>4;0m\u{1b}[?1000l\u{1b}[?1006l\u{1b}[0m\u{1b}[?25h"
    );
    let _ = out.flush();
    result
}

fn event_loop(app: &mut App, rx: Receiver<Msg>, out: &mut dyn Write) -> io::Result<()> {
    let mut layouts = Layouts::new();
    let mut shown: Option<Screen> = None;
    app.draw(&mut layouts, &mut shown, out)?;
    while let Ok(msg) = rx.recv() {
        app.handle(msg);
        // A burst (streamed text, a paste) is applied whole before one frame is drawn.
        while let Ok(more) = rx.try_recv() {
            app.handle(more);
            if app.exit {
                break;
            }
        }
        if app.exit {
            return Ok(());
        }
        app.draw(&mut layouts, &mut shown, out)?;
    }
    Ok(())
}

/// The state plus what the loop needs to act on it.
struct App {
    state: State,
    requests: Option<Sender<Request>>,
    /// Where Ctrl-C goes while a turn runs.
    interrupts: Option<Sender<Input>>,
    /// Questions waiting behind the open one.
    asks: VecDeque<(AskId, Question, Sender<Input>)>,
    /// The answer channel of the question in the dialog.
    answering: Option<Sender<Input>>,
    ticker: Option<Sender<bool>>,
    /// The driver runs a turn (it sent an event), so an interrupt reaches it; one sent
    /// before would be discarded as stale, so it waits in `pending_interrupt`.
    live: bool,
    pending_interrupt: bool,
    /// The next frame repaints every cell (Ctrl-L).
    repaint: bool,
    /// Mouse reporting (wheel scrolling) is on.
    mouse: bool,
    /// `mouse` changed since the terminal was told.
    mouse_changed: bool,
    exit: bool,
    size: (u16, u16),
}

impl App {
    fn new(state: State) -> App {
        App {
            state,
            requests: None,
            interrupts: None,
            asks: VecDeque::new(),
            answering: None,
            ticker: None,
            live: false,
            pending_interrupt: false,
            repaint: false,
            mouse: false,
            mouse_changed: false,
            exit: false,
            size: (80, 24),
        }
    }

    fn request(&mut self, request: Request) {
        if let Some(requests) = &self.requests {
            if requests.send(request).is_err() {
                self.state.notice("the agent thread stopped", true);
            }
        }
    }

    fn set_running(&mut self, running: bool) {
        self.state.running = running;
        if let Some(ticker) = &self.ticker {
            let _ = ticker.send(running);
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Keys(keys) => {
                for key in keys {
                    let page = usize::from(self.size.1 / 2);
                    if let Some(action) = keymap::on_key(&mut self.state, key, page) {
                        self.act(action);
                    }
                }
            }
            Msg::InputClosed => self.exit = true,
            Msg::Resize => {}
            Msg::Tick => {
                if self.state.running {
                    self.state.spinner = self.state.spinner.wrapping_add(1);
                }
            }
            Msg::Agent(event) => {
                if matches!(event, cm_proto::agent::Event::TurnStart) {
                    self.set_running(true);
                }
                self.live = true;
                if std::mem::take(&mut self.pending_interrupt) {
                    self.interrupt();
                }
                self.state.apply(&event);
            }
            Msg::Ask {
                id,
                question,
                answers,
            } => {
                self.asks.push_back((id, question, answers));
                self.next_question();
            }
            Msg::ToolDiff { call_id, diff } => {
                self.state
                    .with_card(&call_id, |card| card.diff = Some(diff));
            }
            Msg::ToolOutput { call_id, text } => {
                self.state
                    .with_card(&call_id, |card| card.output = Some(text));
            }
            Msg::TurnEnded { note, branch } => {
                self.set_running(false);
                self.live = false;
                self.pending_interrupt = false;
                self.state
                    .finish(note.as_ref().map(|(text, error)| (text.as_str(), *error)));
                self.state.status.branch = branch;
                // Questions of the finished turn are void.
                self.asks.clear();
                self.answering = None;
                if matches!(self.state.dialog, Some(Dialog::Permission { .. })) {
                    self.state.dialog = None;
                }
            }
            Msg::Ready(ready) => {
                let status = &mut self.state.status;
                status.provider = ready.provider;
                status.model = ready.model;
                status.context_window = ready.context_window;
                status.branch = ready.branch;
                if ready.session.is_some() || ready.history.is_some() {
                    status.session = ready.session;
                }
                if let Some(history) = ready.history {
                    self.state.load_history(&history);
                    self.state.status.session_tokens = ready.tokens;
                    self.state.status.session_cost = ready.cost;
                    self.state.status.context_used = 0;
                }
                for note in ready.notes {
                    self.state.notice(&note, false);
                }
                if ready.interrupts.is_some() {
                    self.interrupts = ready.interrupts;
                }
            }
            Msg::Sessions(rows) => {
                self.state.dialog = Some(Dialog::Sessions {
                    rows,
                    selected: 0,
                    filter: editor::Editor::new(),
                });
            }
            Msg::Models(models) => {
                self.state.dialog = Some(Dialog::Models {
                    models,
                    selected: 0,
                    filter: editor::Editor::new(),
                });
            }
            Msg::Failed(message) => self.state.notice(&message, true),
            Msg::Fatal(failure) => {
                self.state.notice(&failure.message, true);
            }
        }
    }

    fn next_question(&mut self) {
        if self.state.dialog.is_some() && self.answering.is_some() {
            return;
        }
        if let Some((id, question, answers)) = self.asks.pop_front() {
            self.answering = Some(answers);
            self.state.activity = "waiting for your answer".into();
            self.state.dialog = Some(Dialog::Permission {
                id,
                question,
                choice: 0,
                message: None,
            });
        }
    }

    fn act(&mut self, action: Action) {
        let busy = self.state.running;
        match action {
            Action::Exit => {
                if busy {
                    self.interrupt();
                }
                self.exit = true;
            }
            Action::Interrupt => self.interrupt(),
            Action::Repaint => self.repaint = true,
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                self.mouse_changed = true;
                let note = if self.mouse {
                    "the mouse wheel scrolls now; select text with Shift held (/mouse turns it off)"
                } else {
                    "mouse reporting is off: the terminal selects text as usual"
                };
                self.state.notice(note, false);
            }
            Action::Answer(id, decision) => {
                if let Some(answers) = self.answering.take() {
                    let _ = answers.send(Input::Answer(id, decision));
                }
                self.next_question();
            }
            Action::Prompt(text) if busy => {
                self.state.editor.insert(&text);
                self.state.notice(
                    "a turn is running; wait for it or press Ctrl-C to stop it",
                    true,
                );
            }
            Action::Prompt(text) => {
                self.state.push(Entry::User(text::neutralise(&text)));
                self.set_running(true);
                self.state.activity = "sending".into();
                self.request(Request::Prompt(text));
            }
            _ if busy => self.state.notice(
                "a turn is running; wait for it or press Ctrl-C to stop it",
                true,
            ),
            Action::ListSessions => self.request(Request::Sessions),
            Action::OpenSession(id) => self.request(Request::Open(id)),
            Action::NewSession => self.request(Request::New),
            Action::ListModels => self.request(Request::Models),
            Action::UseModel(model) => self.request(Request::UseModel(model)),
            Action::Compact => {
                self.set_running(true);
                self.state.activity = "summarising the conversation".into();
                self.request(Request::Compact);
            }
        }
    }

    fn interrupt(&mut self) {
        if !self.live {
            self.pending_interrupt = true;
            return;
        }
        if let Some(interrupts) = &self.interrupts {
            let _ = interrupts.send(Input::Interrupt);
        }
    }

    fn draw(
        &mut self,
        layouts: &mut Layouts,
        shown: &mut Option<Screen>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let (w, h) = termion::terminal_size().unwrap_or((80, 24));
        self.size = (w, h);
        let mut next = Screen::new(w, h);
        let frame = render::render(&self.state, layouts, &mut next);
        if let Some(max) = frame.max_scroll {
            // Scrolling past the top stops there, so PgDn moves at once.
            self.state.scroll = self.state.scroll.min(max);
        }
        if std::mem::take(&mut self.repaint) {
            *shown = None;
        }
        if std::mem::take(&mut self.mouse_changed) {
            let switch = if self.mouse { 'h' } else { 'l' };
            write!(out, "\u{1b}[?1000{switch}\u{1b}[?1006{switch}")?;
            out.flush()?;
        }
        if shown.as_ref() == Some(&next) {
            return Ok(());
        }
        let bytes = screen::diff(shown.as_ref(), &next);
        out.write_all(bytes.as_bytes())?;
        out.flush()?;
        *shown = Some(next);
        Ok(())
    }
}

fn spawn_input(tx: Sender<Msg>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("cm-keys".into())
        .spawn(move || {
            let mut decoder = keys::Decoder::new();
            let mut buf = [0u8; 4096];
            let stdin = io::stdin();
            let mut stdin = stdin.lock();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Msg::InputClosed);
                        return;
                    }
                    Ok(n) => {
                        let keys = decoder.feed(&buf[..n], n < buf.len());
                        if !keys.is_empty() && tx.send(Msg::Keys(keys)).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
    Ok(())
}

/// SIGWINCH becomes [`Msg::Resize`]; SIGTERM and SIGHUP end the UI like a closed input,
/// so the terminal is restored before cm exits.
fn spawn_signals(tx: Sender<Msg>) -> io::Result<()> {
    for (signals, msg) in [
        (&[SIGWINCH][..], (|| Msg::Resize) as fn() -> Msg),
        (&[SIGTERM, SIGHUP][..], (|| Msg::InputClosed) as fn() -> Msg),
    ] {
        let (mut read, write) = UnixStream::pair()?;
        for &signal in signals {
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        let tx = tx.clone();
        std::thread::Builder::new()
            .name("cm-signals".into())
            .spawn(move || {
                let mut byte = [0u8; 1];
                while read.read(&mut byte).is_ok_and(|n| n > 0) {
                    if tx.send(msg()).is_err() {
                        return;
                    }
                }
            })?;
    }
    Ok(())
}

/// A thread that sends [`Msg::Tick`] every [`TICK`] while told `true`, and sleeps on its
/// channel (no timer at all) while told `false`.
fn spawn_ticker(tx: Sender<Msg>) -> io::Result<Sender<bool>> {
    let (control, switch) = mpsc::channel::<bool>();
    std::thread::Builder::new()
        .name("cm-ticker".into())
        .spawn(move || {
            let mut running = false;
            loop {
                if !running {
                    match switch.recv() {
                        Ok(on) => running = on,
                        Err(_) => return,
                    }
                    continue;
                }
                match switch.recv_timeout(TICK) {
                    Ok(on) => running = on,
                    Err(RecvTimeoutError::Timeout) => {
                        if tx.send(Msg::Tick).is_err() {
                            return;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })?;
    Ok(control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::agent::{Decision, Event};

    fn app() -> (App, Receiver<Request>) {
        let (requests, inbox) = mpsc::channel();
        let mut app = App::new(State::new(Theme::Plain, Bar::default()));
        app.requests = Some(requests);
        (app, inbox)
    }

    fn question() -> Question {
        Question {
            permission: "bash".into(),
            subject: "ls".into(),
            tool: "bash".into(),
            call_id: "c".into(),
            arguments: r#"{"command":"ls"}"#.into(),
        }
    }

    fn keys(app: &mut App, text: &str) {
        let keys = text.chars().map(keys::Key::Char).collect();
        app.handle(Msg::Keys(keys));
    }

    #[test]
    fn a_prompt_goes_to_the_agent_and_questions_wait_their_turn() {
        let (mut app, inbox) = app();
        keys(&mut app, "hi");
        app.handle(Msg::Keys(vec![keys::Key::Enter]));
        assert_eq!(inbox.try_recv(), Ok(Request::Prompt("hi".into())));
        assert!(app.state.running);
        let (answers, answered) = mpsc::channel();
        for id in [1, 2] {
            app.handle(Msg::Ask {
                id: AskId(id),
                question: question(),
                answers: answers.clone(),
            });
        }
        assert!(matches!(
            app.state.dialog,
            Some(Dialog::Permission { id: AskId(1), .. })
        ));
        keys(&mut app, "y");
        assert!(matches!(
            answered.try_recv(),
            Ok(Input::Answer(AskId(1), Decision::AllowOnce))
        ));
        assert!(
            matches!(
                app.state.dialog,
                Some(Dialog::Permission { id: AskId(2), .. })
            ),
            "the second question follows"
        );
        app.handle(Msg::TurnEnded {
            note: Some(("interrupted".into(), false)),
            branch: Some("main".into()),
        });
        assert_eq!(
            app.state.dialog, None,
            "questions of an ended turn are void"
        );
        assert!(!app.state.running);
        assert_eq!(app.state.status.branch.as_deref(), Some("main"));
    }

    #[test]
    fn ctrl_c_before_the_turn_starts_reaches_it_when_it_does() {
        let (mut app, _inbox) = app();
        let (interrupts, interrupted) = mpsc::channel();
        app.interrupts = Some(interrupts);
        keys(&mut app, "go");
        app.handle(Msg::Keys(vec![keys::Key::Enter, keys::Key::Ctrl('c')]));
        assert!(
            interrupted.try_recv().is_err(),
            "held until the driver runs"
        );
        app.handle(Msg::Agent(Event::TurnStart));
        assert!(matches!(interrupted.try_recv(), Ok(Input::Interrupt)));
    }

    #[test]
    fn spinner_ticks_only_move_while_a_turn_runs() {
        let (mut app, _inbox) = app();
        app.handle(Msg::Tick);
        assert_eq!(app.state.spinner, 0);
        app.handle(Msg::Agent(Event::TurnStart));
        app.handle(Msg::Tick);
        assert_eq!(app.state.spinner, 1);
    }

    #[test]
    fn slash_mouse_turns_wheel_reporting_on_and_off() {
        let (mut app, _inbox) = app();
        let mut layouts = Layouts::new();
        let mut shown = None;
        let mut out = Vec::new();
        app.draw(&mut layouts, &mut shown, &mut out).unwrap();
        assert!(
            !String::from_utf8_lossy(&out).contains("?1000"),
            "off by default"
        );
        for expected in ["\u{1b}[?1000h\u{1b}[?1006h", "\u{1b}[?1000l\u{1b}[?1006l"] {
            keys(&mut app, "/mouse");
            app.handle(Msg::Keys(vec![keys::Key::Enter]));
            out.clear();
            app.draw(&mut layouts, &mut shown, &mut out).unwrap();
            assert!(String::from_utf8_lossy(&out).starts_with(expected));
        }
    }

    #[test]
    fn an_unchanged_frame_writes_nothing() {
        let (mut app, _inbox) = app();
        let mut layouts = Layouts::new();
        let mut shown = None;
        let mut out = Vec::new();
        app.draw(&mut layouts, &mut shown, &mut out).unwrap();
        assert!(!out.is_empty());
        out.clear();
        app.draw(&mut layouts, &mut shown, &mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        keys(&mut app, "x");
        app.draw(&mut layouts, &mut shown, &mut out).unwrap();
        let written = String::from_utf8(out).unwrap();
        assert!(
            written.contains('x') && !written.contains("\u{1b}[2J"),
            "{written:?}"
        );
    }
}

//! The full-screen UI end to end: the real `cm` in a tmux pane against cm-mock, driven
//! with `tmux send-keys` and checked with `tmux capture-pane`.
//!
//! Each test has its own tmux server (`tmux -L <unique socket>`), killed when the test
//! ends, even when it fails. Waits poll the pane with a bound instead of sleeping. Without
//! tmux the tests say so and pass on a developer's machine; under CI (`CI` set, and
//! `.ci/run` installs tmux) a missing tmux fails them.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cm_mock::{MockServer, Script};
use common::Sandbox;
use serde_json::{json, Value};

static NEXT: AtomicU32 = AtomicU32::new(0);
const WAIT: Duration = Duration::from_secs(30);

fn tmux_installed() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is not installed, and CI must run the terminal UI's tests (apt-get install tmux)"
        );
        eprintln!("skipped: tmux is not installed (apt-get install tmux)");
    }
    found
}

fn mock(turns: Value) -> MockServer {
    MockServer::start(Script::from_value(turns).expect("valid script"))
}

fn no_failed_expectations(server: &MockServer) {
    for request in server.requests() {
        assert!(
            request.expectation_failed.is_none(),
            "request {} failed its expectation: {:?}",
            request.seq,
            request.expectation_failed
        );
    }
}

/// One tmux server with one pane running cm; killed on drop.
struct Tmux {
    socket: String,
    /// The server's socket file, removed on drop (`kill-server` leaves it behind).
    socket_path: Option<PathBuf>,
    stderr: PathBuf,
}

impl Tmux {
    /// Starts `cm args...` in the sandbox's project in a `width`×`height` pane.
    fn start(sandbox: &Sandbox, args: &[&str], width: u16, height: u16) -> Tmux {
        let socket = format!(
            "cm-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let stderr = sandbox.root().join(format!("{socket}.stderr"));
        let root = sandbox.root();
        let mut env = vec![
            format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
            format!("HOME={}", root.join("home").display()),
            format!("XDG_CONFIG_HOME={}", root.join("config").display()),
            format!("XDG_DATA_HOME={}", root.join("data").display()),
            format!("XDG_STATE_HOME={}", root.join("state").display()),
            "TERM=xterm-256color".to_string(),
        ];
        env.extend(sandbox_env(sandbox));
        let quoted: Vec<String> = env
            .iter()
            .map(|e| shell_quote(e))
            .chain(std::iter::once(shell_quote(env!("CARGO_BIN_EXE_cm"))))
            .chain(args.iter().map(|a| shell_quote(a)))
            .collect();
        let line = format!(
            "env -i {} 2>{}; echo \"cm exited $?\"; sleep 600",
            quoted.join(" "),
            shell_quote(&stderr.display().to_string())
        );
        let mut tmux = Tmux {
            socket,
            socket_path: None,
            stderr,
        };
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            &sandbox.project.display().to_string(),
            &line,
        ]);
        let path = tmux.run(&["display-message", "-p", "-t", "t", "#{socket_path}"]);
        let path = String::from_utf8_lossy(&path.stdout).trim().to_string();
        tmux.socket_path = (!path.is_empty()).then(|| PathBuf::from(path));
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux");
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Presses keys by tmux name (`Enter`, `C-c`, `Escape`).
    fn press(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    /// Polls the pane until `check` holds, and returns that screen.
    fn wait_until(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                panic!("timed out waiting for {what}\n--- screen\n{screen}\n--- stderr\n{stderr}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for(&self, needle: &str) -> String {
        self.wait_until(&format!("{needle:?}"), |s| s.contains(needle))
    }

    fn resize(&self, width: u16, height: u16) {
        self.run(&[
            "resize-window",
            "-t",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(path) = &self.socket_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The variables the sandbox sets for cm (provider URLs and keys).
fn sandbox_env(sandbox: &Sandbox) -> Vec<String> {
    let command = sandbox.command(&[]);
    command
        .get_envs()
        .filter_map(|(name, value)| {
            let name = name.to_str()?;
            let value = value?.to_str()?;
            (![
                "PATH",
                "HOME",
                "XDG_CONFIG_HOME",
                "XDG_DATA_HOME",
                "XDG_STATE_HOME",
            ]
            .contains(&name))
            .then(|| format!("{name}={value}"))
        })
        .collect()
}

fn sandbox(label: &str, server: &MockServer) -> Sandbox {
    let mut sandbox = Sandbox::new(label);
    sandbox.anthropic_at(&server.url());
    sandbox
}

/// The row the status bar is on: the last non-empty one.
fn status_row(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

#[test]
fn a_prompt_streams_its_answer_and_permissions_are_answered_in_the_dialog() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([
        {"expect": {"contains": "clean up the build"},
         "text": "I will **remove** the build directory.",
         "tool_calls": [{"name": "bash", "arguments": {"command": "rm -rf build"}}]},
        {"expect": {"tool_result_contains": "keep the build"},
         "text": "Understood, listing instead.",
         "tool_calls": [{"name": "bash", "arguments": {"command": "echo tui-ok-output"}}]},
        {"expect": {"tool_result_contains": "tui-ok-output"},
         "text": "## Done\n\nThe `build` directory stays."}
    ]));
    let sandbox = sandbox("tui-permission", &server);
    let tmux = Tmux::start(&sandbox, &[], 100, 30);
    tmux.wait_for("type a prompt and press Enter");
    tmux.type_text("clean up the build");
    tmux.press(&["Enter"]);
    let asked = tmux.wait_for("Permission");
    assert!(
        asked.contains("cm wants to run a command (bash)"),
        "{asked}"
    );
    assert!(asked.contains("rm -rf build"), "{asked}");
    assert!(
        asked.contains("I will remove the build directory."),
        "{asked}"
    );
    // Deny with a message for the model.
    tmux.type_text("m");
    tmux.wait_for("why:");
    tmux.type_text("keep the build");
    tmux.press(&["Enter"]);
    // The card shows as soon as the call is written; the dialog when it is asked.
    tmux.wait_until("the second question", |s| {
        s.contains("echo tui-ok-output") && s.contains("Permission")
    });
    tmux.type_text("y");
    let done = tmux.wait_for("The build directory stays.");
    assert!(done.contains("✗ bash"), "the denied call failed: {done}");
    assert!(done.contains("✓ bash"), "the allowed call ran: {done}");
    assert!(
        done.contains("│ tui-ok-output"),
        "bash shows its output: {done}"
    );
    assert!(!done.contains("## Done"), "markdown is rendered: {done}");
    assert!(
        status_row(&done).contains("anthropic/claude-sonnet-4-5"),
        "{done}"
    );
    no_failed_expectations(&server);
    assert_eq!(server.requests().len(), 3);
    // Ctrl-D on the empty prompt leaves and names the session.
    tmux.press(&["C-d"]);
    tmux.wait_for("cm exited 0");
    assert!(tmux
        .stderr()
        .contains("saved; continue it with: cm tui --session ses_"));
}

#[test]
fn resizing_redraws_at_the_new_size_and_a_tiny_pane_says_so() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([{"text": "A short answer that is here to stay on screen."}]));
    let sandbox = sandbox("tui-resize", &server);
    let tmux = Tmux::start(&sandbox, &[], 100, 30);
    tmux.wait_for("type a prompt");
    tmux.type_text("hello");
    tmux.press(&["Enter"]);
    tmux.wait_for("here to stay on screen.");
    tmux.resize(50, 16);
    let narrow = tmux.wait_until("a 50-column status bar", |s| {
        let row = status_row(s);
        row.contains("anthropic/") && row.ends_with('…')
    });
    assert!(narrow.contains("› hello"), "{narrow}");
    assert!(
        narrow.contains("A short answer that is here to stay on"),
        "wrapped at 48 columns: {narrow}"
    );
    tmux.resize(24, 6);
    tmux.wait_for("terminal too small");
    tmux.resize(80, 24);
    let back = tmux.wait_for("here to stay on screen.");
    assert!(!back.contains("too small"), "{back}");
}

#[test]
fn ctrl_c_stops_a_running_turn_and_twice_more_exits() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([
        {"text": "This answer never arrives.", "fault": {"delay_before_first_byte_ms": 60000}},
        {"expect": {"contains": "second try"}, "text": "Second answer."}
    ]));
    let sandbox = sandbox("tui-abort", &server);
    let tmux = Tmux::start(&sandbox, &[], 80, 24);
    tmux.wait_for("type a prompt");
    tmux.type_text("a slow question");
    tmux.press(&["Enter"]);
    tmux.wait_for("Ctrl-C stops");
    // Stop it once the request is out (the mock holds its answer back for a minute).
    let deadline = Instant::now() + WAIT;
    while server.requests().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    tmux.press(&["C-c"]);
    let stopped = tmux.wait_for("interrupted");
    assert!(!stopped.contains("Ctrl-C stops"), "{stopped}");
    // The session goes on after an abort.
    tmux.type_text("second try");
    tmux.press(&["Enter"]);
    tmux.wait_for("Second answer.");
    tmux.press(&["C-c"]);
    tmux.wait_for("press Ctrl-C again to exit");
    tmux.press(&["C-c"]);
    tmux.wait_for("cm exited 0");
}

#[test]
fn ctrl_x_l_lists_sessions_and_enter_switches_to_one() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([
        {"text": "The parser answer."},
        {"text": "The docs answer."},
        {"expect": {"contains": "The parser answer."}, "text": "Continuing the parser session."},
        {"text": "Summary: the parser was fixed."}
    ]));
    let sandbox = sandbox("tui-sessions", &server);
    sandbox.cm(&["run", "fix the parser please"]).expect_code(0);
    std::thread::sleep(Duration::from_millis(20));
    sandbox.cm(&["run", "write the docs"]).expect_code(0);
    let tmux = Tmux::start(&sandbox, &["tui"], 100, 30);
    tmux.wait_for("type a prompt");
    tmux.press(&["C-x"]);
    tmux.type_text("l");
    let list = tmux.wait_for("Sessions (2)");
    assert!(list.contains("fix the parser please"), "{list}");
    assert!(list.contains("write the docs"), "{list}");
    tmux.type_text("parser");
    tmux.wait_until("the filter to keep one session", |s| {
        s.contains("filter: parser") && !s.contains("write the docs")
    });
    tmux.press(&["Enter"]);
    let opened = tmux.wait_for("The parser answer.");
    assert!(opened.contains("› fix the parser please"), "{opened}");
    tmux.type_text("go on");
    tmux.press(&["Enter"]);
    tmux.wait_for("Continuing the parser session.");
    tmux.type_text("/compact");
    tmux.press(&["Enter"]);
    tmux.wait_for("summarised");
    no_failed_expectations(&server);
    assert_eq!(server.requests().len(), 4, "the summary request was made");
    // /new starts over with an empty conversation.
    tmux.type_text("/new");
    tmux.press(&["Enter"]);
    tmux.wait_until("an empty conversation", |s| {
        s.contains("type a prompt and press Enter") && !s.contains("parser")
    });
    assert_eq!(
        sandbox.session_files().len(),
        2,
        "no session is made before a prompt"
    );
}

#[test]
fn the_model_picker_switches_the_model_of_the_next_turn() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([{"text": "Answered by the other model."}]));
    let mut sandbox = sandbox("tui-model", &server);
    sandbox
        .env("OPENAI_BASE_URL", &format!("{}/v1", server.url()))
        .env("OPENAI_API_KEY", "test-key");
    let tmux = Tmux::start(&sandbox, &[], 100, 30);
    tmux.wait_for("type a prompt");
    tmux.type_text("/model");
    tmux.press(&["Enter"]);
    tmux.wait_for("filter:");
    tmux.type_text("openai/gpt-5");
    tmux.wait_until("openai/gpt-5 highlighted", |s| {
        s.contains("▸ openai/gpt-5 ")
    });
    tmux.press(&["Enter"]);
    tmux.wait_until("the status bar to name the model", |s| {
        status_row(s).starts_with(" openai/gpt-5 ·")
    });
    tmux.type_text("which model are you?");
    tmux.press(&["Enter"]);
    tmux.wait_for("Answered by the other model.");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1/responses");
}

#[test]
fn a_bracketed_paste_stays_one_prompt_and_alt_enter_adds_a_line() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([
        // The body is JSON, so the newlines are `\n` escapes there.
        {"expect": {"contains": "first pasted line\\nsecond pasted line\\nand typed"},
         "text": "Got all three lines."}
    ]));
    let sandbox = sandbox("tui-paste", &server);
    let tmux = Tmux::start(&sandbox, &[], 80, 24);
    tmux.wait_for("type a prompt");
    // `paste-buffer -p` pastes with bracketed-paste markers, as a terminal does.
    tmux.run(&["set-buffer", "first pasted line\nsecond pasted line"]);
    tmux.run(&["paste-buffer", "-p", "-t", "t"]);
    let pasted = tmux.wait_for("second pasted line");
    assert!(pasted.contains("› first pasted line"), "{pasted}");
    assert!(
        server.requests().is_empty(),
        "the newline in a paste does not send"
    );
    tmux.press(&["M-Enter"]);
    tmux.type_text("and typed");
    tmux.press(&["Enter"]);
    tmux.wait_for("Got all three lines.");
    no_failed_expectations(&server);
}

#[test]
fn a_missing_attachment_is_an_error_line_and_makes_no_session() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([{"text": "unused"}]));
    let sandbox = sandbox("tui-attach", &server);
    let tmux = Tmux::start(&sandbox, &[], 80, 24);
    tmux.wait_for("type a prompt");
    tmux.type_text("explain @missing.rs");
    tmux.press(&["Enter"]);
    let screen = tmux.wait_until("the error line and an idle prompt", |s| {
        s.lines().filter(|l| l.contains("missing.rs")).count() >= 2 && !s.contains("Ctrl-C stops")
    });
    assert!(server.requests().is_empty(), "{screen}");
    assert!(
        sandbox.session_files().is_empty(),
        "no session for a failed prompt"
    );
    assert!(screen.contains("cannot attach missing.rs"), "{screen}");
}

#[test]
fn a_bad_session_is_reported_before_the_screen_is_taken_and_no_terminal_exits_2() {
    let plain = Sandbox::new("tui-usage");
    let run = plain.cm(&["tui"]);
    run.expect_code(2);
    assert!(run.stderr.contains("no terminal"), "{}", run.stderr);
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([]));
    let sandbox = sandbox("tui-bad-session", &server);
    let tmux = Tmux::start(&sandbox, &["tui", "--session", "nope"], 80, 24);
    tmux.wait_for("cm exited 2");
    assert!(
        tmux.stderr().contains("there is no session `nope`"),
        "{}",
        tmux.stderr()
    );
}

#[test]
fn sigterm_restores_the_terminal_and_exits() {
    if !tmux_installed() {
        return;
    }
    let server = mock(json!([]));
    let sandbox = sandbox("tui-term", &server);
    let tmux = Tmux::start(&sandbox, &[], 80, 24);
    tmux.wait_for("type a prompt");
    let pid = tmux.cm_pid();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let after = tmux.wait_for("cm exited 0");
    assert!(
        !after.contains("type a prompt"),
        "the alternate screen is gone: {after}"
    );
}

impl Tmux {
    /// The pid of cm: the child of the pane's shell.
    fn cm_pid(&self) -> u32 {
        let out = self.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .unwrap_or_default();
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("cm runs in the pane")
    }
}

/// utime + stime of a process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

/// The CPU benchmark (BENCHMARKS.md): ticks an idle cm uses over 10 s with a finished
/// session on screen, and while an answer streams in at about 50 tokens a second.
#[test]
#[ignore = "a benchmark: cargo test -p cm --release --test e2e_tui -- --ignored --nocapture cpu"]
fn cpu_while_idle_and_while_streaming() {
    if !tmux_installed() {
        return;
    }
    // 12-byte deltas (about 3 tokens); one Anthropic delta event is about 130 bytes, so
    // 130 bytes every 60 ms is about 17 deltas, about 50 tokens, a second.
    let long: String = "Streaming words with **bold**, `code` and more.\n".repeat(50);
    let slow = json!({"text": long, "fault": {"trickle": {"bytes": 130, "interval_ms": 60}}});
    let server = mock(json!([
        {"text": "# Done\n\nA finished answer with `code`:\n\n```rust\nfn main() {}\n```\n"},
        slow.clone(), slow.clone(), slow
    ]));
    let sandbox = sandbox("tui-cpu", &server);
    let tmux = Tmux::start(&sandbox, &[], 100, 30);
    tmux.wait_for("type a prompt");
    tmux.type_text("hello");
    tmux.press(&["Enter"]);
    tmux.wait_for("A finished answer");
    let pid = cm_pid_after_settling(&tmux);
    let mut idle = Vec::new();
    for _ in 0..3 {
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(10));
        idle.push(cpu_ticks(pid) - before);
    }
    let mut streaming = Vec::new();
    let mut seconds = Vec::new();
    for round in 0..3 {
        let before = cpu_ticks(pid);
        let start = Instant::now();
        tmux.type_text(&format!("stream {round}"));
        tmux.press(&["Enter"]);
        tmux.wait_for("Ctrl-C stops");
        tmux.wait_until("the stream to end", |s| !s.contains("Ctrl-C stops"));
        streaming.push(cpu_ticks(pid) - before);
        seconds.push(start.elapsed().as_millis() as u64);
    }
    println!(
        "idle ticks per 10 s: {idle:?}, median {}",
        median(idle.clone())
    );
    println!(
        "streaming ticks: {streaming:?} over {seconds:?} ms, median {} ticks in {} ms",
        median(streaming.clone()),
        median(seconds.clone())
    );
    assert!(median(idle) <= 1, "idle cm used CPU");
}

/// cm's pid, after a second for start-up work to end.
fn cm_pid_after_settling(tmux: &Tmux) -> u32 {
    std::thread::sleep(Duration::from_secs(1));
    tmux.cm_pid()
}

//! Every tool through the real `cm` binary against cm-mock: what it does on disk and what
//! the model gets back; the bash permission corpus run through the binary (a refused line
//! must leave the files it would touch as they were); and compaction on a "prompt is too
//! long" answer, once per turn and never twice.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use cm_mock::{MockServer, Script};
use cm_proto::agent::{SUMMARY_HEADER, SUMMARY_INSTRUCTION, SUMMARY_SYSTEM};
use cm_proto::session::{replay, CompactionTrigger, Entry, Record};
use common::{Run, Sandbox};
use serde_json::{json, Value};

const MODEL: &str = "anthropic/claude-sonnet-4-5";

/// What the model is told when a rule (or `--yes` on an unanalysable line) refuses a call.
const DENIED_BY_RULE: &str = "denied by the configured rules; the call did not run";
/// What the model is told when nobody could answer a question.
const NOBODY_TO_ASK: &str = "could not be asked";

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

/// A sandbox pointed at `server`, with `config` as its `cm.json` (if any).
fn sandbox(label: &str, server: &MockServer, config: Option<Value>) -> Sandbox {
    let mut sandbox = Sandbox::new(label);
    sandbox.anthropic_at(&server.url());
    // Any git command a test line runs stops at the sandbox, whatever is above it.
    let ceiling = sandbox.root().display().to_string();
    sandbox.env("GIT_CEILING_DIRECTORIES", &ceiling);
    if let Some(config) = config {
        sandbox.write("cm.json", &config.to_string());
    }
    sandbox
}

fn cm_run(sandbox: &Sandbox, extra: &[&str], prompt: &str) -> Run {
    let mut args = vec!["run", "--model", MODEL];
    args.extend_from_slice(extra);
    args.push(prompt);
    sandbox.cm(&args)
}

/// A tool result as the model received it.
#[derive(Debug, Clone)]
struct Answer {
    text: String,
    is_error: bool,
}

/// Every tool result in an Anthropic request body, by tool-use id.
fn tool_results(body: &Value) -> BTreeMap<String, Answer> {
    let mut out = BTreeMap::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] != "tool_result" {
                continue;
            }
            let text = match &block["content"] {
                Value::String(text) => text.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            };
            let id = block["tool_use_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let is_error = block["is_error"].as_bool().unwrap_or(false);
            out.insert(id, Answer { text, is_error });
        }
    }
    out
}

/// The result of call `id`, as sent in request `seq`.
fn answer(server: &MockServer, seq: usize, id: &str) -> Answer {
    let requests = server.requests();
    let request = requests
        .get(seq)
        .unwrap_or_else(|| panic!("no request {seq}: only {}", requests.len()));
    tool_results(&request.body)
        .remove(id)
        .unwrap_or_else(|| panic!("request {seq} has no result for {id}: {}", request.body))
}

fn records(sandbox: &Sandbox) -> Vec<Record> {
    let files = sandbox.session_files();
    assert_eq!(files.len(), 1, "one session: {files:?}");
    std::fs::read_to_string(&files[0])
        .expect("session log")
        .lines()
        .map(|l| Record::from_line(l).expect("record"))
        .collect()
}

fn call(id: &str, name: &str, arguments: Value) -> Value {
    json!({"id": id, "name": name, "arguments": arguments})
}

// ---------------------------------------------------------------------------------------
// Each tool
// ---------------------------------------------------------------------------------------

#[test]
fn read_with_offset_and_limit_returns_just_those_lines() {
    let server = mock(json!([
        {"tool_calls": [call("r1", "read", json!({"path": "poem.txt", "offset": 3, "limit": 2}))]},
        {"expect": {"tool_result_contains": "3: charlie"}, "text": "read"}
    ]));
    let sandbox = sandbox("read", &server, None);
    sandbox.write("poem.txt", "alpha\nbravo\ncharlie\ndelta\necho\nfoxtrot\n");
    cm_run(&sandbox, &[], "read lines 3 and 4").expect_code(0);
    no_failed_expectations(&server);
    let got = answer(&server, 1, "r1");
    assert!(!got.is_error, "{got:?}");
    assert!(got.text.contains("3: charlie"), "{}", got.text);
    assert!(got.text.contains("4: delta"), "{}", got.text);
    for left_out in ["alpha", "bravo", "echo", "foxtrot"] {
        assert!(!got.text.contains(left_out), "{left_out}: {}", got.text);
    }
    assert!(
        got.text.contains("offset=5") || got.text.contains("offset 5"),
        "the note says where to continue: {}",
        got.text
    );
}

#[test]
fn write_creates_the_parent_directories() {
    let server = mock(json!([
        {"tool_calls": [call("w1", "write", json!({"path": "deep/er/new.txt", "content": "fresh\n"}))]},
        {"text": "written"}
    ]));
    let sandbox = sandbox(
        "write",
        &server,
        Some(json!({"permission": {"edit": "allow"}})),
    );
    cm_run(&sandbox, &[], "write a file").expect_code(0);
    assert_eq!(sandbox.read("deep/er/new.txt"), "fresh\n");
    let got = answer(&server, 1, "w1");
    assert!(!got.is_error, "{got:?}");
    assert!(got.text.contains("deep/er/new.txt"), "{}", got.text);
}

#[test]
fn edit_after_read_changes_the_file_and_a_missing_match_is_explained() {
    let server = mock(json!([
        {"tool_calls": [call("r1", "read", json!({"path": "main.rs"}))]},
        {"tool_calls": [call("e1", "edit", json!({"path": "main.rs", "old_string": "Hello", "new_string": "Goodbye"}))]},
        {"tool_calls": [call("e2", "edit", json!({"path": "main.rs", "old_string": "not in the file", "new_string": "x"}))]},
        {"text": "edited"}
    ]));
    let sandbox = sandbox(
        "edit",
        &server,
        Some(json!({"permission": {"edit": "allow"}})),
    );
    sandbox.write("main.rs", "fn main() {\n    println!(\"Hello\");\n}\n");
    cm_run(&sandbox, &[], "say goodbye").expect_code(0);
    assert_eq!(
        sandbox.read("main.rs"),
        "fn main() {\n    println!(\"Goodbye\");\n}\n"
    );
    assert!(!answer(&server, 2, "e1").is_error);
    let missing = answer(&server, 3, "e2");
    assert!(missing.is_error, "{missing:?}");
    assert!(
        missing.text.contains("old_string was not found in main.rs"),
        "{}",
        missing.text
    );
}

#[test]
fn multiedit_applies_all_edits_or_none() {
    let server = mock(json!([
        {"tool_calls": [call("r1", "read", json!({"path": "list.txt"}))]},
        {"tool_calls": [call("m1", "multiedit", json!({"path": "list.txt", "edits": [
            {"old_string": "one", "new_string": "1"},
            {"old_string": "four", "new_string": "4"}
        ]}))]},
        {"expect": {"tool_result_contains": "edits[1]"},
         "tool_calls": [call("m2", "multiedit", json!({"path": "list.txt", "edits": [
            {"old_string": "one", "new_string": "1"},
            {"old_string": "three", "new_string": "3"}
        ]}))]},
        {"text": "done"}
    ]));
    let sandbox = sandbox(
        "multiedit",
        &server,
        Some(json!({"permission": {"edit": "allow"}})),
    );
    sandbox.write("list.txt", "one\ntwo\nthree\n");
    cm_run(&sandbox, &[], "number the list").expect_code(0);
    no_failed_expectations(&server);
    let failed = answer(&server, 2, "m1");
    assert!(failed.is_error, "{failed:?}");
    assert!(failed.text.contains("edits[1]"), "{}", failed.text);
    assert!(!answer(&server, 3, "m2").is_error);
    assert_eq!(sandbox.read("list.txt"), "1\ntwo\n3\n");
}

#[test]
fn apply_patch_adds_updates_deletes_and_moves_in_one_patch_or_changes_nothing() {
    let patch = "*** Begin Patch\n\
                 *** Add File: added/new.txt\n\
                 +fresh\n\
                 *** Update File: update.txt\n\
                 @@\n\
                 \x20a\n\
                 -b\n\
                 +B\n\
                 \x20c\n\
                 *** Delete File: delete.txt\n\
                 *** Update File: move.txt\n\
                 *** Move to: moved/renamed.txt\n\
                 @@\n\
                 \x20keep\n\
                 -old\n\
                 +new\n\
                 *** End Patch";
    let half_matching = "*** Begin Patch\n\
                         *** Update File: update.txt\n\
                         @@\n\
                         -B\n\
                         +BB\n\
                         *** Update File: other.txt\n\
                         @@\n\
                         -a line that is not there\n\
                         +x\n\
                         *** End Patch";
    let server = mock(json!([
        {"tool_calls": [
            call("r1", "read", json!({"path": "update.txt"})),
            call("r2", "read", json!({"path": "delete.txt"})),
            call("r3", "read", json!({"path": "move.txt"})),
            call("r4", "read", json!({"path": "other.txt"}))
        ]},
        {"tool_calls": [call("p1", "apply_patch", json!({"patch": patch}))]},
        {"tool_calls": [call("p2", "apply_patch", json!({"patch": half_matching}))]},
        {"text": "patched"}
    ]));
    let sandbox = sandbox(
        "apply-patch",
        &server,
        Some(json!({"permission": {"edit": "allow"}})),
    );
    sandbox.write("update.txt", "a\nb\nc\n");
    sandbox.write("delete.txt", "doomed\n");
    sandbox.write("move.txt", "keep\nold\n");
    sandbox.write("other.txt", "unrelated\n");
    cm_run(&sandbox, &[], "patch it").expect_code(0);

    let applied = answer(&server, 2, "p1");
    assert!(!applied.is_error, "{applied:?}");
    assert_eq!(sandbox.read("added/new.txt"), "fresh\n");
    assert_eq!(sandbox.read("update.txt"), "a\nB\nc\n");
    assert!(!sandbox.project.join("delete.txt").exists());
    assert!(!sandbox.project.join("move.txt").exists());
    assert_eq!(sandbox.read("moved/renamed.txt"), "keep\nnew\n");

    let refused = answer(&server, 3, "p2");
    assert!(refused.is_error, "{refused:?}");
    assert!(refused.text.contains("other.txt"), "{}", refused.text);
    assert!(
        refused.text.contains("a line that is not there"),
        "the error shows the lines that did not match: {}",
        refused.text
    );
    assert_eq!(
        sandbox.read("update.txt"),
        "a\nB\nc\n",
        "the first file of a failed patch is untouched"
    );
    assert_eq!(sandbox.read("other.txt"), "unrelated\n");
}

fn set_mtime(sandbox: &Sandbox, rel: &str, seconds_ago: u64) {
    let file = std::fs::File::options()
        .write(true)
        .open(sandbox.project.join(rel))
        .expect("open for mtime");
    let when = SystemTime::now() - Duration::from_secs(seconds_ago);
    file.set_modified(when).expect("set mtime");
}

#[test]
fn glob_lists_newest_first_and_honours_gitignore() {
    let server = mock(json!([
        {"tool_calls": [call("g1", "glob", json!({"pattern": "*.rs"}))]},
        {"text": "found"}
    ]));
    let sandbox = sandbox("glob", &server, None);
    sandbox.write(".gitignore", "ignored.rs\nbuild/\n");
    for (file, age) in [
        ("old.rs", 3000),
        ("src/newest.rs", 10),
        ("middle.rs", 2000),
        ("ignored.rs", 0),
        ("build/gen.rs", 0),
    ] {
        sandbox.write(file, "// rust\n");
        set_mtime(&sandbox, file, age);
    }
    sandbox.write("notes.txt", "not rust\n");
    cm_run(&sandbox, &[], "find rust files").expect_code(0);
    let got = answer(&server, 1, "g1");
    assert!(!got.is_error, "{got:?}");
    let lines: Vec<&str> = got
        .text
        .lines()
        .filter(|l| l.ends_with(".rs"))
        .map(str::trim)
        .collect();
    assert_eq!(
        lines,
        ["src/newest.rs", "middle.rs", "old.rs"],
        "{}",
        got.text
    );
    assert!(!got.text.contains("ignored.rs") && !got.text.contains("gen.rs"));
}

#[test]
fn grep_filters_by_include_and_answers_a_bad_regex_with_an_error() {
    let server = mock(json!([
        {"tool_calls": [
            call("g1", "grep", json!({"pattern": "TODO\\s+\\w+", "include": "*.rs"})),
            call("g2", "grep", json!({"pattern": "fn(", "include": "*.rs"}))
        ]},
        {"text": "searched"}
    ]));
    let sandbox = sandbox("grep", &server, None);
    sandbox.write("src/lib.rs", "pub fn f() {}\n// TODO tidy\n");
    sandbox.write("notes.txt", "TODO also here\n");
    cm_run(&sandbox, &[], "find the todos").expect_code(0);
    let found = answer(&server, 1, "g1");
    assert!(!found.is_error, "{found:?}");
    assert!(
        found.text.contains("src/lib.rs:2: // TODO tidy"),
        "{}",
        found.text
    );
    assert!(!found.text.contains("notes.txt"), "{}", found.text);
    let bad = answer(&server, 1, "g2");
    assert!(bad.is_error, "{bad:?}");
    assert!(
        bad.text.contains("not a valid regular expression"),
        "{}",
        bad.text
    );
}

#[test]
fn ls_shows_a_tree_without_the_usual_noise() {
    let server = mock(json!([
        {"tool_calls": [call("l1", "ls", json!({}))]},
        {"text": "listed"}
    ]));
    let sandbox = sandbox("ls", &server, None);
    sandbox.write(".gitignore", "secret.log\n");
    sandbox.write("src/main.rs", "fn main() {}\n");
    sandbox.write("README.md", "# hi\n");
    sandbox.write("secret.log", "hidden\n");
    sandbox.write("node_modules/pkg/index.js", "x\n");
    cm_run(&sandbox, &[], "what is here").expect_code(0);
    let got = answer(&server, 1, "l1");
    assert!(!got.is_error, "{got:?}");
    for shown in ["src/", "main.rs", "README.md"] {
        assert!(got.text.contains(shown), "{shown}: {}", got.text);
    }
    for hidden in ["secret.log", "index.js", ".git/"] {
        assert!(!got.text.contains(hidden), "{hidden}: {}", got.text);
    }
}

#[test]
fn bash_returns_output_and_exit_code() {
    let server = mock(json!([
        {"tool_calls": [
            call("b1", "bash", json!({"command": "echo to-stdout; echo to-stderr >&2; exit 3"})),
            call("b2", "bash", json!({"command": "printf made > made.txt && cat made.txt"}))
        ]},
        {"text": "ran"}
    ]));
    let sandbox = sandbox(
        "bash",
        &server,
        Some(json!({"permission": {"bash": "allow", "edit": "allow"}})),
    );
    cm_run(&sandbox, &[], "run things").expect_code(0);
    let failed = answer(&server, 1, "b1");
    assert!(failed.is_error, "{failed:?}");
    for part in ["to-stdout", "to-stderr", "exit code 3"] {
        assert!(failed.text.contains(part), "{part}: {}", failed.text);
    }
    let made = answer(&server, 1, "b2");
    assert!(!made.is_error, "{made:?}");
    assert!(made.text.contains("made"), "{}", made.text);
    assert_eq!(sandbox.read("made.txt"), "made");
}

#[test]
fn todowrite_and_todoread_keep_the_list_and_refuse_duplicate_ids() {
    let list = json!([
        {"id": "1", "content": "write the parser", "status": "completed", "priority": "high"},
        {"id": "2", "content": "test the parser", "status": "in_progress", "priority": "medium"}
    ]);
    let duplicated = json!([
        {"id": "1", "content": "replace everything", "status": "pending", "priority": "low"},
        {"id": "1", "content": "twice", "status": "pending", "priority": "low"}
    ]);
    let server = mock(json!([
        {"tool_calls": [call("w1", "todowrite", json!({"todos": list}))]},
        {"tool_calls": [call("w2", "todowrite", json!({"todos": duplicated}))]},
        {"tool_calls": [call("t1", "todoread", json!({}))]},
        {"text": "planned"}
    ]));
    let sandbox = sandbox("todo", &server, None);
    cm_run(&sandbox, &[], "plan the work").expect_code(0);
    assert!(!answer(&server, 1, "w1").is_error);
    let refused = answer(&server, 2, "w2");
    assert!(refused.is_error, "{refused:?}");
    assert!(
        refused.text.contains("every todo needs its own id") && refused.text.contains("\"1\""),
        "{}",
        refused.text
    );
    let read = answer(&server, 3, "t1");
    assert!(!read.is_error, "{read:?}");
    for item in ["write the parser", "test the parser", "in_progress"] {
        assert!(read.text.contains(item), "{item}: {}", read.text);
    }
    assert!(
        !read.text.contains("replace everything"),
        "a refused list changes nothing: {}",
        read.text
    );
}

/// A one-page HTTP server on 127.0.0.1 that records the paths asked for.
struct PageServer {
    port: u16,
    stop: Arc<AtomicBool>,
    paths: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl PageServer {
    fn start(page: &'static str) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (stop_flag, seen) = (Arc::clone(&stop), Arc::clone(&paths));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header == "\r\n" || header == "\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                seen.lock().expect("paths").push(path);
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.flush();
            }
        });
        PageServer {
            port,
            stop,
            paths,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn webfetch_turns_a_local_page_into_markdown() {
    let page = PageServer::start(
        "<html><head><title>Docs</title><script>var hidden = 1;</script></head>\
         <body><h1>Hello Fetch</h1><p>Some <a href=\"/next\">linked</a> words.</p></body></html>",
    );
    let server = mock(json!([
        {"tool_calls": [call("f1", "webfetch", json!({"url": page.url("/docs")}))]},
        {"text": "fetched"}
    ]));
    let sandbox = sandbox(
        "webfetch",
        &server,
        Some(json!({"permission": {"webfetch": "allow"}})),
    );
    cm_run(&sandbox, &[], "read the docs").expect_code(0);
    assert_eq!(*page.paths.lock().expect("paths"), ["/docs"]);
    let got = answer(&server, 1, "f1");
    assert!(!got.is_error, "{got:?}");
    assert!(got.text.contains("# Hello Fetch"), "{}", got.text);
    assert!(got.text.contains("[linked]("), "{}", got.text);
    assert!(!got.text.contains("var hidden"), "{}", got.text);
}

#[test]
fn a_path_outside_the_workspace_is_refused_without_yes_and_a_terminal() {
    let script = |outside: &str| {
        json!([
            {"tool_calls": [
                call("r1", "read", json!({"path": outside.to_string() + "/secret.txt"})),
                call("w1", "write", json!({"path": outside.to_string() + "/planted.txt", "content": "x"}))
            ]},
            {"text": "tried"}
        ])
    };
    let probe = Sandbox::new("outside-probe");
    let outside = probe.root().join("elsewhere");
    std::fs::create_dir_all(&outside).expect("outside dir");
    std::fs::write(outside.join("secret.txt"), "the outside secret\n").expect("secret");
    let outside_text = outside.display().to_string();

    let server = mock(script(&outside_text));
    let sandbox = sandbox(
        "outside",
        &server,
        Some(json!({"permission": {"edit": "allow"}})),
    );
    let run = cm_run(&sandbox, &[], "look outside");
    run.expect_code(0);
    for id in ["r1", "w1"] {
        let got = answer(&server, 1, id);
        assert!(got.text.contains(NOBODY_TO_ASK), "{id}: {}", got.text);
    }
    let second = server.requests()[1].body.to_string();
    assert!(!second.contains("the outside secret"), "{second}");
    assert!(!outside.join("planted.txt").exists());
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);

    // --yes answers the question with allow.
    let server = mock(script(&outside_text));
    let sandbox = self::sandbox(
        "outside-yes",
        &server,
        Some(json!({"permission": {"edit": "allow"}})),
    );
    cm_run(&sandbox, &["--yes"], "look outside").expect_code(0);
    assert!(answer(&server, 1, "r1").text.contains("the outside secret"));
    assert_eq!(
        std::fs::read_to_string(outside.join("planted.txt")).expect("written outside"),
        "x"
    );
}

// ---------------------------------------------------------------------------------------
// The bash permission corpus through the binary
// ---------------------------------------------------------------------------------------

/// One corpus case.
#[derive(Debug, Clone)]
struct Case {
    index: usize,
    line: String,
    config: String,
    yes: bool,
    expect: String,
    edit: Vec<String>,
}

fn corpus() -> (BTreeMap<String, Value>, Vec<Case>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../proto/tests/bash_corpus.json"
    );
    let text = std::fs::read_to_string(path).expect("corpus file");
    let corpus: Value = serde_json::from_str(&text).expect("corpus parses");
    let configs = corpus["configs"]
        .as_object()
        .expect("configs")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let cases = corpus["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .enumerate()
        .map(|(index, c)| Case {
            index,
            line: c["line"].as_str().expect("line").to_string(),
            config: c["config"].as_str().expect("config").to_string(),
            yes: c["yes"].as_bool().unwrap_or(false),
            expect: c["expect"].as_str().expect("expect").to_string(),
            edit: c["edit"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        })
        .collect();
    (configs, cases)
}

/// Files the corpus lines would delete, read or run, planted before each batch.
const PLANTED: [(&str, &str); 9] = [
    ("x", "x\n"),
    ("y", "y\n"),
    ("a", "a\n"),
    ("b", "b\n"),
    ("list", "x\n"),
    ("files", "x\n"),
    ("s.sh", "rm x\n"),
    ("x.sh", "rm x\n"),
    ("sub/keep", "keep\n"),
];

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(base)
                .expect("under base")
                .display()
                .to_string();
            if path.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(base, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A batch of corpus cases run by one cm process, all as bash calls of one step.
struct Batch<'a> {
    label: String,
    permission: Value,
    yes: bool,
    cases: Vec<&'a Case>,
}

/// What a batch left behind.
struct Ran {
    sandbox: Sandbox,
    before: BTreeMap<String, Vec<u8>>,
    after: BTreeMap<String, Vec<u8>>,
    answers: BTreeMap<usize, Answer>,
}

fn run_batch(batch: &Batch<'_>) -> Ran {
    let calls: Vec<Value> = batch
        .cases
        .iter()
        .map(|c| {
            call(
                &format!("toolu_case_{}", c.index),
                "bash",
                json!({"command": c.line, "timeout": 20_000}),
            )
        })
        .collect();
    let server = mock(json!([{"tool_calls": calls}, {"text": "batch done"}]));
    let sandbox = sandbox(
        &batch.label,
        &server,
        Some(json!({"permission": batch.permission})),
    );
    for (file, text) in PLANTED {
        sandbox.write(file, text);
    }
    let before = tree(&sandbox.project);
    let mut extra = vec!["--max-steps", "3"];
    if batch.yes {
        extra.push("--yes");
    }
    let run = cm_run(&sandbox, &extra, "run the corpus lines");
    run.expect_code(0);
    assert_eq!(
        server.requests().len(),
        2,
        "{}: {}",
        batch.label,
        run.stderr
    );
    let after = tree(&sandbox.project);
    let mut by_id = tool_results(&server.requests()[1].body);
    let answers = batch
        .cases
        .iter()
        .map(|c| {
            let id = format!("toolu_case_{}", c.index);
            let got = by_id
                .remove(&id)
                .unwrap_or_else(|| panic!("{}: no result for {:?}", batch.label, c.line));
            (c.index, got)
        })
        .collect();
    Ran {
        sandbox,
        before,
        after,
        answers,
    }
}

/// Whether the line may run through the binary: allowed by the corpus and, when it
/// writes files by redirection, by the `edit` permission of `permission`.
fn runs(case: &Case, permission: &Value) -> bool {
    case.expect == "allow" && (case.edit.is_empty() || permission["edit"] == "allow")
}

/// Allowed lines whose output shows they really ran: (line, config, yes, any of these).
const RAN_WITH_OUTPUT: [(&str, &str, bool, &[&str]); 4] = [
    ("echo rm x", "standard", false, &["rm x"]),
    ("eval ls", "ask_by_default", true, &["x.sh"]),
    (
        "git push",
        "standard",
        true,
        &["not a git repository", "command not found"],
    ),
    (
        "git -C . push",
        "git_push_denied",
        false,
        &["not a git repository", "command not found"],
    ),
];

#[test]
fn the_bash_permission_corpus_holds_through_the_binary() {
    let (configs, cases) = corpus();
    let mut batches: Vec<Batch<'_>> = Vec::new();
    for (name, permission) in &configs {
        // As written, and with edits allowed so that redirections may run too.
        let mut with_edit = permission.clone();
        with_edit["edit"] = json!("allow");
        for yes in [false, true] {
            for (variant, permission) in [("as-is", permission), ("edit", &with_edit)] {
                let mine: Vec<&Case> = cases
                    .iter()
                    .filter(|c| &c.config == name && c.yes == yes)
                    .filter(|c| variant == "as-is" || !c.edit.is_empty())
                    .collect();
                for should_run in [false, true] {
                    let part: Vec<&Case> = mine
                        .iter()
                        .copied()
                        .filter(|c| runs(c, permission) == should_run)
                        .collect();
                    if !part.is_empty() {
                        batches.push(Batch {
                            label: format!(
                                "corpus-{name}-{variant}{}-{}",
                                if yes { "-yes" } else { "" },
                                if should_run { "runs" } else { "refused" }
                            ),
                            permission: permission.clone(),
                            yes,
                            cases: part,
                        });
                    }
                }
            }
        }
    }

    let mut exercised = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    let mut destructive_ran = false;
    let mut spot_checked = 0;
    for batch in &batches {
        let ran = run_batch(batch);
        for case in &batch.cases {
            exercised.insert(case.index);
            let got = &ran.answers[&case.index];
            let refusal = if runs(case, &batch.permission) {
                None
            } else if case.expect == "deny" {
                Some(DENIED_BY_RULE)
            } else {
                Some(NOBODY_TO_ASK)
            };
            let ok = match refusal {
                Some(text) => got.text.contains(text),
                None => !got.text.contains("did not run") && !got.text.contains(NOBODY_TO_ASK),
            };
            if !ok {
                failures.push(format!(
                    "{} {:?} (expect {}): the model got {:?}",
                    batch.label, case.line, case.expect, got.text
                ));
            }
            if refusal.is_none() {
                for (line, config, yes, shows) in RAN_WITH_OUTPUT {
                    let this = case.line == line && case.config == config && case.yes == yes;
                    spot_checked += usize::from(this);
                    if this && !shows.iter().any(|s| got.text.contains(s)) {
                        failures.push(format!(
                            "{} {line:?}: allowed, but its output is not there: {:?}",
                            batch.label, got.text
                        ));
                    }
                }
                for file in &case.edit {
                    if !ran.sandbox.project.join(file).exists() {
                        failures.push(format!(
                            "{} {:?}: allowed with edit, but {file:?} was not written",
                            batch.label, case.line
                        ));
                    }
                }
            }
        }
        let any_runs = batch.cases.iter().any(|c| runs(c, &batch.permission));
        if !any_runs && ran.after != ran.before {
            let changed: Vec<&String> = ran
                .before
                .keys()
                .chain(ran.after.keys())
                .filter(|k| ran.before.get(*k) != ran.after.get(*k))
                .collect();
            failures.push(format!(
                "{}: refused lines changed the project: {changed:?}",
                batch.label
            ));
        }
        if batch.cases.iter().any(|c| c.line == "find . -delete") {
            destructive_ran = !ran.sandbox.project.join("x").exists();
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        spot_checked,
        RAN_WITH_OUTPUT.len(),
        "every output check met its case"
    );
    assert!(
        destructive_ran,
        "the allowed `find . -delete` ran and deleted x"
    );
    assert_eq!(
        exercised.len(),
        cases.len(),
        "every corpus case went through the binary"
    );
    eprintln!(
        "{} corpus cases through the binary in {} cm runs",
        exercised.len(),
        batches.len()
    );
}

// ---------------------------------------------------------------------------------------
// Compaction
// ---------------------------------------------------------------------------------------

fn too_long() -> Value {
    json!({"fault": {"status": 400, "body": {"type": "error", "error": {
        "type": "invalid_request_error",
        "message": "prompt is too long: 210000 tokens > 200000 maximum"}}}})
}

#[test]
fn a_prompt_too_long_is_compacted_once_and_the_request_retried() {
    let mut overflow = too_long();
    overflow["expect"] = json!({"tool_result_contains": "alpha-content"});
    let server = mock(json!([
        {"tool_calls": [call("r1", "read", json!({"path": "a.txt"}))],
         "usage": {"input_tokens": 1000, "output_tokens": 10}},
        overflow,
        {"expect": {"contains": "Summarise the conversation above"},
         "text": "SUMMARY: the user asked about a.txt; it holds alpha-content."},
        {"expect": [{"contains": "SUMMARY: the user asked about a.txt"}, {"contains": "what is in a.txt"}],
         "text": "a.txt holds alpha-content."}
    ]));
    let sandbox = sandbox("compact", &server, None);
    sandbox.write("a.txt", "alpha-content\n");
    let run = cm_run(&sandbox, &[], "what is in a.txt?");
    run.expect_code(0);
    no_failed_expectations(&server);
    assert_eq!(run.stdout, "a.txt holds alpha-content.\n", "{}", run.stderr);
    let requests = server.requests();
    assert_eq!(requests.len(), 4);

    // The summarisation request: no tools, its own system prompt, one user message with
    // the transcript and the instruction.
    let summary = &requests[2].body;
    assert!(
        summary["tools"].as_array().is_none_or(|t| t.is_empty()),
        "no tools: {}",
        summary["tools"]
    );
    assert!(summary.to_string().contains(SUMMARY_SYSTEM), "{summary}");
    let messages = summary["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{summary}");
    let prompt = messages[0].to_string();
    assert!(prompt.contains("alpha-content"), "the transcript: {prompt}");
    let instruction = serde_json::to_string(SUMMARY_INSTRUCTION).expect("json");
    assert!(
        prompt.contains(instruction.trim_matches('"')),
        "the instruction: {prompt}"
    );

    // The retried request carries the compacted history: the summary, then the prompt.
    let retried = &requests[3].body;
    let messages = retried["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "{retried}");
    let first = messages[0].to_string();
    assert!(first.contains(SUMMARY_HEADER), "{first}");
    assert!(first.contains("what is in a.txt?"), "{first}");
    assert!(
        !first.contains("tool_use"),
        "the old tool calls are gone: {first}"
    );
    assert!(
        retried["tools"].as_array().is_some_and(|t| !t.is_empty()),
        "the retried request has its tools again"
    );

    let log = records(&sandbox);
    let compactions: Vec<_> = log
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::Compaction(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(compactions.len(), 1);
    assert_eq!(compactions[0].trigger, CompactionTrigger::Overflow);
    assert!(compactions[0].summary.starts_with("SUMMARY:"));
    let state = replay(&log);
    assert_eq!(state.history.len(), 2, "summary message, then the answer");
    assert!(state.history[0].text().contains(SUMMARY_HEADER));
}

#[test]
fn a_second_prompt_too_long_in_the_same_turn_fails_after_three_requests() {
    let server = mock(json!([
        too_long(),
        {"text": "SUMMARY: nothing much yet."},
        too_long(),
        {"text": "this turn must never be requested"}
    ]));
    let sandbox = sandbox("compact-twice", &server, None);
    let run = cm_run(&sandbox, &[], "a huge request");
    run.expect_code(1);
    assert_eq!(server.requests().len(), 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("still too long") && run.stderr.contains("after compacting it once"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("never"), "{}", run.stdout);
    let log = records(&sandbox);
    let compactions = log
        .iter()
        .filter(|r| matches!(r.entry, Entry::Compaction(_)))
        .count();
    assert_eq!(compactions, 1);
    let ends: Vec<String> = log
        .iter()
        .filter_map(|r| match &r.entry {
            Entry::TurnEnd(end) => Some(end.outcome.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ends, ["failed"]);
}

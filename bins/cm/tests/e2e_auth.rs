//! `cm auth` end to end: a key stored from stdin, listed masked, used by `cm run` against
//! cm-mock, overridden by the environment, removed, refused when malformed, and never
//! printed or logged in full.

mod common;

use cm_mock::{MockServer, Script};
use common::{Run, Sandbox};
use serde_json::json;

const KEY: &str = "sk-ant-api03-SeCrEt0123456789abcdefXYZ";
const MASKED: &str = "sk-a…fXYZ";

/// Every output of the test, to grep for the key at the end.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn keep(&mut self, run: Run) -> Run {
        self.0.push(run.stdout.clone());
        self.0.push(run.stderr.clone());
        run
    }
}

fn files_under(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, found);
        } else {
            found.push(path);
        }
    }
}

#[test]
fn a_stored_key_is_listed_masked_used_by_run_overridden_by_env_and_removed() {
    let server = MockServer::start(
        Script::from_value(json!([
            {"expect": {"header": {"name": "x-api-key", "value": KEY}}, "text": "Stored key used."},
            {"expect": {"header": {"name": "x-api-key", "value": "sk-ant-from-env-000000"}}, "text": "Env key used."}
        ]))
        .expect("valid script"),
    );
    let mut sandbox = Sandbox::new("auth");
    sandbox.env("ANTHROPIC_BASE_URL", &server.url());
    let mut seen = Transcript::default();

    let login =
        seen.keep(sandbox.cm_with_stdin(&["auth", "login", "anthropic"], &format!("{KEY}\n")));
    login.expect_code(0);
    assert!(login.stdout.contains(MASKED), "{}", login.stdout);
    assert!(
        !login.stderr.contains("warning"),
        "a familiar prefix: {}",
        login.stderr
    );

    let auth_json = sandbox.root().join("data/cm/auth.json");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&auth_json)
            .expect("auth.json")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let list = seen.keep(sandbox.cm(&["auth", "list"]));
    list.expect_code(0);
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with("anthropic"))
        .unwrap_or_else(|| panic!("no anthropic row: {}", list.stdout));
    assert!(
        row.contains("api-key") && row.contains("store") && row.contains(MASKED),
        "{row}"
    );

    // The stored key is sent when ANTHROPIC_API_KEY is unset; --debug says where it came from.
    let run = seen.keep(sandbox.cm(&[
        "run",
        "--debug",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "hi",
    ]));
    run.expect_code(0);
    assert!(run.stdout.contains("Stored key used."), "{}", run.stdout);

    // The environment wins over the store, in `run` and in `list`.
    let mut with_env = Sandbox::new("auth-env");
    with_env.env("ANTHROPIC_BASE_URL", &server.url());
    with_env.env("ANTHROPIC_API_KEY", "sk-ant-from-env-000000");
    std::fs::create_dir_all(with_env.root().join("data/cm")).expect("data dir");
    std::fs::copy(&auth_json, with_env.root().join("data/cm/auth.json")).expect("copy store");
    let run = seen.keep(with_env.cm(&[
        "run",
        "--debug",
        "--model",
        "anthropic/claude-sonnet-4-5",
        "hi",
    ]));
    run.expect_code(0);
    assert!(run.stdout.contains("Env key used."), "{}", run.stdout);
    let list = seen.keep(with_env.cm(&["auth", "list"]));
    assert!(
        list.stdout.contains("env ANTHROPIC_API_KEY"),
        "{}",
        list.stdout
    );
    assert!(list.stdout.contains("unused: env wins"), "{}", list.stdout);
    for request in server.requests() {
        assert!(
            request.expectation_failed.is_none(),
            "request {}: {:?}",
            request.seq,
            request.expectation_failed
        );
    }
    assert_eq!(server.requests().len(), 2);

    let mut logs = Vec::new();
    files_under(&sandbox.root().join("state"), &mut logs);
    files_under(&with_env.root().join("state"), &mut logs);
    let debug_text: String = logs
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    assert!(debug_text.contains("key from store"), "{debug_text}");
    assert!(
        debug_text.contains("key from env ANTHROPIC_API_KEY"),
        "{debug_text}"
    );

    // Logging out removes it; `run` then names the variable and `cm auth login`.
    let logout = seen.keep(sandbox.cm(&["auth", "logout", "anthropic"]));
    logout.expect_code(0);
    let list = seen.keep(sandbox.cm(&["auth", "list"]));
    assert!(!list.stdout.contains("anthropic"), "{}", list.stdout);
    let run = seen.keep(sandbox.cm(&["run", "--model", "anthropic/claude-sonnet-4-5", "hi"]));
    run.expect_code(2);
    assert!(run.stderr.contains("cm auth login"), "{}", run.stderr);

    // Not once in full: every output, every session log, every debug log, the store aside.
    let mut files = sandbox.session_files();
    files.extend(with_env.session_files());
    assert_eq!(files.len(), 2, "{files:?}");
    files.extend(logs);
    for text in seen.0.iter().cloned().chain(
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default()),
    ) {
        assert!(!text.contains(KEY), "the key leaked: {text}");
        assert!(
            !text.contains("SeCrEt0123456789"),
            "part of the key leaked: {text}"
        );
    }
}

#[test]
fn malformed_keys_are_refused_and_unfamiliar_prefixes_only_warn() {
    let sandbox = Sandbox::new("auth-bad");
    for bad in ["\n", "sk-ant-abc def\n", "sk-ant-\u{1b}[200~abc\n"] {
        let run = sandbox.cm_with_stdin(&["auth", "login", "anthropic"], bad);
        run.expect_code(2);
        assert!(run.stderr.contains("nothing was stored"), "{}", run.stderr);
    }
    assert!(!sandbox.root().join("data/cm/auth.json").exists());

    let gateway = sandbox.cm_with_stdin(&["auth", "login", "anthropic"], "gw-1234567890abcdef\n");
    gateway.expect_code(0);
    assert!(
        gateway
            .stderr
            .contains("warning: the key does not start with sk-ant-"),
        "{}",
        gateway.stderr
    );
    assert!(
        !gateway.stderr.contains("gw-1234567890abcdef")
            && !gateway.stdout.contains("gw-1234567890abcdef")
    );

    let no_provider = sandbox.cm(&["auth", "login"]);
    no_provider.expect_code(2);
    assert!(
        no_provider.stderr.contains("cm auth login PROVIDER"),
        "{}",
        no_provider.stderr
    );
    let unknown = sandbox.cm(&["auth", "login", "antropic"]);
    unknown.expect_code(2);
    assert!(
        unknown
            .stderr
            .contains("known providers are anthropic, openai"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn a_corrupt_store_is_kept_aside_named_and_replaced_only_by_a_new_login() {
    let sandbox = Sandbox::new("auth-corrupt");
    let data = sandbox.root().join("data/cm");
    std::fs::create_dir_all(&data).expect("data dir");
    std::fs::write(
        data.join("auth.json"),
        "{\"version\":1,\"providers\":{\"openai\":sk-lost",
    )
    .expect("write");

    let list = sandbox.cm(&["auth", "list"]);
    list.expect_code(1);
    assert!(
        list.stderr.contains("auth.json is corrupt"),
        "{}",
        list.stderr
    );
    assert!(
        list.stderr.contains("auth.json.corrupt-"),
        "{}",
        list.stderr
    );
    assert!(!list.stderr.contains("sk-lost"), "{}", list.stderr);

    let login = sandbox.cm_with_stdin(&["auth", "login", "openai"], "sk-proj-0123456789abcdef\n");
    login.expect_code(0);
    let backups: Vec<String> = std::fs::read_dir(&data)
        .expect("read data")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("auth.json.corrupt-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let kept = std::fs::read_to_string(data.join(&backups[0])).expect("backup");
    assert!(kept.contains("sk-lost"), "the old file is kept as it was");
    let list = sandbox.cm(&["auth", "list"]);
    list.expect_code(0);
    assert!(list.stdout.contains("sk-p…cdef"), "{}", list.stdout);
}

#[test]
fn logout_without_a_provider_removes_every_stored_key() {
    let sandbox = Sandbox::new("auth-logout-all");
    sandbox
        .cm_with_stdin(&["auth", "login", "anthropic"], "sk-ant-0123456789abcdef\n")
        .expect_code(0);
    sandbox
        .cm_with_stdin(&["auth", "login", "openai"], "sk-0123456789abcdef\n")
        .expect_code(0);
    let logout = sandbox.cm(&["auth", "logout"]);
    logout.expect_code(0);
    assert!(
        logout.stdout.contains("anthropic, openai"),
        "{}",
        logout.stdout
    );
    let list = sandbox.cm(&["auth", "list"]);
    assert!(list.stdout.starts_with("no credentials"), "{}", list.stdout);
}

#[test]
fn auth_help_has_examples() {
    let sandbox = Sandbox::new("auth-help");
    let help = sandbox.cm(&["auth", "--help"]);
    help.expect_code(0);
    assert!(
        help.stdout
            .contains("printf '%s\\n' \"$KEY\" | cm auth login anthropic"),
        "{}",
        help.stdout
    );
    assert!(help.stdout.contains("cm auth list"));
}

#[test]
fn on_a_terminal_the_provider_is_picked_and_the_key_is_not_echoed() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::Duration;
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let sandbox = Sandbox::new("auth-tty");
    let cm = env!("CARGO_BIN_EXE_cm");
    let mut child = sandbox
        .other_command(
            "script",
            &["-qfec", &format!("{cm} auth login 2>&1"), "/dev/null"],
        )
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_millis(800));
    stdin.write_all(b"1\n").expect("pick");
    stdin.flush().expect("flush");
    // Typed only once echo is off.
    std::thread::sleep(Duration::from_millis(1500));
    stdin
        .write_all(format!("{KEY}\r").as_bytes())
        .expect("type the key");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(800));
    drop(stdin);
    let run = Run::wait(child, Duration::from_secs(20));
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("1. anthropic"), "{}", run.stdout);
    assert!(
        run.stdout.contains("API key for anthropic (input hidden)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(MASKED), "{}", run.stdout);
    assert!(!run.stdout.contains(KEY), "echoed: {}", run.stdout);
    let list = sandbox.cm(&["auth", "list"]);
    assert!(list.stdout.contains(MASKED), "{}", list.stdout);
}

#[test]
fn a_stored_key_alone_chooses_the_default_model() {
    let server = MockServer::start(
        Script::from_value(json!([
            {"expect": {"header": {"name": "x-api-key", "value": KEY}}, "text": "Default model."}
        ]))
        .expect("valid script"),
    );
    let mut sandbox = Sandbox::new("auth-default");
    sandbox.env("ANTHROPIC_BASE_URL", &server.url());
    sandbox
        .cm_with_stdin(&["auth", "login", "anthropic"], &format!("{KEY}\n"))
        .expect_code(0);
    let run = sandbox.cm(&["run", "hi"]);
    run.expect_code(0);
    assert!(run.stdout.contains("Default model."), "{}", run.stdout);
    assert!(server.requests()[0].expectation_failed.is_none());
}

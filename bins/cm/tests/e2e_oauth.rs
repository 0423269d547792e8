//! OAuth logins end to end: the real `cm` against cm-mock's authorization endpoints.
//!
//! The device flow with `authorization_pending` and `slow_down`, then the Copilot token
//! exchange and a model request to the exchanged API base; the PKCE flow with the test as
//! the browser (discovery from the issuer, a state mismatch, an `error=` callback);
//! refresh ahead of expiry during a session, one refresh after a 401, a revoked refresh
//! token, revocation on logout. No token ever appears in any output.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cm_mock::{AuthorizeOutcome, Config, DeviceOutcome, MockServer, OAuthScript, Script};
use common::{Run, Sandbox};
use serde_json::{json, Value};

/// Parts of every token cm-mock issues or the tests seed; none may ever be printed.
const SECRETS: [&str; 7] = [
    "mock-at-",
    "mock-rt-",
    "mock-copilot-",
    "mock-code-",
    "seeded-",
    "mock-device-code",
    "tid=mock",
];

/// Every output of a test, to grep for tokens at the end.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn keep(&mut self, run: Run) -> Run {
        self.0.push(run.stdout.clone());
        self.0.push(run.stderr.clone());
        run
    }

    fn assert_no_secret(&self) {
        for text in &self.0 {
            for secret in SECRETS {
                assert!(!text.contains(secret), "a token leaked ({secret}): {text}");
            }
        }
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

fn mock(script: Value, oauth: OAuthScript) -> MockServer {
    MockServer::start_with(Config {
        script: Script::from_value(script).expect("valid script"),
        oauth,
        ..Config::default()
    })
    .expect("start cm-mock")
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The paths the mock saw, in order.
fn paths(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.path.split('?').next().unwrap_or_default().to_string())
        .collect()
}

fn assert_expectations_met(server: &MockServer) {
    for request in server.requests() {
        assert!(
            request.expectation_failed.is_none(),
            "request {} {}: {:?}",
            request.seq,
            request.path,
            request.expectation_failed
        );
    }
}

// ---------------------------------------------------------------------------------------
// Device flow and Copilot
// ---------------------------------------------------------------------------------------

fn copilot_sandbox(server: &MockServer) -> Sandbox {
    let url = server.url();
    let mut sandbox = Sandbox::new("oauth-copilot");
    sandbox.global_config(
        &json!({"provider": {"github-copilot": {"oauth": {
            "client_id": "cm-test-client",
            "device_url": format!("{url}/login/device/code"),
            "token_url": format!("{url}/login/oauth/access_token"),
            "exchange_url": format!("{url}/copilot_internal/v2/token"),
        }}}})
        .to_string(),
    );
    sandbox
        .env("CM_NO_BROWSER", "1")
        .env("CM_DEVICE_SECOND_MS", "20");
    sandbox
}

#[test]
fn device_login_waits_out_pending_and_slow_down_then_copilot_runs_on_the_exchanged_token() {
    let server = mock(
        // Issued in order: the GitHub token (1), the login's Copilot token (2), the run's (3);
        // the model request carries the run's, not the GitHub token.
        json!([{"expect": bearer(&copilot_token(3)), "text": "Copilot answered."}]),
        OAuthScript {
            pending: 2,
            slow_down: true,
            interval: 1,
            slow_down_interval: 3,
            expires_in: None,
            issue_refresh_tokens: false,
            ..OAuthScript::default()
        },
    );
    let sandbox = copilot_sandbox(&server);
    let mut seen = Transcript::default();

    let login = seen.keep(sandbox.cm(&["auth", "login", "github-copilot"]));
    login.expect_code(0);
    assert!(
        login.stderr.contains("enter the code: MOCK-CODE"),
        "{}",
        login.stderr
    );
    assert!(
        login
            .stderr
            .contains(&format!("{}/login/device", server.url())),
        "the verification URL is printed: {}",
        login.stderr
    );
    assert!(
        login
            .stderr
            .contains("asked to poll more slowly: every 3 s"),
        "{}",
        login.stderr
    );
    assert!(
        login.stdout.contains("logged in to github-copilot"),
        "{}",
        login.stdout
    );
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.path == "/login/oauth/access_token")
        .count();
    assert_eq!(polls, 4, "two pending, one slow_down, then the token");
    let device = &server.requests()[0];
    assert_eq!(device.body["client_id"], "cm-test-client");
    assert_eq!(device.body["scope"], "read:user");

    let list = seen.keep(sandbox.cm(&["auth", "list"]));
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with("github-copilot"))
        .unwrap_or_else(|| panic!("no row: {}", list.stdout));
    assert!(
        row.contains("oauth") && row.contains("does not expire"),
        "{row}"
    );

    let run = seen.keep(sandbox.cm(&["run", "--model", "github-copilot/gpt-4.1", "hi"]));
    run.expect_code(0);
    assert!(run.stdout.contains("Copilot answered."), "{}", run.stdout);
    assert_expectations_met(&server);
    let requests = server.requests();
    let exchange = requests
        .iter()
        .rev()
        .find(|r| r.path == "/copilot_internal/v2/token")
        .expect("an exchange");
    assert!(
        exchange
            .header("authorization")
            .is_some_and(|v| v.starts_with("token mock")),
        "{:?}",
        exchange.headers
    );
    let chat = requests.last().expect("the model request");
    assert_eq!(chat.path, "/copilot/chat/completions");
    assert_eq!(
        chat.header("editor-version"),
        Some(concat!("cm/", env!("CARGO_PKG_VERSION")))
    );
    let exchanges = requests
        .iter()
        .filter(|r| r.path == "/copilot_internal/v2/token")
        .count();
    assert_eq!(exchanges, 2, "one when logging in, one when the run starts");

    let logout = seen.keep(sandbox.cm(&["auth", "logout", "github-copilot"]));
    logout.expect_code(0);
    assert!(
        logout.stderr.contains("no revocation endpoint"),
        "{}",
        logout.stderr
    );
    assert!(logout.stdout.contains("removed"), "{}", logout.stdout);
    seen.assert_no_secret();
}

/// The Copilot token cm-mock's exchange number `n` issues.
fn copilot_token(n: u64) -> String {
    format!("mock-copilot-{n};tid=mock;proxy-ep=proxy.mock.invalid")
}

#[test]
fn the_copilot_token_is_exchanged_again_after_refresh_in_and_after_a_401() {
    let server = mock(
        json!([
            {"expect": bearer(&copilot_token(1)),
             "tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": "sleep 2.5"}}]},
            {"expect": bearer(&copilot_token(2)), "fault": {"status": 401}},
            {"expect": bearer(&copilot_token(3)), "text": "Third token used."}
        ]),
        OAuthScript {
            github_tokens: vec!["seeded-gh".into()],
            copilot_refresh_in: Some(2),
            ..OAuthScript::default()
        },
    );
    let sandbox = copilot_sandbox(&server);
    sandbox.global_config(
        &json!({
            "provider": {"github-copilot": {"oauth": {
                "client_id": "cm-test-client",
                "exchange_url": format!("{}/copilot_internal/v2/token", server.url()),
            }}},
            "permission": {"bash": "allow"}
        })
        .to_string(),
    );
    let dir = sandbox.root().join("data/cm");
    std::fs::create_dir_all(&dir).expect("data dir");
    let store = json!({"version": 1, "providers": {"github-copilot": {
        "type": "oauth", "access": "seeded-gh"}}});
    std::fs::write(dir.join("auth.json"), store.to_string()).expect("seed auth.json");
    let mut seen = Transcript::default();
    let run = seen.keep(sandbox.cm(&["run", "--model", "github-copilot/gpt-4.1", "go"]));
    run.expect_code(0);
    assert!(run.stdout.contains("Third token used."), "{}", run.stdout);
    assert_expectations_met(&server);
    let exchange = "/copilot_internal/v2/token";
    let chat = "/copilot/chat/completions";
    assert_eq!(
        paths(&server),
        [exchange, chat, exchange, chat, exchange, chat],
        "exchanged at the start, after refresh_in passed, and after the 401"
    );
    seen.assert_no_secret();
}

#[test]
fn a_denied_or_expired_device_login_says_so_and_stores_nothing() {
    for (outcome, words) in [
        (DeviceOutcome::Denied, "denied in the browser"),
        (DeviceOutcome::Expired, "the code expired"),
    ] {
        let server = mock(
            json!([]),
            OAuthScript {
                device_outcome: outcome,
                ..OAuthScript::default()
            },
        );
        let sandbox = copilot_sandbox(&server);
        let login = sandbox.cm(&["auth", "login", "github-copilot"]);
        login.expect_code(1);
        assert!(login.stderr.contains(words), "{}", login.stderr);
        assert!(
            login.stderr.contains("cm auth login github-copilot"),
            "{}",
            login.stderr
        );
        assert!(!sandbox.root().join("data/cm/auth.json").exists());
    }
}

#[test]
fn copilot_without_a_client_id_says_why_and_where_to_set_one() {
    let sandbox = Sandbox::new("oauth-no-client");
    let login = sandbox.cm(&["auth", "login", "github-copilot"]);
    login.expect_code(2);
    assert!(
        login
            .stderr
            .contains("accepts only the OAuth apps GitHub approves"),
        "{}",
        login.stderr
    );
    assert!(login.stderr.contains("\"client_id\""), "{}", login.stderr);
}

// ---------------------------------------------------------------------------------------
// PKCE, with the test as the browser
// ---------------------------------------------------------------------------------------

/// A sandbox with provider `acme` (OpenAI chat at the mock) logging in with OAuth at the
/// mock, its endpoints discovered from the issuer.
fn acme_sandbox(server: &MockServer) -> Sandbox {
    let url = server.url();
    let mut sandbox = Sandbox::new("oauth-acme");
    sandbox.global_config(
        &json!({
            "provider": {"acme": {"api": "openai-chat", "base_url": format!("{url}/v1"),
                "oauth": {"client_id": "cm-acme", "issuer": url, "scopes": ["models"]}}},
            "permission": {"bash": "allow"}
        })
        .to_string(),
    );
    sandbox
        .env("CM_NO_BROWSER", "1")
        .env("CM_LOGIN_TIMEOUT_S", "30");
    sandbox
}

/// `GET url` over a fresh connection: the status and the `Location` header, if any.
fn http_get(url: &str) -> (u16, Option<String>) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let location = answer
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(name, _)| name.eq_ignore_ascii_case("location"))
        })
        .map(|(_, v)| v.trim().to_string());
    (status, location)
}

/// Runs `cm auth login acme`, plays the browser (the mock's authorize answer redirects to
/// cm's loopback listener), and returns cm's run.
fn pkce_login(sandbox: &Sandbox, server: &MockServer) -> Run {
    let mut child = sandbox
        .command(&["auth", "login", "acme"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cm");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines.send(line);
        }
        all
    });
    let authorize = format!("{}/oauth/authorize?", server.url());
    let url = loop {
        match received.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.trim().starts_with(&authorize) => break line.trim().to_string(),
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("cm printed no authorize URL");
            }
        }
    };
    let (status, location) = http_get(&url);
    assert_eq!(status, 302);
    let location = location.expect("a redirect");
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    let (status, _) = http_get(&location);
    assert_eq!(status, 200, "cm's listener answers the browser");
    let mut run = Run::wait(child, Duration::from_secs(30));
    run.stderr = reader.join().expect("stderr reader");
    run
}

#[test]
fn pkce_login_discovers_the_endpoints_stores_the_token_and_logout_revokes_it() {
    let server = mock(json!([]), OAuthScript::default());
    let sandbox = acme_sandbox(&server);
    let mut seen = Transcript::default();

    let login = seen.keep(pkce_login(&sandbox, &server));
    login.expect_code(0);
    assert!(
        login.stdout.contains("logged in to acme, expires"),
        "{}",
        login.stdout
    );
    let requests = server.requests();
    assert_eq!(
        requests[0].path, WELL_KNOWN,
        "the endpoints come from the issuer's metadata"
    );
    let authorize = requests
        .iter()
        .find(|r| r.path.starts_with("/oauth/authorize?"))
        .expect("the browser's request");
    assert!(authorize.path.contains("code_challenge_method=S256"));
    assert!(authorize.path.contains("client_id=cm-acme"));
    let token = requests
        .iter()
        .find(|r| r.path == "/oauth/token")
        .expect("the code exchange");
    assert_eq!(token.body["grant_type"], "authorization_code");
    assert_eq!(token.status, 200, "the verifier matched the challenge");

    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.root().join("data/cm/auth.json")).expect("auth.json"),
    )
    .expect("JSON");
    let acme = &stored["providers"]["acme"];
    assert_eq!(acme["type"], "oauth");
    assert_eq!(acme["refresh"], "mock-rt-2");
    assert!(acme["expires_at"].as_u64().unwrap_or(0) > now_ms());

    let list = seen.keep(sandbox.cm(&["auth", "list"]));
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with("acme"))
        .unwrap_or_else(|| panic!("no row: {}", list.stdout));
    assert!(row.contains("oauth") && row.contains("expires 20"), "{row}");

    let logout = seen.keep(sandbox.cm(&["auth", "logout", "acme"]));
    logout.expect_code(0);
    assert!(
        logout
            .stderr
            .contains("revoked the acme token at 127.0.0.1:"),
        "{}",
        logout.stderr
    );
    let revoke = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth/revoke")
        .expect("a revocation");
    assert_eq!(revoke.body["token"], "mock-rt-2");
    assert_eq!(revoke.body["token_type_hint"], "refresh_token");
    let list = seen.keep(sandbox.cm(&["auth", "list"]));
    assert!(!list.stdout.contains("acme"), "{}", list.stdout);
    seen.assert_no_secret();
}

#[test]
fn a_callback_with_the_wrong_state_or_an_error_is_refused_readably() {
    for (outcome, words) in [
        (AuthorizeOutcome::WrongState, "does not match this login"),
        (AuthorizeOutcome::Denied, "access_denied: The user said no"),
    ] {
        let server = mock(
            json!([]),
            OAuthScript {
                authorize: outcome,
                ..OAuthScript::default()
            },
        );
        let sandbox = acme_sandbox(&server);
        let login = pkce_login(&sandbox, &server);
        login.expect_code(1);
        assert!(login.stderr.contains(words), "{}", login.stderr);
        assert!(!paths(&server).contains(&"/oauth/token".to_string()));
        assert!(!sandbox.root().join("data/cm/auth.json").exists());
    }
}

// ---------------------------------------------------------------------------------------
// Renewal during a session
// ---------------------------------------------------------------------------------------

/// Seeds `auth.json` with an acme login.
fn seed(sandbox: &Sandbox, access: &str, refresh: &str, expires_at: u64) {
    let dir = sandbox.root().join("data/cm");
    std::fs::create_dir_all(&dir).expect("data dir");
    let store = json!({"version": 1, "providers": {"acme": {
        "type": "oauth", "access": access, "refresh": refresh, "expires_at": expires_at}}});
    std::fs::write(dir.join("auth.json"), store.to_string()).expect("seed auth.json");
}

/// Where the endpoints of acme's issuer are discovered.
const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

fn bearer(token: &str) -> Value {
    json!({"header": {"name": "authorization", "value": format!("Bearer {token}")}})
}

#[test]
fn a_token_expiring_within_the_margin_is_refreshed_before_the_next_request() {
    let server = mock(
        json!([
            {"expect": bearer("seeded-at"),
             "tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": "sleep 3"}}]},
            {"expect": bearer("mock-at-1"), "text": "Fresh token used."}
        ]),
        OAuthScript {
            refresh_tokens: vec!["seeded-rt".into()],
            ..OAuthScript::default()
        },
    );
    let mut sandbox = acme_sandbox(&server);
    sandbox.env("CM_REFRESH_MARGIN_S", "1");
    // Not due when cm starts; due (within the 1 s margin) after the 3 s tool call.
    seed(&sandbox, "seeded-at", "seeded-rt", now_ms() + 3_500);
    let mut seen = Transcript::default();
    let run = seen.keep(sandbox.cm(&["run", "--model", "acme/m1", "go"]));
    run.expect_code(0);
    assert!(run.stdout.contains("Fresh token used."), "{}", run.stdout);
    assert_expectations_met(&server);
    let paths = paths(&server);
    let refresh_at = paths
        .iter()
        .position(|p| p == "/oauth/token")
        .expect("a refresh");
    assert_eq!(paths[refresh_at - 1], "/v1/chat/completions");
    assert_eq!(paths[refresh_at + 1], "/v1/chat/completions");
    let refresh = &server.requests()[refresh_at];
    assert_eq!(refresh.body["grant_type"], "refresh_token");
    assert_eq!(refresh.body["refresh_token"], "seeded-rt");

    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.root().join("data/cm/auth.json")).expect("auth.json"),
    )
    .expect("JSON");
    assert_eq!(stored["providers"]["acme"]["access"], "mock-at-1");
    assert_eq!(
        stored["providers"]["acme"]["refresh"], "mock-rt-1",
        "the rotated refresh token is written back"
    );
    seen.assert_no_secret();
}

#[test]
fn a_401_is_refreshed_once_and_the_request_retried() {
    let server = mock(
        json!([
            {"expect": bearer("seeded-at"), "fault": {"status": 401}},
            {"expect": bearer("mock-at-1"), "text": "Retried with the new token."}
        ]),
        OAuthScript {
            refresh_tokens: vec!["seeded-rt".into()],
            ..OAuthScript::default()
        },
    );
    let sandbox = acme_sandbox(&server);
    seed(&sandbox, "seeded-at", "seeded-rt", now_ms() + 3_600_000);
    let mut seen = Transcript::default();
    let run = seen.keep(sandbox.cm(&["run", "--debug", "--model", "acme/m1", "hi"]));
    run.expect_code(0);
    // Nor in the session log or the debug log.
    let mut files = sandbox.session_files();
    files_under(&sandbox.root().join("state"), &mut files);
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        seen.0
            .push(std::fs::read_to_string(file).unwrap_or_default());
    }
    assert!(
        run.stdout.contains("Retried with the new token."),
        "{}",
        run.stdout
    );
    assert_expectations_met(&server);
    assert_eq!(
        paths(&server),
        [
            WELL_KNOWN,
            "/v1/chat/completions",
            "/oauth/token",
            "/v1/chat/completions"
        ]
    );
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 401, 200, 200]);
    seen.assert_no_secret();
}

#[test]
fn a_revoked_refresh_token_says_to_log_in_again() {
    // Expired, so the refresh comes first: the mock never issued this refresh token.
    let server = mock(json!([]), OAuthScript::default());
    let sandbox = acme_sandbox(&server);
    seed(
        &sandbox,
        "seeded-at",
        "seeded-rt-revoked",
        now_ms().saturating_sub(1_000),
    );
    let mut seen = Transcript::default();
    let run = seen.keep(sandbox.cm(&["run", "--model", "acme/m1", "hi"]));
    run.expect_code(1);
    assert!(run.stderr.contains("invalid_grant"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("log in again with `cm auth login acme`"),
        "{}",
        run.stderr
    );

    // Valid until a 401, when the refresh is refused: the turn fails saying the same.
    let server = mock(json!([{"fault": {"status": 401}}]), OAuthScript::default());
    let sandbox = acme_sandbox(&server);
    seed(
        &sandbox,
        "seeded-at",
        "seeded-rt-revoked",
        now_ms() + 3_600_000,
    );
    let run = seen.keep(sandbox.cm(&["run", "--model", "acme/m1", "hi"]));
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("log in again with `cm auth login acme`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        paths(&server),
        [WELL_KNOWN, "/v1/chat/completions", "/oauth/token"]
    );
    seen.assert_no_secret();
}

#[test]
fn a_403_for_region_or_plan_reads_as_an_access_problem() {
    let server = mock(
        json!([{"fault": {"status": 403, "body": {"error": {
            "message": "Country, region, or territory not supported",
            "type": "request_forbidden", "code": "unsupported_country_region_territory"}}}}]),
        OAuthScript::default(),
    );
    let sandbox = acme_sandbox(&server);
    seed(&sandbox, "seeded-at", "seeded-rt", now_ms() + 3_600_000);
    let run = sandbox.cm(&["run", "--model", "acme/m1", "hi"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("refused `m1` for this account")
            && run
                .stderr
                .contains("Country, region, or territory not supported")
            && run.stderr.contains("plan, region or organisation"),
        "{}",
        run.stderr
    );
    assert_eq!(
        paths(&server),
        [WELL_KNOWN, "/v1/chat/completions"],
        "a 403 is not refreshed"
    );
}

#[test]
fn a_configured_provider_can_log_in_with_the_device_flow() {
    let server = mock(
        json!([{"expect": bearer("mock-at-1"), "text": "Device token used."}]),
        OAuthScript {
            pending: 1,
            ..OAuthScript::default()
        },
    );
    let url = server.url();
    let mut sandbox = Sandbox::new("oauth-device-acme");
    sandbox.global_config(
        &json!({"provider": {"acme": {"api": "openai-chat", "base_url": format!("{url}/v1"),
            "oauth": {"client_id": "cm-acme", "device_url": format!("{url}/login/device/code"),
                      "token_url": format!("{url}/oauth/token")}}}})
        .to_string(),
    );
    sandbox
        .env("CM_NO_BROWSER", "1")
        .env("CM_DEVICE_SECOND_MS", "20");
    let mut seen = Transcript::default();
    let login = seen.keep(sandbox.cm(&["auth", "login", "acme"]));
    login.expect_code(0);
    assert!(login.stderr.contains("MOCK-CODE"), "{}", login.stderr);
    assert!(
        login.stdout.contains("logged in to acme, expires"),
        "{}",
        login.stdout
    );
    let run = seen.keep(sandbox.cm(&["run", "--model", "acme/m1", "hi"]));
    run.expect_code(0);
    assert!(run.stdout.contains("Device token used."), "{}", run.stdout);
    assert_expectations_met(&server);
    seen.assert_no_secret();
}

#[test]
fn a_browser_that_never_comes_back_times_out() {
    let server = mock(json!([]), OAuthScript::default());
    let mut sandbox = acme_sandbox(&server);
    sandbox.env("CM_LOGIN_TIMEOUT_S", "1");
    let login = sandbox.cm(&["auth", "login", "acme"]);
    login.expect_code(1);
    assert!(
        login
            .stderr
            .contains("no answer from the browser within 1 s"),
        "{}",
        login.stderr
    );
    assert!(
        login.stderr.contains("/oauth/authorize?"),
        "the URL is printed: {}",
        login.stderr
    );
    assert!(!sandbox.root().join("data/cm/auth.json").exists());
}

#[test]
fn a_failed_revocation_still_removes_the_login_and_says_so() {
    let server = mock(json!([]), OAuthScript::default());
    let url = server.url();
    let sandbox = Sandbox::new("oauth-revoke-fails");
    // Port 9 (discard) on 127.0.0.1 refuses the connection.
    sandbox.global_config(
        &json!({"provider": {"acme": {"api": "openai-chat", "base_url": format!("{url}/v1"),
            "oauth": {"client_id": "cm-acme", "token_url": format!("{url}/oauth/token"),
                      "authorize_url": format!("{url}/oauth/authorize"),
                      "revoke_url": "http://127.0.0.1:9/revoke"}}}})
        .to_string(),
    );
    seed(&sandbox, "seeded-at", "seeded-rt", now_ms() + 3_600_000);
    let mut seen = Transcript::default();
    let logout = seen.keep(sandbox.cm(&["auth", "logout", "acme"]));
    logout.expect_code(0);
    assert!(
        logout.stderr.contains("could not revoke the acme token")
            && logout.stderr.contains("removed here anyway"),
        "{}",
        logout.stderr
    );
    assert!(logout
        .stdout
        .contains("removed the stored credential of acme"));
    let list = seen.keep(sandbox.cm(&["auth", "list"]));
    assert!(!list.stdout.contains("acme"), "{}", list.stdout);
    seen.assert_no_secret();
}

#[test]
fn without_a_client_id_cm_registers_itself_and_keeps_the_id_for_refresh_and_revocation() {
    let server = mock(
        json!([{"expect": bearer("mock-at-4"), "text": "Registered client refreshed."}]),
        OAuthScript::default(),
    );
    let url = server.url();
    let mut sandbox = Sandbox::new("oauth-register");
    sandbox.global_config(
        &json!({"provider": {"acme": {"api": "openai-chat", "base_url": format!("{url}/v1"),
            "oauth": {"issuer": url}}}})
        .to_string(),
    );
    sandbox.env("CM_NO_BROWSER", "1");
    let mut seen = Transcript::default();
    let login = seen.keep(pkce_login(&sandbox, &server));
    login.expect_code(0);
    assert!(
        login.stderr.contains("as client mock-client-1"),
        "{}",
        login.stderr
    );
    let register = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth/register")
        .expect("a registration");
    assert_eq!(register.body["token_endpoint_auth_method"], "none");
    assert_eq!(register.body["client_name"], "cm");

    // Expire the token: the run refreshes it as the registered client.
    let path = sandbox.root().join("data/cm/auth.json");
    let mut stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("auth.json")).expect("JSON");
    assert_eq!(stored["providers"]["acme"]["client_id"], "mock-client-1");
    stored["providers"]["acme"]["expires_at"] = json!(now_ms().saturating_sub(1_000));
    std::fs::write(&path, stored.to_string()).expect("rewrite auth.json");
    let run = seen.keep(sandbox.cm(&["run", "--model", "acme/m1", "hi"]));
    run.expect_code(0);
    assert!(
        run.stdout.contains("Registered client refreshed."),
        "{}",
        run.stdout
    );
    let requests = server.requests();
    let refresh = requests
        .iter()
        .find(|r| r.path == "/oauth/token" && r.body["grant_type"] == "refresh_token")
        .expect("a refresh");
    assert_eq!(refresh.body["client_id"], "mock-client-1");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("auth.json")).expect("JSON");
    assert_eq!(
        stored["providers"]["acme"]["client_id"], "mock-client-1",
        "kept when the renewed token is written back"
    );

    let logout = seen.keep(sandbox.cm(&["auth", "logout", "acme"]));
    logout.expect_code(0);
    let revoke = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth/revoke")
        .expect("a revocation");
    assert_eq!(revoke.body["client_id"], "mock-client-1");
    assert_expectations_met(&server);
    seen.assert_no_secret();
}

#[test]
fn cm_serve_renews_a_refused_token_and_retries_the_turn_s_request() {
    let server = mock(
        json!([
            {"expect": bearer("seeded-at"), "fault": {"status": 401}},
            {"expect": bearer("mock-at-1"), "text": "Served with the new token."},
            {"expect": bearer("mock-at-1"), "text": "And again."}
        ]),
        OAuthScript {
            refresh_tokens: vec!["seeded-rt".into()],
            ..OAuthScript::default()
        },
    );
    let mut sandbox = acme_sandbox(&server);
    sandbox.env("CM_LOG", "debug");
    seed(&sandbox, "seeded-at", "seeded-rt", now_ms() + 3_600_000);
    let cm = common::http::Server::start(&sandbox, &[]);
    let created = cm.request("POST", "/sessions", Some(&json!({"model": "acme/m1"})));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().expect("id").to_string();
    let turn = |text: &str| {
        let done = cm.request(
            "POST",
            &format!("/sessions/{id}/messages?wait=true"),
            Some(&json!({ "text": text })),
        );
        assert_eq!(done.status, 200, "{}", done.body);
        done.json()
    };
    let first = turn("hi");
    assert_eq!(first["end"], "completed", "{first}");
    assert_eq!(first["text"], "Served with the new token.");
    let second = turn("again");
    assert_eq!(second["text"], "And again.", "{second}");

    assert_expectations_met(&server);
    assert_eq!(
        paths(&server),
        [
            WELL_KNOWN,
            "/v1/chat/completions",
            "/oauth/token",
            "/v1/chat/completions",
            "/v1/chat/completions"
        ],
        "one renewal after the 401, unseen by the turn, and the renewed token kept"
    );
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(sandbox.root().join("data/cm/auth.json")).expect("auth.json"),
    )
    .expect("JSON");
    assert_eq!(stored["providers"]["acme"]["access"], "mock-at-1");

    // The debug log shows each exchange as the turn saw it (the retry's answer); nothing
    // anywhere has a token.
    let mut seen = Transcript::default();
    let mut files = sandbox.session_files();
    files_under(&sandbox.root().join("state"), &mut files);
    let logs: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .collect();
    let debug = logs
        .iter()
        .find(|text| text.contains(" request POST "))
        .expect("a debug log of the exchanges");
    assert!(debug.contains("http 1 response 200"), "{debug}");
    assert!(debug.contains("http 2 response 200"), "{debug}");
    assert!(!debug.contains("response 401"), "{debug}");
    seen.0.extend(logs);
    seen.0.push(cm.stderr());
    seen.assert_no_secret();
}

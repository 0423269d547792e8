//! `cm status` end to end: what it reports (JSON shape, config errors with positions,
//! masked credentials from env and store), that no key ever appears in its output, and
//! `--check` against cm-mock's model list and a provider that is down.

mod common;

use std::net::TcpListener;

use cm_mock::{MockServer, Script};
use common::Sandbox;
use serde_json::{json, Value};

const ENV_KEY: &str = "sk-ant-api03-EnvSecret0123456789abcdWXYZ";
const STORED_KEY: &str = "sk-proj-StoredSecret0123456789abcdQRST";

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{stdout}"))
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[test]
fn status_reports_files_credentials_model_dirs_and_sessions_without_any_key() {
    let mut sandbox = Sandbox::new("status");
    sandbox.env("ANTHROPIC_API_KEY", ENV_KEY);
    sandbox
        .cm_with_stdin(&["auth", "login", "openai"], &format!("{STORED_KEY}\n"))
        .expect_code(0);
    sandbox.global_config(r#"{"model": "openai/gpt-5"}"#);
    sandbox.write("cm.json", "{\n  \"model\": 5\n}");

    let run = sandbox.cm(&["status", "--json"]);
    run.expect_code(0);
    let value = json(&run.stdout);
    assert_eq!(value["version"], env!("CARGO_PKG_VERSION"));
    let files = value["config_files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["exists"], true);
    assert_eq!(files[0]["error"], Value::Null);
    let error = files[1]["error"]
        .as_str()
        .expect("the project file's error");
    assert!(error.contains("cm.json:2:12: expected a string"), "{error}");
    assert_eq!(value["default_model"], "openai/gpt-5");
    let providers = value["providers"].as_array().expect("providers");
    let anthropic = providers
        .iter()
        .find(|p| p["id"] == "anthropic")
        .expect("anthropic listed");
    assert_eq!(anthropic["source"], "env ANTHROPIC_API_KEY");
    assert_eq!(anthropic["key"], "sk-a…WXYZ");
    let openai = providers
        .iter()
        .find(|p| p["id"] == "openai")
        .expect("openai listed");
    assert_eq!(
        (&openai["source"], &openai["key"]),
        (&json!("store"), &json!("sk-p…QRST"))
    );
    assert_eq!(value["sessions"], 0);
    assert!(value["directories"]["data"]
        .as_str()
        .expect("data dir")
        .ends_with("data/cm"));
    assert!(value["catalog"]
        .as_str()
        .expect("catalog")
        .starts_with("models-dev"));
    assert_eq!(value["checks"], Value::Null);

    let text = sandbox.cm(&["status"]);
    text.expect_code(0);
    assert!(text.stdout.contains("error: "), "{}", text.stdout);
    assert!(text.stdout.contains("sk-a…WXYZ"), "{}", text.stdout);
    for run in [&run, &text] {
        for key in [ENV_KEY, STORED_KEY] {
            assert!(!run.stdout.contains(key) && !run.stderr.contains(key));
            assert!(!run.stdout.contains(&key[4..key.len() - 4]));
        }
    }
}

#[test]
fn check_asks_each_provider_for_its_models_and_fails_when_one_is_down() {
    let server = MockServer::start(Script::from_value(json!([])).expect("valid script"));
    let mut sandbox = Sandbox::new("status-check");
    sandbox.anthropic_at(&server.url());
    sandbox.env("ANTHROPIC_API_KEY", ENV_KEY);

    let ok = sandbox.cm(&["status", "--check", "--json"]);
    ok.expect_code(0);
    let value = json(&ok.stdout);
    let checks = value["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["provider"], "anthropic");
    assert_eq!(checks[0]["ok"], true);
    assert_eq!(checks[0]["models"], 3);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/v1/models")
    );

    // A second provider whose server is down: reported with the reason, exit 1.
    sandbox.env("MISTRAL_API_KEY", "mistral-key-0123456789");
    sandbox.global_config(&format!(
        r#"{{"provider": {{"mistral": {{"base_url": "http://127.0.0.1:{}/v1"}}}}}}"#,
        closed_port()
    ));
    let failed = sandbox.cm(&["status", "--check"]);
    failed.expect_code(1);
    assert!(
        failed.stdout.contains("anthropic  ok (3 models"),
        "{}",
        failed.stdout
    );
    assert!(
        failed.stdout.contains("mistral  FAILED: connection failed"),
        "{}",
        failed.stdout
    );
    for key in [ENV_KEY, "mistral-key-0123456789"] {
        assert!(!failed.stdout.contains(key) && !failed.stderr.contains(key));
    }
}

#[test]
fn check_reports_a_rejected_key_with_the_providers_reason() {
    // A listener that answers 401 like Anthropic does.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let answer = std::thread::spawn(move || {
        use std::io::{Read, Write};
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    let mut sandbox = Sandbox::new("status-401");
    sandbox.env("ANTHROPIC_BASE_URL", &url);
    sandbox.env("ANTHROPIC_API_KEY", ENV_KEY);
    let run = sandbox.cm(&["status", "--check", "--json"]);
    run.expect_code(1);
    let value = json(&run.stdout);
    let check = &value["checks"][0];
    assert_eq!(check["ok"], false);
    let error = check["error"].as_str().expect("error");
    assert!(
        error.contains("401") && error.contains("invalid x-api-key"),
        "{error}"
    );
    let _ = answer.join();
}

#[test]
fn check_readies_a_copilot_login_like_run_does_and_prints_no_token() {
    let server = cm_mock::MockServer::start_with(cm_mock::Config {
        script: Script::from_value(json!([])).expect("valid script"),
        oauth: cm_mock::OAuthScript {
            github_tokens: vec!["seeded-gh-token".into()],
            ..cm_mock::OAuthScript::default()
        },
        ..cm_mock::Config::default()
    })
    .expect("start cm-mock");
    let sandbox = Sandbox::new("status-copilot");
    sandbox.global_config(
        &json!({"provider": {"github-copilot": {"oauth": {
            "client_id": "cm-test-client",
            "exchange_url": format!("{}/copilot_internal/v2/token", server.url()),
        }}}})
        .to_string(),
    );
    let dir = sandbox.root().join("data/cm");
    std::fs::create_dir_all(&dir).expect("data dir");
    let store = json!({"version": 1, "providers": {"github-copilot": {
        "type": "oauth", "access": "seeded-gh-token"}}});
    std::fs::write(dir.join("auth.json"), store.to_string()).expect("seed auth.json");

    let run = sandbox.cm(&["status", "--check", "--json"]);
    run.expect_code(0);
    let value = json(&run.stdout);
    let check = &value["checks"][0];
    assert_eq!(check["provider"], "github-copilot");
    assert_eq!(check["ok"], true, "{check}");
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths.first().map(String::as_str),
        Some("/copilot_internal/v2/token")
    );
    assert!(
        paths.last().is_some_and(|p| p.ends_with("/models")),
        "{paths:?}"
    );
    for secret in ["seeded-gh-token", "mock-copilot-", "tid=mock"] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} leaked"
        );
    }
}

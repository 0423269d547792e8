//! The server itself: keep-alive, expectations, the request log, the side endpoints, and
//! the binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cm_mock::{Config, LoggedRequest, MockServer, Script};
use cm_proto::message::Message;
use cm_proto::provider::WireFormat;
use common::{assemble, cm_request, get, post, send, Client};
use serde_json::json;

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let script =
        Script::from_value(json!([{"text": "one"}, {"text": "two"}, {"text": "three"}])).unwrap();
    let mut server = MockServer::start(script);
    let mut client = Client::connect(&server);
    let streamed = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    let first = client.send(&streamed).expect("first");
    assert!(first.reusable, "a chunked stream keeps the connection");
    assert_eq!(
        assemble(WireFormat::Anthropic, &first).message.text(),
        "one"
    );
    let whole = cm_request(
        &server,
        WireFormat::OpenaiChat,
        vec![Message::user("hi")],
        false,
    );
    let second = client.send(&whole).expect("second on the same connection");
    assert!(second.reusable);
    assert_eq!(
        assemble(WireFormat::OpenaiChat, &second).message.text(),
        "two"
    );
    let third = client
        .send(&streamed)
        .expect("third on the same connection");
    assert_eq!(
        assemble(WireFormat::Anthropic, &third).message.text(),
        "three"
    );
    server.shutdown();
}

#[test]
fn connection_close_is_honoured() {
    let script = Script::from_value(json!([{"text": "bye"}])).unwrap();
    let server = MockServer::start(script);
    let mut request = cm_request(
        &server,
        WireFormat::OpenaiChat,
        vec![Message::user("hi")],
        false,
    );
    request.headers.push("Connection", "close");
    let response = send(&server, &request);
    assert_eq!(response.head.headers.get("connection"), Some("close"));
    assert!(!response.reusable);
}

#[test]
fn passing_expectations_answer_normally() {
    let script = Script::from_value(json!([{
        "expect": [
            {"contains": "\"stream\":true", "path": "/v1/messages"},
            {"header": {"name": "anthropic-version", "value": "2023-06-01"}},
            {"header": {"name": "x-api-key"}, "json": {"pointer": "/model", "equals": "test-model"}},
            {"not_contains": "tool_result"},
        ],
        "text": "all good",
    }]))
    .unwrap();
    let server = MockServer::start(script);
    let response = send(
        &server,
        &cm_request(
            &server,
            WireFormat::Anthropic,
            vec![Message::user("hi")],
            true,
        ),
    );
    assert_eq!(
        assemble(WireFormat::Anthropic, &response).message.text(),
        "all good"
    );
    assert_eq!(server.requests()[0].expectation_failed, None);
}

#[test]
fn a_failed_expectation_is_a_400_naming_it_and_is_logged() {
    let script = Script::from_value(json!([
        {"expect": {"tool_result_contains": "42 passed"}, "text": "unreachable"},
        {"expect": {"path": "/v1/responses"}, "text": "unreachable"},
        {"expect": {"header": {"name": "x-custom"}}, "text": "unreachable"},
    ]))
    .unwrap();
    let server = MockServer::start(script);
    for format in [
        WireFormat::Anthropic,
        WireFormat::OpenaiChat,
        WireFormat::OpenaiChat,
    ] {
        let response = send(
            &server,
            &cm_request(&server, format, vec![Message::user("hi")], true),
        );
        assert_eq!(response.head.status, 400);
        let error = format.classify_error(400, &response.head.headers, &response.body);
        assert!(
            error.message.contains("expectation failed"),
            "{}",
            error.message
        );
        assert!(!error.retryable);
    }
    let log = server.requests();
    let failures: Vec<&str> = log
        .iter()
        .map(|r| r.expectation_failed.as_deref().unwrap())
        .collect();
    assert!(
        failures[0].starts_with("tool_result_contains \"42 passed\""),
        "{}",
        failures[0]
    );
    assert!(
        failures[1].contains("/v1/chat/completions"),
        "{}",
        failures[1]
    );
    assert!(
        failures[2].starts_with("header \"x-custom\""),
        "{}",
        failures[2]
    );
    assert!(log.iter().all(|r| r.status == 400));
}

#[test]
fn the_log_records_each_request_with_credentials_redacted() {
    let dir = std::env::temp_dir().join(format!("cm-mock-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("requests.jsonl");
    let _ = std::fs::remove_file(&log_path);
    let mut server = MockServer::start_with(Config {
        script: Script::from_value(json!([{"text": "a"}, {"text": "b"}])).unwrap(),
        log_path: Some(log_path.clone()),
        ..Config::default()
    })
    .unwrap();
    send(
        &server,
        &cm_request(
            &server,
            WireFormat::Anthropic,
            vec![Message::user("first")],
            true,
        ),
    );
    send(
        &server,
        &cm_request(
            &server,
            WireFormat::OpenaiResponses,
            vec![Message::user("second")],
            false,
        ),
    );
    send(&server, &get(&server, "/health"));
    server.shutdown();

    let log = server.requests();
    assert_eq!(log.len(), 3);
    let anthropic = &log[0];
    assert_eq!(
        (anthropic.method.as_str(), anthropic.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(anthropic.format.as_deref(), Some("anthropic"));
    assert!(anthropic.stream);
    assert_eq!(anthropic.turn, Some(0));
    assert_eq!(anthropic.status, 200);
    assert_eq!(anthropic.header("X-Api-Key"), Some("sk-t…"));
    assert_eq!(anthropic.body["messages"][0]["content"][0]["text"], "first");
    let responses = &log[1];
    assert_eq!(responses.path, "/v1/responses");
    assert_eq!(responses.header("authorization"), Some("Bearer sk-t…"));
    assert!(!responses.stream);
    assert_eq!(responses.turn, Some(1));
    assert_eq!((log[2].turn, log[2].status), (None, 200));

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !text.contains("secret"),
        "no credential reaches the log file"
    );
    let from_file: Vec<LoggedRequest> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_file, log);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn health_models_and_unknown_paths() {
    let script = Script::from_value(json!([{"text": "x"}, {"text": "y"}])).unwrap();
    let server = MockServer::start(script);
    let health = send(&server, &get(&server, "/health"));
    assert_eq!(
        health.json(),
        json!({"status": "ok", "turns_served": 0, "turns_left": 2})
    );
    let models = send(&server, &get(&server, "/v1/models")).json();
    assert!(models["data"].as_array().unwrap().len() >= 2);
    assert_eq!(models["data"][0]["object"], "model");
    let missing = send(&server, &post(&server, "/v1/embeddings", &json!({})));
    assert_eq!(missing.head.status, 404);
    let wrong_method = send(&server, &get(&server, "/v1/messages"));
    assert_eq!(wrong_method.head.status, 405);
    assert_eq!(server.turns_left(), 2, "side endpoints take no turn");
}

#[test]
fn base_urls_with_or_without_v1_reach_the_same_endpoints() {
    let script = Script::from_value(json!([{"text": "compat"}])).unwrap();
    let server = MockServer::start(script);
    let response = send(
        &server,
        &post(
            &server,
            "/chat/completions",
            &json!({"model": "m", "messages": []}),
        ),
    );
    assert_eq!(
        assemble(WireFormat::OpenaiChat, &response).message.text(),
        "compat"
    );
}

#[test]
fn malformed_requests_get_an_http_error() {
    let script = Script::from_value(json!([{"text": "x"}])).unwrap();
    let server = MockServer::start(script);
    // cm's client codec cannot produce a malformed request, so write the bytes by hand.
    use std::io::{Read, Write};
    let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
    raw.write_all(b"GARBAGE\r\n\r\n").unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(server.turns_left(), 1);
}

#[test]
fn the_binary_prints_its_address_and_serves_the_script() {
    let dir = std::env::temp_dir().join(format!("cm-mock-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script_path = dir.join("script.json");
    std::fs::write(&script_path, r#"[{"text": "from the binary"}]"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cm-mock"))
        .args([
            "--script",
            script_path.to_str().unwrap(),
            "--port",
            "0",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let url = first_line
        .trim()
        .strip_prefix("cm-mock listening on http://127.0.0.1:")
        .map(|port| port.parse::<u16>().expect("a port"));
    let result = std::panic::catch_unwind(|| {
        let port = url.expect("the first line names the address");
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let body = br#"{"model":"m","messages":[],"stream":false}"#;
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        use std::io::{Read, Write};
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.contains("from the binary"), "{answer}");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(result.is_ok(), "first line was {first_line:?}");
}

#[test]
fn bad_scripts_stop_the_binary_with_a_message() {
    let dir = std::env::temp_dir().join(format!("cm-mock-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script_path = dir.join("script.json");
    std::fs::write(
        &script_path,
        r#"[{"replay": "anthropic/does-not-exist.txt"}]"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_cm-mock"))
        .args(["--script", script_path.to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("turn 0: replay"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn the_readme_example_script_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let after = readme
        .split_once("An example with every feature:\n\n```json\n")
        .expect("the example is in the README")
        .1;
    let example = after.split_once("\n```").unwrap().0;
    let script = Script::from_json(example).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(script.len(), 15, "14 turns, one of them repeated");
}

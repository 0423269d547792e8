//! `cm serve` end to end: the real binary with `--port 0`, cm-mock as the model, and a
//! plain TCP HTTP client. Turns, events, permissions, aborts, and every refusal a hostile
//! or broken client can provoke.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use cm_mock::{MockServer, Script};
use common::http::{read_to_close, Event, Response, Server};
use common::Sandbox;
use serde_json::{json, Value};

const MODEL: &str = "anthropic/claude-sonnet-4-5";

fn mock(turns: Value) -> MockServer {
    MockServer::start(Script::from_value(turns).expect("valid script"))
}

fn sandbox(label: &str, server: &MockServer) -> Sandbox {
    let mut sandbox = Sandbox::new(label);
    sandbox.anthropic_at(&server.url());
    let ceiling = sandbox.root().display().to_string();
    sandbox.env("GIT_CEILING_DIRECTORIES", &ceiling);
    sandbox
}

fn call(id: &str, name: &str, arguments: Value) -> Value {
    json!({"id": id, "name": name, "arguments": arguments})
}

fn new_session(server: &Server) -> String {
    let created = server.request("POST", "/sessions", Some(&json!({"model": MODEL})));
    assert_eq!(created.status, 201, "{}", created.body);
    created.json()["id"].as_str().expect("id").to_string()
}

/// Polls `done` for up to 20 s.
fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

#[test]
fn a_turn_with_a_tool_call_is_seen_over_sse_and_answered_with_its_text() {
    let model = mock(json!([
        {"tool_calls": [call("r1", "read", json!({"path": "poem.txt"}))]},
        {"expect": {"tool_result_contains": "roses"}, "text": "It is about roses."}
    ]));
    let sandbox = sandbox("serve-turn", &model);
    sandbox.write("poem.txt", "roses are red\n");
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let mut events = server.events(&format!("/sessions/{id}/events"), None);
    assert!(events.head.contains("Content-Type: text/event-stream"));

    let done = server.request(
        "POST",
        &format!("/sessions/{id}/messages?wait=true"),
        Some(&json!({"text": "what is poem.txt about?"})),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let done = done.json();
    assert_eq!(done["text"], "It is about roses.");
    assert_eq!(done["end"], "completed");
    assert_eq!(done["message"]["role"], "assistant");

    let seen = events.until("turn_done");
    let order = names(&seen);
    for expected in [
        "turn_started",
        "tool_call_started",
        "tool_running",
        "tool_done",
        "text_delta",
        "usage",
        "turn_done",
    ] {
        assert!(
            order.contains(&expected),
            "{expected} missing from {order:?}"
        );
    }
    let position = |name: &str| order.iter().position(|n| *n == name).unwrap();
    assert!(position("tool_done") < position("text_delta"));
    let tool_done = &seen[position("tool_done")];
    assert_eq!(tool_done.data["name"], "read");
    assert_eq!(tool_done.data["is_error"], false);
    assert!(seen.iter().all(|e| e.data["session"] == id.as_str()));
    let ids: Vec<u64> = seen.iter().map(|e| e.id.expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    let messages = server.get(&format!("/sessions/{id}/messages")).json();
    assert_eq!(messages.as_array().map(Vec::len), Some(4), "{messages}");
    let session = server.get(&format!("/sessions/{id}")).json();
    assert_eq!(
        (session["turns"].as_u64(), session["busy"].as_bool()),
        (Some(1), Some(false))
    );
    let listed = server.get("/sessions").json();
    assert_eq!(listed[0]["id"], id.as_str());
}

#[test]
fn several_sessions_run_their_turns_at_once() {
    let model = mock(json!([
        {"text": "hello", "fault": {"delay_before_first_byte_ms": 1000}, "repeat": 3}
    ]));
    let sandbox = sandbox("serve-many", &model);
    let server = Server::start(&sandbox, &[]);
    let ids: Vec<String> = (0..3).map(|_| new_session(&server)).collect();
    let mut events = server.events("/events", None);
    let started = Instant::now();
    for id in &ids {
        let accepted = server.request(
            "POST",
            &format!("/sessions/{id}/messages"),
            Some(&json!({"text": "hi"})),
        );
        assert_eq!(accepted.status, 202, "{}", accepted.body);
        assert_eq!(accepted.json()["session"], id.as_str());
    }
    let mut finished = Vec::new();
    while finished.len() < 3 {
        let event = events.next();
        if event.name == "turn_done" {
            assert_eq!(event.data["end"], "completed", "{}", event.data);
            assert_eq!(event.data["text"], "hello");
            finished.push(event.data["session"].as_str().unwrap().to_string());
        }
    }
    finished.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(finished, expected);
    // One after another they would take at least 1.2 s of model delay.
    assert!(
        started.elapsed() < Duration::from_millis(1150),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn eight_sessions_stream_their_answers_at_the_same_time() {
    // Each answer trickles out for well over a second.
    let slow = json!({"trickle": {"bytes": 16, "interval_ms": 40}});
    let model = mock(json!([{"text": "a slow and steady answer", "fault": slow, "repeat": 8}]));
    let sandbox = sandbox("serve-eight", &model);
    let server = Server::start(&sandbox, &[]);
    let ids: Vec<String> = (0..8).map(|_| new_session(&server)).collect();
    let mut events = server.events("/events", None);
    for id in &ids {
        let accepted = server.request(
            "POST",
            &format!("/sessions/{id}/messages"),
            Some(&json!({"text": "hi"})),
        );
        assert_eq!(accepted.status, 202, "{}", accepted.body);
    }
    let mut finished = Vec::new();
    let mut requested_before_first_end = None;
    while finished.len() < ids.len() {
        let event = events.next();
        if event.name == "turn_done" {
            requested_before_first_end.get_or_insert_with(|| model.requests().len());
            assert_eq!(event.data["end"], "completed", "{}", event.data);
            assert_eq!(event.data["text"], "a slow and steady answer");
            finished.push(event.data["session"].as_str().unwrap().to_string());
        }
    }
    // One after another, the first turn would end before the second request was sent.
    assert_eq!(
        requested_before_first_end,
        Some(ids.len()),
        "every session's request reached the model before any answer ended"
    );
    finished.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(finished, expected);
}

#[test]
fn a_permission_question_waits_for_its_answer() {
    let model = mock(json!([
        {"tool_calls": [call("w1", "write", json!({"path": "new.txt", "content": "made\n"}))]},
        {"text": "written"},
        {"tool_calls": [call("w2", "write", json!({"path": "other.txt", "content": "no\n"}))]},
        {"expect": {"tool_result_contains": "not today"}, "text": "ok, not written"}
    ]));
    let sandbox = sandbox("serve-permission", &model);
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let mut events = server.events(&format!("/sessions/{id}/events"), None);

    let post = |text: &str| {
        let accepted = server.request(
            "POST",
            &format!("/sessions/{id}/messages"),
            Some(&json!({ "text": text })),
        );
        assert_eq!(accepted.status, 202, "{}", accepted.body);
    };
    post("write new.txt");
    let asked = events.until("permission_asked").pop().unwrap();
    assert_eq!(asked.data["question"]["permission"], "edit");
    let ask = asked.data["id"].as_u64().expect("ask id");
    assert!(
        !sandbox.project.join("new.txt").exists(),
        "not before the answer"
    );
    let session = server.get(&format!("/sessions/{id}")).json();
    assert_eq!(session["pending_asks"], json!([ask]));
    let busy = server.request(
        "POST",
        &format!("/sessions/{id}/messages"),
        Some(&json!({"text": "again"})),
    );
    assert_eq!(busy.status, 409);

    let unknown = server.request(
        "POST",
        &format!("/sessions/{id}/permissions/{}", ask + 100),
        Some(&json!({"answer": "once"})),
    );
    assert_eq!(unknown.status, 404);
    let bad = server.request(
        "POST",
        &format!("/sessions/{id}/permissions/{ask}"),
        Some(&json!({"answer": "sure"})),
    );
    assert_eq!(bad.status, 400);
    let answered = server.request(
        "POST",
        &format!("/sessions/{id}/permissions/{ask}"),
        Some(&json!({"answer": "once"})),
    );
    assert_eq!(answered.status, 200, "{}", answered.body);
    let rest = events.until("turn_done");
    assert!(names(&rest).contains(&"permission_answered"));
    assert_eq!(rest.last().unwrap().data["text"], "written");
    assert_eq!(sandbox.read("new.txt"), "made\n");

    post("write other.txt");
    let asked = events.until("permission_asked").pop().unwrap();
    let ask = asked.data["id"].as_u64().expect("ask id");
    let denied = server.request(
        "POST",
        &format!("/sessions/{id}/permissions/{ask}"),
        Some(&json!({"answer": "deny", "message": "not today"})),
    );
    assert_eq!(denied.status, 200);
    let rest = events.until("turn_done");
    assert_eq!(rest.last().unwrap().data["text"], "ok, not written");
    assert!(!sandbox.project.join("other.txt").exists());
}

#[test]
fn abort_stops_a_running_turn_and_keeps_the_session() {
    let model = mock(json!([
        {"text": "never", "fault": {"stall": true}},
        {"text": "after the abort"}
    ]));
    let sandbox = sandbox("serve-abort", &model);
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let idle = server.request("POST", &format!("/sessions/{id}/abort"), None);
    assert_eq!(idle.status, 409);
    let mut events = server.events(&format!("/sessions/{id}/events"), None);
    let accepted = server.request(
        "POST",
        &format!("/sessions/{id}/messages"),
        Some(&json!({"text": "take forever"})),
    );
    let turn = accepted.json()["id"].as_str().unwrap().to_string();
    events.until("step_start");
    // The stalled answer is the first scripted turn: abort only once it is being served.
    wait_for(|| !model.requests().is_empty());
    let aborted = server.request("POST", &format!("/sessions/{id}/abort"), None);
    assert_eq!(aborted.status, 202, "{}", aborted.body);
    assert_eq!(aborted.json()["id"], turn.as_str());
    let done = events.until("turn_done").pop().unwrap();
    assert_eq!(done.data["end"], "aborted");
    assert_eq!(done.data["turn"], turn.as_str());

    let again = server.request(
        "POST",
        &format!("/sessions/{id}/messages?wait=true"),
        Some(&json!({"text": "go on"})),
    );
    assert_eq!(again.json()["text"], "after the abort");
}

#[test]
fn an_abort_sent_as_the_turn_starts_is_not_lost() {
    let model = mock(json!([{"text": "never", "fault": {"stall": true}}]));
    let sandbox = sandbox("serve-abort-early", &model);
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let mut events = server.events(&format!("/sessions/{id}/events"), None);
    let accepted = server.request(
        "POST",
        &format!("/sessions/{id}/messages"),
        Some(&json!({"text": "take forever"})),
    );
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let aborted = server.request("POST", &format!("/sessions/{id}/abort"), None);
    assert_eq!(aborted.status, 202, "{}", aborted.body);
    let done = events.until("turn_done").pop().unwrap();
    assert_eq!(done.data["end"], "aborted", "{}", done.data);
}

#[test]
fn the_token_is_required_except_for_health() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-auth", &model);
    let server = Server::start(&sandbox, &[]);
    assert_eq!(server.token.len(), 64, "a random token in the token file");
    let health = server.send("GET", "/health", "", b"");
    assert_eq!(
        (health.status, health.json()["ok"].as_bool()),
        (200, Some(true))
    );
    for path in ["/sessions", "/events", "/models", "/openapi.json"] {
        let refused = server.send("GET", path, "", b"");
        assert_eq!(refused.status, 401, "{path}");
        assert_eq!(
            refused.header("WWW-Authenticate").as_deref(),
            Some("Bearer")
        );
    }
    let wrong = server.send(
        "GET",
        "/sessions",
        "Authorization: Bearer nope-nope-nope\r\n",
        b"",
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(server.get("/sessions").status, 200);
    assert!(
        !server.stderr().contains(&server.token),
        "the token is never printed"
    );
    let models = server.get("/models").json();
    assert!(models["models"].as_array().is_some_and(|m| !m.is_empty()));
}

#[test]
fn a_foreign_host_or_origin_is_refused() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-host", &model);
    sandbox
        .global_config(r#"{"server": {"cors": ["http://localhost:5173"], "hosts": ["cm.test"]}}"#);
    let server = Server::start(&sandbox, &[]);
    let auth = format!("Authorization: Bearer {}\r\n", server.token);
    let request = |host: &str, origin: Option<&str>| {
        let origin = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        let bytes = format!(
            "GET /sessions HTTP/1.1\r\nHost: {host}\r\n{auth}{origin}Connection: close\r\n\r\n"
        );
        Response::parse(&server.raw(bytes.as_bytes(), Duration::from_secs(10))).expect("answer")
    };
    let rebinding = request(&format!("evil.example:{}", server.port), None);
    assert_eq!(rebinding.status, 403);
    assert!(rebinding.json()["error"]
        .as_str()
        .unwrap()
        .contains("server.hosts"));
    assert_eq!(request("127.0.0.1:1", None).status, 403, "another port");
    assert_eq!(
        request(&format!("localhost:{}", server.port), None).status,
        200
    );
    assert_eq!(request("cm.test", None).status, 200, "a configured name");

    let host = server.host();
    let foreign = request(&host, Some("http://evil.example"));
    assert_eq!(foreign.status, 403);
    assert!(foreign.json()["error"]
        .as_str()
        .unwrap()
        .contains("server.cors"));
    let allowed = request(&host, Some("http://localhost:5173"));
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("Access-Control-Allow-Origin").as_deref(),
        Some("http://localhost:5173")
    );
    let preflight = server.raw(
        format!(
            "OPTIONS /sessions HTTP/1.1\r\nHost: {host}\r\nOrigin: http://localhost:5173\r\n\
             Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
        Duration::from_secs(10),
    );
    let preflight = Response::parse(&preflight).unwrap();
    assert_eq!(preflight.status, 204);
    assert!(preflight
        .header("Access-Control-Allow-Headers")
        .unwrap()
        .contains("Authorization"));
}

#[test]
fn an_oversized_body_is_refused_from_its_length() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-413", &model);
    let server = Server::start(&sandbox, &[]);
    let head = format!(
        "POST /sessions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 20000000\r\n\r\n",
        server.host(),
        server.token
    );
    // Only the head is sent: the answer comes without the body being read.
    let answer = server.raw(head.as_bytes(), Duration::from_secs(10));
    let response = Response::parse(&answer).expect("answer");
    assert_eq!(response.status, 413);
    assert_eq!(response.header("Connection").as_deref(), Some("close"));

    let expecting = format!(
        "POST /sessions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Expect: 100-continue\r\nContent-Length: 20000000\r\n\r\n",
        server.host(),
        server.token
    );
    let answer = server.raw(expecting.as_bytes(), Duration::from_secs(10));
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(!text.contains("100 Continue"));

    // A client that sends anyway is drained a little, then cut off; the server lives on.
    let mut stream = server.connect();
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let started = Instant::now();
    while stream.write_all(&chunk).is_ok() && started.elapsed() < Duration::from_secs(10) {}
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the connection was closed"
    );
    assert_eq!(server.send("GET", "/health", "", b"").status, 200);

    // Just under the limit with Expect: 100-continue gets the interim answer.
    let mut stream = server.connect();
    let small = format!(
        "POST /sessions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Expect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n",
        server.host(),
        server.token
    );
    stream.write_all(small.as_bytes()).unwrap();
    let mut first = [0u8; 25];
    std::io::Read::read_exact(&mut stream, &mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"{}").unwrap();
    let rest = Response::parse(&read_to_close(&mut stream, Duration::from_secs(20))).unwrap();
    assert_eq!(rest.status, 201, "{}", rest.body);
}

#[test]
fn malformed_requests_and_json_get_400() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-400", &model);
    let server = Server::start(&sandbox, &[]);
    let garbage = server.raw(
        b"\x16\x03\x01\x02\x00garbage\r\n\r\n",
        Duration::from_secs(10),
    );
    assert_eq!(Response::parse(&garbage).map(|r| r.status), Some(400));
    let no_host = server.raw(b"GET /health HTTP/1.1\r\n\r\n", Duration::from_secs(10));
    assert_eq!(Response::parse(&no_host).map(|r| r.status), Some(400));
    let http2 = server.raw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Duration::from_secs(10));
    assert_eq!(Response::parse(&http2).map(|r| r.status), Some(505));

    let auth = format!("Authorization: Bearer {}\r\n", server.token);
    let broken = server.send("POST", "/sessions", &auth, b"{\"model\": ");
    assert_eq!(broken.status, 400);
    assert!(broken.json()["error"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    let unknown_field = server.send("POST", "/sessions", &auth, b"{\"modle\": \"x/y\"}");
    assert_eq!(unknown_field.status, 400);
    let id = new_session(&server);
    let no_text = server.send("POST", &format!("/sessions/{id}/messages"), &auth, b"{}");
    assert_eq!(no_text.status, 400);
    assert_eq!(server.get("/sessions/ses_doesnotexist").status, 404);
    assert_eq!(server.get("/sessions/..%2f..%2fetc").status, 404);
    assert_eq!(server.get("/nowhere").status, 404);
    let wrong_method = server.request("PUT", "/sessions", None);
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("Allow").as_deref(), Some("GET, POST"));
}

#[test]
fn huge_headers_get_431() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-431", &model);
    let server = Server::start(&sandbox, &[]);
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: {}\r\nX-Big: {}\r\n\r\n",
        server.host(),
        "a".repeat(64 * 1024)
    );
    let answer = server.raw(big.as_bytes(), Duration::from_secs(10));
    assert_eq!(Response::parse(&answer).map(|r| r.status), Some(431));
}

#[test]
fn a_slow_client_is_timed_out() {
    let model = mock(json!([]));
    let mut sandbox = sandbox("serve-slow", &model);
    sandbox.env("CM_SERVE_CLIENT_TIMEOUT_MS", "400");
    let server = Server::start(&sandbox, &[]);
    let mut stream = server.connect();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0")
        .unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut stream, Duration::from_secs(10));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(Response::parse(&answer).map(|r| r.status), Some(408));
    // An idle keep-alive connection is closed without a word.
    let mut idle = server.connect();
    let answer = read_to_close(&mut idle, Duration::from_secs(10));
    assert!(answer.is_empty());
}

#[test]
fn sigterm_aborts_turns_saves_them_removes_the_token_file_and_exits_0() {
    let model = mock(json!([{"text": "never", "fault": {"stall": true}}]));
    let sandbox = sandbox("serve-sigterm", &model);
    let server = Server::start(&sandbox, &[]);
    let token_file = server.token_file.clone();
    assert!(token_file.is_file());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let id = new_session(&server);
    let mut events = server.events("/events", None);
    server.request(
        "POST",
        &format!("/sessions/{id}/messages"),
        Some(&json!({"text": "wait forever"})),
    );
    events.until("step_start");
    assert_eq!(server.terminate(), Some(0));
    assert!(!token_file.exists(), "the token file is removed");
    let log = std::fs::read_to_string(sandbox.root().join(format!("data/cm/sessions/{id}.jsonl")))
        .unwrap();
    assert!(log.contains("\"aborted\""), "{log}");
}

#[test]
fn last_event_id_resumes_after_the_last_event_seen() {
    let model = mock(json!([{"text": "one two three"}]));
    let sandbox = sandbox("serve-resume", &model);
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let mut first = server.events("/events", None);
    server.request(
        "POST",
        &format!("/sessions/{id}/messages?wait=true"),
        Some(&json!({"text": "count"})),
    );
    let all = first.until("turn_done");
    assert!(all.len() >= 4, "{:?}", names(&all));
    let cut = all[1].id.unwrap();
    let mut resumed = server.events("/events", Some(cut));
    let again = resumed.until("turn_done");
    let expected: Vec<Option<u64>> = all[2..].iter().map(|e| e.id).collect();
    let got: Vec<Option<u64>> = again.iter().map(|e| e.id).collect();
    assert_eq!(got, expected);
    assert_eq!(again, all[2..].to_vec());
}

#[test]
fn a_client_that_leaves_mid_turn_does_not_stop_it() {
    let model =
        mock(json!([{"text": "finished anyway", "fault": {"delay_before_first_byte_ms": 300}}]));
    let sandbox = sandbox("serve-leave", &model);
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let mut events = server.events(&format!("/sessions/{id}/events"), None);
    let mut stream = server.connect();
    let body = "{\"text\": \"go\"}";
    let request = format!(
        "POST /sessions/{id}/messages?wait=true HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        server.host(),
        server.token,
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    drop(stream);
    let done = events.until("turn_done").pop().unwrap();
    assert_eq!(done.data["text"], "finished anyway");
    let messages = server.get(&format!("/sessions/{id}/messages")).json();
    assert_eq!(messages.as_array().map(Vec::len), Some(2));
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-pipeline", &model);
    let server = Server::start(&sandbox, &[]);
    let host = server.host();
    let pipelined = format!(
        "GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n\
         GET /sessions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\r\n\
         GET /nowhere HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.token, server.token
    );
    let answer = server.raw(pipelined.as_bytes(), Duration::from_secs(10));
    let text = String::from_utf8_lossy(&answer);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(at, _)| &text[at + 9..at + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{text}");
}

#[test]
fn a_second_server_on_the_same_data_cannot_take_a_busy_session() {
    let model = mock(json!([
        {"text": "slow", "fault": {"delay_before_first_byte_ms": 1500}},
    ]));
    let sandbox = sandbox("serve-two", &model);
    let first = Server::start(&sandbox, &[]);
    let second = Server::start(&sandbox, &[]);
    assert_ne!(first.port, second.port);
    let id = new_session(&first);
    let listed = second.get("/sessions").json();
    assert_eq!(listed[0]["id"], id.as_str(), "both see the same store");
    let taken = second.request(
        "POST",
        &format!("/sessions/{id}/messages"),
        Some(&json!({"text": "mine"})),
    );
    assert_eq!(taken.status, 409, "{}", taken.body);
    let deleted = second.request("DELETE", &format!("/sessions/{id}"), None);
    assert_eq!(deleted.status, 409, "{}", deleted.body);
    let removed = first.request("DELETE", &format!("/sessions/{id}"), None);
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert_eq!(first.get(&format!("/sessions/{id}")).status, 404);
}

#[test]
fn a_public_address_needs_an_explicit_token() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-public", &model);
    let run = sandbox.cm(&["serve", "--host", "0.0.0.0", "--port", "0"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--token"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn the_openapi_document_describes_the_routes() {
    let model = mock(json!([]));
    let sandbox = sandbox("serve-openapi", &model);
    let server = Server::start(&sandbox, &[]);
    let document = server.get("/openapi.json").json();
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/health",
        "/sessions",
        "/sessions/{id}",
        "/sessions/{id}/messages",
        "/sessions/{id}/abort",
        "/sessions/{id}/permissions/{ask_id}",
        "/events",
        "/sessions/{id}/events",
        "/models",
        "/openapi.json",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }
}

#[test]
fn event_streams_send_heartbeats_and_unknown_sessions_have_none() {
    let model = mock(json!([]));
    let mut sandbox = sandbox("serve-heartbeat", &model);
    sandbox.env("CM_SERVE_HEARTBEAT_MS", "100");
    let server = Server::start(&sandbox, &[]);
    let mut events = server.events("/events", None);
    let raw = events.raw_for(Duration::from_millis(450));
    assert!(raw.matches(": heartbeat\n\n").count() >= 2, "{raw:?}");
    assert_eq!(server.get("/sessions/ses_nothere/events").status, 404);
}

#[test]
fn connections_over_the_limit_are_refused_with_503() {
    let model = mock(json!([]));
    let mut sandbox = sandbox("serve-limit", &model);
    sandbox.env("CM_SERVE_MAX_CONNECTIONS", "2");
    sandbox.env("CM_SERVE_HEARTBEAT_MS", "50");
    let server = Server::start(&sandbox, &[]);
    let first = server.events("/events", None);
    let second = server.events("/events", None);
    let refused = server.send("GET", "/health", "", b"");
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("Retry-After").as_deref(), Some("1"));
    drop(first);
    drop(second);
    // The slots free up once the server notices, at its next heartbeat write.
    wait_for(|| server.send("GET", "/health", "", b"").status == 200);
}

#[test]
fn a_message_may_name_another_model_and_the_conversation_carries_over() {
    let model = mock(json!([
        {"expect": {"json": {"pointer": "/model", "equals": "claude-sonnet-4-5"}}, "text": "first"},
        {"expect": [
            {"json": {"pointer": "/model", "equals": "claude-haiku-4-5"}},
            {"contains": "first"}
         ], "text": "second"}
    ]));
    let sandbox = sandbox("serve-model", &model);
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let path = format!("/sessions/{id}/messages?wait=true");
    let first = server.request("POST", &path, Some(&json!({"text": "one"})));
    assert_eq!(first.json()["text"], "first", "{}", first.body);
    let second = server.request(
        "POST",
        &path,
        Some(&json!({"text": "two", "model": "anthropic/claude-haiku-4-5"})),
    );
    assert_eq!(second.json()["text"], "second", "{}", second.body);
    let unknown = server.request(
        "POST",
        &path,
        Some(&json!({"text": "three", "model": "nowhere/x"})),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}

#[test]
fn sigint_stops_too_and_the_next_server_continues_the_session() {
    let model = mock(json!([
        {"text": "first answer"},
        {"expect": {"contains": "first answer"}, "text": "second answer"}
    ]));
    let sandbox = sandbox("serve-restart", &model);
    let server = Server::start(&sandbox, &[]);
    let id = new_session(&server);
    let path = format!("/sessions/{id}/messages?wait=true");
    let first = server.request("POST", &path, Some(&json!({"text": "one"})));
    assert_eq!(first.json()["text"], "first answer");
    let token_file = server.token_file.clone();
    let pid = server.pid().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    assert_eq!(server.wait_exit(), Some(0));
    assert!(!token_file.exists());

    let again = Server::start(&sandbox, &[]);
    let second = again.request("POST", &path, Some(&json!({"text": "two"})));
    assert_eq!(second.json()["text"], "second answer", "{}", second.body);
    let messages = again.get(&format!("/sessions/{id}/messages")).json();
    assert_eq!(messages.as_array().map(Vec::len), Some(4));
}

//! cm-decode as a person runs it: recorded fixtures in, JSON lines out, exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/recorded"
);

fn cm_decode(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cm-decode"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cm-decode starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin)
        .expect("stdin accepts the input");
    child.wait_with_output().expect("cm-decode finishes")
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect()
}

#[test]
fn raw_anthropic_stream_ends_with_the_assembled_message() {
    let path = format!("{FIXTURES}/anthropic/tool_use_response.txt");
    let out = cm_decode(&["--format", "anthropic", &path], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines[0]["type"], "start");
    let last = lines.last().expect("at least one line");
    assert_eq!(last["type"], "message");
    assert_eq!(
        last["text"],
        "I'll check the current weather in Paris for you."
    );
    assert_eq!(last["tool_calls"][0]["name"], "get_weather");
    assert_eq!(
        last["tool_calls"][0]["arguments"],
        serde_json::json!({"location": "Paris"}),
        "arguments are parsed JSON"
    );
    assert_eq!(last["stop_reason"], "tool_use");
    assert_eq!(last["usage"]["output_tokens"], 65);
    assert_eq!(last["complete"], true);
    let deltas = lines
        .iter()
        .filter(|l| l["type"] == "tool_call_delta")
        .count();
    assert_eq!(deltas, 4, "argument fragments are printed as they arrive");
}

#[test]
fn payload_lines_from_stdin_with_chunks() {
    let path = format!("{FIXTURES}/openai-chat/azure-model-router.1.chunks.txt");
    let mut input = std::fs::read(path).expect("fixture exists");
    if !input.ends_with(b"\n") {
        input.push(b'\n');
    }
    input.extend_from_slice(b"[DONE]\n");
    let out = cm_decode(&["--format", "openai-chat", "--chunks", "-"], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = lines(&out).pop().expect("a final line");
    assert_eq!(last["type"], "message");
    assert_eq!(last["complete"], true);
    assert!(!last["text"].as_str().unwrap_or_default().is_empty());
}

#[test]
fn gemini_tool_call_with_its_signature() {
    let path = format!("{FIXTURES}/google/google-tool-call.chunks.txt");
    let out = cm_decode(&["--format", "gemini", "--chunks", &path], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines[0]["model"], "gemini-3-pro-preview");
    assert!(lines.iter().any(|l| l["type"] == "tool_call_signature"));
    let last = lines.last().expect("a final line");
    assert_eq!(last["type"], "message");
    assert_eq!(last["complete"], true);
    assert_eq!(last["tool_calls"][0]["name"], "weather");
    assert_eq!(
        last["tool_calls"][0]["arguments"],
        serde_json::json!({"location": "San Francisco"})
    );
    assert_eq!(last["stop_reason"], "tool_use");
    assert_eq!(
        last["usage"]["output_tokens"], 60,
        "candidates 15 + thoughts 45"
    );
}

#[test]
fn malformed_json_names_the_byte_offset() {
    let input = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"x\"}}\n\ndata: {bad json\n\n";
    let out = cm_decode(&["--format", "anthropic"], input);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("byte 74"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    let last = lines(&out)
        .pop()
        .expect("the partial message is still printed");
    assert_eq!(last["id"], "x");
}

#[test]
fn truncated_stream_exits_1() {
    let input =
        b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"x\"}}\n\n";
    let out = cm_decode(&["--format", "anthropic"], input);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without its terminal event"), "{stderr}");
}

#[test]
fn usage_errors_exit_2_and_name_the_choices() {
    let out = cm_decode(&["--format", "carrier-pigeon"], b"");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("openai-responses"), "{stderr}");
    let out = cm_decode(&[], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = cm_decode(&["--format", "anthropic", "/nonexistent/file"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_teaches_the_usage() {
    let out = cm_decode(&["--help"], b"");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--chunks") && help.contains("Exit codes"),
        "{help}"
    );
}

//! Checking a turn's expectations against the request it answers.

use cm_proto::http::Headers;
use serde_json::Value;

use crate::script::Expectation;

/// What an expectation sees of a request.
pub(crate) struct Seen<'a> {
    pub(crate) path: &'a str,
    pub(crate) headers: &'a Headers,
    pub(crate) raw_body: &'a [u8],
    pub(crate) json: Option<&'a Value>,
}

/// The first failed assertion, described so a test log says what was wrong.
pub(crate) fn first_failure(expectations: &[Expectation], seen: &Seen<'_>) -> Option<String> {
    expectations.iter().find_map(|e| check(e, seen))
}

fn check(e: &Expectation, seen: &Seen<'_>) -> Option<String> {
    let body = String::from_utf8_lossy(seen.raw_body);
    if let Some(needle) = &e.contains {
        if !body.contains(needle.as_str()) {
            return Some(format!(
                "contains {needle:?}: the request body does not contain it"
            ));
        }
    }
    if let Some(needle) = &e.not_contains {
        if body.contains(needle.as_str()) {
            return Some(format!(
                "not_contains {needle:?}: the request body contains it"
            ));
        }
    }
    if let Some(needle) = &e.tool_result_contains {
        let results = seen.json.map(tool_results).unwrap_or_default();
        if !results.iter().any(|r| r.contains(needle.as_str())) {
            return Some(format!(
                "tool_result_contains {needle:?}: none of the request's {} tool result(s) contains it",
                results.len()
            ));
        }
    }
    if let Some(header) = &e.header {
        match (seen.headers.get(&header.name), &header.value) {
            (None, _) => {
                return Some(format!(
                    "header {:?}: the request has no such header",
                    header.name
                ))
            }
            (Some(actual), Some(wanted)) if actual != wanted => {
                return Some(format!(
                    "header {:?}: expected {wanted:?}, got {actual:?}",
                    header.name
                ))
            }
            _ => {}
        }
    }
    if let Some(path) = &e.path {
        if seen.path != path {
            return Some(format!(
                "path {path:?}: the request went to {:?}",
                seen.path
            ));
        }
    }
    if let Some(json) = &e.json {
        let actual = seen.json.and_then(|v| v.pointer(&json.pointer));
        if actual != Some(&json.equals) {
            let actual = actual.map_or_else(|| "nothing".to_string(), Value::to_string);
            return Some(format!(
                "json {:?} equals {}: found {actual}",
                json.pointer, json.equals
            ));
        }
    }
    None
}

/// The text of every tool result in a request, in any of the four formats: Anthropic
/// `tool_result` blocks, Chat `role: "tool"` messages, Responses `function_call_output`
/// items, Gemini `functionResponse` parts (their `response.content` or `response.error`,
/// else the whole `response` as JSON).
pub(crate) fn tool_results(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for message in body["messages"].as_array().into_iter().flatten() {
        if message["role"] == "tool" {
            out.push(text_of(&message["content"]));
        }
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_result" {
                out.push(text_of(&block["content"]));
            }
        }
    }
    for item in body["input"].as_array().into_iter().flatten() {
        if item["type"] == "function_call_output" {
            out.push(text_of(&item["output"]));
        }
    }
    for content in body["contents"].as_array().into_iter().flatten() {
        for part in content["parts"].as_array().into_iter().flatten() {
            let response = &part["functionResponse"]["response"];
            if response.is_null() {
                continue;
            }
            let text = [&response["content"], &response["error"]]
                .into_iter()
                .find(|v| !v.is_null())
                .unwrap_or(response);
            out.push(text_of(text));
        }
    }
    out
}

/// A string as is; an array of content blocks as their texts joined by newlines.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b {
                Value::String(text) => text.clone(),
                b => b["text"]
                    .as_str()
                    .map_or_else(|| b.to_string(), str::to_string),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{HeaderExpectation, JsonExpectation};
    use serde_json::json;

    fn seen<'a>(body: &'a [u8], json: Option<&'a Value>, headers: &'a Headers) -> Seen<'a> {
        Seen {
            path: "/v1/messages",
            headers,
            raw_body: body,
            json,
        }
    }

    #[test]
    fn tool_results_in_every_format() {
        let anthropic = json!({"messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t", "content": "file a"},
            {"type": "tool_result", "tool_use_id": "u", "content": [{"type": "text", "text": "file b"}]}]}]});
        assert_eq!(tool_results(&anthropic), ["file a", "file b"]);
        let chat = json!({"messages": [{"role": "tool", "tool_call_id": "c", "content": "ok"}]});
        assert_eq!(tool_results(&chat), ["ok"]);
        let responses =
            json!({"input": [{"type": "function_call_output", "call_id": "c", "output": "done"}]});
        assert_eq!(tool_results(&responses), ["done"]);
        let gemini = json!({"contents": [{"role": "user", "parts": [
            {"functionResponse": {"name": "read", "response": {"content": "line 1"}}},
            {"functionResponse": {"name": "bash", "response": {"error": "exit 2"}}},
            {"functionResponse": {"name": "ls", "response": {"files": ["a"]}}},
            {"text": "not a result"}]}]});
        assert_eq!(
            tool_results(&gemini),
            ["line 1", "exit 2", r#"{"files":["a"]}"#]
        );
        assert!(tool_results(&json!("not an object")).is_empty());
    }

    #[test]
    fn each_assertion_fails_with_its_name() {
        let body = br#"{"model":"m","messages":[]}"#;
        let value: Value = serde_json::from_slice(body).unwrap();
        let headers: Headers = [("x-api-key", "k")].into_iter().collect();
        let seen = seen(body, Some(&value), &headers);
        let fails = |e: Expectation| first_failure(&[e], &seen);
        assert_eq!(
            fails(Expectation {
                contains: Some("\"model\"".into()),
                path: Some("/v1/messages".into()),
                ..Expectation::default()
            }),
            None
        );
        assert!(fails(Expectation {
            contains: Some("nope".into()),
            ..Expectation::default()
        })
        .unwrap()
        .starts_with("contains \"nope\""));
        assert!(fails(Expectation {
            not_contains: Some("model".into()),
            ..Expectation::default()
        })
        .unwrap()
        .starts_with("not_contains"));
        assert!(fails(Expectation {
            tool_result_contains: Some("x".into()),
            ..Expectation::default()
        })
        .unwrap()
        .contains("0 tool result(s)"));
        assert!(fails(Expectation {
            header: Some(HeaderExpectation {
                name: "X-Api-Key".into(),
                value: Some("other".into())
            }),
            ..Expectation::default()
        })
        .unwrap()
        .contains("expected \"other\", got \"k\""));
        assert!(fails(Expectation {
            path: Some("/v1/responses".into()),
            ..Expectation::default()
        })
        .is_some());
        assert_eq!(
            fails(Expectation {
                json: Some(JsonExpectation {
                    pointer: "/model".into(),
                    equals: json!("m")
                }),
                ..Expectation::default()
            }),
            None
        );
        assert!(fails(Expectation {
            json: Some(JsonExpectation {
                pointer: "/stream".into(),
                equals: json!(true)
            }),
            ..Expectation::default()
        })
        .unwrap()
        .ends_with("found nothing"));
    }
}

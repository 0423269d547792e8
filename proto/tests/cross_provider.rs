//! A session that switches provider: a history from one provider builds valid requests for
//! every other format (wire-formats.md §10) — ids re-mapped with pairs intact, foreign
//! reasoning dropped, Mistral's message order respected.
#![allow(clippy::unwrap_used)]

use cm_proto::message::{Message, Origin, Part, Reasoning, Role, ToolCall, ToolOutput, ToolResult};
use cm_proto::provider::openai_chat::BRIDGE_TEXT;
use cm_proto::provider::profile::profile;
use cm_proto::provider::{ChatRequest, Credential, Endpoint, WireFormat};
use serde_json::Value;

fn origin(provider: &str, model: &str) -> Origin {
    Origin {
        provider: provider.into(),
        model: model.into(),
    }
}

fn call(id: &str, origin: &Origin) -> Part {
    Part::ToolCall(ToolCall {
        id: id.into(),
        name: "read".into(),
        arguments: r#"{"path":"a.txt"}"#.into(),
        item_id: None,
        signature: None,
        origin: origin.clone(),
    })
}

fn result(id: &str) -> Part {
    Part::ToolResult(ToolResult {
        call_id: id.into(),
        name: "read".into(),
        content: vec![ToolOutput::Text {
            text: "hello".into(),
        }],
        is_error: false,
    })
}

/// A turn with reasoning, two parallel calls, their results plus a typed follow-up in the
/// same user message, then an answer.
fn history(from: &Origin, ids: [&str; 2], signature: Option<&str>) -> Vec<Message> {
    vec![
        Message {
            role: Role::User,
            parts: vec![Part::text("read a.txt twice")],
        },
        Message {
            role: Role::Assistant,
            parts: vec![
                Part::Reasoning(Reasoning {
                    text: "SECRET-THOUGHT".into(),
                    signature: signature.map(str::to_string),
                    origin: from.clone(),
                    ..Reasoning::default()
                }),
                Part::text("Reading."),
                call(ids[0], from),
                call(ids[1], from),
            ],
        },
        Message {
            role: Role::User,
            parts: vec![result(ids[0]), result(ids[1]), Part::text("and now?")],
        },
        Message {
            role: Role::Assistant,
            parts: vec![Part::text("Both say hello.")],
        },
        Message {
            role: Role::User,
            parts: vec![Part::text("thanks")],
        },
    ]
}

fn build(provider: &str, format: WireFormat, model: &str, messages: Vec<Message>) -> Value {
    let p = profile(provider).unwrap();
    let mut endpoint: Endpoint = p.endpoint(None);
    endpoint.credential = Some(Credential::ApiKey("k".into()));
    let request = ChatRequest {
        model: model.into(),
        system: Some("Be brief.".into()),
        messages,
        max_output_tokens: Some(1000),
        stream: true,
        ..ChatRequest::default()
    };
    let built = format.build_request(&endpoint, &request);
    let body = String::from_utf8(built.body).unwrap();
    assert!(
        !body.contains("SECRET-THOUGHT"),
        "{provider}: reasoning from another model must not be replayed: {body}"
    );
    serde_json::from_str(&body).unwrap()
}

fn strs<'a>(values: impl Iterator<Item = &'a Value>) -> Vec<String> {
    values
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Chat-format call ids and result ids, in order.
fn chat_pairs(body: &Value) -> (Vec<String>, Vec<String>) {
    let messages = body["messages"].as_array().unwrap();
    let calls = strs(
        messages
            .iter()
            .filter_map(|m| m["tool_calls"].as_array())
            .flatten()
            .map(|c| &c["id"]),
    );
    let results = strs(
        messages
            .iter()
            .filter(|m| m["role"] == "tool")
            .map(|m| &m["tool_call_id"]),
    );
    (calls, results)
}

fn roles(body: &Value) -> Vec<String> {
    strs(
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["role"]),
    )
}

#[test]
fn an_anthropic_history_builds_for_chat_responses_gemini_and_mistral() {
    let from = origin("anthropic", "claude-sonnet-4-5");
    let ids = ["toolu_01A09q90qw90lq917835lq9", "toolu_01XY"];
    let messages = history(&from, ids, Some("EqQBCgIYAhIM"));

    let chat = build("openai", WireFormat::OpenaiChat, "gpt-5", messages.clone());
    let (calls, results) = chat_pairs(&chat);
    assert_eq!(calls, ids.map(String::from).to_vec());
    assert_eq!(calls, results);

    let responses = build(
        "openai",
        WireFormat::OpenaiResponses,
        "gpt-5",
        messages.clone(),
    );
    let input = responses["input"].as_array().unwrap();
    assert!(input.iter().all(|item| item["type"] != "reasoning"));
    let calls = strs(
        input
            .iter()
            .filter(|i| i["type"] == "function_call")
            .map(|i| &i["call_id"]),
    );
    let outputs = strs(
        input
            .iter()
            .filter(|i| i["type"] == "function_call_output")
            .map(|i| &i["call_id"]),
    );
    assert_eq!(calls.len(), 2);
    assert_eq!(calls, outputs);

    let gemini = build(
        "google",
        WireFormat::Gemini,
        "gemini-2.5-pro",
        messages.clone(),
    );
    let parts: Vec<&Value> = gemini["contents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["parts"].as_array().unwrap())
        .collect();
    assert!(parts.iter().all(|p| p.get("thought").is_none()));
    let calls = strs(parts.iter().map(|p| &p["functionCall"]["id"]));
    let responses = strs(parts.iter().map(|p| &p["functionResponse"]["id"]));
    assert_eq!(calls.len(), 2);
    assert_eq!(calls, responses);

    let mistral = build(
        "mistral",
        WireFormat::OpenaiChat,
        "mistral-large-latest",
        messages,
    );
    let (calls, results) = chat_pairs(&mistral);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls, results, "remapped ids still pair up");
    for id in &calls {
        assert_eq!(id.len(), 9, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    }
    assert_ne!(calls[0], calls[1]);
    assert_eq!(
        roles(&mistral),
        [
            "system",
            "user",
            "assistant",
            "tool",
            "tool",
            "assistant",
            "user",
            "assistant",
            "user"
        ]
    );
    assert_eq!(mistral["messages"][5]["content"], BRIDGE_TEXT);
    assert_eq!(mistral["max_tokens"], 1000);
    assert!(mistral.get("stream_options").is_none());

    let again = build(
        "mistral",
        WireFormat::OpenaiChat,
        "mistral-large-latest",
        history(&from, ids, None),
    );
    assert_eq!(
        chat_pairs(&again).0,
        calls,
        "the same history maps to the same ids"
    );
}

#[test]
fn a_chat_history_builds_for_anthropic_and_mistral() {
    let from = origin("deepseek", "deepseek-reasoner");
    let ids = ["call_00_abcdef", "call_01_ghijkl"];
    let messages = history(&from, ids, None);

    let anthropic = build(
        "anthropic",
        WireFormat::Anthropic,
        "claude-sonnet-4-5",
        messages.clone(),
    );
    let blocks: Vec<&Value> = anthropic["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .collect();
    assert!(blocks.iter().all(|b| b["type"] != "thinking"));
    let uses = strs(
        blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| &b["id"]),
    );
    let results = strs(
        blocks
            .iter()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| &b["tool_use_id"]),
    );
    assert_eq!(uses, ids.map(String::from).to_vec());
    assert_eq!(uses, results);

    let mistral = build(
        "mistral",
        WireFormat::OpenaiChat,
        "magistral-medium-latest",
        messages,
    );
    let (calls, results) = chat_pairs(&mistral);
    assert_eq!(calls, results);
    assert!(calls.iter().all(|id| id.len() == 9));
}

#[test]
fn mistrals_own_ids_replay_unchanged() {
    let from = origin("mistral", "mistral-large-latest");
    let ids = ["gSIMJiOkT", "Ab3dE6gH9"];
    let body = build(
        "mistral",
        WireFormat::OpenaiChat,
        "mistral-large-latest",
        history(&from, ids, None),
    );
    assert_eq!(
        chat_pairs(&body),
        (
            ids.map(String::from).to_vec(),
            ids.map(String::from).to_vec()
        )
    );
}

#[test]
fn xai_gets_no_reasoning_effort_and_a_system_role() {
    let p = profile("xai").unwrap();
    let request = ChatRequest {
        model: "grok-4".into(),
        system: Some("s".into()),
        reasoning: Some(cm_proto::provider::ReasoningConfig {
            effort: cm_proto::provider::Effort::High,
            budget_tokens: None,
        }),
        stream: true,
        ..ChatRequest::default()
    };
    let built = WireFormat::OpenaiChat.build_request(&p.endpoint(None), &request);
    assert_eq!(built.url, "https://api.x.ai/v1/chat/completions");
    let body: Value = serde_json::from_slice(&built.body).unwrap();
    assert!(body.get("reasoning_effort").is_none());
    assert_eq!(body["messages"][0]["role"], "system");
    let plain =
        WireFormat::OpenaiChat.build_request(&profile("groq").unwrap().endpoint(None), &request);
    let plain: Value = serde_json::from_slice(&plain.body).unwrap();
    assert_eq!(plain["reasoning_effort"], "high");
    assert_eq!(plain["stream_options"]["include_usage"], true);
}

#[test]
fn copilot_requests_say_who_initiated_them() {
    let p = profile("github-copilot").unwrap();
    let from = origin("github-copilot", "gpt-4.1");
    let mut messages = history(&from, ["call_1", "call_2"], None);
    let request = |messages: Vec<Message>| ChatRequest {
        model: "gpt-4.1".into(),
        messages,
        ..ChatRequest::default()
    };
    let typed = WireFormat::OpenaiChat.build_request(&p.endpoint(None), &request(messages.clone()));
    assert_eq!(typed.headers.get("x-initiator"), Some("user"));
    assert!(typed
        .headers
        .get("editor-version")
        .unwrap()
        .starts_with("cm/"));
    messages.truncate(3);
    messages[2].parts.pop();
    let follow_up = WireFormat::OpenaiChat.build_request(&p.endpoint(None), &request(messages));
    assert_eq!(follow_up.headers.get("x-initiator"), Some("agent"));
    let plain = WireFormat::OpenaiChat.build_request(
        &profile("openai").unwrap().endpoint(None),
        &request(Vec::new()),
    );
    assert_eq!(plain.headers.get("x-initiator"), None);
}

//! Building a `POST {base}/chat/completions` request from a [`ChatRequest`].

use serde_json::{json, Map, Value};

use crate::http::{Headers, Method, Request};
use crate::message::{Image, Message, Part, Role, ToolOutput};
use crate::provider::profile::{
    MaxTokensField, Quirks, ReasoningEffortField, StreamUsage, SystemRole, UserAfterTool,
};
use crate::provider::{ChatRequest, Credential, Endpoint, ToolChoice};

use super::tool_id::ToolIdMap;

/// The longest tool-call id OpenAI Chat accepts (longer ids are rejected with a 400).
pub const MAX_TOOL_CALL_ID_LEN: usize = 40;

/// Builds the Chat Completions request.
///
/// Messages: the system prompt is a `system` message (not `developer`, which many
/// compatible servers reject). A user message's tool results come first, one `tool`
/// message each (text only; images they hold move to the user message that follows), then
/// its text and images as a `user` message: a string when text-only (text parts joined by
/// a newline), else `text` / `image_url` parts. An assistant message becomes `content`
/// (its text, or null) plus `tool_calls`; reasoning parts are dropped (Chat has no standard
/// field to replay them), and an assistant message with neither text nor calls is left out.
///
/// `max_completion_tokens` is sent only when the base URL's host is `api.openai.com`;
/// elsewhere `max_tokens`, the only name most compatible servers know. Without
/// `max_output_tokens` neither is sent and the server's default applies.
///
/// The endpoint's [`Quirks`] adjust this: the output-cap field, the system role,
/// `stream_options` and `reasoning_effort` left out, tool-call ids under another rule
/// (Mistral's 9 characters, mapped by [`ToolIdMap`]), and an assistant message inserted
/// between a `tool` message and a `user` message that follows it.
pub fn build_request(endpoint: &Endpoint, request: &ChatRequest) -> Request {
    let base = endpoint.base_url.trim_end_matches('/');
    let mut headers = Headers::new();
    headers.push("content-type", "application/json");
    let accept = if request.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    headers.push("accept", accept);
    if let Some(Credential::ApiKey(token) | Credential::Bearer(token)) = &endpoint.credential {
        headers.push("authorization", format!("Bearer {token}"));
    }
    for (name, _) in endpoint.headers.iter() {
        headers.remove(name);
    }
    for (name, value) in endpoint.headers.iter() {
        headers.push(name, value);
    }
    let body = request_body(base, request, &endpoint.quirks);
    Request {
        method: Method::Post,
        url: format!("{base}/chat/completions"),
        headers,
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// The id a tool call (and its result) gets on the wire: deterministic, so a call and its
/// result still match.
///
/// An id from the Responses API (`call_…|fc_…`) is cut at the `|`. An id that is then
/// already valid (`[a-zA-Z0-9_-]`, at most [`MAX_TOOL_CALL_ID_LEN`] characters) is kept
/// as is; otherwise its allowed characters are kept, shortened, and followed by a hash of
/// the whole original id, so two different ids never collapse into one.
pub fn wire_tool_call_id(id: &str) -> String {
    use crate::provider::ids::wire_id;
    // A Responses-style `call_…|fc_…` pair: the call id is the part that matters.
    let head = id.split('|').next().unwrap_or(id);
    let wired = wire_id(head, MAX_TOOL_CALL_ID_LEN);
    if wired == head {
        wired
    } else {
        wire_id(id, MAX_TOOL_CALL_ID_LEN)
    }
}

fn request_body(base: &str, request: &ChatRequest, quirks: &Quirks) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), Value::String(request.model.clone()));
    body.insert("messages".into(), Value::Array(messages(request, quirks)));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    }
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    let choice = match &request.tool_choice {
        ToolChoice::Auto if request.tools.is_empty() => None,
        ToolChoice::Auto => Some(json!("auto")),
        ToolChoice::Required => Some(json!("required")),
        ToolChoice::None => Some(json!("none")),
        ToolChoice::Tool(name) => Some(json!({"type": "function", "function": {"name": name}})),
    };
    if let Some(choice) = choice {
        body.insert("tool_choice".into(), choice);
    }
    if let Some(max) = request.max_output_tokens {
        let key = match quirks.max_tokens_field {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
            MaxTokensField::ByHost if host(base).eq_ignore_ascii_case("api.openai.com") => {
                "max_completion_tokens"
            }
            MaxTokensField::ByHost => "max_tokens",
        };
        body.insert(key.into(), json!(max));
    }
    if let Some(reasoning) = request
        .reasoning
        .filter(|_| quirks.reasoning_effort == ReasoningEffortField::Send)
    {
        body.insert("reasoning_effort".into(), json!(reasoning.effort.as_str()));
    }
    if let Some(t) = request.temperature.and_then(decimal) {
        body.insert("temperature".into(), Value::Number(t));
    }
    if request.stream {
        body.insert("stream".into(), Value::Bool(true));
        if quirks.stream_usage == StreamUsage::Ask {
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    for (key, value) in &request.extra {
        body.insert(key.clone(), value.clone());
    }
    Value::Object(body)
}

/// An `f32` as the decimal it was written as (`0.7`, not `0.699999988079071`).
fn decimal(value: f32) -> Option<serde_json::Number> {
    let shortest: f64 = value.to_string().parse().ok()?;
    serde_json::Number::from_f64(shortest)
}

/// The host of a URL, without scheme, credentials, port or path.
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    host_port.split(':').next().unwrap_or(host_port)
}

/// The text of the assistant message put between a `tool` and a `user` message for
/// servers that reject that order.
pub const BRIDGE_TEXT: &str = "(tool results received)";

fn messages(request: &ChatRequest, quirks: &Quirks) -> Vec<Value> {
    let mut out = Vec::new();
    let mut ids = ToolIdMap::new(quirks.tool_id_rule);
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        let role = match quirks.system_role {
            SystemRole::System => "system",
            SystemRole::Developer => "developer",
        };
        out.push(json!({"role": role, "content": system}));
    }
    for message in &request.messages {
        match message.role {
            Role::User => user_messages(message, &mut ids, &mut out),
            Role::Assistant => out.extend(assistant_message(message, &mut ids)),
        }
    }
    if quirks.user_after_tool == UserAfterTool::NeedsAssistant {
        bridge_tool_to_user(&mut out);
    }
    out
}

/// Puts an assistant message between every `tool` message and a `user` message after it.
fn bridge_tool_to_user(messages: &mut Vec<Value>) {
    let role = |m: &Value| m.get("role").and_then(Value::as_str).map(str::to_owned);
    let mut i = 1;
    while i < messages.len() {
        if role(&messages[i - 1]).as_deref() == Some("tool")
            && role(&messages[i]).as_deref() == Some("user")
        {
            messages.insert(i, json!({"role": "assistant", "content": BRIDGE_TEXT}));
            i += 1;
        }
        i += 1;
    }
}

fn user_messages(message: &Message, ids: &mut ToolIdMap, out: &mut Vec<Value>) {
    let mut content: Vec<&Part> = Vec::new();
    let mut result_images: Vec<&Image> = Vec::new();
    for part in &message.parts {
        match part {
            Part::ToolResult(result) => {
                out.push(json!({
                    "role": "tool",
                    "tool_call_id": ids.wire(&result.call_id),
                    "content": result.text(),
                }));
                result_images.extend(result.content.iter().filter_map(|item| match item {
                    ToolOutput::Image(image) => Some(image),
                    ToolOutput::Text { .. } => None,
                }));
            }
            Part::Text { .. } | Part::Image(_) => content.push(part),
            Part::Reasoning(_) | Part::ToolCall(_) => {}
        }
    }
    if content.is_empty() && result_images.is_empty() {
        return;
    }
    let text_only =
        result_images.is_empty() && content.iter().all(|p| matches!(p, Part::Text { .. }));
    let value = if text_only {
        let texts: Vec<&str> = content
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        Value::String(texts.join("\n"))
    } else {
        let mut parts: Vec<Value> = content
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(json!({"type": "text", "text": text})),
                Part::Image(image) => Some(image_part(image)),
                _ => None,
            })
            .collect();
        parts.extend(result_images.into_iter().map(image_part));
        Value::Array(parts)
    };
    out.push(json!({"role": "user", "content": value}));
}

fn image_part(image: &Image) -> Value {
    let url = match image {
        Image::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        Image::Url { url } => url.clone(),
    };
    json!({"type": "image_url", "image_url": {"url": url}})
}

fn assistant_message(message: &Message, ids: &mut ToolIdMap) -> Option<Value> {
    let texts: Vec<&str> = message
        .parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text } if !text.is_empty() => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let calls: Vec<Value> = message
        .tool_calls()
        .map(|call| {
            let arguments = if call.arguments.trim().is_empty() {
                "{}"
            } else {
                call.arguments.as_str()
            };
            json!({
                "id": ids.wire(&call.id),
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            })
        })
        .collect();
    if texts.is_empty() && calls.is_empty() {
        return None;
    }
    let mut out = Map::new();
    out.insert("role".into(), json!("assistant"));
    let content = if texts.is_empty() {
        Value::Null
    } else {
        Value::String(texts.join("\n"))
    };
    out.insert("content".into(), content);
    if !calls.is_empty() {
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Origin, Reasoning, ToolCall, ToolResult};
    use crate::provider::{Effort, ReasoningConfig};
    use crate::tool::ToolSpec;

    fn endpoint(base: &str) -> Endpoint {
        Endpoint {
            base_url: base.into(),
            credential: Some(Credential::ApiKey("sk-test".into())),
            headers: Headers::new(),
            quirks: Default::default(),
        }
    }

    fn body(request: &Request) -> Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    fn call(id: &str, name: &str, arguments: &str) -> Part {
        Part::ToolCall(ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: arguments.into(),
            item_id: None,
            signature: None,
            origin: Origin::default(),
        })
    }

    fn result(id: &str, text: &str, is_error: bool) -> Part {
        Part::ToolResult(ToolResult {
            call_id: id.into(),
            name: "read".into(),
            content: vec![ToolOutput::Text { text: text.into() }],
            is_error,
        })
    }

    fn conversation() -> ChatRequest {
        ChatRequest {
            model: "gpt-4o".into(),
            system: Some("Be brief.".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    parts: vec![
                        Part::text("What is in this image?"),
                        Part::Image(Image::Base64 {
                            media_type: "image/png".into(),
                            data: "iVBORw0KGgo=".into(),
                        }),
                    ],
                },
                Message {
                    role: Role::Assistant,
                    parts: vec![
                        Part::Reasoning(Reasoning {
                            text: "let me look".into(),
                            origin: Origin {
                                provider: "openai".into(),
                                model: "gpt-4o".into(),
                            },
                            ..Reasoning::default()
                        }),
                        Part::text("Reading both."),
                        call("call_1", "read", r#"{"path":"a"}"#),
                        call("call_2|fc_abc", "read", ""),
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![
                        result("call_1", "contents of a", false),
                        result("call_2|fc_abc", "no such file", true),
                        Part::text("Thanks."),
                    ],
                },
            ],
            tools: vec![ToolSpec {
                name: "read".into(),
                description: "Reads a file.".into(),
                input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
            }],
            tool_choice: ToolChoice::Auto,
            max_output_tokens: Some(1024),
            temperature: Some(0.7),
            reasoning: Some(ReasoningConfig {
                effort: Effort::Low,
                budget_tokens: None,
            }),
            stream: true,
            extra: Map::new(),
        }
    }

    #[test]
    fn full_conversation_becomes_chat_messages() {
        let request = build_request(&endpoint("https://api.openai.com/v1/"), &conversation());
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://api.openai.com/v1/chat/completions");
        let headers: Vec<(&str, &str)> = request.headers.iter().collect();
        assert_eq!(
            headers,
            vec![
                ("content-type", "application/json"),
                ("accept", "text/event-stream"),
                ("authorization", "Bearer sk-test"),
            ]
        );
        assert_eq!(
            body(&request),
            json!({
                "model": "gpt-4o",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is in this image?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    ]},
                    {"role": "assistant", "content": "Reading both.", "tool_calls": [
                        {"id": "call_1", "type": "function",
                         "function": {"name": "read", "arguments": "{\"path\":\"a\"}"}},
                        {"id": "call_2", "type": "function",
                         "function": {"name": "read", "arguments": "{}"}},
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "contents of a"},
                    {"role": "tool", "tool_call_id": "call_2", "content": "no such file"},
                    {"role": "user", "content": "Thanks."},
                ],
                "tools": [{"type": "function", "function": {
                    "name": "read",
                    "description": "Reads a file.",
                    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                }}],
                "tool_choice": "auto",
                "max_completion_tokens": 1024,
                "reasoning_effort": "low",
                "temperature": 0.7,
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
    }

    #[test]
    fn compatible_servers_get_max_tokens() {
        for base in [
            "http://localhost:11434/v1",
            "https://api.mistral.ai/v1",
            "https://user@openrouter.ai:443/api/v1",
        ] {
            let b = body(&build_request(&endpoint(base), &conversation()));
            assert_eq!(b["max_tokens"], json!(1024), "{base}");
            assert!(b.get("max_completion_tokens").is_none(), "{base}");
        }
        let b = body(&build_request(
            &endpoint("https://API.OpenAI.com:443/v1"),
            &conversation(),
        ));
        assert_eq!(b["max_completion_tokens"], json!(1024));
    }

    #[test]
    fn tool_choice_variants() {
        let mut request = ChatRequest {
            model: "m".into(),
            ..ChatRequest::default()
        };
        let b = body(&build_request(&endpoint("http://h/v1"), &request));
        assert!(
            b.get("tool_choice").is_none(),
            "auto without tools is omitted"
        );
        assert!(b.get("tools").is_none());
        for (choice, expected) in [
            (ToolChoice::Required, json!("required")),
            (ToolChoice::None, json!("none")),
            (
                ToolChoice::Tool("read".into()),
                json!({"type": "function", "function": {"name": "read"}}),
            ),
        ] {
            request.tool_choice = choice;
            let b = body(&build_request(&endpoint("http://h/v1"), &request));
            assert_eq!(b["tool_choice"], expected);
        }
    }

    #[test]
    fn minimal_non_streaming_request() {
        let request = ChatRequest {
            model: "llama3".into(),
            messages: vec![Message::user("hi")],
            ..ChatRequest::default()
        };
        let built = build_request(
            &Endpoint {
                base_url: "http://localhost:11434/v1".into(),
                credential: None,
                headers: Headers::new(),
                quirks: Default::default(),
            },
            &request,
        );
        assert_eq!(built.url, "http://localhost:11434/v1/chat/completions");
        assert_eq!(built.headers.get("accept"), Some("application/json"));
        assert!(!built.headers.contains("authorization"));
        assert_eq!(
            body(&built),
            json!({"model": "llama3", "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn bearer_credential_endpoint_headers_and_extra_override() {
        let mut headers = Headers::new();
        headers.push("Accept", "application/x-ndjson");
        headers.push("Copilot-Integration-Id", "vscode-chat");
        let endpoint = Endpoint {
            base_url: "https://api.githubcopilot.com".into(),
            credential: Some(Credential::Bearer("tok".into())),
            headers,
            quirks: Default::default(),
        };
        let mut request = ChatRequest {
            model: "m".into(),
            stream: true,
            ..ChatRequest::default()
        };
        request.extra.insert("stream_options".into(), Value::Null);
        request
            .extra
            .insert("parallel_tool_calls".into(), json!(false));
        let built = build_request(&endpoint, &request);
        let headers: Vec<(&str, &str)> = built.headers.iter().collect();
        assert_eq!(
            headers,
            vec![
                ("content-type", "application/json"),
                ("authorization", "Bearer tok"),
                ("Accept", "application/x-ndjson"),
                ("Copilot-Integration-Id", "vscode-chat"),
            ]
        );
        assert_eq!(
            body(&built),
            json!({"model": "m", "messages": [], "stream": true,
                   "stream_options": null, "parallel_tool_calls": false})
        );
    }

    #[test]
    fn tool_result_images_follow_as_a_user_message() {
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![Message {
                role: Role::User,
                parts: vec![Part::ToolResult(ToolResult {
                    call_id: "call_9".into(),
                    name: "screenshot".into(),
                    content: vec![
                        ToolOutput::Text {
                            text: "taken".into(),
                        },
                        ToolOutput::Image(Image::Url {
                            url: "https://example.com/s.png".into(),
                        }),
                    ],
                    is_error: false,
                })],
            }],
            ..ChatRequest::default()
        };
        let b = body(&build_request(&endpoint("http://h/v1"), &request));
        assert_eq!(
            b["messages"],
            json!([
                {"role": "tool", "tool_call_id": "call_9", "content": "taken"},
                {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "https://example.com/s.png"}}
                ]},
            ])
        );
    }

    #[test]
    fn reasoning_only_assistant_messages_are_left_out() {
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![
                Message::user("a"),
                Message {
                    role: Role::Assistant,
                    parts: vec![Part::Reasoning(Reasoning {
                        text: "thinking".into(),
                        ..Reasoning::default()
                    })],
                },
                Message::user("b"),
                Message::assistant("c"),
            ],
            ..ChatRequest::default()
        };
        let b = body(&build_request(&endpoint("http://h/v1"), &request));
        assert_eq!(
            b["messages"],
            json!([
                {"role": "user", "content": "a"},
                {"role": "user", "content": "b"},
                {"role": "assistant", "content": "c"},
            ])
        );
    }

    #[test]
    fn tool_call_ids_are_sanitised_deterministically() {
        assert_eq!(wire_tool_call_id("call_abc-123"), "call_abc-123");
        assert_eq!(wire_tool_call_id("call_abc|fc_0123456789"), "call_abc");
        let foreign = "toolu_01A+/=xyz";
        let wired = wire_tool_call_id(foreign);
        assert_eq!(wired, wire_tool_call_id(foreign), "deterministic");
        assert!(wired.starts_with("toolu_01Axyz_"), "{wired}");
        let long_a = format!("call_{}", "a".repeat(60));
        let long_b = format!("call_{}b", "a".repeat(59));
        let (wa, wb) = (wire_tool_call_id(&long_a), wire_tool_call_id(&long_b));
        assert_ne!(wa, wb, "shared prefixes do not collide");
        for id in [
            &wired,
            &wa,
            &wb,
            &wire_tool_call_id("|||"),
            &wire_tool_call_id(""),
        ] {
            assert!(id.len() <= MAX_TOOL_CALL_ID_LEN, "{id}");
            assert!(!id.is_empty());
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{id}"
            );
        }
    }

    #[test]
    fn host_is_found_in_various_urls() {
        assert_eq!(host("https://api.openai.com/v1"), "api.openai.com");
        assert_eq!(host("http://u:p@localhost:8080/v1"), "localhost");
        assert_eq!(host("api.openai.com"), "api.openai.com");
        assert_eq!(host(""), "");
    }
}

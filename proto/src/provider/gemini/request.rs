//! Building a `generateContent` / `streamGenerateContent` request from a [`ChatRequest`].

use serde_json::{json, Map, Value};

use crate::http::{Headers, Method, Request};
use crate::message::{Image, Message, Part, Reasoning, Role, ToolCall, ToolOutput, ToolResult};
use crate::provider::{ChatRequest, Credential, Effort, Endpoint, ToolChoice};

/// The Gemini API base used when the endpoint names none.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";

/// The longest tool-call id cm sends to Gemini (pi-mono's limit).
pub const MAX_TOOL_CALL_ID_LEN: usize = 64;

/// The signature Google documents for function calls the model did not sign (another
/// provider's history, a hand-built transcript): Gemini 3 rejects a model turn whose first
/// function call has no signature, and accepts this one instead.
pub const SKIP_SIGNATURE_SENTINEL: &str = "skip_thought_signature_validator";

/// Builds the Gemini request.
///
/// Contents: user messages become `user` contents (text, `inlineData` for base64 images
/// and `data:` URLs, `fileData` for other URLs), assistant messages `model` contents.
/// A tool result is a `functionResponse {id, name, response}` in the user content, with
/// `response: {"content": text}`, or `{"error": text}` when the tool failed (the keys
/// Google documents for output and errors); images a result holds follow it as
/// `inlineData` parts. A tool call is `functionCall {id, name, args}` (`args` the parsed
/// arguments, `{}` unless they are a JSON object) with its `thoughtSignature` on the same
/// part when it came from the requested model; in a model turn with no signed call, the
/// first call gets [`SKIP_SIGNATURE_SENTINEL`] (except for `gemini-1*`/`gemini-2*` models,
/// which do not validate). Reasoning from the same model is replayed: readable text as a
/// `thought: true` part, a bare signature as an empty text part carrying it; reasoning from
/// another model is dropped. Contents left empty are omitted.
///
/// `generationConfig` holds `maxOutputTokens`, `temperature` and, with reasoning settings,
/// `thinkingConfig {thinkingBudget, includeThoughts: true}` (the budget given, else one
/// derived from the effort). Tool choice: `AUTO`, `ANY`, `NONE`, or `ANY` with
/// `allowedFunctionNames` for one named tool; sent only with tools or when not `Auto`.
pub fn build_request(endpoint: &Endpoint, request: &ChatRequest) -> Request {
    let base = match endpoint.base_url.trim_end_matches('/') {
        "" => DEFAULT_BASE_URL,
        base => base,
    };
    let model = request
        .model
        .strip_prefix("models/")
        .unwrap_or(&request.model);
    let url = if request.stream {
        format!("{base}/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("{base}/models/{model}:generateContent")
    };
    let mut headers = Headers::new();
    headers.push("content-type", "application/json");
    let accept = if request.stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    headers.push("accept", accept);
    match &endpoint.credential {
        Some(Credential::ApiKey(key)) => headers.push("x-goog-api-key", key.as_str()),
        Some(Credential::Bearer(token)) => headers.push("authorization", format!("Bearer {token}")),
        None => {}
    }
    for (name, _) in endpoint.headers.iter() {
        headers.remove(name);
    }
    for (name, value) in endpoint.headers.iter() {
        headers.push(name, value);
    }
    Request {
        method: Method::Post,
        url,
        headers,
        body: serde_json::to_vec(&request_body(request)).unwrap_or_default(),
    }
}

/// The id a tool call (and its result) gets on the wire: `[a-zA-Z0-9_-]`, at most
/// [`MAX_TOOL_CALL_ID_LEN`] characters, deterministic so a call and its result match.
///
/// A valid id is kept as is; otherwise its allowed characters are kept, shortened, and
/// followed by a hash of the whole original id, so two ids never collapse into one.
pub fn wire_tool_call_id(id: &str) -> String {
    crate::provider::ids::wire_id(id, MAX_TOOL_CALL_ID_LEN)
}

fn request_body(request: &ChatRequest) -> Value {
    let mut body = Map::new();
    let contents: Vec<Value> = request
        .messages
        .iter()
        .filter_map(|message| content(message, request))
        .collect();
    body.insert("contents".into(), Value::Array(contents));
    if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system}]}),
        );
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.input_schema,
                })
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
    }
    let calling = match &request.tool_choice {
        ToolChoice::Auto if request.tools.is_empty() => None,
        ToolChoice::Auto => Some(json!({"mode": "AUTO"})),
        ToolChoice::Required => Some(json!({"mode": "ANY"})),
        ToolChoice::None => Some(json!({"mode": "NONE"})),
        ToolChoice::Tool(name) => Some(json!({"mode": "ANY", "allowedFunctionNames": [name]})),
    };
    if let Some(calling) = calling {
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": calling}),
        );
    }
    let mut generation = Map::new();
    if let Some(max) = request.max_output_tokens {
        generation.insert("maxOutputTokens".into(), json!(max));
    }
    if let Some(t) = request.temperature.and_then(decimal) {
        generation.insert("temperature".into(), Value::Number(t));
    }
    if let Some(reasoning) = &request.reasoning {
        let budget = reasoning
            .budget_tokens
            .unwrap_or_else(|| effort_budget(reasoning.effort));
        generation.insert(
            "thinkingConfig".into(),
            json!({"thinkingBudget": budget, "includeThoughts": true}),
        );
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    for (key, value) in &request.extra {
        body.insert(key.clone(), value.clone());
    }
    Value::Object(body)
}

/// The thinking budget an effort level stands for.
fn effort_budget(effort: Effort) -> u32 {
    match effort {
        Effort::Minimal => 512,
        Effort::Low => 2048,
        Effort::Medium => 8192,
        Effort::High => 24576,
    }
}

/// An `f32` as the decimal it was written as (`0.7`, not `0.699999988079071`).
fn decimal(value: f32) -> Option<serde_json::Number> {
    let shortest: f64 = value.to_string().parse().ok()?;
    serde_json::Number::from_f64(shortest)
}

fn content(message: &Message, request: &ChatRequest) -> Option<Value> {
    let parts = match message.role {
        Role::User => user_parts(message),
        Role::Assistant => model_parts(message, request),
    };
    if parts.is_empty() {
        return None;
    }
    let role = match message.role {
        Role::User => "user",
        Role::Assistant => "model",
    };
    Some(json!({"role": role, "parts": parts}))
}

fn user_parts(message: &Message) -> Vec<Value> {
    let mut parts = Vec::new();
    for part in &message.parts {
        match part {
            Part::Text { text } if !text.is_empty() => parts.push(json!({"text": text})),
            Part::Image(image) => parts.push(image_part(image)),
            Part::ToolResult(result) => tool_result_parts(result, &mut parts),
            Part::Text { .. } | Part::Reasoning(_) | Part::ToolCall(_) => {}
        }
    }
    parts
}

fn tool_result_parts(result: &ToolResult, parts: &mut Vec<Value>) {
    let key = if result.is_error { "error" } else { "content" };
    parts.push(json!({"functionResponse": {
        "id": wire_tool_call_id(&result.call_id),
        "name": result.name,
        "response": {key: result.text()},
    }}));
    for item in &result.content {
        if let ToolOutput::Image(image) = item {
            parts.push(image_part(image));
        }
    }
}

fn image_part(image: &Image) -> Value {
    match image {
        Image::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        Image::Url { url } => {
            let inline = url
                .strip_prefix("data:")
                .and_then(|rest| rest.split_once(";base64,"));
            match inline {
                Some((mime, data)) => json!({"inlineData": {"mimeType": mime, "data": data}}),
                None => match mime_from_extension(url) {
                    Some(mime) => json!({"fileData": {"mimeType": mime, "fileUri": url}}),
                    None => json!({"fileData": {"fileUri": url}}),
                },
            }
        }
    }
}

fn mime_from_extension(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => return None,
    })
}

fn model_parts(message: &Message, request: &ChatRequest) -> Vec<Value> {
    let same_model = |model: &str| model == request.model;
    let needs_sentinel = {
        let model = request
            .model
            .strip_prefix("models/")
            .unwrap_or(&request.model);
        !(model.starts_with("gemini-1") || model.starts_with("gemini-2"))
    };
    let signed = message
        .tool_calls()
        .any(|call| call.signature.is_some() && same_model(&call.origin.model));
    let mut sentinel_given = signed || !needs_sentinel;
    let mut parts = Vec::new();
    for part in &message.parts {
        match part {
            Part::Text { text } if !text.is_empty() => parts.push(json!({"text": text})),
            Part::Reasoning(reasoning) if same_model(&reasoning.origin.model) => {
                if let Some(part) = reasoning_part(reasoning) {
                    parts.push(part);
                }
            }
            Part::ToolCall(call) => {
                let signature = match &call.signature {
                    Some(signature) if same_model(&call.origin.model) => Some(signature.as_str()),
                    _ if !sentinel_given => Some(SKIP_SIGNATURE_SENTINEL),
                    _ => None,
                };
                sentinel_given = true;
                parts.push(call_part(call, signature));
            }
            Part::Image(image) => parts.push(image_part(image)),
            Part::Text { .. } | Part::Reasoning(_) | Part::ToolResult(_) => {}
        }
    }
    parts
}

fn reasoning_part(reasoning: &Reasoning) -> Option<Value> {
    let mut part = Map::new();
    if reasoning.text.is_empty() {
        reasoning.signature.as_ref()?;
        part.insert("text".into(), json!(""));
    } else {
        part.insert("text".into(), json!(reasoning.text));
        part.insert("thought".into(), json!(true));
    }
    if let Some(signature) = &reasoning.signature {
        part.insert("thoughtSignature".into(), json!(signature));
    }
    Some(Value::Object(part))
}

fn call_part(call: &ToolCall, signature: Option<&str>) -> Value {
    let args = match call.parse_arguments() {
        Ok(Value::Object(args)) => Value::Object(args),
        _ => json!({}),
    };
    let mut part = Map::new();
    part.insert(
        "functionCall".into(),
        json!({"id": wire_tool_call_id(&call.id), "name": call.name, "args": args}),
    );
    if let Some(signature) = signature {
        part.insert("thoughtSignature".into(), json!(signature));
    }
    Value::Object(part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Origin, ToolResult};
    use crate::provider::ReasoningConfig;
    use crate::tool::ToolSpec;

    fn endpoint(base: &str, credential: Option<Credential>) -> Endpoint {
        Endpoint {
            base_url: base.into(),
            credential,
            headers: Headers::new(),
            quirks: Default::default(),
        }
    }

    fn body(request: &Request) -> Value {
        serde_json::from_slice(&request.body).unwrap()
    }

    fn origin(model: &str) -> Origin {
        Origin {
            provider: "google".into(),
            model: model.into(),
        }
    }

    fn call(id: &str, arguments: &str, signature: Option<&str>, model: &str) -> Part {
        Part::ToolCall(ToolCall {
            id: id.into(),
            name: "read".into(),
            arguments: arguments.into(),
            item_id: None,
            signature: signature.map(str::to_string),
            origin: origin(model),
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
            model: "gemini-3-pro-preview".into(),
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
                            text: "looking".into(),
                            signature: Some("RSIG".into()),
                            origin: origin("gemini-3-pro-preview"),
                            ..Reasoning::default()
                        }),
                        Part::Reasoning(Reasoning {
                            text: "foreign thoughts".into(),
                            signature: Some("other".into()),
                            origin: origin("claude-sonnet-4-5"),
                            ..Reasoning::default()
                        }),
                        Part::text("Reading both."),
                        call(
                            "toolu_01+/=x",
                            r#"{"path":"a"}"#,
                            Some("CSIG"),
                            "gemini-3-pro-preview",
                        ),
                        call("call_2", "[1]", None, "gemini-3-pro-preview"),
                    ],
                },
                Message {
                    role: Role::User,
                    parts: vec![
                        result("toolu_01+/=x", "contents of a", false),
                        result("call_2", "no such file", true),
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
    fn full_conversation_becomes_gemini_contents() {
        let request = build_request(
            &endpoint("", Some(Credential::ApiKey("AIza-test".into()))),
            &conversation(),
        );
        assert_eq!(request.method, Method::Post);
        assert_eq!(
            request.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-3-pro-preview:streamGenerateContent?alt=sse"
        );
        let headers: Vec<(&str, &str)> = request.headers.iter().collect();
        assert_eq!(
            headers,
            vec![
                ("content-type", "application/json"),
                ("accept", "text/event-stream"),
                ("x-goog-api-key", "AIza-test"),
            ]
        );
        let wired = wire_tool_call_id("toolu_01+/=x");
        assert_eq!(
            body(&request),
            json!({
                "contents": [
                    {"role": "user", "parts": [
                        {"text": "What is in this image?"},
                        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                    ]},
                    {"role": "model", "parts": [
                        {"text": "looking", "thought": true, "thoughtSignature": "RSIG"},
                        {"text": "Reading both."},
                        {"functionCall": {"id": wired, "name": "read", "args": {"path": "a"}},
                         "thoughtSignature": "CSIG"},
                        {"functionCall": {"id": "call_2", "name": "read", "args": {}}},
                    ]},
                    {"role": "user", "parts": [
                        {"functionResponse": {"id": wired, "name": "read",
                                              "response": {"content": "contents of a"}}},
                        {"functionResponse": {"id": "call_2", "name": "read",
                                              "response": {"error": "no such file"}}},
                        {"text": "Thanks."},
                    ]},
                ],
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "tools": [{"functionDeclarations": [{
                    "name": "read",
                    "description": "Reads a file.",
                    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
                }]}],
                "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
                "generationConfig": {
                    "maxOutputTokens": 1024,
                    "temperature": 0.7,
                    "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true},
                },
            })
        );
    }

    #[test]
    fn unsigned_calls_from_elsewhere_get_the_sentinel_on_the_first_call_only() {
        let mut request = ChatRequest {
            model: "gemini-3-pro-preview".into(),
            messages: vec![Message {
                role: Role::Assistant,
                parts: vec![
                    call("c1", "{}", Some("from-another-model"), "gpt-5"),
                    call("c2", "{}", None, "gpt-5"),
                ],
            }],
            ..ChatRequest::default()
        };
        let parts = |request: &ChatRequest| {
            body(&build_request(
                &endpoint("https://g/v1beta/", None),
                request,
            ))["contents"][0]["parts"]
                .clone()
        };
        assert_eq!(
            parts(&request),
            json!([
                {"functionCall": {"id": "c1", "name": "read", "args": {}},
                 "thoughtSignature": SKIP_SIGNATURE_SENTINEL},
                {"functionCall": {"id": "c2", "name": "read", "args": {}}},
            ])
        );
        request.model = "models/gemini-2.5-flash".into();
        assert_eq!(
            parts(&request),
            json!([
                {"functionCall": {"id": "c1", "name": "read", "args": {}}},
                {"functionCall": {"id": "c2", "name": "read", "args": {}}},
            ]),
            "Gemini 2 does not validate signatures"
        );
        let built = build_request(&endpoint("https://g/v1beta/", None), &request);
        assert_eq!(
            built.url,
            "https://g/v1beta/models/gemini-2.5-flash:generateContent"
        );
    }

    #[test]
    fn a_bare_signature_is_replayed_on_an_empty_text_part() {
        let request = ChatRequest {
            model: "gemini-3-pro-preview".into(),
            messages: vec![Message {
                role: Role::Assistant,
                parts: vec![
                    Part::text("Three."),
                    Part::Reasoning(Reasoning {
                        signature: Some("SIG".into()),
                        origin: origin("gemini-3-pro-preview"),
                        ..Reasoning::default()
                    }),
                    Part::Reasoning(Reasoning::default()),
                ],
            }],
            ..ChatRequest::default()
        };
        let b = body(&build_request(&endpoint("", None), &request));
        assert_eq!(
            b["contents"],
            json!([{"role": "model", "parts": [
                {"text": "Three."},
                {"text": "", "thoughtSignature": "SIG"},
            ]}])
        );
    }

    #[test]
    fn tool_choice_variants_and_explicit_budget() {
        let mut request = ChatRequest {
            model: "m".into(),
            ..ChatRequest::default()
        };
        let b = body(&build_request(&endpoint("", None), &request));
        assert_eq!(b, json!({"contents": []}), "nothing optional is sent");
        for (choice, expected) in [
            (ToolChoice::Required, json!({"mode": "ANY"})),
            (ToolChoice::None, json!({"mode": "NONE"})),
            (
                ToolChoice::Tool("read".into()),
                json!({"mode": "ANY", "allowedFunctionNames": ["read"]}),
            ),
        ] {
            request.tool_choice = choice;
            let b = body(&build_request(&endpoint("", None), &request));
            assert_eq!(b["toolConfig"]["functionCallingConfig"], expected);
        }
        request.reasoning = Some(ReasoningConfig {
            effort: Effort::High,
            budget_tokens: Some(5000),
        });
        let b = body(&build_request(&endpoint("", None), &request));
        assert_eq!(
            b["generationConfig"],
            json!({"thinkingConfig": {"thinkingBudget": 5000, "includeThoughts": true}})
        );
    }

    #[test]
    fn bearer_credential_endpoint_headers_and_extra_override() {
        let mut headers = Headers::new();
        headers.push("Accept", "application/json");
        headers.push("x-goog-user-project", "proj");
        let endpoint = Endpoint {
            base_url: "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google".into(),
            credential: Some(Credential::Bearer("ya29.tok".into())),
            headers,
            quirks: Default::default(),
        };
        let mut request = ChatRequest {
            model: "gemini-3-pro".into(),
            stream: true,
            ..ChatRequest::default()
        };
        request.extra.insert("safetySettings".into(), json!([]));
        request.extra.insert("contents".into(), json!("overridden"));
        let built = build_request(&endpoint, &request);
        let headers: Vec<(&str, &str)> = built.headers.iter().collect();
        assert_eq!(
            headers,
            vec![
                ("content-type", "application/json"),
                ("authorization", "Bearer ya29.tok"),
                ("Accept", "application/json"),
                ("x-goog-user-project", "proj"),
            ]
        );
        assert!(built
            .url
            .ends_with("/publishers/google/models/gemini-3-pro:streamGenerateContent?alt=sse"));
        assert_eq!(
            body(&built),
            json!({"contents": "overridden", "safetySettings": []})
        );
    }

    #[test]
    fn url_images_and_tool_result_images() {
        let request = ChatRequest {
            model: "m".into(),
            messages: vec![Message {
                role: Role::User,
                parts: vec![
                    Part::Image(Image::Url {
                        url: "data:image/gif;base64,R0lG".into(),
                    }),
                    Part::Image(Image::Url {
                        url: "https://x/a.JPG?s=1".into(),
                    }),
                    Part::Image(Image::Url {
                        url: "https://x/picture".into(),
                    }),
                    Part::ToolResult(ToolResult {
                        call_id: "c".into(),
                        name: "shot".into(),
                        content: vec![
                            ToolOutput::Text {
                                text: "taken".into(),
                            },
                            ToolOutput::Image(Image::Base64 {
                                media_type: "image/webp".into(),
                                data: "UklG".into(),
                            }),
                        ],
                        is_error: false,
                    }),
                ],
            }],
            ..ChatRequest::default()
        };
        let b = body(&build_request(&endpoint("", None), &request));
        assert_eq!(
            b["contents"][0]["parts"],
            json!([
                {"inlineData": {"mimeType": "image/gif", "data": "R0lG"}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x/a.JPG?s=1"}},
                {"fileData": {"fileUri": "https://x/picture"}},
                {"functionResponse": {"id": "c", "name": "shot", "response": {"content": "taken"}}},
                {"inlineData": {"mimeType": "image/webp", "data": "UklG"}},
            ])
        );
    }

    #[test]
    fn tool_call_ids_are_sanitised_deterministically() {
        assert_eq!(wire_tool_call_id("call_abc-123"), "call_abc-123");
        let a = wire_tool_call_id("call_1|fc_+/=");
        assert_eq!(a, wire_tool_call_id("call_1|fc_+/="));
        assert!(a.starts_with("call_1fc__"), "{a}");
        let long_a = format!("x{}", "a".repeat(80));
        let long_b = format!("x{}b", "a".repeat(79));
        assert_ne!(wire_tool_call_id(&long_a), wire_tool_call_id(&long_b));
        for id in [
            a,
            wire_tool_call_id(&long_a),
            wire_tool_call_id(""),
            wire_tool_call_id("+++"),
        ] {
            assert!(!id.is_empty() && id.len() <= MAX_TOOL_CALL_ID_LEN, "{id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{id}"
            );
        }
    }
}

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
    let allowed = |c: &char| c.is_ascii_alphanumeric() || *c == '_' || *c == '-';
    if !id.is_empty() && id.len() <= MAX_TOOL_CALL_ID_LEN && id.chars().all(|c| allowed(&c)) {
        return id.to_string();
    }
    let hash = format!("{:016x}", fnv1a64(id.as_bytes()));
    let keep = MAX_TOOL_CALL_ID_LEN - 1 - hash.len();
    let mut prefix: String = id.chars().filter(allowed).take(keep).collect();
    if prefix.is_empty() {
        prefix.push_str("call");
    }
    format!("{prefix}_{hash}")
}

/// FNV-1a, 64 bits: small, stable across platforms and versions.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
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

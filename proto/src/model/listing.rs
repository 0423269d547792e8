//! Asking a provider which models it serves: the request and the answer.
//!
//! [`models_request`] is the cheapest authorised request a provider answers — `GET` of
//! its model list, with the same credential and headers a chat request would carry (the
//! wire format's request builder decides them, so the two never disagree). Local servers
//! answer it too: Ollama, LM Studio and llama.cpp serve OpenAI's `/v1/models`.
//! [`parse_model_ids`] reads the ids from any of the list shapes in use.

use std::fmt;

use serde_json::Value;

use crate::http::{Method, Request};
use crate::provider::{ChatRequest, Endpoint, WireFormat};

/// `GET` of the model list at `endpoint`: `{base}/v1/models` for Anthropic (a `/v1` in the
/// base is not doubled), `{base}/models` for the OpenAI formats and Gemini.
pub fn models_request(format: WireFormat, endpoint: &Endpoint) -> Request {
    let probe = ChatRequest {
        model: "m".into(),
        ..ChatRequest::default()
    };
    let mut request = format.build_request(endpoint, &probe);
    let base = endpoint.base_url.trim_end_matches('/');
    request.url = match format {
        WireFormat::Anthropic => {
            format!("{}/v1/models", base.strip_suffix("/v1").unwrap_or(base))
        }
        WireFormat::OpenaiChat | WireFormat::OpenaiResponses | WireFormat::Gemini => {
            format!("{base}/models")
        }
    };
    request.method = Method::Get;
    request.body.clear();
    for name in ["content-type", "accept", "x-initiator", "openai-intent"] {
        request.headers.remove(name);
    }
    request.headers.push("accept", "application/json");
    request
}

/// A model list cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListError {
    /// The body is not JSON.
    NotJson,
    /// The JSON has no `data` or `models` array.
    NoList,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::NotJson => f.write_str("the model list is not JSON"),
            ListError::NoList => f.write_str("the answer holds no model list"),
        }
    }
}

impl std::error::Error for ListError {}

/// The model ids in a list answer, in its order: OpenAI and Anthropic
/// `{"data": [{"id"}]}`, Gemini `{"models": [{"name": "models/ID"}]}` (the prefix dropped),
/// Ollama's `/api/tags` `{"models": [{"name"} or {"model"}]}`. Entries without an id are
/// skipped.
pub fn parse_model_ids(body: &[u8]) -> Result<Vec<String>, ListError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ListError::NotJson)?;
    let list = value
        .get("data")
        .or_else(|| value.get("models"))
        .and_then(Value::as_array)
        .ok_or(ListError::NoList)?;
    Ok(list
        .iter()
        .filter_map(|entry| {
            let id = ["id", "model", "name"]
                .iter()
                .find_map(|key| entry.get(key).and_then(Value::as_str))?;
            Some(id.strip_prefix("models/").unwrap_or(id).to_string())
        })
        .filter(|id| !id.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::profile::profile;
    use crate::provider::Credential;

    fn endpoint(id: &str, base: Option<&str>, key: &str) -> Endpoint {
        let mut endpoint = profile(id).unwrap().endpoint(base);
        endpoint.credential = Some(Credential::ApiKey(key.into()));
        endpoint
    }

    #[test]
    fn each_format_lists_models_with_its_own_credential_header() {
        let anthropic = models_request(
            WireFormat::Anthropic,
            &endpoint("anthropic", Some("http://127.0.0.1:9/v1"), "sk-a"),
        );
        assert_eq!(anthropic.method, Method::Get);
        assert_eq!(anthropic.url, "http://127.0.0.1:9/v1/models");
        assert_eq!(anthropic.headers.get("x-api-key"), Some("sk-a"));
        assert!(anthropic.headers.get("anthropic-version").is_some());
        assert!(anthropic.body.is_empty());
        assert_eq!(anthropic.headers.get("content-type"), None);

        let openai = models_request(
            WireFormat::OpenaiResponses,
            &endpoint("openai", None, "sk-o"),
        );
        assert_eq!(openai.url, "https://api.openai.com/v1/models");
        assert_eq!(openai.headers.get("authorization"), Some("Bearer sk-o"));

        let gemini = models_request(WireFormat::Gemini, &endpoint("google", None, "g"));
        assert_eq!(
            gemini.url,
            "https://generativelanguage.googleapis.com/v1beta/models"
        );
        assert_eq!(gemini.headers.get("x-goog-api-key"), Some("g"));

        let ollama = models_request(WireFormat::OpenaiChat, &endpoint("ollama", None, "none"));
        assert_eq!(ollama.url, "http://127.0.0.1:11434/v1/models");
        assert_eq!(ollama.headers.get("accept"), Some("application/json"));
    }

    #[test]
    fn copilot_keeps_its_editor_headers() {
        let copilot = models_request(
            WireFormat::OpenaiChat,
            &endpoint("github-copilot", None, "t"),
        );
        assert_eq!(copilot.url, "https://api.githubcopilot.com/models");
        assert!(copilot
            .headers
            .get("editor-version")
            .is_some_and(|v| v.starts_with("cm/")));
        assert_eq!(copilot.headers.get("x-initiator"), None);
    }

    #[test]
    fn every_list_shape_gives_its_ids() {
        let openai = br#"{"object":"list","data":[{"id":"gpt-5"},{"id":"o3"},{"object":"model"}]}"#;
        assert_eq!(parse_model_ids(openai).unwrap(), ["gpt-5", "o3"]);
        let gemini = br#"{"models":[{"name":"models/gemini-2.5-pro","displayName":"x"}]}"#;
        assert_eq!(parse_model_ids(gemini).unwrap(), ["gemini-2.5-pro"]);
        let ollama = br#"{"models":[{"name":"qwen3:8b","model":"qwen3:8b","size":1}]}"#;
        assert_eq!(parse_model_ids(ollama).unwrap(), ["qwen3:8b"]);
        assert_eq!(
            parse_model_ids(br#"{"data":[]}"#).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn bad_answers_are_errors_not_panics() {
        assert_eq!(parse_model_ids(b"<html>"), Err(ListError::NotJson));
        assert_eq!(parse_model_ids(b""), Err(ListError::NotJson));
        assert_eq!(parse_model_ids(br#"{"data": 5}"#), Err(ListError::NoList));
        assert_eq!(parse_model_ids(b"[]"), Err(ListError::NoList));
        assert_eq!(
            parse_model_ids(br#"{"data":[{"id":5},{"id":""},"x"]}"#).unwrap(),
            Vec::<String>::new()
        );
    }
}

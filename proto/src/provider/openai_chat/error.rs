//! Error bodies: OpenAI's `{"error":{message,type,param,code}}` and its relatives.
//!
//! Shapes read: the OpenAI object (`code` a string, a number or null); Mistral's top-level
//! `{"object":"error","message","type","code"}`; `{"error":"text"}`; a one-element array
//! of either (some gateways); FastAPI's `{"detail": …}`. The code passed on is `code` when
//! it is a string, else `type`, so Mistral's numeric codes give way to their type.

use serde_json::Value;

use crate::http::Headers;
use crate::provider::ApiError;

/// Classifies an error response of a Chat Completions server.
///
/// `insufficient_quota` (a 429 that waiting will not fix) becomes
/// [`ErrorKind::QuotaExceeded`](crate::provider::ErrorKind::QuotaExceeded);
/// `context_length_exceeded` becomes `ContextTooLong`.
pub fn classify_error(status: u16, headers: &Headers, body: &[u8]) -> ApiError {
    let fields = serde_json::from_slice::<Value>(body)
        .map(|v| ErrorFields::read(&v))
        .unwrap_or_default();
    ApiError::classify(
        Some(status),
        headers,
        fields.code.as_deref(),
        fields.message.as_deref(),
        body,
    )
}

/// An error reported inside a 200 stream (or as a whole 200 body), from its JSON if any.
pub(super) fn in_stream_error(value: Option<&Value>, data: &[u8]) -> ApiError {
    let fields = value.map(ErrorFields::read).unwrap_or_default();
    ApiError::classify(
        None,
        &Headers::new(),
        fields.code.as_deref(),
        fields.message.as_deref(),
        data,
    )
}

/// Whether a JSON payload is an error object rather than a response or chunk.
pub(super) fn is_error(value: &Value) -> bool {
    value.get("error").is_some_and(|e| !e.is_null())
        || value.get("object").and_then(Value::as_str) == Some("error")
}

/// The code and message found in an error body.
#[derive(Debug, Default, PartialEq)]
struct ErrorFields {
    code: Option<String>,
    message: Option<String>,
}

impl ErrorFields {
    fn read(value: &Value) -> ErrorFields {
        let value = match value {
            Value::Array(items) => match items.first() {
                Some(first) => first,
                None => return ErrorFields::default(),
            },
            other => other,
        };
        let Some(top) = value.as_object() else {
            return ErrorFields::default();
        };
        let inner = match top.get("error") {
            Some(Value::Object(inner)) => inner,
            Some(Value::String(text)) => {
                return ErrorFields {
                    code: code_of(top),
                    message: Some(text.clone()),
                }
            }
            _ => top,
        };
        let message = inner
            .get("message")
            .or_else(|| top.get("detail"))
            .and_then(|m| match m {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            });
        ErrorFields {
            code: code_of(inner),
            message,
        }
    }
}

/// `code` when it is a non-empty string, else `type`.
fn code_of(object: &serde_json::Map<String, Value>) -> Option<String> {
    ["code", "type"]
        .iter()
        .filter_map(|key| object.get(*key).and_then(Value::as_str))
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ErrorKind;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (k, v) in pairs {
            h.push(*k, *v);
        }
        h
    }

    #[test]
    fn openai_error_object_gives_code_and_message() {
        let body = br#"{"error":{"message":"The model `gpt-9` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
        let e = classify_error(404, &headers(&[("x-request-id", "req_9")]), body);
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.code.as_deref(), Some("model_not_found"));
        assert_eq!(e.message, "The model `gpt-9` does not exist");
        assert_eq!(e.request_id.as_deref(), Some("req_9"));
        assert!(!e.retryable);
    }

    #[test]
    fn insufficient_quota_is_not_retried() {
        let body = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let e = classify_error(429, &Headers::new(), body);
        assert_eq!(e.kind, ErrorKind::QuotaExceeded);
        assert!(!e.retryable);
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let e = classify_error(429, &headers(&[("retry-after", "3")]), body);
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(e.retryable);
        assert_eq!(e.retry_after_ms, Some(3000));
    }

    #[test]
    fn context_length_exceeded_is_context_too_long() {
        let body = br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        let e = classify_error(400, &Headers::new(), body);
        assert_eq!(e.kind, ErrorKind::ContextTooLong);
        assert!(!e.retryable);
    }

    #[test]
    fn null_or_numeric_code_falls_back_to_type() {
        let body = br#"{"error":{"message":"Incorrect API key provided","type":"invalid_api_key","code":null}}"#;
        let e = classify_error(401, &Headers::new(), body);
        assert_eq!(e.code.as_deref(), Some("invalid_api_key"));
        assert_eq!(e.kind, ErrorKind::Authentication);

        let body = br#"{"object":"error","message":"Unexpected role 'user' after role 'tool'","type":"invalid_request_message_order","param":null,"code":3230}"#;
        let e = classify_error(400, &Headers::new(), body);
        assert_eq!(e.code.as_deref(), Some("invalid_request_message_order"));
        assert_eq!(e.message, "Unexpected role 'user' after role 'tool'");
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
    }

    #[test]
    fn other_shapes_still_give_a_message() {
        let e = classify_error(500, &Headers::new(), br#"{"error":"model runner crashed"}"#);
        assert_eq!(e.message, "model runner crashed");
        assert_eq!(e.kind, ErrorKind::Server);
        let e = classify_error(
            429,
            &Headers::new(),
            br#"[{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED"}}]"#,
        );
        assert_eq!(e.message, "Resource exhausted");
        assert_eq!(e.kind, ErrorKind::RateLimited);
        let e = classify_error(
            422,
            &Headers::new(),
            br#"{"detail":"messages: field required"}"#,
        );
        assert_eq!(e.message, "messages: field required");
        let e = classify_error(
            502,
            &Headers::new(),
            b"<html><body>Bad Gateway</body></html>",
        );
        assert_eq!(e.message, "Bad Gateway");
        assert!(e.retryable);
    }

    #[test]
    fn in_stream_error_has_no_status() {
        let data = br#"{"error":{"message":"Tool call validation failed","type":"invalid_request_error","code":"tool_use_failed"}}"#;
        let value: Value = serde_json::from_slice(data).unwrap();
        assert!(is_error(&value));
        let e = in_stream_error(Some(&value), data);
        assert_eq!(e.status, None);
        assert_eq!(e.code.as_deref(), Some("tool_use_failed"));
        assert_eq!(e.message, "Tool call validation failed");
        let e = in_stream_error(None, b"upstream went away");
        assert_eq!(e.message, "upstream went away");
        assert!(!is_error(
            &serde_json::json!({"error": null, "choices": []})
        ));
    }
}

//! Google's error body: `{"error":{"code","message","status","details":[…]}}`.
//!
//! Also read: a one-element array of it (what `streamGenerateContent` without `alt=sse`
//! answers). The code passed on is `status` (`RESOURCE_EXHAUSTED`, `PERMISSION_DENIED`,
//! …). `details` give the retry delay (`RetryInfo.retryDelay`, `"34.4s"`) and the reason
//! of an `ErrorInfo` (`API_KEY_INVALID`).

use serde_json::Value;

use crate::http::Headers;
use crate::provider::{ApiError, ErrorKind};

/// Classifies an error response of the Gemini API.
///
/// The retry delay comes from the `retry-after` headers, else from `RetryInfo.retryDelay`.
/// An invalid API key (Google answers 400 `INVALID_ARGUMENT` with reason
/// `API_KEY_INVALID`) is an authentication error; `FAILED_PRECONDITION` (the API is not
/// offered in the caller's region, or not on its plan without billing) is a permission
/// error whose message says so.
pub fn classify_error(status: u16, headers: &Headers, body: &[u8]) -> ApiError {
    let value = serde_json::from_slice::<Value>(body).ok();
    classify(Some(status), headers, value.as_ref(), body)
}

/// An error reported inside a 200 stream (or as a whole 200 body).
pub(super) fn in_stream_error(value: Option<&Value>, data: &[u8]) -> ApiError {
    classify(None, &Headers::new(), value, data)
}

/// Whether a payload is an error object rather than a response.
pub(super) fn is_error(value: &Value) -> bool {
    let value = match value {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    };
    value.get("error").is_some_and(|e| !e.is_null())
}

fn classify(
    status: Option<u16>,
    headers: &Headers,
    value: Option<&Value>,
    body: &[u8],
) -> ApiError {
    let error = value
        .map(|v| match v {
            Value::Array(items) => items.first().unwrap_or(v),
            other => other,
        })
        .and_then(|v| v.get("error"));
    let (code, message) = match error {
        Some(Value::Object(error)) => (
            error
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_string),
            error
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        Some(Value::String(text)) => (None, Some(text.clone())),
        _ => (None, None),
    };
    let details = error
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let reason = details
        .iter()
        .filter(|d| type_is(d, "ErrorInfo"))
        .find_map(|d| d.get("reason").and_then(Value::as_str));
    let mut message = message;
    if code.as_deref() == Some("FAILED_PRECONDITION") {
        message = Some(format!(
            "{} (the Gemini API is not available in this region, or not on this plan without billing)",
            message.as_deref().unwrap_or("failed precondition").trim()
        ));
    }
    let mut api = ApiError::classify(status, headers, code.as_deref(), message.as_deref(), body);
    if reason == Some("API_KEY_INVALID") {
        api.kind = ErrorKind::Authentication;
        api.retryable = false;
    } else if code.as_deref() == Some("FAILED_PRECONDITION") {
        api.kind = ErrorKind::Permission;
        api.retryable = false;
    }
    if api.retry_after_ms.is_none() {
        api.retry_after_ms = details
            .iter()
            .filter(|d| type_is(d, "RetryInfo"))
            .find_map(|d| d.get("retryDelay").and_then(Value::as_str))
            .and_then(duration_ms);
    }
    api
}

/// Whether a `details` entry is of the `google.rpc` type `name`.
fn type_is(detail: &Value, name: &str) -> bool {
    detail
        .get("@type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.rsplit(['.', '/']).next() == Some(name))
}

/// A protobuf JSON duration (`"34.4s"`, `"2s"`) in milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    let seconds: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    (0.0..1e12)
        .contains(&seconds)
        .then(|| (seconds * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: &[u8] = br#"{
      "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
          {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
           "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
          {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34.4s"}
        ]
      }
    }"#;

    #[test]
    fn quota_error_takes_its_delay_from_retry_info() {
        let e = classify_error(429, &Headers::new(), QUOTA);
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert_eq!(e.status, Some(429));
        assert_eq!(e.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(
            e.message,
            "You exceeded your current quota, please check your plan."
        );
        assert!(e.retryable);
        assert_eq!(e.retry_after_ms, Some(34_400));
    }

    #[test]
    fn a_retry_after_header_wins_over_retry_info() {
        let mut headers = Headers::new();
        headers.push("retry-after", "2");
        let e = classify_error(429, &headers, QUOTA);
        assert_eq!(e.retry_after_ms, Some(2000));
    }

    #[test]
    fn status_strings_decide_the_kind() {
        let body = |status: &str, message: &str| {
            format!(r#"{{"error":{{"code":400,"message":"{message}","status":"{status}"}}}}"#)
        };
        let e = classify_error(
            403,
            &Headers::new(),
            body("PERMISSION_DENIED", "denied").as_bytes(),
        );
        assert_eq!(e.kind, ErrorKind::Permission);
        let e = classify_error(
            404,
            &Headers::new(),
            body("NOT_FOUND", "models/x is not found").as_bytes(),
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.message, "models/x is not found");
        let e = classify_error(
            503,
            &Headers::new(),
            body("UNAVAILABLE", "overloaded").as_bytes(),
        );
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert!(e.retryable);
        let e = classify_error(
            400,
            &Headers::new(),
            body(
                "FAILED_PRECONDITION",
                "User location is not supported for the API use.",
            )
            .as_bytes(),
        );
        assert_eq!(e.kind, ErrorKind::Permission);
        assert!(!e.retryable);
        assert!(e.message.starts_with("User location is not supported for the API use. (the Gemini API is not available in this region"), "{}", e.message);
    }

    #[test]
    fn an_invalid_api_key_is_an_authentication_error() {
        let body = br#"[{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}}]"#;
        let e = classify_error(400, &Headers::new(), body);
        assert_eq!(e.kind, ErrorKind::Authentication);
        assert_eq!(e.code.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(e.message, "API key not valid. Please pass a valid API key.");
        assert!(!e.retryable);
    }

    #[test]
    fn bodies_that_are_not_google_errors_still_classify() {
        let e = classify_error(
            502,
            &Headers::new(),
            b"<html><body>Bad Gateway</body></html>",
        );
        assert_eq!(e.kind, ErrorKind::Server);
        assert_eq!(e.message, "Bad Gateway");
        let e = classify_error(
            500,
            &Headers::new(),
            br#"{"error":{"details":[{"@type":"RetryInfo","retryDelay":"nonsense"}]}}"#,
        );
        assert_eq!(e.retry_after_ms, None);
        let e = classify_error(400, &Headers::new(), br#"{"error":"plain text"}"#);
        assert_eq!(e.message, "plain text");
    }

    #[test]
    fn durations_parse_as_protobuf_writes_them() {
        assert_eq!(duration_ms("34.4s"), Some(34_400));
        assert_eq!(duration_ms("0s"), Some(0));
        assert_eq!(duration_ms("1.5"), None);
        assert_eq!(duration_ms("-1s"), None);
        assert_eq!(duration_ms("1e300s"), None);
    }
}

//! Provider errors: what went wrong, whether to retry, and when.
//!
//! Each wire format parses its own error body and then calls [`ApiError::classify`],
//! which applies the rules every provider shares: the status decides the kind unless the
//! provider's error type says more; `retry-after-ms`, `retry-after` and `x-should-retry`
//! headers decide the retry; a body that is not JSON (a proxy's HTML page) still yields a
//! readable one-line message.

use serde::{Deserialize, Serialize};

use crate::http::Headers;

/// What kind of failure a provider reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The credential is missing, wrong, expired or revoked (401).
    Authentication,
    /// The credential may not do this: plan, region, organisation (403).
    Permission,
    /// The model or endpoint does not exist (404).
    NotFound,
    /// Too many requests for now (429); retry later.
    RateLimited,
    /// The account is out of credit or quota; retrying will not help.
    QuotaExceeded,
    /// The provider is overloaded (529, `overloaded_error`); retry with backoff.
    Overloaded,
    /// The conversation does not fit the model's context window.
    ContextTooLong,
    /// The request body is larger than the provider accepts (413).
    RequestTooLarge,
    /// The provider rejected the request as malformed (400 and other 4xx).
    InvalidRequest,
    /// The provider failed (5xx); usually worth a retry.
    Server,
}

impl ErrorKind {
    /// The kind a bare status code implies, before any body is read.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Authentication,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            413 => ErrorKind::RequestTooLarge,
            429 => ErrorKind::RateLimited,
            529 => ErrorKind::Overloaded,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::InvalidRequest,
        }
    }
}

/// An error reported by a provider, in an HTTP error response or inside a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// The HTTP status; `None` for an error event inside a 200 stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The provider's own error type or code (`overloaded_error`, `insufficient_quota`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The provider's message, or a readable summary of a body that had none.
    pub message: String,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
    /// How long the provider asked to wait before retrying, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// The provider's request id, for support tickets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    /// Classifies an error from what a provider's parser found.
    ///
    /// `code` is the provider's error type or code; `message` its message, or `None`
    /// when the body had none (the body's text is summarised instead); `status` is
    /// `None` for in-stream errors.
    pub fn classify(
        status: Option<u16>,
        headers: &Headers,
        code: Option<&str>,
        message: Option<&str>,
        body: &[u8],
    ) -> ApiError {
        let message = match message {
            Some(m) if !m.trim().is_empty() => m.trim().to_string(),
            _ => summarize_body(body, status),
        };
        let mut kind = match status {
            Some(s) => ErrorKind::from_status(s),
            None => ErrorKind::Server,
        };
        if let Some(code_kind) = code.and_then(kind_from_code) {
            kind = code_kind;
        }
        if is_context_overflow(code, &message) {
            kind = ErrorKind::ContextTooLong;
        }
        let mut retryable = match kind {
            ErrorKind::RateLimited | ErrorKind::Overloaded | ErrorKind::Server => true,
            _ => matches!(status, Some(408 | 409)),
        };
        if let Some(header) = should_retry_header(headers) {
            // The provider knows best, except that a quota or context error never heals.
            if !matches!(kind, ErrorKind::QuotaExceeded | ErrorKind::ContextTooLong) {
                retryable = header;
            }
        }
        ApiError {
            kind,
            status,
            code: code.map(str::to_string),
            message,
            retryable,
            retry_after_ms: retry_after_ms(headers),
            request_id: headers
                .get("request-id")
                .or_else(|| headers.get("x-request-id"))
                .map(str::to_string),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}")?,
            None => f.write_str("stream error")?,
        }
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ApiError {}

/// Maps a provider error type or code to a kind, where the word is unambiguous.
fn kind_from_code(code: &str) -> Option<ErrorKind> {
    Some(match code {
        "authentication_error" | "invalid_api_key" | "unauthenticated" | "UNAUTHENTICATED" => {
            ErrorKind::Authentication
        }
        "permission_error" | "permission_denied" | "PERMISSION_DENIED" => ErrorKind::Permission,
        "not_found_error" | "model_not_found" | "NOT_FOUND" => ErrorKind::NotFound,
        "rate_limit_error" | "rate_limit_exceeded" | "RESOURCE_EXHAUSTED" => ErrorKind::RateLimited,
        "insufficient_quota" | "billing_error" => ErrorKind::QuotaExceeded,
        "overloaded_error" | "overloaded" | "UNAVAILABLE" => ErrorKind::Overloaded,
        "request_too_large" => ErrorKind::RequestTooLarge,
        "context_length_exceeded" | "model_context_window_exceeded" => ErrorKind::ContextTooLong,
        "api_error" | "server_error" | "internal_error" | "INTERNAL" => ErrorKind::Server,
        _ => return None,
    })
}

/// Whether an error means the input is too long for the model, by code or by message.
fn is_context_overflow(code: Option<&str>, message: &str) -> bool {
    if matches!(
        code,
        Some("context_length_exceeded" | "model_context_window_exceeded")
    ) {
        return true;
    }
    let m = message.to_ascii_lowercase();
    [
        "prompt is too long",
        "maximum context length",
        "context window",
        "context length",
        "too many tokens",
        "input is too long",
        "exceeds the context",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// The delay a response asks for before a retry, in milliseconds.
///
/// Reads `retry-after-ms` (milliseconds, as the official SDKs do) first, then
/// `retry-after` in seconds (fractions allowed). An HTTP-date `retry-after` needs the
/// current wall-clock time, which the core does not read; it yields `None` and the
/// caller's backoff applies.
pub fn retry_after_ms(headers: &Headers) -> Option<u64> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(ms.round() as u64);
        }
    }
    let secs = headers.get("retry-after")?.trim().parse::<f64>().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        Some((secs * 1000.0).round() as u64)
    } else {
        None
    }
}

/// The `x-should-retry` header, when the provider sent a clear `true` or `false`.
pub fn should_retry_header(headers: &Headers) -> Option<bool> {
    match headers.get("x-should-retry")?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A one-line, readable summary of an error body that carried no usable message.
fn summarize_body(body: &[u8], status: Option<u16>) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    let looks_like_html = text.trim_start().starts_with('<');
    for c in text.chars() {
        if looks_like_html {
            match c {
                '<' => {
                    in_tag = true;
                    continue;
                }
                '>' => {
                    in_tag = false;
                    out.push(' ');
                    continue;
                }
                _ if in_tag => continue,
                _ => {}
            }
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut summary: String = collapsed.chars().take(200).collect();
    if collapsed.chars().count() > 200 {
        summary.push('…');
    }
    if summary.is_empty() {
        match status {
            Some(s) => format!("HTTP {s} with an empty body"),
            None => "error with no message".to_string(),
        }
    } else {
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (k, v) in pairs {
            h.push(*k, *v);
        }
        h
    }

    #[test]
    fn status_decides_kind_and_retry() {
        let e = ApiError::classify(Some(529), &Headers::new(), None, Some("busy"), b"");
        assert_eq!(e.kind, ErrorKind::Overloaded);
        assert!(e.retryable);
        let e = ApiError::classify(Some(400), &Headers::new(), None, Some("bad"), b"");
        assert_eq!(e.kind, ErrorKind::InvalidRequest);
        assert!(!e.retryable);
        let e = ApiError::classify(Some(408), &Headers::new(), None, None, b"");
        assert!(e.retryable, "408 is retried");
    }

    #[test]
    fn code_refines_kind() {
        let e = ApiError::classify(
            Some(429),
            &Headers::new(),
            Some("insufficient_quota"),
            Some("You exceeded your current quota"),
            b"",
        );
        assert_eq!(e.kind, ErrorKind::QuotaExceeded);
        assert!(!e.retryable, "quota errors do not heal by waiting");
    }

    #[test]
    fn context_overflow_is_recognised_from_the_message() {
        let e = ApiError::classify(
            Some(400),
            &Headers::new(),
            Some("invalid_request_error"),
            Some("prompt is too long: 210000 tokens > 200000 maximum"),
            b"",
        );
        assert_eq!(e.kind, ErrorKind::ContextTooLong);
    }

    #[test]
    fn retry_after_headers() {
        assert_eq!(
            retry_after_ms(&headers(&[("Retry-After", "2")])),
            Some(2000)
        );
        assert_eq!(
            retry_after_ms(&headers(&[
                ("retry-after", "0.5"),
                ("retry-after-ms", "120")
            ])),
            Some(120),
            "retry-after-ms wins"
        );
        assert_eq!(
            retry_after_ms(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            None
        );
        assert_eq!(retry_after_ms(&headers(&[("retry-after", "-3")])), None);
    }

    #[test]
    fn x_should_retry_overrides_status() {
        let e = ApiError::classify(
            Some(400),
            &headers(&[("x-should-retry", "true")]),
            None,
            Some("m"),
            b"",
        );
        assert!(e.retryable);
        let e = ApiError::classify(
            Some(500),
            &headers(&[("x-should-retry", "false")]),
            None,
            Some("m"),
            b"",
        );
        assert!(!e.retryable);
    }

    #[test]
    fn html_body_becomes_one_readable_line() {
        let body = b"<html><head><title>502 Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1></body></html>";
        let e = ApiError::classify(Some(502), &Headers::new(), None, None, body);
        assert_eq!(e.message, "502 Bad Gateway Bad Gateway");
        assert_eq!(e.kind, ErrorKind::Server);
        let e = ApiError::classify(Some(503), &Headers::new(), None, None, b"");
        assert_eq!(e.message, "HTTP 503 with an empty body");
    }

    #[test]
    fn request_id_is_kept() {
        let e = ApiError::classify(
            Some(500),
            &headers(&[("request-id", "req_1")]),
            None,
            Some("x"),
            b"",
        );
        assert_eq!(e.request_id.as_deref(), Some("req_1"));
    }
}

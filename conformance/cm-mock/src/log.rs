//! The request log: one [`LoggedRequest`] per request, kept in memory and optionally
//! appended to a JSON Lines file, with credentials cut to their first four characters.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;

use cm_proto::http::Headers;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request as the mock saw it and what it answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// Requests counted from 0, in the order their bodies finished arriving.
    pub seq: u64,
    /// The method.
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The headers, names lowercased, repeated ones joined with `, `; credentials
    /// (`authorization`, `x-api-key`, …) cut to their first 4 characters (after the scheme
    /// word such as `Bearer`) and `…`.
    pub headers: BTreeMap<String, String>,
    /// The body as JSON; a string if it is not JSON, `null` if empty.
    pub body: Value,
    /// The wire format of the endpoint, for model requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Whether the request asked for a stream.
    #[serde(default)]
    pub stream: bool,
    /// The script turn (0-based, as written) that answered, for model requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<usize>,
    /// The status the mock answered with (0 when it dropped the connection unanswered).
    pub status: u16,
    /// The failed expectation, named, when one failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expectation_failed: Option<String>,
    /// The fixture file replayed, when the turn replayed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// Why the mock could not answer from the script (exhausted, unknown path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LoggedRequest {
    /// The (redacted) value of a header, by name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// Headers whose values are secrets.
const SECRET_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
];

/// The headers as logged: lowercase names, secrets redacted.
pub(crate) fn logged_headers(headers: &Headers) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers.iter() {
        let name = name.to_ascii_lowercase();
        let value = if SECRET_HEADERS.contains(&name.as_str()) {
            redact(value)
        } else {
            value.to_string()
        };
        out.entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

/// The request target as logged: a `key=` query parameter (Gemini's other place for the
/// API key) redacted like a credential header.
pub(crate) fn logged_target(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.strip_prefix("key=") {
            Some(key) => format!("key={}", redact(key)),
            None => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// `Bearer sk-ant-xyz` → `Bearer sk-a…`; `sk-ant-xyz` → `sk-a…`.
pub(crate) fn redact(value: &str) -> String {
    let (scheme, secret) = match value.split_once(' ') {
        Some((scheme, secret))
            if ["bearer", "basic", "token"].contains(&scheme.to_ascii_lowercase().as_str()) =>
        {
            (format!("{scheme} "), secret.trim_start())
        }
        _ => (String::new(), value),
    };
    let kept: String = secret.chars().take(4).collect();
    format!("{scheme}{kept}…")
}

/// Where log records go.
#[derive(Debug)]
pub(crate) struct Log {
    records: Vec<LoggedRequest>,
    file: Option<File>,
}

impl Log {
    pub(crate) fn new(file: Option<File>) -> Log {
        Log {
            records: Vec::new(),
            file,
        }
    }

    /// Keeps the record and appends it to the file, flushed, as one JSON line.
    pub(crate) fn record(&mut self, record: LoggedRequest) {
        if let Some(file) = &mut self.file {
            if let Ok(mut line) = serde_json::to_vec(&record) {
                line.push(b'\n');
                // A failing log file must not take the server down; the in-memory log stays.
                let _ = file.write_all(&line).and_then(|()| file.flush());
            }
        }
        self.records.push(record);
    }

    pub(crate) fn records(&self) -> &[LoggedRequest] {
        &self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_keep_four_characters() {
        assert_eq!(redact("Bearer sk-proj-abcdef"), "Bearer sk-p…");
        assert_eq!(redact("sk-ant-api03-xyz"), "sk-a…");
        assert_eq!(redact("ab"), "ab…");
        assert_eq!(redact("Bearer"), "Bear…");
        let headers: Headers = [
            ("Authorization", "Bearer secret-token"),
            ("X-Api-Key", "sk-ant-secret"),
            ("Accept", "a"),
            ("accept", "b"),
        ]
        .into_iter()
        .collect();
        let logged = logged_headers(&headers);
        assert_eq!(logged["authorization"], "Bearer secr…");
        assert_eq!(logged["x-api-key"], "sk-a…");
        assert_eq!(logged["accept"], "a, b");
    }

    #[test]
    fn a_key_in_the_query_is_redacted() {
        assert_eq!(
            logged_target("/v1beta/models/g:streamGenerateContent?alt=sse&key=AIzaSecret"),
            "/v1beta/models/g:streamGenerateContent?alt=sse&key=AIza…"
        );
        assert_eq!(
            logged_target("/v1/messages?beta=true"),
            "/v1/messages?beta=true"
        );
        assert_eq!(logged_target("/v1/messages"), "/v1/messages");
    }
}

//! The recorded provider fixtures, loaded into one shape: a [`Fixture`] per file, holding the
//! HTTP [`Interaction`]s it recorded (status, headers, body bytes, request body as JSON).
//!
//! Every file format in `shared/fixtures/recorded/SOURCES.md` maps onto that shape:
//!
//! | file | kind | interactions |
//! |---|---|---|
//! | `*.chunks.txt` | [`FixtureKind::PayloadLines`] | one, body `data: <line>\n\n` per non-empty line |
//! | `*.sse`, `*.txt`, `*.bin` | [`FixtureKind::RawSse`] | one, body as is |
//! | `*.yaml` | [`FixtureKind::Cassette`] | one per VCR interaction |
//! | `*.json` array | [`FixtureKind::JsonExchanges`] | one per recorded exchange |
//! | other `*.json` | [`FixtureKind::JsonBody`] | one, status unknown |
//!
//! Cassette bodies come from `body.string` (raw text, or `!!binary` base64 of gzip) or from
//! `parsed_body` (YAML turned back into JSON). The directory is
//! `shared/fixtures/recorded` unless the `CM_FIXTURES_DIR` environment variable names another.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use saphyr_parser::{Event, ScalarStyle};
use serde_json::Value;

/// The environment variable that overrides [`fixtures_dir`].
pub const FIXTURES_DIR_VAR: &str = "CM_FIXTURES_DIR";

/// One recorded fixture file.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    /// Where the file is.
    pub path: PathBuf,
    /// The provider folder it sits in (`anthropic`, `openai-chat`, …).
    pub dir: String,
    /// The file name.
    pub name: String,
    /// Which recording format the file uses.
    pub kind: FixtureKind,
    /// The HTTP exchanges it recorded, in order.
    pub interactions: Vec<Interaction>,
}

/// The recording formats found among the fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixtureKind {
    /// `*.chunks.txt`: one SSE `data` payload per line, framing stripped by the recorder.
    PayloadLines,
    /// `*.sse`, `*.txt`, `*.bin`: raw SSE bytes as received.
    RawSse,
    /// `*.yaml`: a VCR.py cassette.
    Cassette,
    /// `*.json` holding a JSON array of `{request, response}` exchanges.
    JsonExchanges,
    /// `*.json` holding one response or error body.
    JsonBody,
}

/// One recorded HTTP exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    /// The response status; `None` when the file kept only a body.
    pub status: Option<u16>,
    /// Response headers in recorded order, one entry per value, names as recorded.
    pub headers: Vec<(String, String)>,
    /// The response body as it came over the wire (decompressed).
    pub body: Vec<u8>,
    /// Whether the body is an event stream (from `content-type`, else from its shape).
    pub is_sse: bool,
    /// The request body as JSON, when the file recorded it (non-JSON text becomes a string).
    pub request_body: Option<Value>,
}

impl Interaction {
    /// The first value of response header `name`, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The response body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl Fixture {
    /// The bodies of this fixture's event-stream responses.
    pub fn sse_bodies(&self) -> impl Iterator<Item = &[u8]> {
        self.interactions
            .iter()
            .filter(|i| i.is_sse)
            .map(|i| i.body.as_slice())
    }

    /// `dir/name`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.dir, self.name)
    }
}

/// Why a fixture could not be loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum FixtureError {
    /// Reading a file or listing a folder failed.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file name matches no known recording format.
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid YAML, JSON or UTF-8 where the format requires it.
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The file parsed but lacks a part the format requires.
    MissingField {
        /// The file.
        path: PathBuf,
        /// The missing part, e.g. `interactions`.
        field: &'static str,
    },
    /// A `!!binary` body is not valid base64, or not valid gzip.
    BadBinaryBody {
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixtureError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            FixtureError::UnknownFormat { path } => {
                write!(f, "{}: unknown fixture format", path.display())
            }
            FixtureError::Syntax { path, message } => write!(f, "{}: {message}", path.display()),
            FixtureError::MissingField { path, field } => {
                write!(f, "{}: missing {field}", path.display())
            }
            FixtureError::BadBinaryBody { path } => {
                write!(f, "{}: binary body is not base64 of gzip", path.display())
            }
        }
    }
}

impl std::error::Error for FixtureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FixtureError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The recorded fixtures directory: `$CM_FIXTURES_DIR`, else `shared/fixtures/recorded`.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os(FIXTURES_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/recorded"
        )),
    }
}

/// Loads every fixture under [`fixtures_dir`], sorted by path.
pub fn load_all() -> Result<Vec<Fixture>, FixtureError> {
    load_dir(&fixtures_dir())
}

/// Loads every fixture file under `dir` (recursively, sorted by path); `*.md` files are
/// documentation and skipped, any other unknown file is an error.
pub fn load_dir(dir: &Path) -> Result<Vec<Fixture>, FixtureError> {
    let mut files = Vec::new();
    list_files(dir, &mut files)?;
    files.sort();
    files
        .iter()
        .filter(|path| path.extension().is_none_or(|ext| ext != "md"))
        .map(|path| load_file(path))
        .collect()
}

/// Loads one fixture file, choosing the format from its name.
pub fn load_file(path: &Path) -> Result<Fixture, FixtureError> {
    let bytes = std::fs::read(path).map_err(|source| FixtureError::Io {
        path: path.to_owned(),
        source,
    })?;
    let name = file_name(path);
    let dir = path.parent().map(file_name).unwrap_or_default();
    let (kind, interactions) = if name.ends_with(".chunks.txt") {
        (
            FixtureKind::PayloadLines,
            vec![stream(payload_lines_to_sse(&bytes))],
        )
    } else if [".sse", ".txt", ".bin"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        (FixtureKind::RawSse, vec![stream(bytes)])
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        let text = utf8(path, bytes)?;
        (FixtureKind::Cassette, cassette::interactions(path, &text)?)
    } else if name.ends_with(".json") {
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| syntax(path, e))?;
        match value {
            Value::Array(exchanges) => (
                FixtureKind::JsonExchanges,
                exchanges
                    .iter()
                    .map(|exchange| json_exchange(path, exchange))
                    .collect::<Result<_, _>>()?,
            ),
            _ => (FixtureKind::JsonBody, vec![json_body(bytes)]),
        }
    } else {
        return Err(FixtureError::UnknownFormat {
            path: path.to_owned(),
        });
    };
    Ok(Fixture {
        path: path.to_owned(),
        dir,
        name,
        kind,
        interactions,
    })
}

/// Rebuilds the SSE stream that a `*.chunks.txt` file was recorded from.
pub fn payload_lines_to_sse(lines: &[u8]) -> Vec<u8> {
    let mut sse = Vec::with_capacity(lines.len() + lines.len() / 8);
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        sse.extend_from_slice(b"data: ");
        sse.extend_from_slice(line);
        sse.extend_from_slice(b"\n\n");
    }
    sse
}

/// Whether `body` looks like an event stream: its first non-empty line is an SSE field or
/// comment (`data:`, `event:`, `id:`, `retry:`, `:`).
pub fn looks_like_sse(body: &[u8]) -> bool {
    let first = body
        .split(|&b| b == b'\n' || b == b'\r')
        .find(|line| !line.is_empty());
    match first {
        Some(line) => [&b"data:"[..], b"event:", b"id:", b"retry:", b":"]
            .iter()
            .any(|prefix| line.starts_with(prefix)),
        None => false,
    }
}

fn stream(body: Vec<u8>) -> Interaction {
    Interaction {
        status: Some(200),
        headers: Vec::new(),
        body,
        is_sse: true,
        request_body: None,
    }
}

fn json_body(body: Vec<u8>) -> Interaction {
    Interaction {
        status: None,
        headers: Vec::new(),
        body,
        is_sse: false,
        request_body: None,
    }
}

/// One `{request:{…,body}, response:{status_code, headers, body}}` exchange.
fn json_exchange(path: &Path, exchange: &Value) -> Result<Interaction, FixtureError> {
    let missing = |field| FixtureError::MissingField {
        path: path.to_owned(),
        field,
    };
    let response = exchange.get("response").ok_or(missing("response"))?;
    let status = response
        .get("status_code")
        .and_then(Value::as_u64)
        .and_then(|code| u16::try_from(code).ok())
        .ok_or(missing("response.status_code"))?;
    let headers = match response.get("headers") {
        Some(Value::Object(map)) => map
            .iter()
            .flat_map(|(name, value)| header_values(value).map(move |v| (name.clone(), v)))
            .collect(),
        _ => Vec::new(),
    };
    let body = match response.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(json) => json.to_string().into_bytes(),
    };
    let request_body = match exchange.get("request").and_then(|r| r.get("body")) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => text_as_json(text),
        Some(json) => Some(json.clone()),
    };
    Ok(interaction(Some(status), headers, body, request_body))
}

fn header_values(value: &Value) -> impl Iterator<Item = String> + '_ {
    let values: Vec<&Value> = match value {
        Value::Array(values) => values.iter().collect(),
        other => vec![other],
    };
    values.into_iter().map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn interaction(
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    request_body: Option<Value>,
) -> Interaction {
    let content_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase());
    let is_sse = match content_type {
        Some(content_type) => content_type.starts_with("text/event-stream"),
        None => looks_like_sse(&body),
    };
    Interaction {
        status,
        headers,
        body,
        is_sse,
        request_body,
    }
}

/// A recorded request body: JSON text parsed, anything else kept as a JSON string.
fn text_as_json(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
}

fn list_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), FixtureError> {
    let io = |source| FixtureError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            list_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, FixtureError> {
    String::from_utf8(bytes).map_err(|e| syntax(path, e))
}

fn syntax(path: &Path, error: impl fmt::Display) -> FixtureError {
    FixtureError::Syntax {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

/// Standard base64 (`+/`, `=` padding), whitespace ignored as in YAML `!!binary` blocks.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits, mut padded) = (0u32, 0u32, false);
    for c in text.bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padded = true;
                continue;
            }
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        if padded {
            return None;
        }
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Gunzips `bytes` if they start with the gzip magic number, else returns them unchanged.
fn gunzip_if_gzip(bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1F, 0x8B]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes.as_slice()).read_to_end(&mut out)?;
    Ok(out)
}

/// VCR.py cassettes: a small YAML tree built from parser events, then read as interactions.
mod cassette {
    use super::*;

    /// A YAML node. Scalars keep their style and tag, so a quoted `"1"` stays a string and a
    /// `!!binary` body can be recognised.
    #[derive(Debug)]
    pub(super) enum Node {
        Scalar {
            value: String,
            plain: bool,
            /// The suffix of a core-schema tag (`binary`, `str`, …).
            tag: Option<String>,
        },
        Seq(Vec<Node>),
        Map(Vec<(String, Node)>),
    }

    impl Node {
        pub(super) fn get(&self, key: &str) -> Option<&Node> {
            match self {
                Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }

        fn as_str(&self) -> Option<&str> {
            match self {
                Node::Scalar { value, .. } => Some(value),
                _ => None,
            }
        }

        /// The node as JSON, resolving plain scalars by the YAML 1.2 core schema.
        pub(super) fn to_json(&self) -> Value {
            match self {
                Node::Scalar { value, plain, tag } => scalar_to_json(value, *plain, tag.as_deref()),
                Node::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
                Node::Map(entries) => Value::Object(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_json()))
                        .collect(),
                ),
            }
        }
    }

    fn scalar_to_json(value: &str, plain: bool, tag: Option<&str>) -> Value {
        let string = || Value::String(value.to_owned());
        match tag {
            Some("str" | "binary") => return string(),
            Some(_) => {}
            None if !plain => return string(),
            None => {}
        }
        match value {
            "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
            "true" | "True" | "TRUE" => return Value::Bool(true),
            "false" | "False" | "FALSE" => return Value::Bool(false),
            _ => {}
        }
        if is_core_int(value) {
            if let Ok(n) = value.parse::<i64>() {
                return Value::from(n);
            }
            if let Ok(n) = value.parse::<u64>() {
                return Value::from(n);
            }
        }
        if is_core_float(value) {
            if let Some(n) = value
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                return Value::Number(n);
            }
        }
        string()
    }

    /// `[-+]?[0-9]+` (octal and hex forms never occur in cassettes and stay strings).
    fn is_core_int(s: &str) -> bool {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    fn is_core_float(s: &str) -> bool {
        let s = s.strip_prefix(['-', '+']).unwrap_or(s);
        let (mantissa, exponent) = match s.find(['e', 'E']) {
            Some(at) => (&s[..at], Some(&s[at + 1..])),
            None => (s, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        let mantissa_ok =
            all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty());
        let exponent_ok = exponent.is_none_or(is_core_int);
        mantissa_ok && exponent_ok
    }

    enum Frame {
        Seq(Vec<Node>),
        Map(Vec<(String, Node)>, Option<String>),
    }

    /// Parses the first YAML document of `text`.
    pub(super) fn parse(path: &Path, text: &str) -> Result<Node, FixtureError> {
        let unsupported = |what: &str| syntax(path, format!("unsupported yaml: {what}"));
        let mut stack: Vec<Frame> = Vec::new();
        for item in saphyr_parser::Parser::new_from_str(text) {
            let (event, _span) = item.map_err(|e| syntax(path, e))?;
            let node = match event {
                Event::SequenceStart(..) => {
                    stack.push(Frame::Seq(Vec::new()));
                    continue;
                }
                Event::MappingStart(..) => {
                    stack.push(Frame::Map(Vec::new(), None));
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                    Some(Frame::Seq(items)) => Node::Seq(items),
                    Some(Frame::Map(entries, None)) => Node::Map(entries),
                    _ => return Err(unsupported("unbalanced collection")),
                },
                Event::Scalar(value, style, _anchor, tag) => Node::Scalar {
                    value: value.into_owned(),
                    plain: style == ScalarStyle::Plain,
                    tag: tag
                        .filter(|t| t.is_yaml_core_schema())
                        .map(|t| t.suffix.clone()),
                },
                Event::Alias(_) => return Err(unsupported("alias")),
                _ => continue,
            };
            match stack.last_mut() {
                None => return Ok(node),
                Some(Frame::Seq(items)) => items.push(node),
                Some(Frame::Map(_, key @ None)) => match node {
                    Node::Scalar { value, .. } => *key = Some(value),
                    _ => return Err(unsupported("non-scalar mapping key")),
                },
                Some(Frame::Map(entries, key @ Some(_))) => {
                    if let Some(key) = key.take() {
                        entries.push((key, node));
                    }
                }
            }
        }
        Err(FixtureError::MissingField {
            path: path.to_owned(),
            field: "yaml document",
        })
    }

    pub(super) fn interactions(path: &Path, text: &str) -> Result<Vec<Interaction>, FixtureError> {
        let root = parse(path, text)?;
        let missing = |field| FixtureError::MissingField {
            path: path.to_owned(),
            field,
        };
        let Some(Node::Seq(items)) = root.get("interactions") else {
            return Err(missing("interactions"));
        };
        items
            .iter()
            .map(|item| {
                let response = item.get("response").ok_or(missing("response"))?;
                let status = response
                    .get("status")
                    .and_then(|s| s.get("code"))
                    .and_then(Node::as_str)
                    .and_then(|code| code.parse::<u16>().ok())
                    .ok_or(missing("response.status.code"))?;
                let headers = match response.get("headers") {
                    Some(Node::Map(entries)) => entries
                        .iter()
                        .flat_map(|(name, values)| {
                            let values: Vec<&Node> = match values {
                                Node::Seq(values) => values.iter().collect(),
                                other => vec![other],
                            };
                            values
                                .into_iter()
                                .filter_map(Node::as_str)
                                .map(|v| (name.clone(), v.to_owned()))
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let body = response_body(path, response)?;
                let request_body = item.get("request").and_then(request_body);
                Ok(interaction(Some(status), headers, body, request_body))
            })
            .collect()
    }

    fn response_body(path: &Path, response: &Node) -> Result<Vec<u8>, FixtureError> {
        if let Some(parsed) = response.get("parsed_body") {
            return Ok(parsed.to_json().to_string().into_bytes());
        }
        let body = match response.get("body") {
            Some(body @ Node::Map(_)) => body.get("string"),
            other => other,
        };
        match body {
            None => Ok(Vec::new()),
            Some(Node::Scalar { value, tag, .. }) if tag.as_deref() == Some("binary") => {
                let bad = || FixtureError::BadBinaryBody {
                    path: path.to_owned(),
                };
                let bytes = decode_base64(value).ok_or_else(bad)?;
                gunzip_if_gzip(bytes).map_err(|_| bad())
            }
            Some(Node::Scalar { value, .. }) => Ok(value.clone().into_bytes()),
            Some(other) => Ok(other.to_json().to_string().into_bytes()),
        }
    }

    fn request_body(request: &Node) -> Option<Value> {
        if let Some(parsed) = request.get("parsed_body") {
            return Some(parsed.to_json());
        }
        let body = match request.get("body")? {
            body @ Node::Map(_) => body.get("string")?,
            body => body,
        };
        match body {
            Node::Scalar { value, plain, tag } => {
                if *plain && tag.is_none() && value == "null" {
                    None
                } else {
                    text_as_json(value)
                }
            }
            other => Some(other.to_json()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(relative: &str) -> Fixture {
        load_file(&fixtures_dir().join(relative)).unwrap()
    }

    #[test]
    fn every_fixture_file_loads() {
        let fixtures = load_all().unwrap();
        assert!(fixtures.len() >= 66, "{} fixtures", fixtures.len());
        assert!(fixtures.iter().all(|f| !f.interactions.is_empty()));
        let dirs: std::collections::BTreeSet<&str> =
            fixtures.iter().map(|f| f.dir.as_str()).collect();
        assert_eq!(
            dirs.into_iter().collect::<Vec<_>>(),
            [
                "anthropic",
                "google",
                "mistral",
                "openai-chat",
                "openai-compatible",
                "openai-responses"
            ]
        );
    }

    #[test]
    fn payload_lines_become_one_data_event_each() {
        assert_eq!(
            payload_lines_to_sse(b"{\"a\":1}\n\n{\"b\":2}\r\n"),
            b"data: {\"a\":1}\n\ndata: {\"b\":2}\n\n"
        );
        let fixture = load("anthropic/anthropic-text.chunks.txt");
        assert_eq!(fixture.kind, FixtureKind::PayloadLines);
        let body = &fixture.interactions[0].body;
        assert!(body.starts_with(b"data: {\"type\":\"message_start\""));
        assert!(body.ends_with(b"}\n\n"));
    }

    #[test]
    fn raw_sse_file_is_one_200_stream_interaction() {
        let fixture = load("anthropic/basic_response.txt");
        assert_eq!(fixture.kind, FixtureKind::RawSse);
        assert_eq!(
            (fixture.dir.as_str(), fixture.name.as_str()),
            ("anthropic", "basic_response.txt")
        );
        let [interaction] = fixture.interactions.as_slice() else {
            panic!("one interaction")
        };
        assert_eq!((interaction.status, interaction.is_sse), (Some(200), true));
        assert!(interaction
            .body
            .starts_with(b"event: message_start\ndata: "));
    }

    #[test]
    fn cassette_gives_each_interaction_with_status_headers_and_bodies() {
        let fixture = load("openai-compatible/test_tool_use_failed_error_streaming.yaml");
        assert_eq!(fixture.kind, FixtureKind::Cassette);
        assert_eq!(fixture.interactions.len(), 3);
        for interaction in &fixture.interactions {
            assert_eq!(interaction.status, Some(200));
            assert_eq!(
                interaction.header("Content-Type"),
                Some("text/event-stream")
            );
            assert!(interaction.is_sse);
            assert!(interaction.body.starts_with(b"data: {\"id\":\"chatcmpl-"));
            let request = interaction.request_body.as_ref().unwrap();
            assert_eq!(request["stream"], Value::Bool(true));
        }
        let errors = fixture.interactions.iter().filter(|i| {
            i.body
                .windows(b"event: error".len())
                .any(|w| w == b"event: error")
        });
        assert!(errors.count() >= 1);
    }

    #[test]
    fn gzipped_binary_cassette_body_decodes_to_sse_text() {
        let fixture = load("anthropic/test_prompt_with_prefill_and_stop_sequences.yaml");
        let [interaction] = fixture.interactions.as_slice() else {
            panic!("one interaction")
        };
        assert!(interaction.is_sse);
        let text = std::str::from_utf8(&interaction.body).unwrap();
        assert!(
            text.starts_with("event: message_start\ndata: {"),
            "{text:.80}"
        );
        assert!(text.contains("\"stop_reason\":\"stop_sequence\""));
        let request = interaction.request_body.as_ref().unwrap();
        assert_eq!(request["stop_sequences"], serde_json::json!(["```"]));
        assert_eq!(request["temperature"], serde_json::json!(1.0));
    }

    #[test]
    fn parsed_body_round_trips_to_json() {
        let fixture = load("anthropic/test_model_name_suggestion[anthropic].yaml");
        let [interaction] = fixture.interactions.as_slice() else {
            panic!("one interaction")
        };
        assert_eq!(interaction.status, Some(404));
        assert!(!interaction.is_sse);
        assert_eq!(
            interaction.body_json(),
            Some(serde_json::json!({
                "error": {"message": "model: claude-sonet-4-5", "type": "not_found_error"},
                "request_id": "req_011CdufXo8Y2LVfY2veyuQWG",
                "type": "error",
            }))
        );
        assert_eq!(
            interaction.request_body,
            Some(serde_json::json!({
                "max_tokens": 4096,
                "messages": [{"content": [{"text": "hello", "type": "text"}], "role": "user"}],
                "model": "claude-sonet-4-5",
                "stream": false,
            }))
        );
    }

    #[test]
    fn raw_request_body_string_is_parsed_as_json() {
        let fixture = load("anthropic/test_prompt.yaml");
        let request = fixture.interactions[0].request_body.as_ref().unwrap();
        assert_eq!(request["model"], "claude-sonnet-4-5");
        assert_eq!(
            request["messages"][0]["content"][0]["text"],
            "Two names for a pet pelican, be brief"
        );
    }

    #[test]
    fn json_exchange_array_gives_each_exchange() {
        let fixture = load("anthropic/a8b7dbb8-2321-4624-abdb-7ba2136b5c38.json");
        assert_eq!(fixture.kind, FixtureKind::JsonExchanges);
        let statuses: Vec<_> = fixture
            .interactions
            .iter()
            .map(|i| (i.status, i.is_sse))
            .collect();
        assert_eq!(
            statuses,
            [(Some(429), false), (Some(429), false), (Some(200), true)]
        );
        let rate_limited = &fixture.interactions[0];
        assert_eq!(rate_limited.header("x-should-retry"), Some("true"));
        assert_eq!(
            rate_limited.body_json().unwrap()["error"]["type"],
            "rate_limit_error"
        );
        assert_eq!(
            rate_limited.request_body.as_ref().unwrap()["model"],
            "claude-sonnet-4-5"
        );
        assert!(fixture.interactions[2]
            .body
            .starts_with(b"event: message_start\n"));
    }

    #[test]
    fn plain_json_file_is_a_body_without_status() {
        let fixture = load("google/google-429-retry-info.json");
        assert_eq!(fixture.kind, FixtureKind::JsonBody);
        let [interaction] = fixture.interactions.as_slice() else {
            panic!("one interaction")
        };
        assert_eq!((interaction.status, interaction.is_sse), (None, false));
        assert_eq!(interaction.body_json().unwrap()["error"]["code"], 429);
    }

    #[test]
    fn content_type_and_body_shape_agree_on_every_interaction() {
        for fixture in load_all().unwrap() {
            for interaction in &fixture.interactions {
                assert_eq!(
                    looks_like_sse(&interaction.body),
                    interaction.is_sse,
                    "{}",
                    fixture.label()
                );
            }
        }
    }

    #[test]
    fn yaml_scalars_resolve_like_the_core_schema() {
        let yaml = "a: 1\nb: -2.5e3\nc: '1'\nd: true\ne: ~\nf: 1.0\ng: text\nh: \"x\\ny\"\ni: !!str 7\nj: []\nk: 1.2.3\n";
        let node = cassette::parse(Path::new("t.yaml"), yaml).unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": 1, "b": -2500.0, "c": "1", "d": true, "e": null, "f": 1.0,
                "g": "text", "h": "x\ny", "i": "7", "j": [], "k": "1.2.3"})
        );
    }

    #[test]
    fn base64_decodes_with_line_breaks_and_padding() {
        assert_eq!(
            decode_base64("SGVs\n  bG8h\n").as_deref(),
            Some(&b"Hello!"[..])
        );
        assert_eq!(decode_base64("SGk=").as_deref(), Some(&b"Hi"[..]));
        assert_eq!(decode_base64("SA==").as_deref(), Some(&b"H"[..]));
        assert_eq!(decode_base64("SGk=SGk="), None);
        assert_eq!(decode_base64("S*Gk"), None);
    }

    #[test]
    fn default_dir_is_shared_recorded_and_a_missing_dir_is_an_error() {
        // Read-only check of the default; setting the variable would race other tests.
        if std::env::var_os(FIXTURES_DIR_VAR).is_none() {
            assert!(fixtures_dir().ends_with("shared/fixtures/recorded"));
        }
        let error = load_dir(Path::new("/nonexistent/cm-fixtures")).unwrap_err();
        assert!(
            error.to_string().starts_with("/nonexistent/cm-fixtures: "),
            "{error}"
        );
    }
}

//! `webfetch`: what the model is told, how its arguments are read, and how a fetched
//! response becomes a [`ToolOutcome`]. The fetching itself is the driver's.
//!
//! A call goes: [`parse_request`] (arguments → [`WebFetchRequest`], with the URL checked
//! to be `http`/`https`) → the driver fetches within the request's [`FetchLimits`] (body
//! size, total time, redirects) and answers a [`Fetched`] or a [`FetchError`] →
//! [`outcome`] turns that into what the model reads: HTML converted to markdown or text
//! ([`super::html`]), text and JSON as they are, binary content refused by its type, and a
//! note whenever a limit cut something.

use std::fmt;
use std::time::Duration;

use serde_json::{json, Value};

use super::args::{self, ArgError};
use super::sniff::{self, Content};
use super::{html, ToolDef, ToolOutcome, ToolSpec};
use crate::http::{Url, UrlError};

/// The most body bytes read; the rest of a larger body is not downloaded.
pub const WEBFETCH_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// The longest a whole fetch may take, redirects and body included, in seconds.
pub const WEBFETCH_MAX_TIMEOUT_SECS: u64 = 30;
/// The most redirects followed.
pub const WEBFETCH_MAX_REDIRECTS: u32 = 5;
/// The most text the model is given; a longer conversion is cut with a note.
pub const WEBFETCH_MAX_OUTPUT_BYTES: usize = 100 * 1024;

/// `webfetch`: permission `webfetch`, subject `url`, shared. Run by the driver.
pub fn webfetch_def() -> ToolDef {
    ToolDef {
        spec: ToolSpec {
            name: "webfetch".into(),
            description: "Fetch a web page or file by URL and return its content: HTML \
                 converted to markdown (the default) or plain text, or the raw HTML; text and \
                 JSON as they are. Use it to read documentation, issues or API references the \
                 user points to.\n\
                 - The URL must be a full http:// or https:// URL.\n\
                 - Redirects are followed (at most 5). Bodies over 5 MB are cut, long results \
                 are shortened, and the whole fetch must finish within the timeout (default and \
                 maximum 30 s).\n\
                 - Binary content (images, PDFs, archives) is refused.\n\
                 - Read-only: it sends a GET and nothing else. Do not fetch URLs that would \
                 change something, and prefer local files when the answer is in the workspace."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "url": {
                        "type": "string",
                        "description": "The http:// or https:// URL to fetch."
                    },
                    "format": {
                        "type": "string",
                        "enum": ["markdown", "text", "html"],
                        "default": "markdown",
                        "description": "How to return HTML pages. Default markdown."
                    },
                    "timeout": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": WEBFETCH_MAX_TIMEOUT_SECS,
                        "description": "Seconds the whole fetch may take. Default and maximum 30."
                    }
                },
                "required": ["url"],
                "additionalProperties": false
            }),
        },
        permission: "webfetch".into(),
        subject: Some("url".into()),
        exclusive: false,
    }
}

/// How HTML is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Converted to markdown.
    #[default]
    Markdown,
    /// Converted to plain text.
    Text,
    /// As sent.
    Html,
}

/// What a fetch may use; the driver stops at each limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Body bytes read at most; the driver stops reading there and sets
    /// [`Fetched::truncated`].
    pub max_bytes: u64,
    /// The whole fetch (connect, redirects, headers, body) must end within this.
    pub timeout: Duration,
    /// Redirects followed at most; one more is [`FetchError::TooManyRedirects`].
    pub max_redirects: u32,
}

impl Default for FetchLimits {
    /// 5 MB, 30 s, 5 redirects.
    fn default() -> FetchLimits {
        FetchLimits {
            max_bytes: WEBFETCH_MAX_BYTES,
            timeout: Duration::from_secs(WEBFETCH_MAX_TIMEOUT_SECS),
            max_redirects: WEBFETCH_MAX_REDIRECTS,
        }
    }
}

/// A `webfetch` call, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFetchRequest {
    /// The URL, `http` or `https`.
    pub url: String,
    /// How to return HTML.
    pub format: Format,
    /// The limits for this call (the timeout as the model asked, capped).
    pub limits: FetchLimits,
}

/// What the driver got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The URL the body came from, after redirects.
    pub url: String,
    /// The final response's status.
    pub status: u16,
    /// Its `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// The body, at most [`FetchLimits::max_bytes`] of it.
    pub body: Vec<u8>,
    /// The body went on past the limit and was not read further.
    pub truncated: bool,
}

/// Why a fetch produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL (or a redirect's target) is not `http`/`https`.
    NotHttp {
        /// The URL.
        url: String,
    },
    /// The URL cannot be used.
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server redirected more often than allowed.
    TooManyRedirects {
        /// The limit.
        limit: u32,
    },
    /// The fetch did not finish within its time limit.
    TimedOut {
        /// The limit.
        limit: Duration,
    },
    /// No connection could be made (DNS, connect, TLS).
    Connect {
        /// The underlying error.
        message: String,
    },
    /// The connection failed after the response began.
    Read {
        /// The underlying error.
        message: String,
    },
    /// The run was cancelled.
    Aborted,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NotHttp { url } => {
                write!(
                    f,
                    "only http:// and https:// URLs can be fetched, not {url}"
                )
            }
            FetchError::InvalidUrl { url, reason } => write!(f, "invalid URL {url}: {reason}"),
            FetchError::TooManyRedirects { limit } => {
                write!(f, "more than {limit} redirects; not followed further")
            }
            FetchError::TimedOut { limit } => {
                write!(
                    f,
                    "timed out: no complete response within {} s",
                    limit.as_secs_f32()
                )
            }
            FetchError::Connect { message } => write!(f, "cannot connect: {message}"),
            FetchError::Read { message } => write!(f, "the response broke off: {message}"),
            FetchError::Aborted => f.write_str("aborted"),
        }
    }
}

impl std::error::Error for FetchError {}

/// The `Accept` header `webfetch` sends: pages and text first, anything else last.
pub const WEBFETCH_ACCEPT: &str = "text/html, application/xhtml+xml;q=0.9, text/markdown;q=0.9, \
                                   text/plain;q=0.8, application/json;q=0.8, */*;q=0.1";

/// Whether `status` is a redirect `webfetch` follows (to its `Location`).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Checks that `url` is an absolute `http` or `https` URL a request can be made to.
pub fn check_url(url: &str) -> Result<(), FetchError> {
    match Url::parse(url) {
        Ok(_) => Ok(()),
        Err(UrlError::UnsupportedScheme) => Err(FetchError::NotHttp {
            url: url.to_string(),
        }),
        Err(error) => Err(FetchError::InvalidUrl {
            url: url.to_string(),
            reason: error.to_string(),
        }),
    }
}

/// Why a `webfetch` call's arguments were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// An argument is missing or of the wrong type.
    Argument(ArgError),
    /// `format` is none of the three.
    UnknownFormat {
        /// What was given, as JSON.
        got: String,
    },
    /// The URL cannot be fetched.
    Url(FetchError),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Argument(error) => write!(f, "webfetch: {error}"),
            RequestError::UnknownFormat { got } => write!(
                f,
                "webfetch: argument `format` must be markdown, text or html, got {got}"
            ),
            RequestError::Url(error) => write!(f, "webfetch: {error}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Reads a `webfetch` call's arguments; the timeout is capped at 30 s rather than refused.
pub fn parse_request(input: &Value) -> Result<WebFetchRequest, RequestError> {
    let url = args::required_str(input, "url")
        .map_err(RequestError::Argument)?
        .trim();
    let format = match input.get("format").filter(|v| !v.is_null()) {
        None => Format::Markdown,
        Some(value) => match value.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("markdown" | "md") => Format::Markdown,
            Some("text" | "txt") => Format::Text,
            Some("html") => Format::Html,
            _ => {
                return Err(RequestError::UnknownFormat {
                    got: value.to_string(),
                })
            }
        },
    };
    let seconds = args::optional_uint(input, "timeout", 1, "a whole number of seconds from 1")
        .map_err(RequestError::Argument)?
        .unwrap_or(WEBFETCH_MAX_TIMEOUT_SECS)
        .min(WEBFETCH_MAX_TIMEOUT_SECS);
    check_url(url).map_err(RequestError::Url)?;
    Ok(WebFetchRequest {
        url: url.to_string(),
        format,
        limits: FetchLimits {
            timeout: Duration::from_secs(seconds),
            ..FetchLimits::default()
        },
    })
}

/// What the body is, by its declared type and, when that says little, its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Html,
    Text,
    Binary,
}

/// The media type alone, lower case, without parameters.
fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn kind(media_type: &str, body: &[u8]) -> Kind {
    match media_type {
        "text/html" | "application/xhtml+xml" => return Kind::Html,
        "" | "application/octet-stream" | "binary/octet-stream" => {}
        t if t.starts_with("text/")
            || t.ends_with("+json")
            || t.ends_with("+xml")
            || matches!(
                t,
                "application/json"
                    | "application/xml"
                    | "application/javascript"
                    | "application/ecmascript"
                    | "application/x-javascript"
                    | "application/x-yaml"
                    | "application/yaml"
                    | "application/toml"
                    | "application/x-sh"
                    | "application/sql"
                    | "application/graphql"
                    | "application/x-ndjson"
                    | "application/jsonl"
            ) =>
        {
            return Kind::Text
        }
        _ => return Kind::Binary,
    }
    // No useful type: look at the bytes.
    if looks_like_html(body) {
        return Kind::Html;
    }
    match sniff::classify("", body) {
        Content::Text => Kind::Text,
        Content::Image(_) | Content::Binary(_) => Kind::Binary,
    }
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(512)];
    let text = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    text.starts_with("<!doctype html") || text.starts_with("<html")
}

/// The body as text, in the charset the type names when it is a single-byte Latin one.
fn decode(content_type: Option<&str>, body: &[u8]) -> String {
    let latin1 = content_type.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        ["iso-8859-1", "latin1", "windows-1252", "us-ascii"]
            .iter()
            .any(|c| t.contains(&format!("charset={c}")) || t.contains(&format!("charset=\"{c}\"")))
    });
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    if latin1 && std::str::from_utf8(body).is_err() {
        body.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8_lossy(body).into_owned()
    }
}

/// Runs a `webfetch` call: reads `input`, hands the checked request to `fetch` (the
/// driver's HTTP), and makes the outcome; `fetch` is not called for bad arguments.
pub fn run(
    input: &Value,
    fetch: impl FnOnce(&WebFetchRequest) -> Result<Fetched, FetchError>,
) -> ToolOutcome {
    match parse_request(input) {
        Ok(request) => {
            let fetched = fetch(&request);
            outcome(&request, fetched)
        }
        Err(error) => ToolOutcome::error(error.to_string()),
    }
}

/// The outcome of a `webfetch` call, from what the driver fetched.
pub fn outcome(request: &WebFetchRequest, fetched: Result<Fetched, FetchError>) -> ToolOutcome {
    let fetched = match fetched {
        Ok(fetched) => fetched,
        Err(error) => {
            return ToolOutcome::error(format!("webfetch {}: {error}", request.url));
        }
    };
    let media = media_type(fetched.content_type.as_deref());
    let kind = kind(&media, &fetched.body);
    let shown_type = if media.is_empty() {
        "no content type".to_string()
    } else {
        media.clone()
    };
    if !(200..300).contains(&fetched.status) {
        let mut text = format!(
            "webfetch {}: the server answered HTTP {}",
            fetched.url, fetched.status
        );
        if kind != Kind::Binary && !fetched.body.is_empty() {
            let body = render(kind, request.format, &fetched);
            let excerpt: String = body.chars().take(1000).collect();
            if !excerpt.trim().is_empty() {
                text.push_str(":\n\n");
                text.push_str(excerpt.trim());
            }
        }
        return ToolOutcome::error(text);
    }
    if kind == Kind::Binary {
        return ToolOutcome::error(format!(
            "webfetch {}: the content is binary ({shown_type}, {}{} bytes); only text, \
             HTML and JSON can be fetched",
            fetched.url,
            if fetched.truncated { "over " } else { "" },
            fetched.body.len()
        ));
    }
    let mut text = render(kind, request.format, &fetched);
    let mut notes = Vec::new();
    if fetched.truncated {
        notes.push(format!(
            "the response is larger than {} MB; only its first {} bytes were read",
            request.limits.max_bytes / (1024 * 1024),
            fetched.body.len()
        ));
    }
    if text.len() > WEBFETCH_MAX_OUTPUT_BYTES {
        let total = text.len();
        let mut cut = WEBFETCH_MAX_OUTPUT_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        notes.push(format!(
            "the result was cut to its first {cut} of {total} bytes"
        ));
    }
    for note in &notes {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("\n[{note}]"));
    }
    let converted = match (kind, request.format) {
        (Kind::Html, Format::Markdown) => ", as markdown",
        (Kind::Html, Format::Text) => ", as text",
        _ => "",
    };
    let mut summary = format!(
        "webfetch {} ({shown_type}, {} bytes{converted})",
        fetched.url,
        fetched.body.len()
    );
    if !notes.is_empty() {
        summary.push_str(" (cut)");
    }
    ToolOutcome::text(text, summary)
}

fn render(kind: Kind, format: Format, fetched: &Fetched) -> String {
    let text = decode(fetched.content_type.as_deref(), &fetched.body);
    match (kind, format) {
        (Kind::Html, Format::Markdown) => html::to_markdown(&text, Some(&fetched.url)),
        (Kind::Html, Format::Text) => html::to_text(&text),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::ToolOutput;

    fn text_of(outcome: &ToolOutcome) -> &str {
        match &outcome.content[..] {
            [ToolOutput::Text { text }] => text,
            other => panic!("{other:?}"),
        }
    }

    fn request(format: Format) -> WebFetchRequest {
        WebFetchRequest {
            url: "https://example.com/doc".into(),
            format,
            limits: FetchLimits::default(),
        }
    }

    fn fetched(content_type: Option<&str>, body: &[u8]) -> Fetched {
        Fetched {
            url: "https://example.com/doc".into(),
            status: 200,
            content_type: content_type.map(str::to_string),
            body: body.to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn def_is_shared_and_guarded_by_url() {
        let def = webfetch_def();
        assert_eq!(def.permission, "webfetch");
        assert_eq!(def.subject.as_deref(), Some("url"));
        assert!(!def.exclusive);
        assert_eq!(
            def.spec.input_schema["properties"]["timeout"]["maximum"],
            30
        );
    }

    #[test]
    fn arguments_are_read_with_defaults_and_a_capped_timeout() {
        let request = parse_request(&json!({"url": " https://a.example/x "})).unwrap();
        assert_eq!(request.url, "https://a.example/x");
        assert_eq!(request.format, Format::Markdown);
        assert_eq!(request.limits, FetchLimits::default());
        let request =
            parse_request(&json!({"url": "http://a.example", "format": "TEXT", "timeout": 90}))
                .unwrap();
        assert_eq!(request.format, Format::Text);
        assert_eq!(request.limits.timeout, Duration::from_secs(30));
        let request = parse_request(&json!({"url": "http://a.example", "timeout": "5"})).unwrap();
        assert_eq!(request.limits.timeout, Duration::from_secs(5));
    }

    #[test]
    fn bad_arguments_and_urls_are_error_outcomes() {
        let cases = [
            (json!({}), "webfetch: missing required argument `url` (a string)"),
            (
                json!({"url": "file:///etc/passwd"}),
                "webfetch: only http:// and https:// URLs can be fetched, not file:///etc/passwd",
            ),
            (
                json!({"url": "example.com"}),
                "webfetch: only http:// and https:// URLs can be fetched, not example.com",
            ),
            (
                json!({"url": "https://a b"}),
                "webfetch: invalid URL https://a b: contains a space, control or non-ascii character",
            ),
            (
                json!({"url": "https://a.example", "format": "pdf"}),
                "webfetch: argument `format` must be markdown, text or html, got \"pdf\"",
            ),
            (
                json!({"url": "https://a.example", "timeout": 0}),
                "webfetch: argument `timeout` must be a whole number of seconds from 1, got 0",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_request(&input).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn run_fetches_only_checked_requests() {
        let refused = run(&json!({"url": "ftp://a.example/f"}), |_| {
            panic!("a refused URL is never fetched")
        });
        assert!(refused.is_error);
        let got = run(
            &json!({"url": "https://example.com/doc", "timeout": 7}),
            |request| {
                assert_eq!(request.limits.timeout, Duration::from_secs(7));
                Ok(fetched(Some("text/plain"), b"hello"))
            },
        );
        assert_eq!(text_of(&got), "hello");
    }

    #[test]
    fn html_is_converted_as_asked() {
        let page = b"<html><body><h1>Hi</h1><p>See <a href='/x'>x</a>.</p></body></html>";
        let ct = Some("text/html; charset=utf-8");
        let md = outcome(&request(Format::Markdown), Ok(fetched(ct, page)));
        assert!(!md.is_error);
        assert_eq!(text_of(&md), "# Hi\n\nSee [x](https://example.com/x).");
        assert_eq!(
            md.summary,
            format!(
                "webfetch https://example.com/doc (text/html, {} bytes, as markdown)",
                page.len()
            )
        );
        let text = outcome(&request(Format::Text), Ok(fetched(ct, page)));
        assert_eq!(text_of(&text), "Hi\n\nSee x.");
        let raw = outcome(&request(Format::Html), Ok(fetched(ct, page)));
        assert_eq!(text_of(&raw).as_bytes(), page);
    }

    #[test]
    fn text_and_json_pass_as_they_are() {
        for ct in [
            "text/plain",
            "application/json",
            "application/vnd.api+json",
            "text/markdown",
        ] {
            let got = outcome(
                &request(Format::Markdown),
                Ok(fetched(Some(ct), b"{\"a\": \"<b>\"}")),
            );
            assert_eq!(text_of(&got), "{\"a\": \"<b>\"}", "{ct}");
        }
    }

    #[test]
    fn binary_types_are_refused_naming_the_type() {
        let got = outcome(
            &request(Format::Markdown),
            Ok(fetched(Some("application/pdf"), b"%PDF-1.7")),
        );
        assert!(got.is_error);
        assert_eq!(
            text_of(&got),
            "webfetch https://example.com/doc: the content is binary (application/pdf, 8 bytes); \
             only text, HTML and JSON can be fetched"
        );
        let png = outcome(
            &request(Format::Markdown),
            Ok(fetched(None, b"\x89PNG\r\n\x1a\n\0\0\0")),
        );
        assert!(text_of(&png).contains("binary (no content type"), "{png:?}");
    }

    #[test]
    fn untyped_bodies_are_sniffed() {
        let html = outcome(
            &request(Format::Markdown),
            Ok(fetched(
                Some("application/octet-stream"),
                b"  <!DOCTYPE html><p>x</p>",
            )),
        );
        assert_eq!(text_of(&html), "x");
        let text = outcome(
            &request(Format::Markdown),
            Ok(fetched(None, b"plain <b>words")),
        );
        assert_eq!(text_of(&text), "plain <b>words");
    }

    #[test]
    fn latin1_bodies_are_decoded() {
        let got = outcome(
            &request(Format::Markdown),
            Ok(fetched(Some("text/plain; charset=ISO-8859-1"), b"caf\xe9")),
        );
        assert_eq!(text_of(&got), "café");
    }

    #[test]
    fn a_truncated_body_says_so() {
        let mut response = fetched(Some("text/plain"), &[b'a'; 100]);
        response.truncated = true;
        let got = outcome(&request(Format::Markdown), Ok(response));
        assert!(!got.is_error);
        assert!(text_of(&got).ends_with(
            "\n\n[the response is larger than 5 MB; only its first 100 bytes were read]"
        ));
        assert!(got.summary.ends_with("(cut)"));
    }

    #[test]
    fn long_results_are_cut_for_the_model() {
        let body = "é".repeat(WEBFETCH_MAX_OUTPUT_BYTES);
        let got = outcome(
            &request(Format::Markdown),
            Ok(fetched(Some("text/plain"), body.as_bytes())),
        );
        let text = text_of(&got);
        assert!(text.len() < WEBFETCH_MAX_OUTPUT_BYTES + 200);
        assert!(text.ends_with(&format!(
            "[the result was cut to its first {WEBFETCH_MAX_OUTPUT_BYTES} of {} bytes]",
            body.len()
        )));
    }

    #[test]
    fn error_statuses_and_fetch_errors_are_error_outcomes() {
        let mut response = fetched(Some("text/html"), b"<h1>Not Found</h1>");
        response.status = 404;
        let got = outcome(&request(Format::Markdown), Ok(response));
        assert!(got.is_error);
        assert_eq!(
            text_of(&got),
            "webfetch https://example.com/doc: the server answered HTTP 404:\n\n# Not Found"
        );
        let got = outcome(
            &request(Format::Markdown),
            Err(FetchError::TimedOut {
                limit: Duration::from_secs(30),
            }),
        );
        assert_eq!(
            text_of(&got),
            "webfetch https://example.com/doc: timed out: no complete response within 30 s"
        );
        let got = outcome(
            &request(Format::Markdown),
            Err(FetchError::TooManyRedirects { limit: 5 }),
        );
        assert_eq!(
            got.summary,
            "webfetch https://example.com/doc: more than 5 redirects; not followed further"
        );
    }
}

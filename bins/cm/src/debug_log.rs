//! The debug log (`--debug` or `CM_LOG=debug`): requests, responses' metadata and the
//! agent's steps, one timestamped line each, in `$XDG_STATE_HOME/cm/log/cm-<date>.log`.
//!
//! Nothing secret is written: header values of `authorization`, `x-api-key`, `api-key`,
//! `cookie` and `set-cookie` (and any header whose name says key, token, secret or auth)
//! become `[redacted]`; URL query values whose name says key, token or secret, and URL
//! user info, are cut the same way. Bodies are logged by size only, since prompts and
//! files may hold anything. [`LoggingHttp`] wraps the real HTTP client so every exchange
//! passes through the log on its way to and from the driver.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use async_channel::Sender as AsyncSender;
use cm_driver::{HttpClient, Input};
use cm_proto::agent::{Event, HttpId};
use cm_proto::http::{Headers, Request};
use cm_smol::Exchanges;
use smol::Task;

use crate::secrets::Secrets;
use crate::sessions_cmd::civil_from_days;

/// Headers whose values are never written.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
];

/// Words that mark a header or query parameter name as secret.
const SECRET_WORDS: &[&str] = &["key", "token", "secret", "auth", "password", "signature"];

const REDACTED: &str = "[redacted]";

/// Whether the debug log is wanted: `--debug`, or `CM_LOG=debug` (also `trace`).
pub fn wanted(flag: bool, cm_log: Option<&str>) -> bool {
    flag || cm_log.is_some_and(|v| matches!(v.trim(), "debug" | "trace"))
}

/// An open debug log, shared by the threads that write to it.
#[derive(Debug, Clone)]
pub struct DebugLog {
    file: Arc<Mutex<File>>,
    path: PathBuf,
    secrets: Arc<Secrets>,
}

impl DebugLog {
    /// Opens (appending) today's log in `<state>/log`, private to the user; `secrets`
    /// are cut from every line as a last line of defence.
    pub fn open(state_dir: &Path, secrets: Secrets) -> std::io::Result<DebugLog> {
        let dir = state_dir.join("log");
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        let secs = unix_secs();
        let (y, m, d) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
        let path = dir.join(format!("cm-{y:04}-{m:02}-{d:02}.log"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)?;
        Ok(DebugLog {
            file: Arc::new(Mutex::new(file)),
            path,
            secrets: Arc::new(secrets),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one line, prefixed with the UTC time.
    pub fn line(&self, text: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs() % 86_400;
        let stamp = format!(
            "{:02}:{:02}:{:02}.{:03}",
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60,
            now.subsec_millis()
        );
        if let Ok(mut file) = self.file.lock() {
            let _ = writeln!(file, "{stamp} {}", self.secrets.redact(text));
        }
    }

    /// Logs an agent event worth seeing in a trace (not every streamed delta).
    pub fn event(&self, event: &Event) {
        let interesting = !matches!(
            event,
            Event::TextDelta { .. } | Event::ReasoningDelta { .. }
        );
        if interesting {
            let text = serde_json::to_string(event).unwrap_or_default();
            let short: String = text.chars().take(500).collect();
            self.line(&format!("agent {short}"));
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a header's value must not be logged.
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&name.as_str()) || SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// `name: value` pairs, secrets redacted, joined with `; `.
pub fn redact_headers(headers: &Headers) -> String {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if is_secret_header(name) {
                REDACTED
            } else {
                value
            };
            format!("{name}: {value}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The URL with user info and secret-looking query values replaced by `[redacted]`.
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (url, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(at) => rest.split_at(at),
                None => (rest, ""),
            };
            let host = match authority.rsplit_once('@') {
                Some((_, host)) => format!("{REDACTED}@{host}"),
                None => authority.to_string(),
            };
            format!("{scheme}://{host}{path}")
        }
        None => before_query.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "key" || SECRET_WORDS.iter().any(|w| name.contains(w))
}

/// An [`HttpClient`] that logs each exchange (when there is a log) and passes it on.
pub struct LoggingHttp<H> {
    inner: H,
    log: Option<DebugLog>,
}

impl<H> LoggingHttp<H> {
    /// Wraps `inner`; with no log it only passes exchanges through.
    pub fn new(inner: H, log: Option<DebugLog>) -> LoggingHttp<H> {
        LoggingHttp { inner, log }
    }
}

/// What the log notes about one exchange as its inputs pass by: the request, the
/// response head, the body's size and how it ended.
struct ExchangeNotes {
    log: DebugLog,
    id: HttpId,
    started: Instant,
    body_bytes: usize,
}

impl ExchangeNotes {
    /// Notes `request` going out as exchange `id`.
    fn start(log: &DebugLog, id: HttpId, request: &Request) -> ExchangeNotes {
        log.line(&format!(
            "http {} request {} {} headers [{}] body {} bytes",
            id.0,
            request.method.as_str(),
            redact_url(&request.url),
            redact_headers(&request.headers),
            request.body.len()
        ));
        ExchangeNotes {
            log: log.clone(),
            id,
            started: Instant::now(),
            body_bytes: 0,
        }
    }

    fn note(&mut self, input: &Input) {
        let ms = self.started.elapsed().as_millis();
        let id = self.id.0;
        match input {
            Input::HttpHead(_, head) => self.log.line(&format!(
                "http {id} response {} {} after {ms} ms headers [{}]",
                head.status,
                head.reason,
                redact_headers(&head.headers)
            )),
            Input::HttpBody(_, bytes) => {
                self.body_bytes = self.body_bytes.saturating_add(bytes.len())
            }
            Input::HttpEnd(_) => self.log.line(&format!(
                "http {id} end after {ms} ms, body {} bytes",
                self.body_bytes
            )),
            Input::HttpError(_, error) => self.log.line(&format!(
                "http {id} error after {ms} ms: {}",
                redact_url(&format!("{error:?}"))
            )),
            _ => {}
        }
    }
}

impl<H: HttpClient> HttpClient for LoggingHttp<H> {
    fn start(&mut self, id: HttpId, request: Request, inputs: Sender<Input>) {
        let Some(log) = &self.log else {
            return self.inner.start(id, request, inputs);
        };
        let mut notes = ExchangeNotes::start(log, id, &request);
        let (sender, receiver) = mpsc::channel::<Input>();
        let to_driver = inputs.clone();
        // Forwards the exchange's inputs to the driver, noting the metadata on the way.
        let forwarded = std::thread::Builder::new()
            .name("cm-debug-http".into())
            .spawn(move || {
                for input in receiver {
                    notes.note(&input);
                    if to_driver.send(input).is_err() {
                        break;
                    }
                }
            });
        match forwarded {
            Ok(_) => self.inner.start(id, request, sender),
            // Without the thread, the exchange goes unlogged rather than undelivered.
            Err(_) => self.inner.start(id, request, inputs),
        }
    }

    fn cancel(&mut self, id: HttpId) {
        if let Some(log) = &self.log {
            log.line(&format!("http {} cancelled", id.0));
        }
        self.inner.cancel(id);
    }
}

/// [`LoggingHttp`] for cm-smol's driver: logs the exchanges of `inner` (when there is a
/// log) on their way through; an exchange dropped before its end is logged cancelled.
pub struct LoggingExchanges<H> {
    inner: H,
    log: Option<DebugLog>,
}

impl<H> LoggingExchanges<H> {
    /// Wraps `inner`; with no log it only passes exchanges through.
    pub fn new(inner: H, log: Option<DebugLog>) -> LoggingExchanges<H> {
        LoggingExchanges { inner, log }
    }
}

/// The notes of an exchange on cm-smol, which logs it cancelled when dropped before its end.
struct Watched {
    notes: ExchangeNotes,
    ended: bool,
}

impl Drop for Watched {
    fn drop(&mut self) {
        if !self.ended {
            self.notes
                .log
                .line(&format!("http {} cancelled", self.notes.id.0));
        }
    }
}

impl<H: Exchanges> Exchanges for LoggingExchanges<H> {
    fn start(&self, id: HttpId, request: Request, inputs: AsyncSender<Input>) -> Task<()> {
        let Some(log) = &self.log else {
            return self.inner.start(id, request, inputs);
        };
        let mut watched = Watched {
            notes: ExchangeNotes::start(log, id, &request),
            ended: false,
        };
        let (sender, answers) = async_channel::unbounded();
        let exchange = self.inner.start(id, request, sender);
        smol::spawn(async move {
            let _exchange = exchange;
            while let Ok(input) = answers.recv().await {
                watched.notes.note(&input);
                watched.ended = matches!(input, Input::HttpEnd(_) | Input::HttpError(..));
                if inputs.send(input).await.is_err() {
                    return;
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_headers_are_redacted_and_others_kept() {
        let mut headers = Headers::new();
        headers.push("x-api-key", "sk-ant-secret");
        headers.push("Authorization", "Bearer sk-secret");
        headers.push("api-key", "azure-secret");
        headers.push("Cookie", "session=1");
        headers.push("x-goog-api-key", "g-secret");
        headers.push("anthropic-version", "2023-06-01");
        headers.push("content-type", "application/json");
        let text = redact_headers(&headers);
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("session=1"), "{text}");
        assert!(text.contains("x-api-key: [redacted]"));
        assert!(text.contains("anthropic-version: 2023-06-01"));
        assert!(text.contains("content-type: application/json"));
    }

    #[test]
    fn keys_in_urls_are_redacted() {
        assert_eq!(
            redact_url("https://g.example/v1/models/x:stream?alt=sse&key=AIza123"),
            "https://g.example/v1/models/x:stream?alt=sse&key=[redacted]"
        );
        assert_eq!(
            redact_url("https://user:pw@h.example/p?access_token=t&api_key=k"),
            "https://[redacted]@h.example/p?access_token=[redacted]&api_key=[redacted]"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/v1/messages"),
            "http://127.0.0.1:8080/v1/messages"
        );
    }

    #[test]
    fn the_log_is_wanted_by_flag_or_environment() {
        assert!(wanted(true, None));
        assert!(wanted(false, Some("debug")));
        assert!(!wanted(false, Some("info")));
        assert!(!wanted(false, None));
    }

    /// Answers 200 at once, or (`stall`) never answers.
    struct Exchange {
        stall: bool,
    }

    impl Exchanges for Exchange {
        fn start(&self, id: HttpId, _: Request, inputs: AsyncSender<Input>) -> Task<()> {
            let stall = self.stall;
            smol::spawn(async move {
                if stall {
                    return smol::future::pending().await;
                }
                let head = cm_proto::http::ResponseHead {
                    status: 200,
                    reason: "OK".into(),
                    headers: Headers::new(),
                };
                let _ = inputs.send(Input::HttpHead(id, head)).await;
                let _ = inputs.send(Input::HttpBody(id, b"{}".to_vec())).await;
                let _ = inputs.send(Input::HttpEnd(id)).await;
            })
        }
    }

    #[test]
    fn exchanges_on_smol_are_logged_to_their_end_or_their_cancellation() {
        let dir = crate::test_dir::TestDir::new("debug-log-smol");
        let log = DebugLog::open(dir.path(), Secrets::default()).unwrap();
        let request = || Request {
            method: cm_proto::http::Method::Post,
            url: "http://127.0.0.1:9/v1/messages?key=sekrit".into(),
            headers: [("x-api-key", "sk-sekrit")].into_iter().collect(),
            body: b"{}".to_vec(),
        };
        let answered = LoggingExchanges::new(Exchange { stall: false }, Some(log.clone()));
        let (inputs, received) = async_channel::unbounded();
        smol::block_on(answered.start(HttpId(1), request(), inputs));
        assert_eq!(received.len(), 3, "every input is passed on");

        let stalled = LoggingExchanges::new(Exchange { stall: true }, Some(log.clone()));
        let (inputs, _received) = async_channel::unbounded();
        smol::block_on(async {
            let task = stalled.start(HttpId(2), request(), inputs);
            smol::Timer::after(std::time::Duration::from_millis(20)).await;
            task.cancel().await;
        });

        let text = std::fs::read_to_string(log.path()).unwrap();
        assert!(text.contains("http 1 request POST"), "{text}");
        assert!(text.contains("http 1 response 200 OK"), "{text}");
        assert!(text.contains("http 1 end after"), "{text}");
        assert!(text.contains("http 2 request POST"), "{text}");
        assert!(text.contains("http 2 cancelled"), "{text}");
        assert!(!text.contains("http 1 cancelled"), "{text}");
        assert!(!text.contains("sekrit"), "{text}");
    }
}

//! BlockingSmolClient under cm-driver's blocking Driver: a whole turn against cm-mock,
//! cancelling, and one kept-alive connection for a session's requests.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cm_driver::{ClientOptions, Driver, HttpClient, Input, Runtime, StdRuntime, ToolHost, Ui};
use cm_host::{SessionId, SessionStore, Workspace};
use cm_mock::{MockServer, Script};
use cm_proto::agent::{Agent, AgentConfig, AskId, Decision, End, Event, HttpId, Question};
use cm_proto::http::{Headers, Method, Request};
use cm_proto::message::Part;
use cm_proto::provider::{Credential, Endpoint, WireFormat};
use cm_proto::time::UnixMillis;
use cm_proto::tool::{builtin_defs, ToolOptions};
use cm_smol::{BlockingSmolClient, SmolClient};

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "cm-smol-blocking-{label}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir.canonicalize().unwrap())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Answers every question with "allow once" and keeps the events.
#[derive(Default)]
struct AllowingUi {
    events: Vec<Event>,
}

impl Ui for AllowingUi {
    fn show(&mut self, event: &Event) {
        self.events.push(event.clone());
    }

    fn ask(&mut self, id: AskId, _question: &Question, inputs: &Sender<Input>) {
        inputs.send(Input::Answer(id, Decision::AllowOnce)).unwrap();
    }
}

fn client() -> SmolClient {
    // No proxy from the test's environment: these exchanges stay on 127.0.0.1.
    SmolClient::new(ClientOptions::from_lookup(|_| None))
}

fn driver_in(workspace: &Path, client: &SmolClient) -> Driver<BlockingSmolClient, ToolHost> {
    let runtime: Arc<dyn Runtime> = Arc::new(StdRuntime::new());
    let tools = ToolHost::new(
        Workspace::at(workspace).unwrap(),
        ToolOptions::default(),
        Arc::clone(&runtime),
    );
    Driver::new(runtime, BlockingSmolClient::new(client.clone()), tools)
}

#[test]
fn a_turn_of_three_requests_runs_on_one_kept_alive_connection() {
    let workspace = TempDir::new("ws");
    let data = TempDir::new("data");
    fs::write(workspace.0.join("notes.txt"), "hello world\n").unwrap();
    let mock = MockServer::start(
        Script::from_value(serde_json::json!([
            {"text": "Reading it.", "tool_calls": [{"name": "read", "arguments": {"path": "notes.txt"}}]},
            {"expect": {"tool_result_contains": "hello world"},
             "tool_calls": [{"name": "edit", "arguments":
                 {"path": "notes.txt", "old_string": "hello world", "new_string": "hello cm"}}]},
            {"text": "Done: notes.txt now greets cm.", "stop_reason": "end_turn"}
        ]))
        .unwrap(),
    );
    let store = SessionStore::new(data.0.join("sessions"));
    let id = SessionId::generate(UnixMillis(1_700_000_000_000), 1);
    let mut log = store.create(&id).unwrap();
    let endpoint = Endpoint {
        base_url: mock.url(),
        ..Endpoint::default()
    };
    let mut config = AgentConfig::new("anthropic", WireFormat::Anthropic, endpoint, "claude-test");
    config.tools = builtin_defs();
    let mut agent = Agent::new(config, Vec::new(), 42);
    let client = client();
    let mut driver = driver_in(&workspace.0, &client);
    let mut ui = AllowingUi::default();

    let outcome = driver
        .run_turn(
            &mut agent,
            vec![Part::text("Make notes.txt greet cm.")],
            &mut ui,
            &mut log,
            &mut |_: &str| Some(Credential::ApiKey("sk-test".into())),
        )
        .unwrap();

    assert_eq!(outcome.end, End::Completed, "{:?}", ui.events);
    assert_eq!(
        fs::read_to_string(workspace.0.join("notes.txt")).unwrap(),
        "hello cm\n"
    );
    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.expectation_failed.is_none()));
    // Each finished exchange gave its connection back; the next one took it again.
    assert_eq!(client.idle_connections(), 1);
}

/// A keep-alive server answering `ok` to each request; returns its URL and accept count.
fn counting_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n"
                        && (&stream)
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

fn get(url: &str) -> Request {
    Request {
        method: Method::Get,
        url: url.to_string(),
        headers: Headers::new(),
        body: Vec::new(),
    }
}

/// Starts exchange `id` and waits for its last input.
fn run(client: &mut BlockingSmolClient, id: HttpId, url: &str) -> Vec<Input> {
    let (sender, receiver) = mpsc::channel();
    client.start(id, get(url), sender);
    let mut got = Vec::new();
    while let Ok(input) = receiver.recv_timeout(Duration::from_secs(10)) {
        let last = matches!(input, Input::HttpEnd(_) | Input::HttpError(..));
        got.push(input);
        if last {
            break;
        }
    }
    got
}

#[test]
fn two_requests_reuse_one_connection() {
    let (url, accepted) = counting_server();
    let mut client = BlockingSmolClient::new(client());
    for n in 1..=2 {
        let got = run(&mut client, HttpId(n), &url);
        assert!(matches!(got.first(), Some(Input::HttpHead(_, head)) if head.status == 200));
        assert_eq!(got.last(), Some(&Input::HttpEnd(HttpId(n))));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn a_cancelled_exchange_reports_nothing_more_and_closes_its_connection() {
    // Accepts, reads the request, and waits to see the client hang up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (closed_tx, closed_rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer);
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart")
            .unwrap();
        while stream.read(&mut buffer).is_ok_and(|n| n > 0) {}
        let _ = closed_tx.send(());
    });
    let mut client = BlockingSmolClient::new(client());
    let (sender, receiver) = mpsc::channel();
    client.start(HttpId(1), get(&url), sender);
    assert!(matches!(
        receiver.recv_timeout(Duration::from_secs(10)),
        Ok(Input::HttpHead(..))
    ));
    client.cancel(HttpId(1));
    closed_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(client.in_flight(), 0);
}

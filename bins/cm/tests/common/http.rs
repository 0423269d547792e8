//! A plain HTTP/1.1 client over `std::net::TcpStream` for the `cm serve` tests, and the
//! server process itself: started with `--port 0`, its URL read from the one stdout line
//! and its token from the token file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Sandbox;

/// A running `cm serve`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
    /// The bearer token (from the token file).
    pub token: String,
    /// The token file.
    pub token_file: PathBuf,
    stderr: Arc<Mutex<String>>,
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `cm serve --port 0 extra...` in the sandbox's project.
    pub fn start(sandbox: &Sandbox, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = sandbox.command(&args).spawn().expect("spawn cm serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&chunk[..n]).into_owned();
                    sink.lock().expect("stderr").push_str(&text);
                }
            });
        }
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim_end()
            .strip_prefix("cm serve listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "unexpected first line {line:?}; stderr: {}",
                    stderr.lock().expect("stderr")
                )
            })
            .to_string();
        let port: u16 = url
            .rsplit(':')
            .next()
            .expect("a port")
            .parse()
            .expect("port");
        let token_file = sandbox.root().join(format!("data/cm/serve/{port}.json"));
        let token = std::fs::read_to_string(&token_file)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|v| v["token"].as_str().map(str::to_string))
            .unwrap_or_default();
        Server {
            child,
            url,
            port,
            token,
            token_file,
            stderr,
            _stdout: stdout,
        }
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr").clone()
    }

    /// `Host: 127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A request with the token, `Connection: close`, and `body` as JSON.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = format!("Authorization: Bearer {}\r\n", self.token);
        self.send(method, path, &auth, body.as_bytes())
    }

    /// `GET path` with the token, answered as JSON.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, None)
    }

    /// A request with exactly `extra_headers` (each ending in CRLF) besides Host,
    /// Connection and Content-Length.
    pub fn send(&self, method: &str, path: &str, extra_headers: &str, body: &[u8]) -> Response {
        let mut bytes = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra_headers}Connection: close\r\n",
            self.host()
        )
        .into_bytes();
        if !body.is_empty() || method == "POST" {
            bytes.extend_from_slice(
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Response::parse(&self.raw(&bytes, Duration::from_secs(60)))
            .unwrap_or_else(|| panic!("no response; stderr: {}", self.stderr()))
    }

    /// Sends `bytes` and reads until the server closes (or `limit` passes).
    pub fn raw(&self, bytes: &[u8], limit: Duration) -> Vec<u8> {
        let mut stream = self.connect();
        let _ = stream.write_all(bytes);
        read_to_close(&mut stream, limit)
    }

    /// A fresh connection.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
    }

    /// Subscribes to `path` (an events endpoint), resuming after `last_id` if given.
    pub fn events(&self, path: &str, last_id: Option<u64>) -> EventStream {
        let mut stream = self.connect();
        let resume = last_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n{resume}\r\n",
            self.host(),
            self.token
        );
        stream.write_all(request.as_bytes()).expect("send");
        let mut events = EventStream {
            stream,
            buf: Vec::new(),
            head: String::new(),
        };
        let end = events.fill_until(|b| find(b, b"\r\n\r\n").map(|at| at + 4));
        let head = events.buf.drain(..end).collect::<Vec<u8>>();
        events.head = String::from_utf8_lossy(&head).into_owned();
        assert!(
            events.head.starts_with("HTTP/1.1 200"),
            "events refused: {}",
            events.head
        );
        events
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        self.wait_exit()
    }

    /// Waits up to 30 s for the process to end; its exit code.
    pub fn wait_exit(mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads until EOF, an error, or `limit`.
pub fn read_to_close(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A response read to the connection's end.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The head as text.
    pub head: String,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// Parses the first response in `bytes` (skipping `100 Continue`).
    pub fn parse(bytes: &[u8]) -> Option<Response> {
        let mut rest = bytes;
        loop {
            let end = find(rest, b"\r\n\r\n")?;
            let head = String::from_utf8_lossy(&rest[..end]).into_owned();
            let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
            let body = &rest[end + 4..];
            if status == 100 {
                rest = body;
                continue;
            }
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(body.len());
            let body = String::from_utf8_lossy(&body[..length.min(body.len())]).into_owned();
            return Some(Response { status, head, body });
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.head, self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `id:`.
    pub id: Option<u64>,
    /// `event:`.
    pub name: String,
    /// `data:` as JSON.
    pub data: Value,
}

/// An open event stream.
#[derive(Debug)]
pub struct EventStream {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The response head.
    pub head: String,
}

impl EventStream {
    fn fill_until(&mut self, found: impl Fn(&[u8]) -> Option<usize>) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(at) = found(&self.buf) {
                return at;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!(
                    "stream closed; got {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// The next event (heartbeat comments are skipped).
    pub fn next(&mut self) -> Event {
        loop {
            let end = self.fill_until(|b| find(b, b"\n\n").map(|at| at + 2));
            let block: Vec<u8> = self.buf.drain(..end).collect();
            let text = String::from_utf8_lossy(&block).into_owned();
            let mut id = None;
            let mut name = String::from("message");
            let mut data = String::new();
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(v);
                }
            }
            if data.is_empty() {
                continue; // a comment
            }
            let data = serde_json::from_str(&data).expect("event data is JSON");
            return Event { id, name, data };
        }
    }

    /// Events up to and including the first named `name`.
    pub fn until(&mut self, name: &str) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let event = self.next();
            let done = event.name == name;
            events.push(event);
            if done {
                return events;
            }
        }
    }

    /// The raw bytes that arrive within `limit` (for heartbeats).
    pub fn raw_for(&mut self, limit: Duration) -> String {
        let mut out = std::mem::take(&mut self.buf);
        out.extend(read_to_close(&mut self.stream, limit));
        String::from_utf8_lossy(&out).into_owned()
    }
}

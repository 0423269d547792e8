//! The server: a listener on 127.0.0.1, one thread per connection, requests decoded with
//! cm-proto's HTTP/1.1 codec, and a shutdown that stops and joins every thread.
//!
//! Connections poll a stop flag between reads (reads time out every 50 ms), sleeps are
//! cut into short slices, and shutdown also closes every open socket, so no thread
//! outlives [`MockServer::shutdown`].

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cm_proto::http::{
    encode_continue, encode_error_response, status_for, Limits, RequestDecoder, RequestHead,
};

use crate::cors;
use crate::log::{Log, LoggedRequest};
use crate::oauth::{self, OAuthScript, OAuthState};
use crate::respond::{respond, Progress};
use crate::script::Script;
use crate::transmit::{is_timeout, transmit, After};

/// How often a blocked read wakes to check for shutdown.
const POLL: Duration = Duration::from_millis(50);
/// Largest request body accepted.
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// How to run a [`MockServer`].
#[derive(Debug, Default)]
pub struct Config {
    /// The turns to serve.
    pub script: Script,
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// A file to append one JSON line per request to.
    pub log_path: Option<PathBuf>,
    /// Print a one-line summary of each request to stderr.
    pub print_requests: bool,
    /// How the authorization endpoints behave.
    pub oauth: OAuthScript,
}

/// A running mock provider; dropping it stops it.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
    connections: Mutex<Connections>,
    next_connection: AtomicU64,
    print_requests: bool,
}

#[derive(Debug)]
struct State {
    progress: Progress,
    log: Log,
    oauth: OAuthState,
}

#[derive(Debug, Default)]
struct Connections {
    /// A handle on each open socket, to close it at shutdown.
    open: HashMap<u64, TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

/// Locks `mutex`, carrying on if a connection thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MockServer {
    /// Starts serving `script` on a free port of 127.0.0.1.
    ///
    /// # Panics
    ///
    /// If no port can be bound: this is the constructor for tests, which cannot go on.
    pub fn start(script: Script) -> MockServer {
        MockServer::start_with(Config {
            script,
            ..Config::default()
        })
        .unwrap_or_else(|e| panic!("cm-mock: cannot listen on 127.0.0.1: {e}"))
    }

    /// Starts a server as `config` says.
    pub fn start_with(config: Config) -> io::Result<MockServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))?;
        let addr = listener.local_addr()?;
        let file = match &config.log_path {
            Some(path) => Some(OpenOptions::new().create(true).append(true).open(path)?),
            None => None,
        };
        let total = config.script.turns.len();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                progress: Progress {
                    turns: config.script.turns.into(),
                    total,
                    next_seq: 0,
                },
                log: Log::new(file),
                oauth: OAuthState::new(config.oauth),
            }),
            connections: Mutex::new(Connections::default()),
            next_connection: AtomicU64::new(0),
            print_requests: config.print_requests,
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("cm-mock-accept".into())
            .spawn(move || accept_loop(&listener, addr, &accept_shared))?;
        Ok(MockServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request so far, in the order they were answered.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.state).log.records().to_vec()
    }

    /// How many scripted answers are left.
    pub fn turns_left(&self) -> usize {
        lock(&self.shared.state).progress.turns.len()
    }

    /// Blocks until the server stops (for the binary, which runs until killed).
    pub fn wait(&mut self) {
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }

    /// Stops accepting, closes every connection, and joins every thread. Idempotent.
    pub fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            // Wake the blocking accept; it sees the flag and returns.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            let _ = accept.join();
        }
        let threads = {
            let mut connections = lock(&self.shared.connections);
            for stream in connections.open.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
            connections.open.clear();
            std::mem::take(&mut connections.threads)
        };
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: &TcpListener, addr: SocketAddr, shared: &Arc<Shared>) {
    let base = format!("http://{addr}");
    for incoming in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(_) => {
                // Out of file descriptors, say: back off instead of spinning.
                std::thread::sleep(POLL);
                continue;
            }
        };
        let id = shared.next_connection.fetch_add(1, Ordering::Relaxed);
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        let connection_shared = Arc::clone(shared);
        let base = base.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("cm-mock-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &base, &connection_shared);
                lock(&connection_shared.connections).open.remove(&id);
            });
        let mut connections = lock(&shared.connections);
        connections.threads.retain(|t| !t.is_finished());
        if let Ok(thread) = spawned {
            connections.open.insert(id, handle);
            connections.threads.push(thread);
        }
    }
}

/// Reads more bytes into `buffer`; `false` when the peer closed or the server stops.
fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>, stop: &AtomicBool) -> bool {
    let mut scratch = [0u8; 16 * 1024];
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        match stream.read(&mut scratch) {
            Ok(0) => return false,
            Ok(n) => {
                buffer.extend_from_slice(&scratch[..n]);
                return true;
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => return false,
        }
    }
}

/// Answers requests on one connection until either side closes it.
fn serve_connection(mut stream: TcpStream, base: &str, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let decoder = RequestDecoder::new(Limits {
        max_body_bytes: Some(MAX_BODY),
        ..Limits::default()
    });
    let mut buffer = Vec::new();
    while let Some((head, body)) = read_request(&mut stream, &decoder, &mut buffer, &shared.stop) {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut reply = match cors::preflight(&head) {
            Some(reply) => reply,
            None => {
                let mut state = lock(&shared.state);
                let state = &mut *state;
                let (reply, record) =
                    match oauth::respond(&mut state.oauth, &head, &body, base, created) {
                        Some(reply) => {
                            let seq = state.progress.next_seq;
                            state.progress.next_seq += 1;
                            let record = oauth::record(seq, &head, &body, reply.status);
                            (reply, record)
                        }
                        None => respond(&mut state.progress, &head, &body, created),
                    };
                if shared.print_requests {
                    eprintln!("{}", summary(&record));
                }
                state.log.record(record);
                reply
            }
        };
        cors::allow(&head, &mut reply);
        if head.close_reason().is_some() {
            reply.close = true;
            reply.headers.set("Connection", "close");
        }
        match transmit(&mut stream, &reply, &shared.stop) {
            Ok(After::KeepAlive) => {}
            Ok(After::Close) | Err(_) => break,
        }
    }
    close_gently(&mut stream, &shared.stop);
}

/// Reads one request: its head and its whole body. `None` when the connection ends first
/// or the request cannot be decoded (which is answered, then the connection closed).
fn read_request(
    stream: &mut TcpStream,
    decoder: &RequestDecoder,
    buffer: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Option<(RequestHead, Vec<u8>)> {
    let refuse = |stream: &mut TcpStream, error: &cm_proto::http::Error| {
        let mut out = Vec::new();
        if encode_error_response(status_for(error), &mut out).is_ok() {
            let _ = stream.write_all(&out);
        }
    };
    let head = loop {
        match decoder.decode_head(buffer) {
            Ok(Some((used, head))) => {
                buffer.drain(..used);
                break head;
            }
            Ok(None) => {
                if !read_more(stream, buffer, stop) {
                    return None;
                }
            }
            Err(error) => {
                refuse(stream, &error);
                return None;
            }
        }
    };
    let mut body_decoder = match decoder.body_decoder(&head) {
        Ok(body_decoder) => body_decoder,
        Err(error) => {
            refuse(stream, &error);
            return None;
        }
    };
    if head.expects_continue() {
        let mut out = Vec::new();
        encode_continue(&mut out);
        stream.write_all(&out).ok()?;
    }
    let mut body = Vec::new();
    loop {
        match body_decoder.decode(buffer, &mut body) {
            Ok(used) => {
                buffer.drain(..used);
            }
            Err(error) => {
                refuse(stream, &error);
                return None;
            }
        }
        if body_decoder.is_done() {
            return Some((head, body));
        }
        if !read_more(stream, buffer, stop) {
            return None;
        }
    }
}

/// Sends FIN, then reads briefly, so unread request bytes do not turn the close into a
/// reset that could destroy the end of the response in flight.
fn close_gently(stream: &mut TcpStream, stop: &AtomicBool) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(200);
    let mut scratch = [0u8; 4096];
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        match stream.read(&mut scratch) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}

/// `POST /v1/messages -> turn 0, 200` for the console.
fn summary(record: &LoggedRequest) -> String {
    let mut line = format!("cm-mock: {} {}", record.method, record.path);
    if let Some(turn) = record.turn {
        line.push_str(&format!(" -> turn {turn}"));
    }
    line.push_str(&format!(", {}", record.status));
    if let Some(failure) = &record.expectation_failed {
        line.push_str(&format!(" (expectation failed: {failure})"));
    }
    if let Some(error) = &record.error {
        line.push_str(&format!(" ({error})"));
    }
    line
}

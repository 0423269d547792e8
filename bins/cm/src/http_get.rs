//! One small HTTP exchange with a deadline, for the commands that ask a server something
//! (`cm models`, `cm status --check`): the agent's own client (cm-ureq, with the
//! environment's proxies and trust roots) and a whole-exchange time limit. When the
//! deadline passes the exchange is cancelled and [`GetError::TimedOut`] says so: a server
//! that accepts the connection and never answers costs the deadline, not more.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use cm_driver::{HttpClient, Input};
use cm_proto::agent::HttpId;
use cm_proto::http::Request;
use cm_ureq::{ClientOptions, UreqClient};

/// The largest body read; more is an error (a model catalog is a few megabytes).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Why no whole response arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// Nothing complete within the deadline; the exchange was given up.
    TimedOut(Duration),
    /// The transport failed (refused, reset, not HTTP).
    Transport(String),
    /// The body went past [`MAX_BODY`].
    TooLarge,
}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::TimedOut(limit) => write!(f, "no answer within {} ms", limit.as_millis()),
            GetError::Transport(message) => f.write_str(message),
            GetError::TooLarge => write!(f, "the answer is larger than {MAX_BODY} bytes"),
        }
    }
}

/// Sends `request` and waits for its whole response, at most `limit` in all.
pub fn send(request: Request, limit: Duration) -> Result<Response, GetError> {
    let deadline = Instant::now() + limit;
    let mut options = ClientOptions::from_env();
    options.connect_timeout = options.connect_timeout.min(limit);
    let mut client = UreqClient::new(options);
    let (tx, rx) = mpsc::channel();
    let id = HttpId(1);
    client.start(id, request, tx);
    let mut status = None;
    let mut body = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let input = match rx.recv_timeout(left) {
            Ok(input) => input,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                client.cancel(id);
                return Err(GetError::TimedOut(limit));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(GetError::Transport("the connection ended early".into()))
            }
        };
        match input {
            Input::HttpHead(_, head) => status = Some(head.status),
            Input::HttpBody(_, bytes) => {
                if body.len().saturating_add(bytes.len()) > MAX_BODY {
                    client.cancel(id);
                    return Err(GetError::TooLarge);
                }
                body.extend_from_slice(&bytes);
            }
            Input::HttpEnd(_) => {
                return match status {
                    Some(status) => Ok(Response { status, body }),
                    None => Err(GetError::Transport("no response head".into())),
                }
            }
            Input::HttpError(_, error) => return Err(GetError::Transport(error.to_string())),
            _ => {}
        }
    }
}

/// `GET url` with no headers beyond the client's own.
pub fn get(url: &str, limit: Duration) -> Result<Response, GetError> {
    let mut headers = cm_proto::http::Headers::new();
    headers.push("accept", "application/json");
    send(
        Request {
            method: cm_proto::http::Method::Get,
            url: url.to_string(),
            headers,
            body: Vec::new(),
        },
        limit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn a_whole_answer_arrives() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                .unwrap();
        });
        let response = get(&url, Duration::from_secs(10)).unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"hello"[..])
        );
        server.join().unwrap();
    }

    #[test]
    fn a_silent_server_is_given_up_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        let started = Instant::now();
        let got = get(&url, Duration::from_millis(200));
        assert_eq!(
            got.unwrap_err(),
            GetError::TimedOut(Duration::from_millis(200))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }

    #[test]
    fn a_refused_connection_is_a_transport_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        assert!(matches!(
            get(&url, Duration::from_secs(5)),
            Err(GetError::Transport(_))
        ));
    }
}

//! One HTTP exchange, waited for whole, with a deadline: the login and refresh requests
//! that must finish before cm can go on, and the questions `cm models` and
//! `cm status --check` put to servers. It runs on the agent's own client (cm-smol, with
//! the environment's proxies and trust roots). When the deadline passes the exchange is
//! dropped (its connection closed) and [`GetError::TimedOut`] says so: a server that
//! accepts the connection and never answers costs the deadline, not more.

use std::time::Duration;

use cm_driver::{ClientOptions, Input};
use cm_proto::agent::HttpId;
use cm_proto::http::{Headers, Method, Request, ResponseHead};
use cm_smol::SmolClient;
use smol::Timer;

/// The largest body read; more is an error (a model catalog is a few megabytes).
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// How long one authorization request may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status line and headers.
    pub head: ResponseHead,
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
    let mut options = ClientOptions::from_env();
    options.connect_timeout = options.connect_timeout.min(limit);
    let client = SmolClient::new(options);
    smol::block_on(async {
        let (sender, receiver) = async_channel::unbounded();
        let exchange = async {
            client.exchange(HttpId(1), request, &sender).await;
            std::future::pending().await
        };
        let whole = smol::future::or(collect(&receiver), exchange);
        let deadline = async {
            Timer::after(limit).await;
            Err(GetError::TimedOut(limit))
        };
        smol::future::or(whole, deadline).await
    })
}

/// Gathers one exchange's inputs into a [`Response`].
async fn collect(inputs: &async_channel::Receiver<Input>) -> Result<Response, GetError> {
    let mut head = None;
    let mut body = Vec::new();
    while let Ok(input) = inputs.recv().await {
        match input {
            Input::HttpHead(_, got) => head = Some(got),
            Input::HttpBody(_, bytes) => {
                if body.len().saturating_add(bytes.len()) > MAX_BODY {
                    return Err(GetError::TooLarge);
                }
                body.extend_from_slice(&bytes);
            }
            Input::HttpEnd(_) => {
                return match head {
                    Some(head) => Ok(Response { head, body }),
                    None => Err(GetError::Transport("no response head".into())),
                }
            }
            Input::HttpError(_, error) => return Err(GetError::Transport(error.to_string())),
            _ => {}
        }
    }
    Err(GetError::Transport("the connection ended early".into()))
}

/// `GET url` asking for JSON, with no other headers beyond the client's own.
pub fn get(url: &str, limit: Duration) -> Result<Response, GetError> {
    let mut headers = Headers::new();
    headers.push("accept", "application/json");
    send(
        Request {
            method: Method::Get,
            url: url.to_string(),
            headers,
            body: Vec::new(),
        },
        limit,
    )
}

/// Why an authorization exchange gave no response; the message names the host, never a
/// secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError(pub String);

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// [`send`] for the OAuth flows: [`TIMEOUT`], and errors that name the host.
pub fn fetch(request: Request) -> Result<(ResponseHead, Vec<u8>), FetchError> {
    let host = host_of(&request.url);
    match send(request, TIMEOUT) {
        Ok(response) => Ok((response.head, response.body)),
        Err(GetError::TimedOut(_)) => Err(FetchError(format!("{host} did not answer in time"))),
        Err(e) => Err(FetchError(format!("{host}: {e}"))),
    }
}

/// `https://host:port` of a URL, for messages.
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    host.rsplit('@').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Instant;

    #[test]
    fn the_host_is_named_without_path_or_user_info() {
        assert_eq!(
            host_of("https://github.com/login/device/code"),
            "github.com"
        );
        assert_eq!(host_of("http://u:p@127.0.0.1:9/x?y"), "127.0.0.1:9");
        assert_eq!(host_of("nonsense"), "nonsense");
    }

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
            (response.head.status, response.body.as_slice()),
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
    fn a_refused_connection_is_a_transport_error_naming_the_host_for_oauth() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let url = format!("http://{address}/x");
        drop(listener);
        assert!(matches!(
            get(&url, Duration::from_secs(5)),
            Err(GetError::Transport(_))
        ));
        let request = Request {
            method: Method::Post,
            url,
            headers: Headers::new(),
            body: Vec::new(),
        };
        let FetchError(message) = fetch(request).unwrap_err();
        assert!(message.starts_with(&format!("{address}: ")), "{message}");
    }
}

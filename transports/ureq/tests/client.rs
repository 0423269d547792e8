//! UreqClient against cm-mock on 127.0.0.1: what the agent receives for each kind of answer.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::net::TcpListener;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use cm_driver::{HttpClient, Input};
use cm_mock::{MockServer, Script};
use cm_proto::agent::{HttpId, TransportError};
use cm_proto::http::{Headers, Method, Request};
use cm_ureq::{ClientOptions, UreqClient};

const ID: HttpId = HttpId(7);
const WAIT: Duration = Duration::from_secs(10);

fn server(script: serde_json::Value) -> MockServer {
    MockServer::start(Script::from_value(script).expect("a valid script"))
}

fn messages_request(base: &str) -> Request {
    let headers: Headers = [
        ("content-type", "application/json"),
        ("anthropic-version", "2023-06-01"),
        ("x-api-key", "sk-test"),
    ]
    .into_iter()
    .collect();
    Request {
        method: Method::Post,
        url: format!("{base}/v1/messages"),
        headers,
        body: br#"{"model":"claude-test","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#.to_vec(),
    }
}

fn client() -> UreqClient {
    // No proxy from the test's environment: these exchanges stay on 127.0.0.1.
    UreqClient::new(ClientOptions::from_lookup(|_| None))
}

/// Every input of one exchange up to its last (end or error).
fn collect(inputs: &Receiver<Input>) -> Vec<Input> {
    let mut got = Vec::new();
    loop {
        let input = inputs.recv_timeout(WAIT).expect("the exchange to report");
        let last = matches!(input, Input::HttpEnd(_) | Input::HttpError(..));
        got.push(input);
        if last {
            return got;
        }
    }
}

fn body_of(inputs: &[Input]) -> Vec<u8> {
    inputs
        .iter()
        .filter_map(|input| match input {
            Input::HttpBody(_, bytes) => Some(bytes.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

fn body_pieces(inputs: &[Input]) -> usize {
    inputs
        .iter()
        .filter(|input| matches!(input, Input::HttpBody(..)))
        .count()
}

#[test]
fn a_trickled_stream_arrives_in_several_pieces_then_ends() {
    let mock = server(serde_json::json!([
        {"text": "slow and steady", "fault": {"trickle": {"bytes": 64, "interval_ms": 5}}}
    ]));
    let (tx, rx) = mpsc::channel();
    let mut client = client();
    client.start(ID, messages_request(&mock.url()), tx);
    let got = collect(&rx);

    let Some(Input::HttpHead(id, head)) = got.first() else {
        panic!("the head comes first: {got:?}")
    };
    assert_eq!((*id, head.status), (ID, 200));
    let content_type = head.headers.get("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
    assert!(
        body_pieces(&got) > 3,
        "streamed, not buffered: {} pieces",
        body_pieces(&got)
    );
    let body = String::from_utf8(body_of(&got)).unwrap();
    assert!(body.contains("message_stop"), "{body}");
    assert!(body.contains("text_delta"), "{body}");
    assert_eq!(client.in_flight(), 0);
}

#[test]
fn a_429_is_a_head_and_a_body_not_an_error() {
    let mock = server(serde_json::json!([
        {"fault": {"status": 429, "headers": {"retry-after": "3"}}}
    ]));
    let (tx, rx) = mpsc::channel();
    client().start(ID, messages_request(&mock.url()), tx);
    let got = collect(&rx);

    let Some(Input::HttpHead(_, head)) = got.first() else {
        panic!("{got:?}")
    };
    assert_eq!(head.status, 429);
    assert_eq!(head.reason, "Too Many Requests");
    assert_eq!(head.headers.get("retry-after"), Some("3"));
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
    let body = String::from_utf8(body_of(&got)).unwrap();
    assert!(body.contains("rate_limit_error"), "{body}");
}

#[test]
fn a_disconnect_mid_body_is_an_error_after_some_body() {
    let mock = server(serde_json::json!([
        {"text": "this answer is cut short well before its end", "fault": {"disconnect_after_bytes": 200}}
    ]));
    let (tx, rx) = mpsc::channel();
    client().start(ID, messages_request(&mock.url()), tx);
    let got = collect(&rx);

    assert!(matches!(got.first(), Some(Input::HttpHead(..))), "{got:?}");
    assert!(!body_of(&got).is_empty(), "some body before the cut");
    assert!(
        matches!(
            got.last(),
            Some(Input::HttpError(ID, TransportError::Reset(_)))
        ),
        "{:?}",
        got.last()
    );
}

#[test]
fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let (tx, rx) = mpsc::channel();
    client().start(
        ID,
        messages_request(&format!("http://127.0.0.1:{port}")),
        tx,
    );
    let got = collect(&rx);
    assert!(
        matches!(
            got.as_slice(),
            [Input::HttpError(ID, TransportError::Connect(_))]
        ),
        "{got:?}"
    );
}

#[test]
fn a_dropped_connection_before_the_head_is_a_connect_error() {
    let mock = server(serde_json::json!([{"fault": {"drop": true}}]));
    let (tx, rx) = mpsc::channel();
    client().start(ID, messages_request(&mock.url()), tx);
    let got = collect(&rx);
    assert!(
        matches!(
            got.as_slice(),
            [Input::HttpError(ID, TransportError::Connect(_))]
        ),
        "{got:?}"
    );
}

#[test]
fn cancelling_a_stalled_stream_ends_it_promptly_and_silently() {
    let mock = server(serde_json::json!([{"text": "never arrives", "fault": {"stall": true}}]));
    let (tx, rx) = mpsc::channel();
    let mut client = client();
    client.start(ID, messages_request(&mock.url()), tx);
    let Ok(Input::HttpHead(_, head)) = rx.recv_timeout(WAIT) else {
        panic!("the head arrives before the stall")
    };
    assert_eq!(head.status, 200);
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "stalled"
    );

    let cancelled = Instant::now();
    client.cancel(ID);
    // The worker drops its sender when it ends: the channel disconnects.
    assert_eq!(
        rx.recv_timeout(WAIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
    assert!(
        cancelled.elapsed() < Duration::from_secs(2),
        "{:?}",
        cancelled.elapsed()
    );
    assert_eq!(client.in_flight(), 0);
}

#[test]
fn an_invalid_url_is_refused_without_a_retry_worthy_error() {
    let (tx, rx) = mpsc::channel();
    let mut request = messages_request("http://127.0.0.1:1");
    request.url = "ftp://example.com/v1/messages".into();
    client().start(ID, request, tx);
    let got = collect(&rx);
    assert!(
        matches!(
            got.as_slice(),
            [Input::HttpError(ID, TransportError::Protocol(_))]
        ),
        "{got:?}"
    );
}

/// A CONNECT proxy for one connection that tunnels to `upstream` whatever the target,
/// and reports the CONNECT line it was sent.
fn connect_proxy(upstream: std::net::SocketAddr) -> (String, Receiver<String>) {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (seen, lines) = mpsc::channel();
    std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        seen.send(line.trim_end().to_string()).unwrap();
        let mut header = String::new();
        while reader.read_line(&mut header).unwrap() > 2 {
            header.clear();
        }
        let server = TcpStream::connect(upstream).unwrap();
        (&client)
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let mut up = server.try_clone().unwrap();
        let up_thread = std::thread::spawn(move || std::io::copy(&mut reader, &mut up));
        let _ = std::io::copy(&mut &server, &mut &client);
        let _ = client.shutdown(std::net::Shutdown::Both);
        let _ = up_thread.join();
    });
    (url, lines)
}

#[test]
fn a_proxy_from_the_environment_carries_the_request() {
    let upstream = server(serde_json::json!([{"text": "via the proxy"}]));
    let (proxy_url, connect_lines) = connect_proxy(upstream.addr());
    let options =
        ClientOptions::from_lookup(|name| (name == "http_proxy").then(|| proxy_url.clone()));
    let (tx, rx) = mpsc::channel();
    UreqClient::new(options).start(ID, messages_request("http://model.invalid"), tx);
    let got = collect(&rx);
    assert_eq!(
        connect_lines.recv_timeout(WAIT).unwrap(),
        "CONNECT model.invalid:80 HTTP/1.1",
        "the proxy, not the client, resolves the host"
    );
    assert!(
        matches!(got.first(), Some(Input::HttpHead(_, head)) if head.status == 200),
        "{got:?}"
    );
    assert!(String::from_utf8(body_of(&got))
        .unwrap()
        .contains("message_stop"));
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
}

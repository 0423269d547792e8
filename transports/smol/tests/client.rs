//! SmolClient against local listeners: what the agent receives for each way a response
//! can be framed, end or break, and when connections are reused.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use cm_driver::{ClientOptions, Input, TrustRoots};
use cm_mock::{MockServer, Script};
use cm_proto::agent::{HttpId, TransportError};
use cm_proto::http::{Headers, Method, Request};
use cm_smol::SmolClient;

const ID: HttpId = HttpId(7);

fn client() -> SmolClient {
    // No proxy from the test's environment: these exchanges stay on 127.0.0.1.
    SmolClient::new(ClientOptions::from_lookup(|_| None))
}

fn post(url: &str) -> Request {
    Request {
        method: Method::Post,
        url: url.to_string(),
        headers: [("content-type", "application/json")]
            .into_iter()
            .collect::<Headers>(),
        body: br#"{"model":"claude-test","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#.to_vec(),
    }
}

/// Runs one exchange to its end and returns everything it reported.
fn exchange(client: &SmolClient, request: Request) -> Vec<Input> {
    smol::block_on(async {
        let (tx, rx) = async_channel::unbounded();
        client.exchange(ID, request, &tx).await;
        drop(tx);
        let mut got = Vec::new();
        while let Ok(input) = rx.recv().await {
            got.push(input);
        }
        got
    })
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

fn status_of(inputs: &[Input]) -> Option<u16> {
    match inputs.first() {
        Some(Input::HttpHead(_, head)) => Some(head.status),
        _ => None,
    }
}

/// A listener on 127.0.0.1 running `handle` on each connection (with its number, from
/// 1) on its own thread; returns its base URL and the count of connections accepted.
fn listener(
    handle: impl Fn(TcpStream, usize) + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    let handle = Arc::new(handle);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let handle = Arc::clone(&handle);
            thread::spawn(move || handle(stream, n));
        }
    });
    (url, accepted)
}

/// Reads one request (head, then a `Content-Length` body); `None` once the client closed.
fn read_request(reader: &mut impl BufRead) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(head)
}

/// Answers every request on the connection with `response`, then waits for the next.
fn answer_each(response: &'static [u8]) -> impl Fn(TcpStream, usize) + Send + Sync {
    move |stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        while read_request(&mut reader).is_some() {
            if (&stream).write_all(response).is_err() {
                return;
            }
        }
    }
}

#[test]
fn a_trickled_stream_from_cm_mock_arrives_in_several_pieces_then_ends() {
    let mock = MockServer::start(
        Script::from_value(serde_json::json!([
            {"text": "slow and steady", "fault": {"trickle": {"bytes": 64, "interval_ms": 5}}}
        ]))
        .unwrap(),
    );
    let got = exchange(&client(), post(&format!("{}/v1/messages", mock.url())));
    assert_eq!(status_of(&got), Some(200), "{got:?}");
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
    assert!(body_pieces(&got) > 3, "streamed, not buffered: {got:?}");
    let body = String::from_utf8(body_of(&got)).unwrap();
    assert!(
        body.contains("message_stop") && body.contains("text_delta"),
        "{body}"
    );
}

#[test]
fn a_429_is_a_head_and_a_body_not_an_error() {
    let mock = MockServer::start(
        Script::from_value(serde_json::json!([
            {"fault": {"status": 429, "headers": {"retry-after": "3"}}}
        ]))
        .unwrap(),
    );
    let got = exchange(&client(), post(&format!("{}/v1/messages", mock.url())));
    let Some(Input::HttpHead(_, head)) = got.first() else {
        panic!("{got:?}")
    };
    assert_eq!(
        (head.status, head.headers.get("retry-after")),
        (429, Some("3"))
    );
    assert!(!body_of(&got).is_empty());
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
}

#[test]
fn a_content_length_body_ends_at_its_length() {
    let (url, _) = listener(answer_each(
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
    ));
    let got = exchange(&client(), post(&url));
    assert_eq!(status_of(&got), Some(200));
    assert_eq!(body_of(&got), b"hello world");
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
}

#[test]
fn a_chunked_body_is_forwarded_decoded_piece_by_piece() {
    let (url, _) = listener(|stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        read_request(&mut reader).unwrap();
        let mut out = &stream;
        out.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        for piece in [
            &b"5\r\nhello\r\n"[..],
            b"6;ext=1\r\n world\r\n",
            b"0\r\n\r\n",
        ] {
            out.write_all(piece).unwrap();
            thread::sleep(Duration::from_millis(30));
        }
        let _ = read_request(&mut reader);
    });
    let got = exchange(&client(), post(&url));
    assert_eq!(body_of(&got), b"hello world");
    assert_eq!(body_pieces(&got), 2, "each chunk as it arrived: {got:?}");
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
}

#[test]
fn a_close_delimited_body_ends_with_the_connection_and_is_not_reused() {
    let (url, accepted) = listener(|stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        read_request(&mut reader).unwrap();
        (&stream)
            .write_all(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
            .unwrap();
    });
    let client = client();
    for _ in 0..2 {
        let got = exchange(&client, post(&url));
        assert_eq!(body_of(&got), b"until the end");
        assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(client.idle_connections(), 0);
}

#[test]
fn a_connection_dropped_mid_body_is_a_reset_after_the_bytes_that_came() {
    let (url, _) = listener(|stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        read_request(&mut reader).unwrap();
        (&stream)
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some")
            .unwrap();
    });
    let got = exchange(&client(), post(&url));
    assert_eq!(status_of(&got), Some(200));
    assert_eq!(body_of(&got), b"only some");
    assert!(
        matches!(
            got.last(),
            Some(Input::HttpError(ID, TransportError::Reset(_)))
        ),
        "{got:?}"
    );
}

#[test]
fn a_connection_closed_before_any_answer_is_a_connect_error() {
    let (url, _) = listener(|stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        read_request(&mut reader).unwrap();
    });
    let got = exchange(&client(), post(&url));
    assert!(
        matches!(
            got.as_slice(),
            [Input::HttpError(ID, TransportError::Connect(_))]
        ),
        "{got:?}"
    );
}

#[test]
fn a_refused_connection_and_a_bad_url_are_errors_without_a_head() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let got = exchange(&client(), post(&format!("http://127.0.0.1:{port}/")));
    assert!(
        matches!(
            got.as_slice(),
            [Input::HttpError(ID, TransportError::Connect(_))]
        ),
        "{got:?}"
    );
    let got = exchange(&client(), post("ftp://example.com/"));
    assert!(
        matches!(
            got.as_slice(),
            [Input::HttpError(ID, TransportError::Protocol(_))]
        ),
        "{got:?}"
    );
}

#[test]
fn keep_alive_reuses_one_connection_for_sequential_requests() {
    let (url, accepted) = listener(answer_each(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ));
    let client = client();
    for _ in 0..3 {
        let got = exchange(&client, post(&url));
        assert_eq!(body_of(&got), b"ok");
        assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert_eq!(client.idle_connections(), 1);
}

#[test]
fn connection_close_is_honoured() {
    let (url, accepted) = listener(answer_each(
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    ));
    let client = client();
    for _ in 0..2 {
        assert_eq!(body_of(&exchange(&client, post(&url))), b"ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn a_pooled_connection_the_server_closed_is_replaced_transparently() {
    // The first connection answers once, then closes while the client holds it idle.
    let (url, accepted) = listener(|stream, n| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        while read_request(&mut reader).is_some() {
            (&stream)
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .unwrap();
            if n == 1 {
                return;
            }
        }
    });
    let client = client();
    assert_eq!(body_of(&exchange(&client, post(&url))), b"ok");
    thread::sleep(Duration::from_millis(50));
    let got = exchange(&client, post(&url));
    assert_eq!(body_of(&got), b"ok", "{got:?}");
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[test]
fn dropping_the_exchange_closes_its_connection() {
    let (closed_tx, closed) = mpsc::channel();
    let (url, _) = listener(move |stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        read_request(&mut reader).unwrap();
        (&stream)
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        // Never finishes the body; the next read sees the client go away.
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        closed_tx.send(Instant::now()).unwrap();
    });
    let client = client();
    let (tx, rx) = async_channel::unbounded();
    let task = client.start(ID, post(&url), tx);
    let head = smol::block_on(rx.recv()).unwrap();
    assert!(matches!(head, Input::HttpHead(ID, _)), "{head:?}");
    let dropped = Instant::now();
    drop(task);
    let seen = closed.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(seen >= dropped);
    assert_eq!(client.idle_connections(), 0);
}

#[test]
fn a_proxy_that_never_answers_connect_times_out_at_the_connect_timeout() {
    let (proxy, _) = listener(|stream, _| {
        thread::sleep(Duration::from_secs(3));
        drop(stream);
    });
    let options = ClientOptions {
        connect_timeout: Duration::from_millis(200),
        ..ClientOptions::from_lookup(|name| (name == "http_proxy").then(|| proxy.clone()))
    };
    let started = Instant::now();
    let got = exchange(&SmolClient::new(options), post("http://model.invalid/v1"));
    assert!(
        matches!(
            got.as_slice(),
            [Input::HttpError(ID, TransportError::Timeout(_))]
        ),
        "{got:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A CONNECT proxy on 127.0.0.1 that tunnels to `upstream` whatever host is asked for,
/// and reports the head of each CONNECT request it received.
fn connect_proxy(upstream: std::net::SocketAddr) -> (String, mpsc::Receiver<String>) {
    let (seen, lines) = mpsc::channel();
    let (url, _) = listener(move |client, _| {
        let mut reader = BufReader::new(client.try_clone().unwrap());
        let head = read_request(&mut reader).unwrap();
        seen.send(head).unwrap();
        let server = TcpStream::connect(upstream).unwrap();
        (&client)
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let mut up = server.try_clone().unwrap();
        let up_thread = thread::spawn(move || std::io::copy(&mut reader, &mut up));
        let _ = std::io::copy(&mut &server, &mut &client);
        let _ = client.shutdown(std::net::Shutdown::Both);
        let _ = up_thread.join();
    });
    (url, lines)
}

#[test]
fn a_proxy_from_the_environment_carries_the_request_through_connect() {
    let upstream = MockServer::start(
        Script::from_value(serde_json::json!([{"text": "via the proxy"}, {"text": "again"}]))
            .unwrap(),
    );
    let (proxy_url, connect_lines) = connect_proxy(upstream.addr());
    let options = ClientOptions::from_lookup(|name| match name {
        "http_proxy" => Some(proxy_url.clone()),
        "NO_PROXY" => Some("localhost".into()),
        _ => None,
    });
    let got = exchange(
        &SmolClient::new(options),
        post("http://model.invalid/v1/messages"),
    );
    assert_eq!(
        connect_lines.recv_timeout(Duration::from_secs(5)).unwrap(),
        "CONNECT model.invalid:80 HTTP/1.1\r\nHost: model.invalid:80\r\n\r\n",
        "the proxy, not the client, resolves the host"
    );
    assert_eq!(status_of(&got), Some(200), "{got:?}");
    assert!(String::from_utf8(body_of(&got))
        .unwrap()
        .contains("message_stop"));
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
}

#[test]
fn no_proxy_hosts_are_reached_directly() {
    let mock =
        MockServer::start(Script::from_value(serde_json::json!([{"text": "direct"}])).unwrap());
    let options = ClientOptions::from_lookup(|name| match name {
        "http_proxy" => Some("http://127.0.0.1:9".into()),
        "NO_PROXY" => Some("127.0.0.1".into()),
        _ => None,
    });
    let got = exchange(
        &SmolClient::new(options),
        post(&format!("{}/v1/messages", mock.url())),
    );
    assert_eq!(status_of(&got), Some(200), "{got:?}");
}

const TLS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls");

/// A TLS server on 127.0.0.1 for `localhost` (certificate from `tests/tls`), answering
/// every request on a connection with `response`; returns its port and the count of
/// connections accepted.
fn tls_listener(response: &'static [u8]) -> (u16, Arc<AtomicUsize>) {
    use futures_rustls::pki_types::pem::PemObject;
    use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use futures_rustls::rustls::{self, ServerConfig, ServerConnection, StreamOwned};

    let certs = CertificateDer::pem_file_iter(format!("{TLS_DIR}/localhost.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{TLS_DIR}/localhost.key")).unwrap();
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    let config = Arc::new(config);
    let (url, accepted) = listener(move |stream, _| {
        let Ok(connection) = ServerConnection::new(Arc::clone(&config)) else {
            return;
        };
        let mut reader = BufReader::new(StreamOwned::new(connection, stream));
        while read_request(&mut reader).is_some() {
            if reader.get_mut().write_all(response).is_err() {
                return;
            }
        }
    });
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    (port, accepted)
}

fn trusting_the_test_ca(lookup: impl Fn(&str) -> Option<String>) -> ClientOptions {
    ClientOptions {
        roots: TrustRoots::Files(vec![format!("{TLS_DIR}/ca.pem").into()]),
        ..ClientOptions::from_lookup(lookup)
    }
}

#[test]
fn https_with_a_trusted_certificate_works_and_keeps_the_connection() {
    let (port, accepted) = tls_listener(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret");
    let client = SmolClient::new(trusting_the_test_ca(|_| None));
    for _ in 0..2 {
        let got = exchange(&client, post(&format!("https://localhost:{port}/v1")));
        assert_eq!(status_of(&got), Some(200), "{got:?}");
        assert_eq!(body_of(&got), b"secret");
        assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[test]
fn https_with_an_unknown_issuer_is_a_connect_error() {
    let (port, _) = tls_listener(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    let options = ClientOptions {
        roots: TrustRoots::WebPki,
        ..ClientOptions::from_lookup(|_| None)
    };
    let got = exchange(
        &SmolClient::new(options),
        post(&format!("https://localhost:{port}/v1")),
    );
    match got.as_slice() {
        [Input::HttpError(ID, TransportError::Connect(message))] => {
            assert!(
                message.contains("tls") && message.contains("UnknownIssuer"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn https_through_a_connect_proxy_is_tls_inside_the_tunnel() {
    let (port, _) = tls_listener(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\ntunnelled");
    let upstream: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (proxy_url, connect_lines) = connect_proxy(upstream);
    let with_password = proxy_url.replace("http://", "http://cm:s%40cret@");
    let options =
        trusting_the_test_ca(|name| (name == "HTTPS_PROXY").then(|| with_password.clone()));
    let got = exchange(
        &SmolClient::new(options),
        post(&format!("https://localhost:{port}/v1")),
    );
    assert_eq!(
        connect_lines.recv_timeout(Duration::from_secs(5)).unwrap(),
        format!(
            "CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\
             Proxy-Authorization: Basic Y206c0BjcmV0\r\n\r\n"
        ),
        "base64(\"cm:s@cret\")"
    );
    assert_eq!(body_of(&got), b"tunnelled", "{got:?}");
    assert_eq!(got.last(), Some(&Input::HttpEnd(ID)));
}

#[test]
fn the_request_goes_out_as_encoded_with_the_clients_user_agent() {
    let (heads_tx, heads) = mpsc::channel();
    let (url, _) = listener(move |stream, _| {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        while let Some(head) = read_request(&mut reader) {
            heads_tx.send(head).unwrap();
            (&stream)
                .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .unwrap();
        }
    });
    let client = client();
    let got = exchange(&client, post(&format!("{url}/v1/messages?beta=true")));
    assert_eq!(got.len(), 2, "a head and the end, no body: {got:?}");
    let host = url.trim_start_matches("http://");
    assert_eq!(
        heads.recv_timeout(Duration::from_secs(5)).unwrap(),
        format!(
            "POST /v1/messages?beta=true HTTP/1.1\r\nHost: {host}\r\n\
             content-type: application/json\r\nuser-agent: cm/{}\r\nContent-Length: 97\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let mut own = post(&url);
    own.headers.push("User-Agent", "editor/2");
    exchange(&client, own);
    let head = heads.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        head.contains("User-Agent: editor/2\r\n") && !head.contains("cm/"),
        "{head}"
    );
}

//! A minimal HTTP/1.1 client over a std `TcpStream` and cm-proto's client codec, and the
//! decoding of what the mock sends with cm's own SSE parser and wire-format decoders.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use cm_mock::MockServer;
use cm_proto::http::{
    encode_request, Error, Headers, Method, Request, ResponseDecoder, ResponseHead,
};
use cm_proto::message::{Message, Origin};
use cm_proto::provider::{
    AssembledMessage, ChatRequest, Credential, DecodeError, Endpoint, MessageAssembler,
    StreamEvent, WireFormat,
};
use cm_proto::sse;

/// How a response body ended.
#[derive(Debug, PartialEq)]
pub enum End {
    /// The body's framing said it was complete.
    Complete,
    /// The connection closed before the framing said so.
    Cut(Error),
    /// Nothing more arrived within the read timeout.
    TimedOut,
}

/// A response as received.
#[derive(Debug)]
pub struct Response {
    pub head: ResponseHead,
    pub body: Vec<u8>,
    pub end: End,
    /// Whether the connection can carry another request.
    pub reusable: bool,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why no response head arrived.
#[derive(Debug)]
pub enum Failure {
    /// The server closed the connection without answering.
    Closed,
    /// Nothing arrived within the read timeout.
    TimedOut,
    Io(io::Error),
    Http(Error),
}

/// One keep-alive connection to a mock server.
pub struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    pub fn connect(server: &MockServer) -> Client {
        Client::connect_with_timeout(server, Duration::from_secs(10))
    }

    pub fn connect_with_timeout(server: &MockServer, timeout: Duration) -> Client {
        let stream = TcpStream::connect(server.addr()).expect("connect to the mock");
        stream.set_read_timeout(Some(timeout)).expect("set timeout");
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    /// Sends `request` and reads its whole response.
    pub fn send(&mut self, request: &Request) -> Result<Response, Failure> {
        let mut bytes = Vec::new();
        encode_request(request, &mut bytes).map_err(Failure::Http)?;
        self.stream.write_all(&bytes).map_err(Failure::Io)?;
        let mut decoder = ResponseDecoder::new(request.method.clone());
        let head = loop {
            if let Some((used, head)) = decoder.decode_head(&self.buffer).map_err(Failure::Http)? {
                self.buffer.drain(..used);
                break head;
            }
            match self.read_more() {
                Ok(true) => {}
                Ok(false) => return Err(Failure::Closed),
                Err(e) if is_timeout(&e) => return Err(Failure::TimedOut),
                Err(e) => return Err(Failure::Io(e)),
            }
        };
        let mut body_decoder = decoder.body_decoder().expect("a head was decoded");
        let mut body = Vec::new();
        let end = loop {
            match body_decoder.decode(&self.buffer, &mut body) {
                Ok(used) => {
                    self.buffer.drain(..used);
                }
                Err(e) => break End::Cut(e),
            }
            if body_decoder.is_done() {
                break End::Complete;
            }
            match self.read_more() {
                Ok(true) => {}
                Ok(false) => {
                    break match body_decoder.finish_eof() {
                        Ok(()) => End::Complete,
                        Err(e) => End::Cut(e),
                    }
                }
                Err(e) if is_timeout(&e) => break End::TimedOut,
                Err(_) => {
                    break End::Cut(Error::UnexpectedEof {
                        received: body_decoder.received(),
                        expected: None,
                    })
                }
            }
        };
        let reusable = end == End::Complete && decoder.close_reason().is_none();
        Ok(Response {
            head,
            body,
            end,
            reusable,
        })
    }

    fn read_more(&mut self) -> io::Result<bool> {
        let mut scratch = [0u8; 8192];
        let n = self.stream.read(&mut scratch)?;
        self.buffer.extend_from_slice(&scratch[..n]);
        Ok(n > 0)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Sends one request on a fresh connection.
pub fn send(server: &MockServer, request: &Request) -> Response {
    Client::connect(server).send(request).expect("a response")
}

/// The base URL each format's SDK takes: Anthropic without `/v1`, OpenAI with it, Gemini
/// with `/v1beta`.
pub fn endpoint(server: &MockServer, format: WireFormat) -> Endpoint {
    let base_url = match format {
        WireFormat::Anthropic => server.url(),
        WireFormat::Gemini => format!("{}/v1beta", server.url()),
        _ => format!("{}/v1", server.url()),
    };
    Endpoint {
        base_url,
        credential: Some(Credential::ApiKey("sk-test-secret-key".into())),
        headers: Headers::new(),
        quirks: Default::default(),
    }
}

/// cm's own request for a conversation, in `format`.
pub fn cm_request(
    server: &MockServer,
    format: WireFormat,
    messages: Vec<Message>,
    stream: bool,
) -> Request {
    let chat = ChatRequest {
        model: "test-model".into(),
        messages,
        stream,
        ..ChatRequest::default()
    };
    format.build_request(&endpoint(server, format), &chat)
}

/// A raw JSON POST to `path`.
pub fn post(server: &MockServer, path: &str, body: &serde_json::Value) -> Request {
    Request {
        method: Method::Post,
        url: format!("{}{path}", server.url()),
        headers: [("content-type", "application/json")].into_iter().collect(),
        body: body.to_string().into_bytes(),
    }
}

pub fn get(server: &MockServer, path: &str) -> Request {
    Request {
        method: Method::Get,
        url: format!("{}{path}", server.url()),
        headers: Headers::new(),
        body: Vec::new(),
    }
}

/// Parses an SSE body with cm's parser and decodes it with cm's decoder for `format`.
/// With `complete`, the body ended properly, so an event missing only its final blank line
/// (some recordings end so) is dispatched.
pub fn decode_stream(
    format: WireFormat,
    body: &[u8],
    complete: bool,
) -> (Vec<StreamEvent>, Result<(), DecodeError>) {
    let mut parser = sse::Parser::new();
    let mut events = Vec::new();
    parser
        .feed(body, &mut events)
        .expect("events within the size cap");
    events.extend(parser.finish(complete));
    let mut decoder = format.stream_decoder();
    let mut out = Vec::new();
    for event in &events {
        if let Err(e) = decoder.decode(event, &mut out) {
            return (out, Err(e));
        }
    }
    let result = decoder.finish(&mut out);
    (out, result)
}

/// Decodes a response, streamed or whole, into the assembled assistant message.
pub fn assemble(format: WireFormat, response: &Response) -> AssembledMessage {
    assert_eq!(response.end, End::Complete, "{}", response.text());
    let is_stream = response
        .head
        .headers
        .get("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let events = if is_stream {
        let (events, result) = decode_stream(format, &response.body, true);
        result.unwrap_or_else(|e| {
            panic!(
                "{format:?} stream does not decode: {e}\n{}",
                response.text()
            )
        });
        events
    } else {
        format
            .decode_body(&response.body)
            .unwrap_or_else(|e| panic!("{format:?} body does not decode: {e}\n{}", response.text()))
    };
    let mut assembler = MessageAssembler::new(Origin::default());
    for event in &events {
        assert!(
            !matches!(event, StreamEvent::Debug { .. }),
            "cm's decoder skipped something the mock sent: {event:?}"
        );
        assembler.push(event);
    }
    assembler.finish()
}

/// The formats cm-mock serves: all four.
#[allow(dead_code)]
pub const SERVED_FORMATS: [WireFormat; 4] = [
    WireFormat::Anthropic,
    WireFormat::OpenaiChat,
    WireFormat::OpenaiResponses,
    WireFormat::Gemini,
];

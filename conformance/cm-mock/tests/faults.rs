//! Scripted faults: error statuses in the provider's shape, and broken transports.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use cm_mock::{MockServer, Script};
use cm_proto::http::Error;
use cm_proto::message::Message;
use cm_proto::provider::{DecodeError, ErrorKind, WireFormat};
use common::{assemble, cm_request, decode_stream, send, Client, End, Failure};
use serde_json::json;

#[test]
fn rate_limit_with_retry_after_then_success() {
    let script = Script::from_value(json!([
        {"fault": {"status": 429, "headers": {"retry-after": 2, "x-should-retry": "true"}}},
        {"text": "after the wait"},
    ]))
    .unwrap();
    let mut server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    let limited = send(&server, &request);
    assert_eq!(limited.head.status, 429);
    assert_eq!(limited.head.headers.get("retry-after"), Some("2"));
    let error = WireFormat::Anthropic.classify_error(429, &limited.head.headers, &limited.body);
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.retry_after_ms, Some(2000));
    assert!(error.retryable);
    assert_eq!(limited.json()["error"]["type"], "rate_limit_error");

    let ok = send(&server, &request);
    assert_eq!(
        assemble(WireFormat::Anthropic, &ok).message.text(),
        "after the wait"
    );
    assert_eq!(
        server
            .requests()
            .iter()
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [429, 200]
    );
    server.shutdown();
}

#[test]
fn overloaded_in_each_providers_shape() {
    for format in common::SERVED_FORMATS {
        let script = Script::from_value(json!([{"fault": {"status": 529}}])).unwrap();
        let server = MockServer::start(script);
        let response = send(
            &server,
            &cm_request(&server, format, vec![Message::user("hi")], true),
        );
        assert_eq!(response.head.status, 529);
        let error = format.classify_error(529, &response.head.headers, &response.body);
        assert_eq!(
            error.kind,
            ErrorKind::Overloaded,
            "{format:?}: {}",
            response.text()
        );
        assert!(error.retryable);
    }
}

#[test]
fn a_scripted_error_body_is_sent_as_written() {
    let script = Script::from_value(json!([
        {"fault": {"status": 404, "body": {"type": "error", "error": {"type": "not_found_error", "message": "model: nope"}}}},
        {"fault": {"status": 502, "body": "<html>bad gateway</html>"}},
    ]))
    .unwrap();
    let server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        false,
    );
    let not_found = send(&server, &request);
    assert_eq!(not_found.json()["error"]["message"], "model: nope");
    let gateway = send(&server, &request);
    assert_eq!(gateway.head.status, 502);
    assert_eq!(gateway.text(), "<html>bad gateway</html>");
    assert!(gateway
        .head
        .headers
        .get("content-type")
        .unwrap()
        .starts_with("text/plain"));
}

#[test]
fn disconnect_after_bytes_cuts_the_body() {
    for framing in ["chunked", "close"] {
        let script = Script::from_value(json!([{
            "text": "a long answer that will not arrive whole",
            "framing": framing,
            "fault": {"disconnect_after_bytes": 300},
        }]))
        .unwrap();
        let mut server = MockServer::start(script);
        let request = cm_request(
            &server,
            WireFormat::Anthropic,
            vec![Message::user("hi")],
            true,
        );
        let response = send(&server, &request);
        assert_eq!(response.head.status, 200);
        assert_eq!(response.body.len(), 300, "{framing}");
        match framing {
            // Chunked framing tells the client the body was cut...
            "chunked" => assert!(matches!(
                response.end,
                End::Cut(Error::UnexpectedEof { .. })
            )),
            // ...a close-delimited stream ends "cleanly", and only the decoder notices.
            _ => assert_eq!(response.end, End::Complete),
        }
        let (_, result) = decode_stream(WireFormat::Anthropic, &response.body, false);
        assert!(
            matches!(result, Err(DecodeError::Truncated { .. })),
            "{result:?}"
        );
        server.shutdown();
    }
}

#[test]
fn disconnect_inside_a_whole_body() {
    let script =
        Script::from_value(json!([{"text": "whole", "fault": {"disconnect_after_bytes": 10}}]))
            .unwrap();
    let server = MockServer::start(script);
    let response = send(
        &server,
        &cm_request(
            &server,
            WireFormat::OpenaiChat,
            vec![Message::user("hi")],
            false,
        ),
    );
    assert_eq!(response.body.len(), 10);
    assert!(matches!(
        response.end,
        End::Cut(Error::UnexpectedEof {
            received: 10,
            expected: Some(_)
        })
    ));
}

#[test]
fn drop_closes_without_answering() {
    let script =
        Script::from_value(json!([{"fault": {"drop": true}}, {"text": "second try"}])).unwrap();
    let server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::OpenaiResponses,
        vec![Message::user("hi")],
        true,
    );
    let mut client = Client::connect(&server);
    assert!(matches!(client.send(&request), Err(Failure::Closed)));
    let ok = send(&server, &request);
    assert_eq!(
        assemble(WireFormat::OpenaiResponses, &ok).message.text(),
        "second try"
    );
    assert_eq!(server.requests()[0].status, 0);
}

#[test]
fn delay_before_first_byte() {
    let script =
        Script::from_value(json!([{"text": "late", "fault": {"delay_before_first_byte_ms": 300}}]))
            .unwrap();
    let server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    let started = Instant::now();
    let response = send(&server, &request);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(
        assemble(WireFormat::Anthropic, &response).message.text(),
        "late"
    );
}

#[test]
fn trickle_sends_a_few_bytes_at_a_time() {
    let script = Script::from_value(
        json!([{"text": "slowly", "fault": {"trickle": {"bytes": 200, "interval_ms": 40}}}]),
    )
    .unwrap();
    let server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::OpenaiChat,
        vec![Message::user("hi")],
        true,
    );
    let started = Instant::now();
    let response = send(&server, &request);
    let elapsed = started.elapsed();
    let writes = response.body.len().div_ceil(200) as u32;
    assert!(writes >= 4, "{writes}");
    // Every pause but the first write's: a loose lower bound, no upper one beyond sanity.
    assert!(
        elapsed >= Duration::from_millis(40) * (writes - 1),
        "{elapsed:?} for {writes} writes"
    );
    assert!(elapsed < Duration::from_secs(10));
    assert_eq!(
        assemble(WireFormat::OpenaiChat, &response).message.text(),
        "slowly"
    );
}

#[test]
fn stall_sends_the_head_and_then_nothing() {
    let script = Script::from_value(json!([{"text": "never", "fault": {"stall": true}}])).unwrap();
    let mut server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    let mut client = Client::connect_with_timeout(&server, Duration::from_millis(300));
    let started = Instant::now();
    let response = client.send(&request).expect("the head arrives");
    assert_eq!(response.head.status, 200);
    assert_eq!(response.end, End::TimedOut);
    assert!(response.body.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Shutdown ends the stalled connection's thread promptly.
    let started = Instant::now();
    server.shutdown();
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn stall_before_the_head_times_the_client_out() {
    let script = Script::from_value(
        json!([{"text": "never", "fault": {"delay_before_first_byte_ms": 60000}}]),
    )
    .unwrap();
    let mut server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    let mut client = Client::connect_with_timeout(&server, Duration::from_millis(200));
    assert!(matches!(client.send(&request), Err(Failure::TimedOut)));
    let started = Instant::now();
    server.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shutdown cut the delay short"
    );
}

#[test]
fn script_exhausted_is_a_500_that_says_so() {
    let script = Script::from_value(json!([{"text": "only one"}])).unwrap();
    let server = MockServer::start(script);
    let request = cm_request(
        &server,
        WireFormat::OpenaiChat,
        vec![Message::user("hi")],
        true,
    );
    assert_eq!(send(&server, &request).head.status, 200);
    let exhausted = send(&server, &request);
    assert_eq!(exhausted.head.status, 500);
    assert_eq!(exhausted.head.headers.get("x-should-retry"), Some("false"));
    let message = exhausted.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("script exhausted"), "{message}");
    assert_eq!(
        server.requests()[1].error.as_deref(),
        Some("script exhausted")
    );
    assert_eq!(server.turns_left(), 0);
}

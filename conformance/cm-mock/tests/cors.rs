//! CORS: what a browser page needs to talk to the mock from another origin.
#![allow(clippy::unwrap_used)]

mod common;

use cm_mock::{MockServer, Script};
use cm_proto::http::{Method, Request};
use cm_proto::message::Message;
use cm_proto::provider::WireFormat;
use common::{cm_request, send};
use serde_json::json;

const PAGE: &str = "http://127.0.0.1:8123";

#[test]
fn a_preflight_is_answered_at_once_with_the_headers_asked_for_and_takes_no_turn() {
    let server = MockServer::start(Script::from_value(json!([{"text": "hi"}])).unwrap());
    let preflight = Request {
        method: Method::Options,
        url: format!("{}/v1/messages", server.url()),
        headers: [
            ("origin", PAGE),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "anthropic-version,content-type,x-api-key",
            ),
        ]
        .into_iter()
        .collect(),
        body: Vec::new(),
    };
    let answer = send(&server, &preflight);
    let headers = &answer.head.headers;
    assert_eq!(answer.head.status, 204);
    assert_eq!(headers.get("access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        headers.get("access-control-allow-headers"),
        Some("anthropic-version,content-type,x-api-key")
    );
    assert!(headers
        .get("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert_eq!(server.turns_left(), 1);
    assert!(server.requests().is_empty(), "preflights are not logged");
}

#[test]
fn answers_to_a_page_allow_its_origin_and_others_are_unchanged() {
    let script = Script::from_value(json!([{"text": "one"}, {"text": "two"}])).unwrap();
    let server = MockServer::start(script);
    let mut from_page = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    from_page.headers.push("origin", PAGE);
    let answer = send(&server, &from_page);
    assert_eq!(answer.head.status, 200);
    assert_eq!(
        answer.head.headers.get("access-control-allow-origin"),
        Some(PAGE)
    );
    assert_eq!(
        answer.head.headers.get("access-control-expose-headers"),
        Some("*")
    );

    let plain = cm_request(
        &server,
        WireFormat::Anthropic,
        vec![Message::user("hi")],
        true,
    );
    let answer = send(&server, &plain);
    assert!(!answer.head.headers.contains("access-control-allow-origin"));
}

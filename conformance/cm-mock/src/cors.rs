//! CORS, so a web page on another origin (cm in the browser) can talk to the mock.
//!
//! A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 at once,
//! allowing any origin and exactly the headers asked for (a wildcard would not cover
//! `Authorization`); it takes no scripted turn and is not logged. Every other answer to a
//! request that names an `Origin` allows that origin and exposes its headers (so the page
//! can read `retry-after`). Requests without an `Origin` are answered as before.

use cm_proto::http::{Headers, Method, RequestHead};

use crate::respond::{Reply, ReplyBody};
use crate::script::Fault;

/// The answer to a CORS preflight, or `None` when `head` is not one.
pub(crate) fn preflight(head: &RequestHead) -> Option<Reply> {
    if head.method != Method::Options || !head.headers.contains("access-control-request-method") {
        return None;
    }
    let mut headers = Headers::new();
    headers.push("Access-Control-Allow-Origin", allowed_origin(head));
    headers.push("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    let asked = head
        .headers
        .get("access-control-request-headers")
        .unwrap_or("content-type");
    headers.push("Access-Control-Allow-Headers", asked);
    headers.push("Access-Control-Max-Age", "600");
    headers.push("Vary", "Origin");
    Some(Reply {
        status: 204,
        headers,
        body: ReplyBody::Whole(Vec::new()),
        fault: Fault::default(),
        close: false,
    })
}

/// Adds the CORS headers to `reply` when `head` came from a page.
pub(crate) fn allow(head: &RequestHead, reply: &mut Reply) {
    if !head.headers.contains("origin") {
        return;
    }
    reply
        .headers
        .set("Access-Control-Allow-Origin", allowed_origin(head));
    reply.headers.set("Access-Control-Expose-Headers", "*");
    reply.headers.set("Vary", "Origin");
}

fn allowed_origin(head: &RequestHead) -> String {
    head.headers.get("origin").unwrap_or("*").to_string()
}

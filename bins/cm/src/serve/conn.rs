//! One client connection: requests decoded by proto's server codec one after another
//! (keep-alive and pipelining), each checked by the guard before its body is read, then
//! answered with JSON or turned into an event stream.
//!
//! Every read has a deadline: a whole request (head and body) must arrive within the
//! client timeout, which also ends idle keep-alive connections; every write must finish
//! within the write timeout. A request that cannot be served is answered with a JSON
//! error and `Connection: close`; the server then stops writing, reads and drops what
//! the client still sends (bounded in bytes and time) so that the client sees the answer
//! rather than a reset, and closes.

use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cm_proto::http::{
    encode_continue, encode_response, encode_sse_comment, encode_sse_event, encode_sse_head,
    status_for, Headers, Method, RequestHead,
};
use serde_json::{json, Value};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use smol::Timer;

use super::api::{self, Reply};
use super::router::{self, Endpoint, Routed};
use super::sse::Subscription;
use super::App;

enum Read {
    Data,
    Eof,
    TimedOut,
}

/// Reads what is available into `buf`, until `deadline`.
async fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>, deadline: Instant) -> Read {
    let mut chunk = [0u8; 8192];
    let read = smol::future::or(async { Some(stream.read(&mut chunk).await) }, async {
        Timer::at(deadline).await;
        None
    })
    .await;
    match read {
        None => Read::TimedOut,
        Some(Ok(0)) | Some(Err(_)) => Read::Eof,
        Some(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Read::Data
        }
    }
}

/// Writes all of `bytes` within `limit`; false when the client is gone or too slow.
async fn write_all(stream: &mut TcpStream, bytes: &[u8], limit: Duration) -> bool {
    smol::future::or(async { stream.write_all(bytes).await.is_ok() }, async {
        Timer::after(limit).await;
        false
    })
    .await
}

/// A JSON response's bytes.
fn json_bytes(status: u16, body: &Value, extra: &Headers, close: bool) -> Vec<u8> {
    let mut headers = extra.clone();
    if status != 204 {
        headers.push("Content-Type", "application/json");
    }
    if close {
        headers.push("Connection", "close");
    }
    let text = if status == 204 {
        String::new()
    } else {
        let mut text = body.to_string();
        text.push('\n');
        text
    };
    let mut out = Vec::with_capacity(text.len() + 128);
    if encode_response(status, "", &headers, text.as_bytes(), &mut out).is_err() {
        out.clear();
        let _ = encode_response(500, "", &Headers::new(), b"", &mut out);
    }
    out
}

fn error_body(message: &str) -> Value {
    json!({ "error": message })
}

/// Serves one connection to its end.
pub async fn serve(mut stream: TcpStream, app: Arc<App>) {
    let limits = app.limits;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let deadline = Instant::now() + limits.client_timeout;
        let (used, head) = loop {
            match app.decoder.decode_head(&buf) {
                Ok(Some(found)) => break found,
                Ok(None) => {}
                Err(error) => {
                    let status = status_for(&error);
                    let message = format!("{error}");
                    return refuse(&mut stream, &app, status, &message, &Headers::new()).await;
                }
            }
            match read_some(&mut stream, &mut buf, deadline).await {
                Read::Data => {}
                Read::Eof => return,
                Read::TimedOut if buf.is_empty() => return,
                Read::TimedOut => {
                    let message = "the request did not arrive in time";
                    return refuse(&mut stream, &app, 408, message, &Headers::new()).await;
                }
            }
        };
        buf.drain(..used);
        let mut close = head.close_reason().is_some() || app.stopping();

        let (endpoint, params, cors) = match admit(&app, &head) {
            Ok(admitted) => admitted,
            Err(answer) => {
                // The body was not read: the connection cannot carry another request.
                let bodiless = matches!(head.framing(), Ok(cm_proto::http::Framing::NoBody));
                if bodiless && !close {
                    let bytes = json_bytes(answer.status, &answer.body, &answer.headers, false);
                    if !write_all(&mut stream, &bytes, limits.write_timeout).await {
                        return;
                    }
                    continue;
                }
                let bytes = json_bytes(answer.status, &answer.body, &answer.headers, true);
                return finish_with(&mut stream, &app, &bytes).await;
            }
        };

        if head.expects_continue() {
            let mut out = Vec::new();
            encode_continue(&mut out);
            if !write_all(&mut stream, &out, limits.write_timeout).await {
                return;
            }
        }
        let mut body = Vec::new();
        let Ok(mut decoder) = app.decoder.body_decoder(&head) else {
            return refuse(&mut stream, &app, 400, "unusable body framing", &cors).await;
        };
        loop {
            match decoder.decode(&buf, &mut body) {
                Ok(used) => {
                    buf.drain(..used);
                }
                Err(error) => {
                    let status = status_for(&error);
                    return refuse(&mut stream, &app, status, &error.to_string(), &cors).await;
                }
            }
            if decoder.is_done() {
                break;
            }
            match read_some(&mut stream, &mut buf, deadline).await {
                Read::Data => {}
                Read::Eof => return,
                Read::TimedOut => {
                    let message = "the request body did not arrive in time";
                    return refuse(&mut stream, &app, 408, message, &cors).await;
                }
            }
        }

        match api::handle(&app, endpoint, &params, &head, &body).await {
            Reply::Json { status, body } => {
                close |= app.stopping();
                let mut headers = cors.clone();
                if status == 401 {
                    headers.push("WWW-Authenticate", "Bearer");
                }
                let bytes = json_bytes(status, &body, &headers, close);
                if !write_all(&mut stream, &bytes, limits.write_timeout).await || close {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
            }
            Reply::Events(subscription) => {
                stream_events(&mut stream, &app, subscription, &cors).await;
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// A refusal decided from the head alone.
struct Answer {
    status: u16,
    body: Value,
    headers: Headers,
}

/// Checks Host, Origin, route and token; answers CORS preflights.
fn admit(app: &App, head: &RequestHead) -> Result<(Endpoint, Vec<String>, Headers), Answer> {
    let refuse = |status: u16, message: String, headers: Headers| Answer {
        status,
        body: error_body(&message),
        headers,
    };
    let routed = router::find(&head.method, head.path());
    let public =
        matches!(routed, Routed::Found(Endpoint::Health, _)) || head.method == Method::Options;
    if let Err(refusal) = app.guard.check(head, public) {
        let mut headers = Headers::new();
        if refusal.status() == 401 {
            headers.push("WWW-Authenticate", "Bearer");
        }
        return Err(refuse(refusal.status(), refusal.to_string(), headers));
    }
    let mut cors = Headers::new();
    if let Some(origin) = app.guard.allowed_origin(head) {
        cors.push("Access-Control-Allow-Origin", origin);
        cors.push("Vary", "Origin");
    }
    match routed {
        Routed::Found(endpoint, params) => Ok((endpoint, params, cors)),
        Routed::WrongMethod(allowed) if head.method == Method::Options => {
            let mut headers = cors;
            headers.push("Access-Control-Allow-Methods", allowed.join(", "));
            headers.push(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type, Last-Event-ID",
            );
            headers.push("Access-Control-Max-Age", "600");
            headers.push("Allow", allowed.join(", "));
            Err(Answer {
                status: 204,
                body: Value::Null,
                headers,
            })
        }
        Routed::WrongMethod(allowed) => {
            let mut headers = cors;
            headers.push("Allow", allowed.join(", "));
            let message = format!(
                "{} is not allowed here; use {}",
                head.method.as_str(),
                allowed.join(" or ")
            );
            Err(refuse(405, message, headers))
        }
        Routed::NotFound => Err(refuse(
            404,
            format!("no endpoint {}; see GET /openapi.json", head.path()),
            cors,
        )),
    }
}

/// Answers an error with `Connection: close`, then drains and closes.
async fn refuse(stream: &mut TcpStream, app: &App, status: u16, message: &str, extra: &Headers) {
    let bytes = json_bytes(status, &error_body(message), extra, true);
    finish_with(stream, app, &bytes).await;
}

/// Writes `bytes`, stops writing, reads and drops what the client still sends (bounded),
/// and closes.
async fn finish_with(stream: &mut TcpStream, app: &App, bytes: &[u8]) {
    let limits = app.limits;
    if !write_all(stream, bytes, limits.write_timeout).await {
        return;
    }
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + limits.drain_time;
    let mut scratch = Vec::new();
    let mut dropped = 0usize;
    while dropped < limits.drain_bytes {
        scratch.clear();
        match read_some(stream, &mut scratch, deadline).await {
            Read::Data => dropped = dropped.saturating_add(scratch.len()),
            Read::Eof | Read::TimedOut => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Streams events until the client goes, is too slow, or the server stops.
async fn stream_events(
    stream: &mut TcpStream,
    app: &App,
    subscription: Subscription,
    cors: &Headers,
) {
    let limits = app.limits;
    let mut out = Vec::new();
    let mut headers = cors.clone();
    headers.push("X-Accel-Buffering", "no");
    if encode_sse_head(200, &headers, &mut out).is_err() {
        return;
    }
    if subscription.gap {
        let data =
            json!({"reason": "events after the Last-Event-ID were dropped; reload the state"});
        let _ = encode_sse_event(Some("reset"), &data.to_string(), None, &mut out);
    }
    for event in &subscription.backlog {
        let id = event.id.to_string();
        let _ = encode_sse_event(Some(&event.name), &event.data, Some(&id), &mut out);
    }
    if !write_all(stream, &out, limits.write_timeout).await {
        return;
    }
    loop {
        out.clear();
        let next = smol::future::or(async { Some(subscription.events.recv().await) }, async {
            Timer::after(limits.heartbeat).await;
            None
        })
        .await;
        match next {
            None => encode_sse_comment("heartbeat", &mut out),
            Some(Err(_)) => return,
            Some(Ok(first)) => {
                let mut event = Some(first);
                while let Some(e) = event {
                    let id = e.id.to_string();
                    let _ = encode_sse_event(Some(&e.name), &e.data, Some(&id), &mut out);
                    event = if out.len() < 64 * 1024 {
                        subscription.events.try_recv().ok()
                    } else {
                        None
                    };
                }
            }
        }
        if !write_all(stream, &out, limits.write_timeout).await {
            return;
        }
    }
}

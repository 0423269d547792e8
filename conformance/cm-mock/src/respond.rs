//! Deciding the answer to one request: routing, taking the next turn, checking its
//! expectations, and building the [`Reply`] (generated, replayed, or a scripted error)
//! together with the request's log record.

use std::collections::VecDeque;

use cm_conformance::fixtures::FixtureKind;
use cm_proto::http::{Headers, Method, RequestHead};
use cm_proto::provider::WireFormat;
use serde_json::{json, Value};

use crate::answer::Answer;
use crate::expect::{first_failure, Seen};
use crate::log::{logged_headers, logged_target, LoggedRequest};
use crate::script::{header_value_text, Fault, Replay, ScriptedTurn, StreamFraming};
use crate::wire;

/// A response ready to transmit, with the transport faults to apply while sending it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Headers,
    pub(crate) body: ReplyBody,
    /// Delay, trickle, cut, stall or drop; the other fields of the fault are already applied.
    pub(crate) fault: Fault,
    /// Close the connection after this reply.
    pub(crate) close: bool,
}

/// How the body goes out.
#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    /// One body with a `Content-Length`.
    Whole(Vec<u8>),
    /// An event stream, one byte string per event.
    Stream {
        events: Vec<Vec<u8>>,
        framing: StreamFraming,
    },
}

/// The script's progress, shared by every connection.
#[derive(Debug)]
pub(crate) struct Progress {
    pub(crate) turns: VecDeque<ScriptedTurn>,
    pub(crate) total: usize,
    pub(crate) next_seq: u64,
}

/// The models `GET /v1/models` lists.
const MODELS: [&str; 3] = ["cm-mock-scripted", "claude-mock-1", "gpt-mock-1"];

/// Answers one request and describes it for the log.
pub(crate) fn respond(
    progress: &mut Progress,
    head: &RequestHead,
    body: &[u8],
    created: u64,
) -> (Reply, LoggedRequest) {
    let seq = progress.next_seq;
    progress.next_seq += 1;
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let path = head.path();
    let format = wire::format_for_path(path);
    let mut record = LoggedRequest {
        seq,
        method: head.method.as_str().to_string(),
        path: logged_target(&head.target),
        headers: logged_headers(&head.headers),
        body: match &json {
            Some(value) => value.clone(),
            None if body.is_empty() => Value::Null,
            None => Value::String(String::from_utf8_lossy(body).into_owned()),
        },
        format: format.map(|f| f.name().to_string()),
        stream: wire::asks_for_stream(format, &head.target, json.as_ref()),
        turn: None,
        status: 0,
        expectation_failed: None,
        replay: None,
        error: None,
    };

    let reply = match (&head.method, format) {
        (Method::Post, Some(format)) => model_reply(
            progress,
            format,
            head,
            body,
            json.as_ref(),
            seq,
            created,
            &mut record,
        ),
        (_, Some(format)) => {
            let mut reply =
                error_reply(Some(format), 405, "cm-mock: model endpoints take POST", seq);
            reply.headers.push("Allow", "POST");
            record.error = Some("method not allowed".into());
            reply
        }
        (Method::Get | Method::Head, None) if path == "/health" => whole_json(
            200,
            &json!({
                "status": "ok",
                "turns_served": progress.total - progress.turns.len(),
                "turns_left": progress.turns.len(),
            }),
        ),
        (Method::Get | Method::Head, None) if path.trim_end_matches('/').ends_with("/models") => {
            whole_json(200, &models(created))
        }
        _ => {
            record.error = Some(format!("no route for {} {path}", head.method.as_str()));
            error_reply(
                None,
                404,
                &format!("cm-mock: no route for {} {path}", head.method.as_str()),
                seq,
            )
        }
    };
    record.status = if reply.fault.drop { 0 } else { reply.status };
    (reply, record)
}

#[allow(clippy::too_many_arguments)]
fn model_reply(
    progress: &mut Progress,
    format: WireFormat,
    head: &RequestHead,
    body: &[u8],
    json: Option<&Value>,
    seq: u64,
    created: u64,
    record: &mut LoggedRequest,
) -> Reply {
    let Some(scripted) = progress.turns.pop_front() else {
        let message = format!(
            "cm-mock: script exhausted: all {} scripted turn(s) were used; request {seq} has no answer",
            progress.total
        );
        record.error = Some("script exhausted".into());
        let mut reply = error_reply(Some(format), 500, &message, seq);
        reply.headers.push("x-should-retry", "false");
        return reply;
    };
    record.turn = Some(scripted.index);
    let turn = &scripted.turn;
    let headers = wire::credential_headers(format, head);
    let seen = Seen {
        path: head.path(),
        headers: &headers,
        raw_body: body,
        json,
    };
    if let Some(failure) = first_failure(&turn.expect.0, &seen) {
        let message = format!(
            "cm-mock: expectation failed (turn {}): {failure}",
            scripted.index
        );
        record.expectation_failed = Some(failure);
        let mut reply = error_reply(Some(format), 400, &message, seq);
        reply.headers.push("x-should-retry", "false");
        return reply;
    }
    let fault = turn.fault.clone().unwrap_or_default();
    let stream = wire::asks_for_stream(Some(format), &head.target, json);
    let framing = turn.framing.unwrap_or(StreamFraming::Chunked);

    let mut reply = if let Some(status) = fault.status {
        match &fault.body {
            Some(Value::String(text)) => {
                let is_json = serde_json::from_str::<Value>(text).is_ok();
                let mut reply = whole(status, text.as_bytes().to_vec());
                let kind = if is_json {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                };
                reply.headers.push("Content-Type", kind);
                reply
            }
            Some(other) => whole_json(status, other),
            None => error_reply(
                Some(format),
                status,
                &format!("cm-mock: scripted {status} fault"),
                seq,
            ),
        }
    } else if let Some(replay) = &scripted.replay {
        record.replay = Some(replay.path.display().to_string());
        replay_reply(replay, format, framing)
    } else {
        let requested_model = wire::requested_model(format, head.path(), json);
        let answer = Answer::new(turn, seq, requested_model, created);
        if stream {
            let mut reply = Reply {
                status: 200,
                headers: Headers::new(),
                body: ReplyBody::Stream {
                    events: wire::stream(format, &answer),
                    framing,
                },
                fault: Fault::default(),
                close: false,
            };
            reply
                .headers
                .push("Content-Type", "text/event-stream; charset=utf-8");
            reply
        } else {
            whole_json(200, &wire::body(format, &head.target, &answer))
        }
    };
    let (name, value) = wire::request_id_header(Some(format), seq);
    if !reply.headers.contains(name) {
        reply.headers.push(name, value);
    }
    for (name, value) in &fault.headers {
        reply.headers.push(name.clone(), header_value_text(value));
    }
    reply.fault = fault;
    reply
}

/// A recorded interaction: its status and headers (framing headers dropped, the body being
/// stored decoded) and its body bytes unchanged; a `*.chunks.txt` stream served as Chat
/// Completions gets the `data: [DONE]` the recorder stripped.
fn replay_reply(replay: &Replay, format: WireFormat, framing: StreamFraming) -> Reply {
    const DROPPED: [&str; 5] = [
        "content-length",
        "transfer-encoding",
        "content-encoding",
        "connection",
        "keep-alive",
    ];
    let mut headers = Headers::new();
    for (name, value) in &replay.headers {
        let dropped = DROPPED.iter().any(|d| name.eq_ignore_ascii_case(d));
        if !dropped && is_header_safe(name, value) {
            headers.push(name.clone(), value.clone());
        }
    }
    let status = replay.status.unwrap_or(200);
    if !replay.is_sse {
        if !headers.contains("content-type") {
            headers.push("Content-Type", "application/json");
        }
        return Reply {
            status,
            headers,
            body: ReplyBody::Whole(replay.body.clone()),
            fault: Fault::default(),
            close: false,
        };
    }
    let mut body = replay.body.clone();
    let is_chat = format == WireFormat::OpenaiChat
        || body
            .windows(b"chat.completion.chunk".len())
            .any(|w| w == b"chat.completion.chunk");
    if replay.kind == FixtureKind::PayloadLines && is_chat && !body.ends_with(b"data: [DONE]\n\n") {
        body.extend_from_slice(b"data: [DONE]\n\n");
    }
    if !headers.contains("content-type") {
        headers.push("Content-Type", "text/event-stream; charset=utf-8");
    }
    Reply {
        status,
        headers,
        body: ReplyBody::Stream {
            events: split_events(&body),
            framing,
        },
        fault: Fault::default(),
        close: false,
    }
}

/// Splits an SSE body after each blank line, so each event goes out in its own write; the
/// pieces concatenate to the body exactly.
fn split_events(body: &[u8]) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < body.len() {
        let end = if body[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if body[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        };
        match end {
            Some(end) => {
                events.push(body[start..end].to_vec());
                start = end;
                i = end;
            }
            None => i += 1,
        }
    }
    if start < body.len() {
        events.push(body[start..].to_vec());
    }
    events
}

/// Whether a recorded header can be sent without breaking the head.
fn is_header_safe(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        && !value.contains(['\r', '\n', '\0'])
}

fn whole(status: u16, body: Vec<u8>) -> Reply {
    Reply {
        status,
        headers: Headers::new(),
        body: ReplyBody::Whole(body),
        fault: Fault::default(),
        close: false,
    }
}

pub(crate) fn whole_json(status: u16, value: &Value) -> Reply {
    let mut reply = whole(status, value.to_string().into_bytes());
    reply.headers.push("Content-Type", "application/json");
    reply
}

/// An error in the provider's shape (OpenAI's when the path names no provider).
fn error_reply(format: Option<WireFormat>, status: u16, message: &str, seq: u64) -> Reply {
    let mut reply = whole_json(status, &wire::error_body(format, status, message, seq));
    let (name, value) = wire::request_id_header(format, seq);
    reply.headers.push(name, value);
    reply
}

/// A list both Anthropic's and OpenAI's clients can read.
fn models(created: u64) -> Value {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| {
            json!({
                "id": id,
                "object": "model",
                "type": "model",
                "display_name": id,
                "created": created,
                "created_at": "2025-01-01T00:00:00Z",
                "owned_by": "cm-mock",
            })
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "first_id": MODELS[0],
        "last_id": MODELS[MODELS.len() - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_after_blank_lines_and_rejoin_exactly() {
        let body = b"event: a\ndata: 1\n\ndata: 2\r\n\r\ndata: tail";
        let events = split_events(body);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0], b"event: a\ndata: 1\n\n");
        assert_eq!(events.concat(), body);
        assert!(split_events(b"").is_empty());
    }
}

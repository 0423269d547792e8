//! The endpoints: each turns a routed request into a JSON reply or an event stream.
//! Bodies are JSON objects; unknown fields are refused, so a misspelt field is an error
//! rather than silently ignored.

use std::sync::Arc;

use cm_proto::http::RequestHead;
use serde_json::{json, Map, Value};

use super::openapi;
use super::router::Endpoint;
use super::sessions::{decision, ApiError};
use super::sse::Subscription;
use super::App;

/// What an endpoint answers.
#[derive(Debug)]
pub enum Reply {
    /// A JSON body (none for 204).
    Json {
        /// The status.
        status: u16,
        /// The body.
        body: Value,
    },
    /// An event stream.
    Events(Subscription),
}

fn json_reply(status: u16, body: Value) -> Reply {
    Reply::Json { status, body }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Reply {
        json_reply(error.status, json!({ "error": error.message }))
    }
}

/// Answers one request whose guard checks passed.
pub async fn handle(
    app: &Arc<App>,
    endpoint: Endpoint,
    params: &[String],
    head: &RequestHead,
    body: &[u8],
) -> Reply {
    match answer(app, endpoint, params, head, body).await {
        Ok(reply) => reply,
        Err(error) => error.into(),
    }
}

fn param(params: &[String], at: usize) -> Result<&str, ApiError> {
    params
        .get(at)
        .map(String::as_str)
        .ok_or_else(|| ApiError::new(404, "missing path parameter"))
}

async fn answer(
    app: &Arc<App>,
    endpoint: Endpoint,
    params: &[String],
    head: &RequestHead,
    body: &[u8],
) -> Result<Reply, ApiError> {
    let sessions = &app.sessions;
    Ok(match endpoint {
        Endpoint::Health => json_reply(
            200,
            json!({"ok": true, "version": env!("CARGO_PKG_VERSION")}),
        ),
        Endpoint::ListSessions => json_reply(200, sessions.list().await?),
        Endpoint::CreateSession => {
            let mut fields = object(body, true, &["directory", "model"])?;
            let directory = string_field(&mut fields, "directory")?;
            let model = string_field(&mut fields, "model")?;
            json_reply(201, sessions.create(directory, model).await?)
        }
        Endpoint::GetSession => json_reply(200, sessions.get(param(params, 0)?).await?),
        Endpoint::DeleteSession => {
            sessions.delete(param(params, 0)?).await?;
            json_reply(204, Value::Null)
        }
        Endpoint::ListMessages => json_reply(200, sessions.messages(param(params, 0)?).await?),
        Endpoint::PostMessage => {
            let id = param(params, 0)?;
            let mut fields = object(body, false, &["text", "model"])?;
            let text = string_field(&mut fields, "text")?
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| ApiError::new(400, "\"text\" must be a non-empty string"))?;
            let model = string_field(&mut fields, "model")?;
            let wait = query_flag(head.query(), "wait")?;
            let started = sessions.post_message(id, text, model, wait).await?;
            match started.done {
                Some(done) => match done.recv().await {
                    Ok(result) => json_reply(200, result),
                    Err(_) => return Err(ApiError::new(500, "the turn ended without a result")),
                },
                None => json_reply(202, json!({"id": started.turn, "session": id})),
            }
        }
        Endpoint::Abort => {
            let id = param(params, 0)?;
            let turn = sessions.abort(id)?;
            json_reply(202, json!({"id": turn, "session": id}))
        }
        Endpoint::AnswerPermission => {
            let id = param(params, 0)?;
            let ask = param(params, 1)?;
            let ask: u64 = ask
                .parse()
                .map_err(|_| ApiError::new(404, format!("no permission question `{ask}`")))?;
            let mut fields = object(body, false, &["answer", "message"])?;
            let message = string_field(&mut fields, "message")?;
            let answer = string_field(&mut fields, "answer")?.unwrap_or_default();
            let decision = decision(&answer, message).ok_or_else(|| {
                ApiError::new(400, "\"answer\" must be \"once\", \"always\" or \"deny\"")
            })?;
            sessions.answer(id, ask, decision)?;
            json_reply(200, json!({"ok": true}))
        }
        Endpoint::Events => Reply::Events(app.hub.subscribe(None, last_event_id(head))),
        Endpoint::SessionEvents => {
            let id = param(params, 0)?;
            if !sessions.exists(id) {
                return Err(ApiError::new(404, format!("there is no session `{id}`")));
            }
            Reply::Events(app.hub.subscribe(Some(id.to_string()), last_event_id(head)))
        }
        Endpoint::Models => json_reply(200, app.models.clone()),
        Endpoint::OpenApi => json_reply(200, openapi::document()),
    })
}

fn last_event_id(head: &RequestHead) -> Option<u64> {
    head.headers
        .get("last-event-id")
        .and_then(|v| v.trim().parse().ok())
}

/// The body as a JSON object with only `known` fields; an empty body is `{}` when
/// `optional`.
fn object(body: &[u8], optional: bool, known: &[&str]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if optional {
            Ok(Map::new())
        } else {
            Err(ApiError::new(400, "the body must be a JSON object"))
        };
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::new(400, "the body must be a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::new(
            400,
            format!(
                "unknown field \"{unknown}\"; the fields are {}",
                known
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(map)
}

fn string_field(fields: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ApiError::new(400, format!("\"{name}\" must be a string"))),
    }
}

/// A boolean query parameter: absent is false; `true`/`1` and `false`/`0` are accepted.
fn query_flag(query: Option<&str>, name: &str) -> Result<bool, ApiError> {
    let Some(query) = query else { return Ok(false) };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        if key == name {
            return match value {
                "true" | "1" | "" => Ok(true),
                "false" | "0" => Ok(false),
                other => Err(ApiError::new(
                    400,
                    format!("?{name}= takes true or false, not `{other}`"),
                )),
            };
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_must_be_objects_with_known_fields() {
        assert_eq!(object(b"", true, &["a"]), Ok(Map::new()));
        assert_eq!(object(b" \n", false, &["a"]).unwrap_err().status, 400);
        assert!(object(b"{\"a\": 1", false, &["a"])
            .unwrap_err()
            .message
            .starts_with("the body is not valid JSON"));
        assert!(object(b"[1]", false, &["a"])
            .unwrap_err()
            .message
            .contains("JSON object"));
        assert!(object(b"{\"b\": 1}", false, &["a"])
            .unwrap_err()
            .message
            .contains("unknown field \"b\""));
        let mut fields = object(b"{\"a\": \"x\"}", false, &["a"]).unwrap();
        assert_eq!(string_field(&mut fields, "a"), Ok(Some("x".into())));
        let mut wrong = object(b"{\"a\": 5}", false, &["a"]).unwrap();
        assert_eq!(string_field(&mut wrong, "a").unwrap_err().status, 400);
    }

    #[test]
    fn the_wait_flag() {
        assert_eq!(query_flag(None, "wait"), Ok(false));
        assert_eq!(query_flag(Some("wait=true"), "wait"), Ok(true));
        assert_eq!(query_flag(Some("x=1&wait=0"), "wait"), Ok(false));
        assert_eq!(query_flag(Some("wait"), "wait"), Ok(true));
        assert_eq!(
            query_flag(Some("wait=maybe"), "wait").unwrap_err().status,
            400
        );
    }
}

//! The OpenAPI 3.1 description of the API, generated from the route table so the two
//! cannot drift: every route gets its operation from [`operation`], and a test checks
//! that the document lists exactly the routes.

use serde_json::{json, Map, Value};

use super::router::{Endpoint, ROUTES};

/// The document served at `/openapi.json`.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let path = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        if let Value::Object(methods) = path {
            methods.insert(
                route.method.as_str().to_ascii_lowercase(),
                operation(route.endpoint, route.path),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cm serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "cm's local HTTP API: sessions, turns, permission answers and \
                            live events. Every endpoint but /health needs \
                            `Authorization: Bearer TOKEN`; the token is in \
                            $XDG_DATA_HOME/cm/serve/PORT.json.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
            "responses": {
                "Error": {
                    "description": "The request cannot be served; `error` says why.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        },
    })
}

fn schemas() -> Value {
    json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "Session": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "title": {"type": ["string", "null"]},
                "directory": {"type": ["string", "null"]},
                "provider": {"type": ["string", "null"]},
                "model": {"type": ["string", "null"]},
                "created": {"type": ["integer", "null"]},
                "busy": {"type": "boolean"},
                "turn": {"type": ["string", "null"]},
                "pending_asks": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "Message": {
            "type": "object",
            "required": ["role", "parts"],
            "properties": {
                "role": {"type": "string", "enum": ["user", "assistant"]},
                "parts": {"type": "array", "items": {"type": "object"}},
            },
        },
        "TurnStarted": {
            "type": "object",
            "required": ["id", "session"],
            "properties": {"id": {"type": "string"}, "session": {"type": "string"}},
        },
        "TurnDone": {
            "type": "object",
            "required": ["session", "turn", "end", "text"],
            "properties": {
                "session": {"type": "string"},
                "turn": {"type": "string"},
                "end": {"type": "string", "enum": ["completed", "max_steps", "aborted", "failed"]},
                "text": {"type": "string", "description": "The text of the final assistant message."},
                "message": {"oneOf": [{"$ref": "#/components/schemas/Message"}, {"type": "null"}]},
                "error": {"type": "string"},
                "steps": {"type": "integer"},
                "usage": {"type": "object"},
                "cost": {"type": ["number", "null"]},
            },
        },
    })
}

fn model_schema() -> Value {
    json!({"type": ["string", "null"], "pattern": "^[^/]+/.+$",
           "description": "provider/model, e.g. anthropic/claude-sonnet-4-5"})
}

fn error_responses(codes: &[u16]) -> Map<String, Value> {
    let mut all = vec![400, 401, 403, 413, 431];
    all.extend_from_slice(codes);
    all.into_iter()
        .map(|code| {
            (
                code.to_string(),
                json!({"$ref": "#/components/responses/Error"}),
            )
        })
        .collect()
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn body(schema: Value, required: bool) -> Value {
    json!({"required": required, "content": {"application/json": {"schema": schema}}})
}

/// The operation object of one endpoint.
fn operation(endpoint: Endpoint, path: &str) -> Value {
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let events = json!({
        "description": "Server-Sent Events: `id:` (for Last-Event-ID), `event:` (text_delta, \
                        reasoning_delta, tool_call_started, tool_call_ready, tool_running, \
                        tool_done, permission_asked, permission_answered, retry, usage, error, \
                        turn_started, turn_done, session_created, session_deleted, reset), \
                        `data:` a JSON object with `session`; a comment every 15 s.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    });
    let last_event_id = json!({"name": "Last-Event-ID", "in": "header", "required": false,
        "schema": {"type": "string"}, "description": "Resume after this event id."});
    type Parts<'a> = (
        &'a str,
        Vec<Value>,
        Option<Value>,
        Map<String, Value>,
        &'a [u16],
    );
    let (summary, parameters, request, ok, errors): Parts<'_> = match endpoint {
        Endpoint::Health => (
            "Whether the server is up (no token needed).",
            vec![],
            None,
            ok(
                "200",
                json_response(
                    "Up.",
                    json!({"type": "object", "required": ["ok"],
                    "properties": {"ok": {"type": "boolean"}, "version": {"type": "string"}}}),
                ),
            ),
            &[],
        ),
        Endpoint::ListSessions => (
            "Every stored session, newest first.",
            vec![],
            None,
            ok(
                "200",
                json_response(
                    "The sessions.",
                    json!({"type": "array", "items": schema_ref("Session")}),
                ),
            ),
            &[],
        ),
        Endpoint::CreateSession => (
            "Creates a session; without `directory` it works in the server's directory.",
            vec![],
            Some(body(
                json!({"type": "object", "additionalProperties": false, "properties": {
                    "directory": {"type": ["string", "null"], "minLength": 1},
                    "model": model_schema()}}),
                false,
            )),
            ok(
                "201",
                json_response("The new session.", schema_ref("Session")),
            ),
            &[],
        ),
        Endpoint::GetSession => (
            "One session.",
            vec![id_param],
            None,
            ok("200", json_response("The session.", schema_ref("Session"))),
            &[404],
        ),
        Endpoint::DeleteSession => (
            "Deletes a session that is not running a turn.",
            vec![id_param],
            None,
            ok("204", json!({"description": "Deleted."})),
            &[404, 409],
        ),
        Endpoint::ListMessages => (
            "The conversation, as the model sees it.",
            vec![id_param],
            None,
            ok(
                "200",
                json_response(
                    "The messages.",
                    json!({"type": "array", "items": schema_ref("Message")}),
                ),
            ),
            &[404],
        ),
        Endpoint::PostMessage => (
            "Starts a turn with the user's text; `?wait=true` answers when it ends.",
            vec![
                id_param,
                json!({"name": "wait", "in": "query", "required": false,
                    "schema": {"type": "boolean"}}),
            ],
            Some(body(
                json!({"type": "object", "required": ["text"], "additionalProperties": false,
                    "properties": {"text": {"type": "string", "pattern": "\\S"},
                                   "model": model_schema()}}),
                true,
            )),
            {
                let mut responses = ok(
                    "202",
                    json_response("The turn started.", schema_ref("TurnStarted")),
                );
                responses.insert(
                    "200".into(),
                    json_response("The turn ended (`?wait=true`).", schema_ref("TurnDone")),
                );
                responses
            },
            &[404, 409],
        ),
        Endpoint::Abort => (
            "Aborts the running turn; it ends `aborted` with its records saved.",
            vec![id_param],
            None,
            ok(
                "202",
                json_response("Abort requested.", schema_ref("TurnStarted")),
            ),
            &[404, 409],
        ),
        Endpoint::AnswerPermission => (
            "Answers a permission question (a `permission_asked` event).",
            vec![
                id_param,
                json!({"name": "ask_id", "in": "path", "required": true,
                    "schema": {"type": "integer", "minimum": 0}}),
            ],
            Some(body(
                json!({"type": "object", "required": ["answer"], "additionalProperties": false,
                    "properties": {"answer": {"type": "string", "enum": ["once", "always", "deny"]},
                                   "message": {"type": ["string", "null"]}}}),
                true,
            )),
            ok("200", json_response("Answered.", json!({"type": "object"}))),
            &[404],
        ),
        Endpoint::Events => (
            "Every session's events, live.",
            vec![last_event_id],
            None,
            ok("200", events),
            &[],
        ),
        Endpoint::SessionEvents => (
            "One session's events, live.",
            vec![id_param, last_event_id],
            None,
            ok("200", events),
            &[404],
        ),
        Endpoint::Models => (
            "The providers and models cm knows, and the default model.",
            vec![],
            None,
            ok(
                "200",
                json_response("The models.", json!({"type": "object"})),
            ),
            &[],
        ),
        Endpoint::OpenApi => (
            "This document.",
            vec![],
            None,
            ok(
                "200",
                json_response("OpenAPI 3.1.", json!({"type": "object"})),
            ),
            &[],
        ),
    };
    let mut responses = ok;
    responses.extend(error_responses(errors));
    let mut operation = json!({
        "operationId": format!("{endpoint:?}"),
        "summary": summary,
        "responses": responses,
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(request) = request {
        operation["requestBody"] = request;
    }
    if endpoint == Endpoint::Health {
        operation["security"] = json!([]);
    }
    let _ = path;
    operation
}

fn ok(code: &str, response: Value) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(code.to_string(), response);
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::router::{find, Routed};
    use cm_proto::http::Method;

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let document = document();
        let paths = document["paths"].as_object().expect("paths");
        let mut listed = Vec::new();
        for (path, methods) in paths {
            for (method, operation) in methods.as_object().expect("methods") {
                listed.push((method.to_ascii_uppercase(), path.clone()));
                assert!(operation["responses"].is_object(), "{method} {path}");
                // Every documented operation is served by the router.
                let concrete = path.replace("{id}", "ses_x").replace("{ask_id}", "1");
                let method = Method::from_token(&method.to_ascii_uppercase());
                assert!(
                    matches!(find(&method, &concrete), Routed::Found(..)),
                    "{path}"
                );
            }
        }
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
            .collect();
        listed.sort();
        routes.sort();
        assert_eq!(listed, routes);
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(paths["/health"]["get"]["security"], json!([]));
    }

    #[test]
    fn path_parameters_are_declared() {
        let document = document();
        for route in ROUTES {
            let operation =
                &document["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            for name in ["id", "ask_id"] {
                if route.path.contains(&format!("{{{name}}}")) {
                    let declared = operation["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == name && p["in"] == "path")
                    });
                    assert!(declared, "{} {}", route.method.as_str(), route.path);
                }
            }
        }
    }
}

//! Mock authorization endpoints on the same port as the model endpoints, so cm's login,
//! refresh, revocation and token-exchange code can be driven end to end.
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /login/device/code` | RFC 8628 device code (`user_code` `MOCK-CODE`) |
//! | `POST /login/oauth/access_token`, `POST /oauth/token` | device polling, `authorization_code` (PKCE S256 checked) and `refresh_token` grants |
//! | `GET /oauth/authorize` | a 302 to the `redirect_uri` with `code` and `state` (or a wrong state, or `error=access_denied`) |
//! | `POST /oauth/revoke` | RFC 7009: the token stops working |
//! | `POST /oauth/register` | RFC 7591: a public client `mock-client-N` for its redirect URIs |
//! | `GET /copilot_internal/v2/token` | a GitHub token for a Copilot API token, `endpoints.api` = `<mock>/copilot` |
//! | `GET /.well-known/oauth-authorization-server` | RFC 8414 metadata naming the routes above |
//! | `GET /copilot/models` | a Copilot-shaped model list (`vendor`, `capabilities.limits`, `supports`) |
//!
//! What happens is set by an [`OAuthScript`]. Tokens are `mock-at-N` (access),
//! `mock-rt-N` (refresh, rotated on every refresh: the old one is revoked) and
//! `mock-copilot-N;tid=mock;proxy-ep=proxy.mock.invalid`; a refresh token the mock did not issue (or revoked) gets
//! `invalid_grant`. Every request is logged like a model request, form bodies as JSON
//! objects.

use std::collections::{HashMap, HashSet};

use cm_proto::auth::form_decode;
use cm_proto::base64;
use cm_proto::http::{Method, RequestHead};

use crate::log::{logged_headers, LoggedRequest};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::respond::{whole_json, Reply};

/// How the mock's authorization server behaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthScript {
    /// Device polls answered `authorization_pending` before anything else.
    pub pending: u32,
    /// After the pending answers, one `slow_down` (with `interval` = `slow_down_interval`).
    pub slow_down: bool,
    /// The polling interval the device code response names, in seconds.
    pub interval: u64,
    /// The interval a `slow_down` names, in seconds.
    pub slow_down_interval: u64,
    /// How the device flow ends once polling is done.
    pub device_outcome: DeviceOutcome,
    /// How `GET /oauth/authorize` answers.
    pub authorize: AuthorizeOutcome,
    /// `expires_in` of issued access tokens, in seconds (`None`: they do not expire).
    pub expires_in: Option<u64>,
    /// Whether issued access tokens come with a refresh token.
    pub issue_refresh_tokens: bool,
    /// Refresh tokens the mock accepts from the start (for a pre-seeded `auth.json`).
    pub refresh_tokens: Vec<String>,
    /// GitHub tokens the Copilot exchange accepts from the start; it also accepts the
    /// access tokens it issued.
    pub github_tokens: Vec<String>,
    /// `expires_at - now` of Copilot tokens, in seconds.
    pub copilot_expires_in: u64,
    /// `refresh_in` of Copilot tokens, in seconds.
    pub copilot_refresh_in: Option<u64>,
}

impl Default for OAuthScript {
    fn default() -> OAuthScript {
        OAuthScript {
            pending: 0,
            slow_down: false,
            interval: 1,
            slow_down_interval: 2,
            device_outcome: DeviceOutcome::Token,
            authorize: AuthorizeOutcome::Code,
            expires_in: Some(3600),
            issue_refresh_tokens: true,
            refresh_tokens: Vec::new(),
            github_tokens: Vec::new(),
            copilot_expires_in: 1800,
            copilot_refresh_in: Some(1500),
        }
    }
}

/// How the device flow ends after the pending and slow-down answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceOutcome {
    /// An access token.
    Token,
    /// `expired_token`.
    Expired,
    /// `access_denied`.
    Denied,
}

/// How the authorize endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizeOutcome {
    /// A redirect with a code and the state sent.
    Code,
    /// A redirect with a code and a different state.
    WrongState,
    /// A redirect with `error=access_denied`.
    Denied,
}

/// What the authorization server remembers.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    script: OAuthScript,
    polls: u32,
    issued: u64,
    /// Authorization codes: code → (challenge, redirect_uri, client_id).
    codes: HashMap<String, (String, String, String)>,
    refresh_tokens: HashSet<String>,
    access_tokens: HashSet<String>,
    github_tokens: HashSet<String>,
}

impl OAuthState {
    pub(crate) fn new(script: OAuthScript) -> OAuthState {
        OAuthState {
            refresh_tokens: script.refresh_tokens.iter().cloned().collect(),
            github_tokens: script.github_tokens.iter().cloned().collect(),
            script,
            ..OAuthState::default()
        }
    }

    fn next(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    fn token(&mut self) -> Value {
        let n = self.next();
        let access = format!("mock-at-{n}");
        self.access_tokens.insert(access.clone());
        let mut token = json!({"access_token": access, "token_type": "bearer"});
        if let Some(seconds) = self.script.expires_in {
            token["expires_in"] = json!(seconds);
        }
        if self.script.issue_refresh_tokens {
            let refresh = format!("mock-rt-{n}");
            self.refresh_tokens.insert(refresh.clone());
            token["refresh_token"] = json!(refresh);
        }
        token
    }
}

/// The body as logged: JSON as is, a form as an object of its fields.
fn logged_body(head: &RequestHead, body: &[u8]) -> Option<Value> {
    let form = head
        .headers
        .get("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return None;
    }
    Some(Value::Object(
        form_decode(&String::from_utf8_lossy(body))
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<Map<String, Value>>(),
    ))
}

/// The log record of an authorization request answered with `status`.
pub(crate) fn record(seq: u64, head: &RequestHead, body: &[u8], status: u16) -> LoggedRequest {
    let body = match logged_body(head, body) {
        Some(fields) => fields,
        None => serde_json::from_slice(body).unwrap_or(Value::Null),
    };
    LoggedRequest {
        seq,
        method: head.method.as_str().to_string(),
        path: head.target.clone(),
        headers: logged_headers(&head.headers),
        body,
        format: None,
        stream: false,
        turn: None,
        status,
        expectation_failed: None,
        replay: None,
        error: None,
    }
}

/// Answers an authorization route, or `None` when `head` is not one.
pub(crate) fn respond(
    state: &mut OAuthState,
    head: &RequestHead,
    body: &[u8],
    base: &str,
    now_secs: u64,
) -> Option<Reply> {
    let path = head.path();
    let reply = match (&head.method, path) {
        (Method::Post, "/login/device/code") => whole_json(
            200,
            &json!({
                "device_code": "mock-device-code",
                "user_code": "MOCK-CODE",
                "verification_uri": format!("{base}/login/device"),
                "expires_in": 900,
                "interval": state.script.interval,
            }),
        ),
        (Method::Post, "/login/oauth/access_token" | "/oauth/token") => {
            token_endpoint(state, &fields(head, body))
        }
        (Method::Get, "/oauth/authorize") => {
            authorize(state, &form_decode(head.query().unwrap_or_default()))
        }
        (Method::Post, "/oauth/revoke") => {
            let fields = fields(head, body);
            if let Some(token) = fields.get("token") {
                state.refresh_tokens.remove(token);
                state.access_tokens.remove(token);
            }
            whole_json(200, &json!({}))
        }
        (Method::Post, "/oauth/register") => register(state, body),
        (Method::Get, "/copilot_internal/v2/token") => copilot(state, head, base, now_secs),
        (Method::Get, "/copilot/models") => whole_json(200, &copilot_models()),
        (Method::Get, "/.well-known/oauth-authorization-server") => whole_json(
            200,
            &json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/oauth/authorize"),
                "token_endpoint": format!("{base}/oauth/token"),
                "revocation_endpoint": format!("{base}/oauth/revoke"),
                "registration_endpoint": format!("{base}/oauth/register"),
                "device_authorization_endpoint": format!("{base}/login/device/code"),
                "code_challenge_methods_supported": ["S256"],
            }),
        ),
        _ => return None,
    };
    Some(reply)
}

fn fields(head: &RequestHead, body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let json_body = head
        .headers
        .get("content-type")
        .is_some_and(|t| t.starts_with("application/json"));
    if json_body {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&text) else {
            return HashMap::new();
        };
        return object
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
            .collect();
    }
    form_decode(&text).into_iter().collect()
}

fn oauth_error(status: u16, code: &str) -> Reply {
    whole_json(status, &json!({"error": code}))
}

fn token_endpoint(state: &mut OAuthState, fields: &HashMap<String, String>) -> Reply {
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    match get("grant_type") {
        "urn:ietf:params:oauth:grant-type:device_code" => {
            if get("device_code") != "mock-device-code" {
                return oauth_error(400, "invalid_grant");
            }
            state.polls += 1;
            let pending = state.script.pending;
            if state.polls <= pending {
                // GitHub answers "keep waiting" with status 200.
                return oauth_error(200, "authorization_pending");
            }
            if state.script.slow_down && state.polls == pending + 1 {
                return whole_json(
                    200,
                    &json!({"error": "slow_down", "interval": state.script.slow_down_interval}),
                );
            }
            match state.script.device_outcome {
                DeviceOutcome::Token => {
                    let token = state.token();
                    if let Some(access) = token["access_token"].as_str() {
                        state.github_tokens.insert(access.to_string());
                    }
                    whole_json(200, &token)
                }
                DeviceOutcome::Expired => oauth_error(200, "expired_token"),
                DeviceOutcome::Denied => oauth_error(200, "access_denied"),
            }
        }
        "authorization_code" => {
            let Some((challenge, redirect_uri, client_id)) = state.codes.remove(get("code")) else {
                return oauth_error(400, "invalid_grant");
            };
            if redirect_uri != get("redirect_uri")
                || client_id != get("client_id")
                || s256(get("code_verifier")) != challenge
            {
                return oauth_error(400, "invalid_grant");
            }
            let token = state.token();
            whole_json(200, &token)
        }
        "refresh_token" => {
            if !state.refresh_tokens.remove(get("refresh_token")) {
                return whole_json(
                    400,
                    &json!({"error": "invalid_grant",
                        "error_description": "the refresh token is expired or revoked"}),
                );
            }
            let token = state.token();
            whole_json(200, &token)
        }
        _ => oauth_error(400, "unsupported_grant_type"),
    }
}

fn register(state: &mut OAuthState, body: &[u8]) -> Reply {
    let metadata: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let redirects = metadata["redirect_uris"].as_array().map_or(0, Vec::len);
    if redirects == 0 || metadata["token_endpoint_auth_method"] != "none" {
        return whole_json(
            400,
            &json!({"error": "invalid_client_metadata",
                "error_description": "a public client with redirect_uris"}),
        );
    }
    let client_id = format!("mock-client-{}", state.next());
    let mut answer = metadata;
    answer["client_id"] = json!(client_id);
    whole_json(201, &answer)
}

fn authorize(state: &mut OAuthState, query: &[(String, String)]) -> Reply {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let redirect_uri = get("redirect_uri");
    if redirect_uri.is_empty() || get("code_challenge_method") != "S256" {
        return oauth_error(400, "invalid_request");
    }
    let n = state.next();
    let code = format!("mock-code-{n}");
    let params = match state.script.authorize {
        AuthorizeOutcome::Code => vec![("code", code.clone()), ("state", get("state"))],
        AuthorizeOutcome::WrongState => {
            vec![("code", code.clone()), ("state", "not-the-state".into())]
        }
        AuthorizeOutcome::Denied => vec![
            ("error", "access_denied".into()),
            ("error_description", "The user said no".into()),
            ("state", get("state")),
        ],
    };
    state.codes.insert(
        code,
        (
            get("code_challenge"),
            redirect_uri.clone(),
            get("client_id"),
        ),
    );
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect_uri}{separator}{}",
        cm_proto::auth::form_encode(&pairs)
    );
    let mut reply = whole_json(302, &json!({"redirect": "see Location"}));
    reply.headers.push("Location", location);
    reply
}

fn copilot(state: &mut OAuthState, head: &RequestHead, base: &str, now_secs: u64) -> Reply {
    let presented = head
        .headers
        .get("authorization")
        .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_string()))
        .unwrap_or_default();
    if !state.github_tokens.contains(&presented) && !state.access_tokens.contains(&presented) {
        return whole_json(401, &json!({"message": "Bad credentials"}));
    }
    let n = state.next();
    let mut token = json!({
        "token": format!("mock-copilot-{n};tid=mock;proxy-ep=proxy.mock.invalid"),
        "expires_at": now_secs + state.script.copilot_expires_in,
        "endpoints": {"api": format!("{base}/copilot")},
    });
    if let Some(refresh_in) = state.script.copilot_refresh_in {
        token["refresh_in"] = json!(refresh_in);
    }
    whole_json(200, &token)
}

/// Two chat models and an embedding model, as Copilot lists them (wire-formats.md §6.4).
fn copilot_models() -> Value {
    let chat = |id: &str, vendor: &str, context: u64, output: u64, endpoints: &[&str]| {
        json!({
            "id": id, "name": id, "object": "model", "vendor": vendor, "version": id,
            "preview": false, "model_picker_enabled": true,
            "billing": {"is_premium": false, "multiplier": 0},
            "capabilities": {"family": id, "type": "chat", "object": "model_capabilities",
                "tokenizer": "o200k_base",
                "limits": {"max_context_window_tokens": context, "max_output_tokens": output,
                           "max_prompt_tokens": context - output},
                "supports": {"streaming": true, "tool_calls": true,
                             "parallel_tool_calls": true, "vision": true}},
            "supported_endpoints": endpoints,
        })
    };
    json!({"object": "list", "data": [
        chat("gpt-4.1", "Azure OpenAI", 128_000, 16_384, &["/chat/completions"]),
        chat("claude-sonnet-4", "Anthropic", 200_000, 16_000,
             &["/chat/completions", "/v1/messages"]),
        {"id": "text-embedding-3-small", "object": "model", "vendor": "Azure OpenAI",
         "capabilities": {"type": "embeddings", "family": "text-embedding-3-small"}},
    ]})
}

/// The S256 challenge of `verifier` (RFC 7636 §4.2).
fn s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    base64::encode_url_unpadded(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_names_only_what_differs_from_the_defaults() {
        let script: OAuthScript = serde_json::from_str(
            r#"{"pending": 2, "slow_down": true, "device_outcome": "denied",
                "authorize": "wrong_state", "expires_in": null}"#,
        )
        .unwrap();
        assert_eq!(script.pending, 2);
        assert_eq!(script.device_outcome, DeviceOutcome::Denied);
        assert_eq!(script.authorize, AuthorizeOutcome::WrongState);
        assert_eq!(script.expires_in, None);
        assert_eq!(script.interval, 1);
        assert!(serde_json::from_str::<OAuthScript>(r#"{"pendng": 2}"#).is_err());
    }

    #[test]
    fn the_copilot_model_list_has_the_fields_clients_read() {
        let models = copilot_models();
        let first = &models["data"][0];
        assert_eq!(first["id"], "gpt-4.1");
        assert_eq!(
            first["capabilities"]["limits"]["max_context_window_tokens"],
            128_000
        );
        assert_eq!(first["capabilities"]["supports"]["tool_calls"], true);
        assert_eq!(models["data"][2]["capabilities"]["type"], "embeddings");
    }

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}

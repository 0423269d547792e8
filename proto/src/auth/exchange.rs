//! Token exchange with expiry: a long-lived GitHub token traded for a short-lived Copilot
//! API token (`GET /copilot_internal/v2/token`).
//!
//! The answer carries `token`, `expires_at` (unix seconds), `refresh_in` (seconds until a
//! refresh is advised) and `endpoints.api` (the API base URL). A Copilot token is renewed
//! when `refresh_in` has passed or fewer than [`REFRESH_MARGIN_MS`] remain. The editor
//! headers are configuration whose defaults name cm itself.

use serde_json::Value;

use crate::http::{Headers, Method, Request, ResponseHead};
use crate::time::UnixMillis;

use super::token::{after, optional_text, response_object, seconds};
use super::{AuthError, TokenError};

/// Renew a Copilot token when fewer than this many milliseconds remain (5 minutes).
pub const REFRESH_MARGIN_MS: u64 = 5 * 60 * 1000;

/// The API base when neither `endpoints.api` nor `proxy-ep=` names one.
pub const DEFAULT_API_BASE: &str = "https://api.githubcopilot.com";

/// The provider id used in messages.
const PROVIDER: &str = "github-copilot";

/// Where and as whom to exchange the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopilotExchange {
    /// The exchange URL (`https://api.github.com/copilot_internal/v2/token`, or the GHE one).
    pub token_url: String,
    /// `Editor-Version`: defaults to `cm/VERSION`.
    pub editor_version: String,
    /// `Editor-Plugin-Version`: defaults to `cm/VERSION`.
    pub editor_plugin_version: String,
    /// `User-Agent`: defaults to `cm/VERSION`.
    pub user_agent: String,
}

impl Default for CopilotExchange {
    fn default() -> CopilotExchange {
        let cm = concat!("cm/", env!("CARGO_PKG_VERSION"));
        CopilotExchange {
            token_url: "https://api.github.com/copilot_internal/v2/token".into(),
            editor_version: cm.into(),
            editor_plugin_version: cm.into(),
            user_agent: cm.into(),
        }
    }
}

/// A Copilot API token and when to renew it.
#[derive(Clone, PartialEq, Eq)]
pub struct CopilotToken {
    /// The token, sent as `Authorization: Bearer`.
    pub token: String,
    /// When it stops working.
    pub expires_at: UnixMillis,
    /// When the server advises renewing it (`refresh_in` after the answer).
    pub refresh_after: Option<UnixMillis>,
    /// The API base URL: `endpoints.api`, else derived from `proxy-ep=`, else the default.
    pub api_base: String,
}

impl std::fmt::Debug for CopilotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopilotToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("refresh_after", &self.refresh_after)
            .field("api_base", &self.api_base)
            .finish()
    }
}

impl CopilotToken {
    /// Whether to renew before the next request: `refresh_in` passed, or fewer than
    /// [`REFRESH_MARGIN_MS`] remain.
    pub fn needs_refresh(&self, now: UnixMillis) -> bool {
        self.refresh_after.is_some_and(|at| now >= at)
            || now.0.saturating_add(REFRESH_MARGIN_MS) >= self.expires_at.0
    }
}

impl CopilotExchange {
    /// The exchange request for a GitHub OAuth token.
    pub fn request(&self, github_token: &str) -> Request {
        let headers: Headers = [
            ("authorization", format!("token {github_token}")),
            ("accept", "application/json".to_string()),
            ("editor-version", self.editor_version.clone()),
            ("editor-plugin-version", self.editor_plugin_version.clone()),
            ("user-agent", self.user_agent.clone()),
        ]
        .into_iter()
        .collect();
        Request {
            method: Method::Get,
            url: self.token_url.clone(),
            headers,
            body: Vec::new(),
        }
    }

    /// Reads the exchange answer received at `now`. A 401 means the GitHub token is no
    /// longer valid (log in again); 403 and 404 mean the account has no Copilot access.
    pub fn handle_response(
        &self,
        head: &ResponseHead,
        body: &[u8],
        now: UnixMillis,
    ) -> Result<CopilotToken, AuthError> {
        match head.status {
            401 => {
                return Err(AuthError::RefreshRejected {
                    provider: PROVIDER.into(),
                    reason: Some("GitHub no longer accepts the saved token".into()),
                })
            }
            403 | 404 => {
                return Err(AuthError::NoAccess {
                    provider: PROVIDER.into(),
                    status: head.status,
                })
            }
            _ => {}
        }
        parse(head, body, now).map_err(|error| AuthError::RefreshFailed {
            provider: PROVIDER.into(),
            error,
        })
    }
}

fn parse(head: &ResponseHead, body: &[u8], now: UnixMillis) -> Result<CopilotToken, TokenError> {
    let object = response_object(head, body)?;
    let token = match object.get("token") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(TokenError::MissingAccessToken),
    };
    let expires_at = seconds(&object, "expires_at")?
        .map(|s| UnixMillis(s.saturating_mul(1000)))
        .ok_or(TokenError::InvalidField {
            field: "expires_at",
        })?;
    let refresh_after = seconds(&object, "refresh_in")?.map(|s| after(now, s));
    let endpoint = match object.get("endpoints") {
        Some(Value::Object(endpoints)) => optional_text(endpoints, "api")?,
        _ => None,
    };
    let api_base = endpoint
        .filter(|e| !e.is_empty())
        .or_else(|| api_base_from_token(&token))
        .unwrap_or_else(|| DEFAULT_API_BASE.to_string());
    Ok(CopilotToken {
        token,
        expires_at,
        refresh_after,
        api_base,
    })
}

/// The API base named by the token's `proxy-ep=` field, with `proxy.` turned into `api.`
/// (`proxy-ep=proxy.individual.githubcopilot.com` → `https://api.individual.githubcopilot.com`).
pub fn api_base_from_token(token: &str) -> Option<String> {
    let host = token
        .split(';')
        .find_map(|field| field.trim().strip_prefix("proxy-ep="))?
        .trim();
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    if !valid {
        return None;
    }
    let host = host
        .strip_prefix("proxy.")
        .map_or_else(|| host.to_string(), |rest| format!("api.{rest}"));
    Some(format!("https://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            reason: String::new(),
            headers: Default::default(),
        }
    }

    #[test]
    fn the_request_sends_the_github_token_and_cms_own_names() {
        let request = CopilotExchange::default().request("gho_abc");
        assert_eq!(request.method, Method::Get);
        assert_eq!(
            request.url,
            "https://api.github.com/copilot_internal/v2/token"
        );
        let cm = format!("cm/{}", env!("CARGO_PKG_VERSION"));
        let expected: Headers = [
            ("authorization", "token gho_abc"),
            ("accept", "application/json"),
            ("editor-version", cm.as_str()),
            ("editor-plugin-version", cm.as_str()),
            ("user-agent", cm.as_str()),
        ]
        .into_iter()
        .collect();
        assert_eq!(request.headers, expected);
        assert!(request.body.is_empty());
        let configured = CopilotExchange {
            editor_version: "MyEditor/2.0".into(),
            ..CopilotExchange::default()
        };
        assert_eq!(
            configured.request("t").headers.get("editor-version"),
            Some("MyEditor/2.0")
        );
    }

    #[test]
    fn a_full_answer_gives_token_expiry_refresh_time_and_base() {
        let body =
            br#"{"token":"tid=1;exp=1700001800;proxy-ep=proxy.individual.githubcopilot.com;x=y",
            "expires_at":1700001800,"refresh_in":1500,
            "endpoints":{"api":"https://api.individual.githubcopilot.com","proxy":"p"}}"#;
        let now = UnixMillis(1_700_000_000_000);
        let token = CopilotExchange::default()
            .handle_response(&head(200), body, now)
            .unwrap();
        assert_eq!(token.expires_at, UnixMillis(1_700_001_800_000));
        assert_eq!(token.refresh_after, Some(UnixMillis(1_700_001_500_000)));
        assert_eq!(token.api_base, "https://api.individual.githubcopilot.com");
        assert!(format!("{token:?}").contains("<redacted>"));
        assert!(!format!("{token:?}").contains("tid="));
    }

    #[test]
    fn refresh_is_due_after_refresh_in_or_within_five_minutes_of_expiry() {
        let token = CopilotToken {
            token: "t".into(),
            expires_at: UnixMillis(1_000_000),
            refresh_after: Some(UnixMillis(600_000)),
            api_base: DEFAULT_API_BASE.into(),
        };
        assert!(!token.needs_refresh(UnixMillis(599_999)));
        assert!(token.needs_refresh(UnixMillis(600_000)));
        let no_advice = CopilotToken {
            refresh_after: None,
            ..token
        };
        assert!(!no_advice.needs_refresh(UnixMillis(699_999)));
        assert!(no_advice.needs_refresh(UnixMillis(700_000)));
        assert!(no_advice.needs_refresh(UnixMillis(2_000_000)));
    }

    #[test]
    fn the_base_falls_back_to_proxy_ep_then_the_default() {
        let body =
            br#"{"token":"tid=1;proxy-ep=proxy.business.githubcopilot.com","expires_at":"100"}"#;
        let token = CopilotExchange::default()
            .handle_response(&head(200), body, UnixMillis(0))
            .unwrap();
        assert_eq!(token.api_base, "https://api.business.githubcopilot.com");
        assert_eq!(token.refresh_after, None);
        let body = br#"{"token":"opaque","expires_at":100,"endpoints":{"api":""}}"#;
        let token = CopilotExchange::default()
            .handle_response(&head(200), body, UnixMillis(0))
            .unwrap();
        assert_eq!(token.api_base, DEFAULT_API_BASE);
        assert_eq!(
            api_base_from_token("a=b; proxy-ep=copilot-proxy.ghe.example.com ;c"),
            Some("https://copilot-proxy.ghe.example.com".into())
        );
        assert_eq!(api_base_from_token("proxy-ep=evil.com/path?x"), None);
        assert_eq!(api_base_from_token("proxy-ep="), None);
    }

    #[test]
    fn failures_say_what_to_do() {
        let exchange = CopilotExchange::default();
        let rejected = exchange
            .handle_response(
                &head(401),
                br#"{"message":"Bad credentials"}"#,
                UnixMillis(0),
            )
            .unwrap_err();
        assert_eq!(
            rejected.to_string(),
            "the github-copilot login was rejected (GitHub no longer accepts the saved token): \
             log in again with `cm auth login github-copilot`"
        );
        for status in [403, 404] {
            assert_eq!(
                exchange.handle_response(&head(status), b"{}", UnixMillis(0)),
                Err(AuthError::NoAccess {
                    provider: "github-copilot".into(),
                    status
                })
            );
        }
        let cases: [(&[u8], TokenError); 4] = [
            (br#"{"expires_at":1}"#, TokenError::MissingAccessToken),
            (
                br#"{"token":"t"}"#,
                TokenError::InvalidField {
                    field: "expires_at",
                },
            ),
            (
                br#"{"token":"t","expires_at":1,"endpoints":{"api":5}}"#,
                TokenError::InvalidField { field: "api" },
            ),
            (b"<html>", TokenError::NotJson { status: 200 }),
        ];
        for (body, error) in cases {
            assert_eq!(
                exchange.handle_response(&head(200), body, UnixMillis(0)),
                Err(AuthError::RefreshFailed {
                    provider: "github-copilot".into(),
                    error
                }),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

//! Dynamic client registration (RFC 7591): a public client (no secret, PKCE only) registers
//! itself with a server that has a `registration_endpoint`, as remote MCP servers expect.

use serde_json::{json, Value};

use crate::http::{Method, Request, ResponseHead};
use crate::time::UnixMillis;

use super::token::{optional_text, response_object, seconds};
use super::TokenError;

/// The client metadata sent (RFC 7591 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    /// Shown to the user on the consent page: cm's own name by default.
    pub client_name: String,
    /// Loopback redirect URIs cm listens on.
    pub redirect_uris: Vec<String>,
    /// Scopes the client will ask for, if any.
    pub scopes: Vec<String>,
}

impl ClientMetadata {
    /// cm's own metadata for one redirect URI.
    pub fn cm(redirect_uri: &str) -> ClientMetadata {
        ClientMetadata {
            client_name: "cm".into(),
            redirect_uris: vec![redirect_uri.to_string()],
            scopes: Vec::new(),
        }
    }

    /// The registration request for `endpoint`: JSON, a public client using PKCE.
    pub fn request(&self, endpoint: &str) -> Request {
        let mut body = json!({
            "client_name": self.client_name,
            "redirect_uris": self.redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        if !self.scopes.is_empty() {
            body["scope"] = Value::from(self.scopes.join(" "));
        }
        Request {
            method: Method::Post,
            url: endpoint.to_string(),
            headers: [
                ("content-type", "application/json"),
                ("accept", "application/json"),
            ]
            .into_iter()
            .collect(),
            body: body.to_string().into_bytes(),
        }
    }
}

/// What the server registered (RFC 7591 §3.2.1).
#[derive(Clone, PartialEq, Eq)]
pub struct RegisteredClient {
    /// The client id to use from now on.
    pub client_id: String,
    /// A secret, if the server issued one anyway (a public client does not need it).
    pub client_secret: Option<String>,
    /// When the secret expires; `None` for never or no secret.
    pub client_secret_expires_at: Option<UnixMillis>,
}

impl std::fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("client_secret_expires_at", &self.client_secret_expires_at)
            .finish()
    }
}

/// Parses a registration answer; an error (`invalid_redirect_uri`,
/// `invalid_client_metadata`) comes back as [`TokenError::OAuth`].
pub fn parse_registration(
    head: &ResponseHead,
    body: &[u8],
) -> Result<RegisteredClient, TokenError> {
    let object = response_object(head, body)?;
    let client_id = optional_text(&object, "client_id")?
        .filter(|id| !id.is_empty())
        .ok_or(TokenError::InvalidField { field: "client_id" })?;
    Ok(RegisteredClient {
        client_id,
        client_secret: optional_text(&object, "client_secret")?,
        client_secret_expires_at: seconds(&object, "client_secret_expires_at")?
            .filter(|&s| s != 0)
            .map(|s| UnixMillis(s.saturating_mul(1000))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{OAuthError, OAuthErrorCode};

    fn head(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            reason: String::new(),
            headers: Default::default(),
        }
    }

    #[test]
    fn the_request_registers_a_public_pkce_client_named_cm() {
        let mut metadata = ClientMetadata::cm("http://127.0.0.1:8976/callback");
        metadata.scopes = vec!["mcp:tools".into(), "offline_access".into()];
        let request = metadata.request("https://mcp.example.com/register");
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://mcp.example.com/register");
        assert_eq!(
            request.headers.get("content-type"),
            Some("application/json")
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({
                "client_name": "cm",
                "redirect_uris": ["http://127.0.0.1:8976/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": "mcp:tools offline_access",
            })
        );
    }

    #[test]
    fn the_answer_gives_the_client_id() {
        let body = br#"{"client_id":"s6BhdRkqt3","client_id_issued_at":2893256800,
            "client_secret":"cf136dc3c1fc93f31185e5885805d","client_secret_expires_at":0,
            "redirect_uris":["http://127.0.0.1:8976/callback"]}"#;
        let client = parse_registration(&head(201), body).unwrap();
        assert_eq!(client.client_id, "s6BhdRkqt3");
        assert_eq!(
            client.client_secret.as_deref(),
            Some("cf136dc3c1fc93f31185e5885805d")
        );
        assert_eq!(client.client_secret_expires_at, None);
        assert!(!format!("{client:?}").contains("cf136"));
        let expiring = br#"{"client_id":"x","client_secret_expires_at":2000}"#;
        assert_eq!(
            parse_registration(&head(201), expiring).map(|c| c.client_secret_expires_at),
            Ok(Some(UnixMillis(2_000_000)))
        );
    }

    #[test]
    fn refusals_and_malformed_answers_are_errors() {
        let body = br#"{"error":"invalid_redirect_uri","error_description":"loopback only"}"#;
        assert_eq!(
            parse_registration(&head(400), body),
            Err(TokenError::OAuth(OAuthError {
                code: OAuthErrorCode::Other("invalid_redirect_uri".into()),
                description: Some("loopback only".into()),
                uri: None,
            }))
        );
        assert_eq!(
            parse_registration(&head(201), br#"{"client_secret":"s"}"#),
            Err(TokenError::InvalidField { field: "client_id" })
        );
        assert_eq!(
            parse_registration(&head(500), b"oops"),
            Err(TokenError::Status { status: 500 })
        );
    }
}

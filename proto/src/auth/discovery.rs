//! Authorization server metadata (RFC 8414, and OpenID Connect Discovery's document of the
//! same shape): where the endpoints are, so a client needs only the issuer URL.
//!
//! Fetch [`metadata_url`] (or [`openid_configuration_url`]), [`parse`] the answer, then
//! [`ServerMetadata::client`] gives the [`OAuthClient`] for the PKCE flow.

use serde_json::{Map, Value};

use crate::http::ResponseHead;

use super::pkce::OAuthClient;
use super::token::response_object;
use super::{BodyEncoding, TokenError};

/// The RFC 8414 metadata URL: `/.well-known/oauth-authorization-server` inserted between
/// the issuer's host and its path (`https://a.example/t1` →
/// `https://a.example/.well-known/oauth-authorization-server/t1`).
pub fn metadata_url(issuer: &str) -> String {
    well_known(issuer, "oauth-authorization-server")
}

/// The OpenID Connect discovery URL: `/.well-known/openid-configuration` appended to the
/// issuer (`https://a.example/t1/.well-known/openid-configuration`).
pub fn openid_configuration_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

fn well_known(issuer: &str, name: &str) -> String {
    let issuer = issuer.trim_end_matches('/');
    let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
    match issuer[after_scheme..].find('/') {
        Some(slash) => {
            let (origin, path) = issuer.split_at(after_scheme + slash);
            format!("{origin}/.well-known/{name}{path}")
        }
        None => format!("{issuer}/.well-known/{name}"),
    }
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// The authorization endpoint (absent on servers without browser logins).
    pub authorization_endpoint: Option<String>,
    /// The token endpoint.
    pub token_endpoint: Option<String>,
    /// RFC 7009 revocation.
    pub revocation_endpoint: Option<String>,
    /// RFC 7591 dynamic client registration.
    pub registration_endpoint: Option<String>,
    /// RFC 8628 device authorization.
    pub device_authorization_endpoint: Option<String>,
    /// PKCE methods the server accepts; empty when it did not say.
    pub code_challenge_methods_supported: Vec<String>,
    /// Scopes the server knows; empty when it did not say.
    pub scopes_supported: Vec<String>,
}

/// Why a metadata document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The answer is not a JSON object, or an HTTP or OAuth error.
    Response(TokenError),
    /// A required field is absent or not a string.
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// The document names another issuer than the one asked (RFC 8414 §3.3).
    IssuerMismatch {
        /// The issuer asked about.
        expected: String,
        /// The issuer in the document.
        found: String,
    },
    /// The server does not list `S256` among its PKCE methods.
    NoPkceS256,
}

impl std::fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscoveryError::Response(error) => write!(f, "server metadata: {error}"),
            DiscoveryError::MissingField { field } => {
                write!(f, "server metadata has no {field}")
            }
            DiscoveryError::IssuerMismatch { expected, found } => write!(
                f,
                "server metadata is for issuer {found:?}, not {expected:?}: check the configured URL"
            ),
            DiscoveryError::NoPkceS256 => {
                f.write_str("the server does not support PKCE with S256, which cm requires")
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Parses a metadata document; with `expected_issuer`, its `issuer` must match exactly
/// (ignoring one trailing `/`).
pub fn parse(
    head: &ResponseHead,
    body: &[u8],
    expected_issuer: Option<&str>,
) -> Result<ServerMetadata, DiscoveryError> {
    let object = response_object(head, body).map_err(DiscoveryError::Response)?;
    let issuer = text(&object, "issuer").ok_or(DiscoveryError::MissingField { field: "issuer" })?;
    if let Some(expected) = expected_issuer {
        if issuer.trim_end_matches('/') != expected.trim_end_matches('/') {
            return Err(DiscoveryError::IssuerMismatch {
                expected: expected.to_string(),
                found: issuer,
            });
        }
    }
    Ok(ServerMetadata {
        issuer,
        authorization_endpoint: text(&object, "authorization_endpoint"),
        token_endpoint: text(&object, "token_endpoint"),
        revocation_endpoint: text(&object, "revocation_endpoint"),
        registration_endpoint: text(&object, "registration_endpoint"),
        device_authorization_endpoint: text(&object, "device_authorization_endpoint"),
        code_challenge_methods_supported: list(&object, "code_challenge_methods_supported"),
        scopes_supported: list(&object, "scopes_supported"),
    })
}

fn text(object: &Map<String, Value>, field: &str) -> Option<String> {
    object
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn list(object: &Map<String, Value>, field: &str) -> Vec<String> {
    object
        .get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl ServerMetadata {
    /// Whether the server lists `S256` (RFC 8414: omitting the list means no PKCE).
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    }

    /// A PKCE client for these endpoints; refuses a server without both endpoints or
    /// without `S256`.
    pub fn client(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scopes: &[&str],
    ) -> Result<OAuthClient, DiscoveryError> {
        let authorization_endpoint =
            self.authorization_endpoint
                .clone()
                .ok_or(DiscoveryError::MissingField {
                    field: "authorization_endpoint",
                })?;
        let token_endpoint = self
            .token_endpoint
            .clone()
            .ok_or(DiscoveryError::MissingField {
                field: "token_endpoint",
            })?;
        if !self.supports_s256() {
            return Err(DiscoveryError::NoPkceS256);
        }
        Ok(OAuthClient {
            authorization_endpoint,
            token_endpoint,
            revocation_endpoint: self.revocation_endpoint.clone(),
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            body: BodyEncoding::Form,
            extra_authorize_params: Vec::new(),
        })
    }
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

    /// Shaped after RFC 8414 §3.2's example, with revocation and registration.
    const METADATA: &[u8] = br#"{
        "issuer": "https://server.example.com",
        "authorization_endpoint": "https://server.example.com/authorize",
        "token_endpoint": "https://server.example.com/token",
        "revocation_endpoint": "https://server.example.com/revoke",
        "registration_endpoint": "https://server.example.com/register",
        "scopes_supported": ["openid", "profile", 7],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["plain", "S256"]
    }"#;

    #[test]
    fn well_known_urls_follow_rfc_8414_and_openid() {
        assert_eq!(
            metadata_url("https://server.example.com"),
            "https://server.example.com/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://server.example.com/issuer1/"),
            "https://server.example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            openid_configuration_url("https://server.example.com/issuer1/"),
            "https://server.example.com/issuer1/.well-known/openid-configuration"
        );
    }

    #[test]
    fn metadata_becomes_a_pkce_client() {
        let meta = parse(&head(200), METADATA, Some("https://server.example.com/")).unwrap();
        assert_eq!(meta.scopes_supported, vec!["openid", "profile"]);
        assert_eq!(meta.device_authorization_endpoint, None);
        assert!(meta.supports_s256());
        let client = meta
            .client("cm-1", "http://127.0.0.1:9/cb", &["openid"])
            .unwrap();
        assert_eq!(
            client.authorization_endpoint,
            "https://server.example.com/authorize"
        );
        assert_eq!(client.token_endpoint, "https://server.example.com/token");
        assert_eq!(
            client.revocation_endpoint.as_deref(),
            Some("https://server.example.com/revoke")
        );
        assert_eq!(client.scopes, vec!["openid"]);
        assert_eq!(client.body, BodyEncoding::Form);
    }

    #[test]
    fn wrong_issuer_missing_fields_and_no_s256_are_refused() {
        assert_eq!(
            parse(&head(200), METADATA, Some("https://evil.example.com")),
            Err(DiscoveryError::IssuerMismatch {
                expected: "https://evil.example.com".into(),
                found: "https://server.example.com".into(),
            })
        );
        assert_eq!(
            parse(&head(200), br#"{"token_endpoint":"t"}"#, None),
            Err(DiscoveryError::MissingField { field: "issuer" })
        );
        assert_eq!(
            parse(&head(404), b"Not Found", None),
            Err(DiscoveryError::Response(TokenError::Status { status: 404 }))
        );
        let plain_only = br#"{"issuer":"i","authorization_endpoint":"a","token_endpoint":"t"}"#;
        let meta = parse(&head(200), plain_only, None).unwrap();
        assert_eq!(meta.client("c", "r", &[]), Err(DiscoveryError::NoPkceS256));
        let no_token = br#"{"issuer":"i","authorization_endpoint":"a","code_challenge_methods_supported":["S256"]}"#;
        let meta = parse(&head(200), no_token, None).unwrap();
        assert_eq!(
            meta.client("c", "r", &[]),
            Err(DiscoveryError::MissingField {
                field: "token_endpoint"
            })
        );
    }
}

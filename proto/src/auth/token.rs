//! What a token endpoint answers (RFC 6749 §5): a [`Token`] or an [`OAuthError`].

use serde_json::{Map, Value};

use crate::http::ResponseHead;
use crate::time::UnixMillis;

/// An access token with what came with it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The access token, sent as `Authorization: Bearer`.
    pub access: String,
    /// The refresh token, when the server issued one.
    pub refresh: Option<String>,
    /// When the access token stops working; `None` when the server gave no lifetime.
    pub expires_at: Option<UnixMillis>,
    /// The scopes granted, space-separated, when the server said.
    pub scope: Option<String>,
}

impl Token {
    /// Whether the token expires within `margin_ms` of `now` (or already has); a token
    /// without an expiry never needs refreshing.
    pub fn needs_refresh(&self, now: UnixMillis, margin_ms: u64) -> bool {
        self.expires_at
            .is_some_and(|at| now.0.saturating_add(margin_ms) >= at.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access", &"<redacted>")
            .field("refresh", &self.refresh.as_ref().map(|_| "<redacted>"))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// An OAuth error code (RFC 6749 §5.2, RFC 8628 §3.5, RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`: the client id is unknown or not allowed.
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is expired, revoked or unknown.
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied`: the user said no.
    AccessDenied,
    /// `authorization_pending`: the user has not finished yet (device flow).
    AuthorizationPending,
    /// `slow_down`: poll less often (device flow).
    SlowDown,
    /// `expired_token`: the device code expired (device flow).
    ExpiredToken,
    /// Any other code, as sent.
    Other(String),
}

impl OAuthErrorCode {
    /// The code named by the `error` field.
    pub fn from_wire(code: &str) -> OAuthErrorCode {
        match code {
            "invalid_request" => OAuthErrorCode::InvalidRequest,
            "invalid_client" => OAuthErrorCode::InvalidClient,
            "invalid_grant" => OAuthErrorCode::InvalidGrant,
            "unauthorized_client" => OAuthErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => OAuthErrorCode::UnsupportedGrantType,
            "invalid_scope" => OAuthErrorCode::InvalidScope,
            "access_denied" => OAuthErrorCode::AccessDenied,
            "authorization_pending" => OAuthErrorCode::AuthorizationPending,
            "slow_down" => OAuthErrorCode::SlowDown,
            "expired_token" => OAuthErrorCode::ExpiredToken,
            other => OAuthErrorCode::Other(other.to_string()),
        }
    }

    /// The code as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::AccessDenied => "access_denied",
            OAuthErrorCode::AuthorizationPending => "authorization_pending",
            OAuthErrorCode::SlowDown => "slow_down",
            OAuthErrorCode::ExpiredToken => "expired_token",
            OAuthErrorCode::Other(code) => code,
        }
    }
}

/// An error an authorization server reported, in a token response or a redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// `error_description`, human-readable text from the server.
    pub description: Option<String>,
    /// `error_uri`, a page about the error.
    pub uri: Option<String>,
}

impl OAuthError {
    /// Reads `error`, `error_description` and `error_uri` from a JSON object; `None`
    /// without a string `error`.
    pub(crate) fn from_json(object: &Map<String, Value>) -> Option<OAuthError> {
        let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_string);
        Some(OAuthError {
            code: OAuthErrorCode::from_wire(object.get("error")?.as_str()?),
            description: text("error_description"),
            uri: text("error_uri"),
        })
    }

    /// Reads the same fields from decoded query pairs (a redirect to the callback).
    pub(crate) fn from_pairs(pairs: &[(String, String)]) -> Option<OAuthError> {
        let text = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        Some(OAuthError {
            code: OAuthErrorCode::from_wire(&text("error")?),
            description: text("error_description"),
            uri: text("error_uri"),
        })
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code.as_str())?;
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        if let Some(uri) = &self.uri {
            write!(f, " (see {uri})")?;
        }
        Ok(())
    }
}

impl std::error::Error for OAuthError {}

/// Why a token response gave no token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The server answered with an OAuth error.
    OAuth(OAuthError),
    /// A non-2xx status without an OAuth error body.
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The body is not a JSON object.
    NotJson {
        /// The HTTP status.
        status: u16,
    },
    /// No non-empty string `access_token`.
    MissingAccessToken,
    /// A field has the wrong type or an impossible value.
    InvalidField {
        /// The field's name.
        field: &'static str,
    },
    /// `token_type` is not `Bearer`, the only kind cm sends.
    UnsupportedTokenType(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::OAuth(error) => write!(f, "the server refused: {error}"),
            TokenError::Status { status } => write!(f, "token request failed with HTTP {status}"),
            TokenError::NotJson { status } => {
                write!(f, "token response (HTTP {status}) is not a JSON object")
            }
            TokenError::MissingAccessToken => f.write_str("token response has no access_token"),
            TokenError::InvalidField { field } => {
                write!(f, "token response has an invalid {field}")
            }
            TokenError::UnsupportedTokenType(kind) => {
                write!(f, "token type {kind:?} is not supported (only Bearer)")
            }
        }
    }
}

impl std::error::Error for TokenError {}

/// Parses a JSON body into an object, or says why not; an OAuth error in the body wins over
/// the status (GitHub reports errors with 200).
pub(crate) fn response_object(
    head: &ResponseHead,
    body: &[u8],
) -> Result<Map<String, Value>, TokenError> {
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    };
    if let Some(error) = object.as_ref().and_then(OAuthError::from_json) {
        return Err(TokenError::OAuth(error));
    }
    if !head.is_success() {
        return Err(TokenError::Status {
            status: head.status,
        });
    }
    object.ok_or(TokenError::NotJson {
        status: head.status,
    })
}

/// A non-negative whole number of seconds, sent as a JSON number or a numeric string.
pub(crate) fn seconds(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<u64>, TokenError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.is_finite())
                    .map(|f| f as u64)
            })
            .map(Some)
            .ok_or(TokenError::InvalidField { field }),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| TokenError::InvalidField { field }),
        Some(_) => Err(TokenError::InvalidField { field }),
    }
}

/// An optional string field; another type is an error.
pub(crate) fn optional_text(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, TokenError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TokenError::InvalidField { field }),
    }
}

/// `now` plus `seconds`, saturating.
pub(crate) fn after(now: UnixMillis, seconds: u64) -> UnixMillis {
    UnixMillis(now.0.saturating_add(seconds.saturating_mul(1000)))
}

/// Parses a token endpoint's answer (RFC 6749 §5.1/§5.2): `access_token`, `refresh_token`,
/// `expires_in` (relative to `now`), `token_type` (Bearer or absent) and `scope`.
pub fn parse_token_response(
    head: &ResponseHead,
    body: &[u8],
    now: UnixMillis,
) -> Result<Token, TokenError> {
    let object = response_object(head, body)?;
    let access = match object.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(TokenError::MissingAccessToken),
    };
    if let Some(kind) = optional_text(&object, "token_type")? {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::UnsupportedTokenType(kind));
        }
    }
    Ok(Token {
        access,
        refresh: optional_text(&object, "refresh_token")?.filter(|r| !r.is_empty()),
        expires_at: seconds(&object, "expires_in")?.map(|s| after(now, s)),
        scope: optional_text(&object, "scope")?,
    })
}

/// Why a login can no longer be used; every message says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The credential expired and nothing can renew it.
    Expired {
        /// The provider id (`github-copilot`).
        provider: String,
    },
    /// The server refused the refresh token or the long-lived token (expired or revoked).
    RefreshRejected {
        /// The provider id.
        provider: String,
        /// What the server said, if anything.
        reason: Option<String>,
    },
    /// The request was still unauthorized after one refresh.
    StillUnauthorized {
        /// The provider id.
        provider: String,
    },
    /// The refresh answer could not be used (a server or network problem; try again).
    RefreshFailed {
        /// The provider id.
        provider: String,
        /// What went wrong.
        error: TokenError,
    },
    /// The account has no access to this service (a 403 or 404 from a token exchange).
    NoAccess {
        /// The provider id.
        provider: String,
        /// The HTTP status.
        status: u16,
    },
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Expired { provider } => write!(
                f,
                "the {provider} login has expired: log in again with `cm auth login {provider}`"
            ),
            AuthError::RefreshRejected { provider, reason } => {
                write!(f, "the {provider} login was rejected")?;
                if let Some(reason) = reason {
                    write!(f, " ({reason})")?;
                }
                write!(f, ": log in again with `cm auth login {provider}`")
            }
            AuthError::StillUnauthorized { provider } => write!(
                f,
                "{provider} still refuses the credential after a refresh: \
                 log in again with `cm auth login {provider}`"
            ),
            AuthError::RefreshFailed { provider, error } => write!(
                f,
                "refreshing the {provider} login failed ({error}): try again, or log in again \
                 with `cm auth login {provider}`"
            ),
            AuthError::NoAccess { provider, status } => write!(
                f,
                "this account has no {provider} access (HTTP {status}): check the subscription, \
                 or log in with another account using `cm auth login {provider}`"
            ),
        }
    }
}

impl std::error::Error for AuthError {}

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
    fn a_full_token_response_gives_every_field() {
        let body = br#"{"access_token":"at","refresh_token":"rt","expires_in":3600,
            "token_type":"Bearer","scope":"a b"}"#;
        let token = parse_token_response(&head(200), body, UnixMillis(1_000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            token,
            Token {
                access: "at".into(),
                refresh: Some("rt".into()),
                expires_at: Some(UnixMillis(3_601_000)),
                scope: Some("a b".into()),
            }
        );
        assert_eq!(
            format!("{token:?}"),
            r#"Token { access: "<redacted>", refresh: Some("<redacted>"), expires_at: Some(UnixMillis(3601000)), scope: Some("a b") }"#
        );
    }

    #[test]
    fn expires_in_as_a_string_is_accepted_and_nonsense_refused() {
        let token = parse_token_response(
            &head(200),
            br#"{"access_token":"at","expires_in":"60"}"#,
            UnixMillis(0),
        );
        assert_eq!(token.map(|t| t.expires_at), Ok(Some(UnixMillis(60_000))));
        for body in [
            &br#"{"access_token":"at","expires_in":-5}"#[..],
            br#"{"access_token":"at","expires_in":"soon"}"#,
            br#"{"access_token":"at","expires_in":true}"#,
        ] {
            assert_eq!(
                parse_token_response(&head(200), body, UnixMillis(0)),
                Err(TokenError::InvalidField {
                    field: "expires_in"
                })
            );
        }
        let huge = br#"{"access_token":"at","expires_in":18446744073709551615}"#;
        assert_eq!(
            parse_token_response(&head(200), huge, UnixMillis(5)).map(|t| t.expires_at),
            Ok(Some(UnixMillis(u64::MAX)))
        );
    }

    #[test]
    fn malformed_responses_say_what_is_wrong() {
        let cases: [(&[u8], u16, TokenError); 7] = [
            (
                b"<html>oops</html>",
                200,
                TokenError::NotJson { status: 200 },
            ),
            (b"[1,2]", 200, TokenError::NotJson { status: 200 }),
            (b"{}", 200, TokenError::MissingAccessToken),
            (
                br#"{"access_token":""}"#,
                200,
                TokenError::MissingAccessToken,
            ),
            (
                br#"{"access_token":7}"#,
                200,
                TokenError::MissingAccessToken,
            ),
            (
                br#"{"access_token":"at","refresh_token":1}"#,
                200,
                TokenError::InvalidField {
                    field: "refresh_token",
                },
            ),
            (b"bad gateway", 502, TokenError::Status { status: 502 }),
        ];
        for (body, status, expected) in cases {
            assert_eq!(
                parse_token_response(&head(status), body, UnixMillis(0)),
                Err(expected),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            parse_token_response(
                &head(200),
                br#"{"access_token":"at","token_type":"mac"}"#,
                UnixMillis(0)
            ),
            Err(TokenError::UnsupportedTokenType("mac".into()))
        );
    }

    #[test]
    fn oauth_errors_are_typed_with_description_and_uri() {
        let body = br#"{"error":"invalid_grant","error_description":"Refresh token expired",
            "error_uri":"https://example.com/e"}"#;
        let error = parse_token_response(&head(400), body, UnixMillis(0));
        let expected = OAuthError {
            code: OAuthErrorCode::InvalidGrant,
            description: Some("Refresh token expired".into()),
            uri: Some("https://example.com/e".into()),
        };
        assert_eq!(error, Err(TokenError::OAuth(expected.clone())));
        assert_eq!(
            expected.to_string(),
            "invalid_grant: Refresh token expired (see https://example.com/e)"
        );
        let weird = parse_token_response(
            &head(200),
            br#"{"error":"bad_verification_code"}"#,
            UnixMillis(0),
        );
        assert_eq!(
            weird,
            Err(TokenError::OAuth(OAuthError {
                code: OAuthErrorCode::Other("bad_verification_code".into()),
                description: None,
                uri: None,
            }))
        );
    }

    #[test]
    fn needs_refresh_honours_the_margin() {
        let token = Token {
            access: "at".into(),
            refresh: None,
            expires_at: Some(UnixMillis(100_000)),
            scope: None,
        };
        assert!(!token.needs_refresh(UnixMillis(39_999), 60_000));
        assert!(token.needs_refresh(UnixMillis(40_000), 60_000));
        assert!(token.needs_refresh(UnixMillis(200_000), 0));
        assert!(!token.needs_refresh(UnixMillis(99_999), 0));
        let forever = Token {
            expires_at: None,
            ..token
        };
        assert!(!forever.needs_refresh(UnixMillis(u64::MAX), u64::MAX));
    }

    #[test]
    fn auth_errors_tell_the_user_to_log_in_again() {
        let error = AuthError::RefreshRejected {
            provider: "acme".into(),
            reason: Some("invalid_grant".into()),
        };
        assert_eq!(
            error.to_string(),
            "the acme login was rejected (invalid_grant): log in again with `cm auth login acme`"
        );
        assert_eq!(
            AuthError::Expired {
                provider: "acme".into()
            }
            .to_string(),
            "the acme login has expired: log in again with `cm auth login acme`"
        );
    }
}

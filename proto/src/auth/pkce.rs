//! OAuth 2.0 authorization code with PKCE (RFC 6749 §4.1, RFC 7636 with `S256`), refresh
//! (RFC 6749 §6) and revocation (RFC 7009), for any server: an [`OAuthClient`] names the
//! endpoints, client id, redirect URI and scopes.
//!
//! ```text
//! Verifier::from_entropy ─with_challenge(sha256)─▶ Pkce
//! OAuthClient::authorize(pkce, state) ─▶ AuthorizationRequest   (open url(), listen)
//!   ─handle_callback(redirect)─▶ CodeExchange ─request()…handle_response─▶ Token
//! OAuthClient::refresh_request / handle_refresh_response      (a rotated refresh token kept)
//! OAuthClient::revocation_request                             (on logout, if supported)
//! ```
//!
//! The caller supplies the randomness (verifier and state bytes) and the SHA-256 of the
//! verifier text; proto has neither an RNG nor a hash.

use crate::base64;
use crate::http::{Method, Request, ResponseHead};
use crate::time::UnixMillis;

use super::form::token_headers;
use super::token::{response_object, OAuthError};
use super::{form_decode, form_encode, parse_token_response, BodyEncoding, Token, TokenError};

/// One OAuth client registered with one authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// Where the browser goes to log in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens are exchanged.
    pub token_endpoint: String,
    /// The RFC 7009 endpoint, when the server has one.
    pub revocation_endpoint: Option<String>,
    /// The client id (cm's own, or one the user registered; never another product's).
    pub client_id: String,
    /// The redirect URI registered for the client (a loopback `http://127.0.0.1:PORT/…`).
    pub redirect_uri: String,
    /// The scopes to ask for.
    pub scopes: Vec<String>,
    /// How the token endpoint wants its bodies.
    pub body: BodyEncoding,
    /// Extra authorize-URL parameters a server wants (appended after the standard ones).
    pub extra_authorize_params: Vec<(String, String)>,
}

/// Why PKCE or state input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PkceError {
    /// The verifier must come from 32 to 96 random bytes (43 to 128 characters).
    VerifierEntropy {
        /// How many bytes were given.
        bytes: usize,
    },
    /// The state must come from at least 16 random bytes.
    StateEntropy {
        /// How many bytes were given.
        bytes: usize,
    },
}

impl std::fmt::Display for PkceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PkceError::VerifierEntropy { bytes } => {
                write!(f, "pkce verifier needs 32 to 96 random bytes, got {bytes}")
            }
            PkceError::StateEntropy { bytes } => {
                write!(f, "oauth state needs at least 16 random bytes, got {bytes}")
            }
        }
    }
}

impl std::error::Error for PkceError {}

/// A code verifier (RFC 7636 §4.1): the caller's random bytes in base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier(String);

impl Verifier {
    /// The verifier for `entropy`, 32 to 96 random bytes.
    pub fn from_entropy(entropy: &[u8]) -> Result<Verifier, PkceError> {
        if !(32..=96).contains(&entropy.len()) {
            return Err(PkceError::VerifierEntropy {
                bytes: entropy.len(),
            });
        }
        Ok(Verifier(base64::encode_url_unpadded(entropy)))
    }

    /// The verifier text; its ASCII bytes are what the caller hashes.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Pairs the verifier with `sha256`, the SHA-256 of [`Verifier::as_str`]'s bytes.
    pub fn with_challenge(self, sha256: [u8; 32]) -> Pkce {
        Pkce {
            challenge: base64::encode_url_unpadded(&sha256),
            verifier: self,
        }
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(<redacted>)")
    }
}

/// A verifier and its `S256` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkce {
    verifier: Verifier,
    challenge: String,
}

impl Pkce {
    /// The `code_challenge`: base64url of the verifier's SHA-256, unpadded.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// Why a redirect to the callback was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackError {
    /// The server (or the user) refused: `error` in the redirect.
    Refused(OAuthError),
    /// The `state` differs from the one sent: the redirect is not an answer to this login.
    StateMismatch,
    /// No `state` came back.
    MissingState,
    /// No `code` came back.
    MissingCode,
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallbackError::Refused(error) => write!(f, "authorization refused: {error}"),
            CallbackError::StateMismatch => f.write_str(
                "the callback's state does not match this login (a stale or forged redirect): \
                 start the login again",
            ),
            CallbackError::MissingState => {
                f.write_str("the callback has no state: start the login again")
            }
            CallbackError::MissingCode => {
                f.write_str("the callback has no authorization code: start the login again")
            }
        }
    }
}

impl std::error::Error for CallbackError {}

/// What a revocation request is about (RFC 7009 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenHint {
    /// `refresh_token`: revoking it usually revokes its access tokens too.
    RefreshToken,
    /// `access_token`
    AccessToken,
}

impl OAuthClient {
    /// Starts a login: the authorize URL with `state` from `state_entropy` (16 bytes or more).
    pub fn authorize(
        &self,
        pkce: Pkce,
        state_entropy: &[u8],
    ) -> Result<AuthorizationRequest, PkceError> {
        if state_entropy.len() < 16 {
            return Err(PkceError::StateEntropy {
                bytes: state_entropy.len(),
            });
        }
        let state = base64::encode_url_unpadded(state_entropy);
        let scope = self.scopes.join(" ");
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
        ];
        if !scope.is_empty() {
            params.push(("scope", &scope));
        }
        params.extend([
            ("state", state.as_str()),
            ("code_challenge", pkce.challenge()),
            ("code_challenge_method", "S256"),
        ]);
        params.extend(
            self.extra_authorize_params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let separator = if self.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{separator}{}",
            self.authorization_endpoint,
            form_encode(&params)
        );
        Ok(AuthorizationRequest {
            client: self.clone(),
            url,
            state,
            verifier: pkce.verifier,
        })
    }

    /// The refresh request (RFC 6749 §6) for `refresh_token`.
    pub fn refresh_request(&self, refresh_token: &str) -> Request {
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.client_id.as_str()),
        ];
        let scope = self.scopes.join(" ");
        if !scope.is_empty() {
            params.push(("scope", &scope));
        }
        self.token_request(&params)
    }

    /// Reads a refresh answer; when the server did not rotate the refresh token, the one
    /// used (`previous`) is kept. `invalid_grant` means the user must log in again.
    pub fn handle_refresh_response(
        &self,
        previous: &str,
        head: &ResponseHead,
        body: &[u8],
        now: UnixMillis,
    ) -> Result<Token, TokenError> {
        let mut token = parse_token_response(head, body, now)?;
        if token.refresh.is_none() {
            token.refresh = Some(previous.to_string());
        }
        Ok(token)
    }

    /// The revocation request (RFC 7009 §2.1), or `None` when the server has no endpoint.
    pub fn revocation_request(&self, token: &str, hint: TokenHint) -> Option<Request> {
        let endpoint = self.revocation_endpoint.as_ref()?;
        let hint = match hint {
            TokenHint::RefreshToken => "refresh_token",
            TokenHint::AccessToken => "access_token",
        };
        let params = [
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", self.client_id.as_str()),
        ];
        Some(Request {
            method: Method::Post,
            url: endpoint.clone(),
            headers: token_headers(BodyEncoding::Form),
            body: BodyEncoding::Form.encode(&params),
        })
    }

    /// Reads a revocation answer: 200 is done (also for an unknown token, RFC 7009 §2.2).
    pub fn handle_revocation_response(
        &self,
        head: &ResponseHead,
        body: &[u8],
    ) -> Result<(), TokenError> {
        if head.is_success() {
            return Ok(());
        }
        response_object(head, body).map(|_| ())
    }

    fn token_request(&self, params: &[(&str, &str)]) -> Request {
        Request {
            method: Method::Post,
            url: self.token_endpoint.clone(),
            headers: token_headers(self.body),
            body: self.body.encode(params),
        }
    }
}

/// A login waiting for the browser to come back to the redirect URI.
#[derive(Debug)]
pub struct AuthorizationRequest {
    client: OAuthClient,
    url: String,
    state: String,
    verifier: Verifier,
}

impl AuthorizationRequest {
    /// The URL to open in the browser (and to print, in case it cannot be opened).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The `state` sent, which the callback must echo.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// Checks the redirect: a full URL, `?query` or bare query; a fragment is ignored.
    pub fn handle_callback(self, redirect: &str) -> Result<CodeExchange, CallbackError> {
        let without_fragment = redirect.split('#').next().unwrap_or_default();
        let query = match without_fragment.split_once('?') {
            Some((_, query)) => query,
            None => without_fragment,
        };
        let pairs = form_decode(query);
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        if get("state").is_some_and(|s| *s != self.state) {
            return Err(CallbackError::StateMismatch);
        }
        if let Some(error) = OAuthError::from_pairs(&pairs) {
            return Err(CallbackError::Refused(error));
        }
        if get("state").is_none() {
            return Err(CallbackError::MissingState);
        }
        let code = match get("code") {
            Some(code) if !code.is_empty() => code.clone(),
            _ => return Err(CallbackError::MissingCode),
        };
        Ok(CodeExchange {
            client: self.client,
            code,
            verifier: self.verifier,
        })
    }
}

/// An authorization code, ready to be exchanged for a token.
#[derive(Debug)]
pub struct CodeExchange {
    client: OAuthClient,
    code: String,
    verifier: Verifier,
}

impl CodeExchange {
    /// The token request (RFC 6749 §4.1.3 with RFC 7636 `code_verifier`).
    pub fn request(&self) -> Request {
        self.client.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &self.code),
            ("redirect_uri", &self.client.redirect_uri),
            ("client_id", &self.client.client_id),
            ("code_verifier", self.verifier.as_str()),
        ])
    }

    /// Reads the token endpoint's answer.
    pub fn handle_response(
        self,
        head: &ResponseHead,
        body: &[u8],
        now: UnixMillis,
    ) -> Result<Token, TokenError> {
        parse_token_response(head, body, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::OAuthErrorCode;

    /// RFC 7636 Appendix B: the verifier's 32 octets, and the SHA-256 of the verifier text.
    const RFC_ENTROPY: [u8; 32] = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];
    const RFC_SHA256: [u8; 32] = [
        19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46, 8, 118, 168, 120, 173,
        109, 241, 68, 86, 110, 225, 137, 74, 203, 112, 249, 195,
    ];
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const STATE_ENTROPY: [u8; 16] = [0xff; 16];
    const STATE: &str = "_____________________w";

    fn ok() -> ResponseHead {
        head(200)
    }

    fn head(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            reason: String::new(),
            headers: Default::default(),
        }
    }

    fn client(body: BodyEncoding) -> OAuthClient {
        OAuthClient {
            authorization_endpoint: "https://auth.example.com/authorize".into(),
            token_endpoint: "https://auth.example.com/token".into(),
            revocation_endpoint: Some("https://auth.example.com/revoke".into()),
            client_id: "cm-client".into(),
            redirect_uri: "http://127.0.0.1:8976/callback".into(),
            scopes: vec!["openid".into(), "offline_access".into()],
            body,
            extra_authorize_params: Vec::new(),
        }
    }

    fn pkce() -> Pkce {
        Verifier::from_entropy(&RFC_ENTROPY)
            .unwrap()
            .with_challenge(RFC_SHA256)
    }

    fn started(body: BodyEncoding) -> AuthorizationRequest {
        client(body).authorize(pkce(), &STATE_ENTROPY).unwrap()
    }

    #[test]
    fn rfc_7636_appendix_b_verifier_and_challenge() {
        let verifier = Verifier::from_entropy(&RFC_ENTROPY).unwrap();
        assert_eq!(verifier.as_str(), RFC_VERIFIER);
        let pkce = verifier.with_challenge(RFC_SHA256);
        assert_eq!(pkce.challenge(), RFC_CHALLENGE);
        assert_eq!(format!("{:?}", pkce.verifier()), "Verifier(<redacted>)");
    }

    #[test]
    fn too_little_or_too_much_entropy_is_refused() {
        assert_eq!(
            Verifier::from_entropy(&[0; 31]),
            Err(PkceError::VerifierEntropy { bytes: 31 })
        );
        assert_eq!(
            Verifier::from_entropy(&[0; 97]),
            Err(PkceError::VerifierEntropy { bytes: 97 })
        );
        assert_eq!(Verifier::from_entropy(&[0; 96]).map(|v| v.0.len()), Ok(128));
        assert_eq!(
            client(BodyEncoding::Form)
                .authorize(pkce(), &[1; 15])
                .map(|_| ()),
            Err(PkceError::StateEntropy { bytes: 15 })
        );
    }

    #[test]
    fn the_authorize_url_carries_every_parameter_url_encoded() {
        let login = started(BodyEncoding::Form);
        assert_eq!(login.state(), STATE);
        assert_eq!(
            login.url(),
            "https://auth.example.com/authorize?response_type=code&client_id=cm-client\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2Fcallback&scope=openid+offline_access\
             &state=_____________________w&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256"
        );
        let mut with_query = client(BodyEncoding::Form);
        with_query.authorization_endpoint = "https://a.example/auth?tenant=x".into();
        with_query.scopes.clear();
        with_query.extra_authorize_params = vec![("prompt".into(), "consent".into())];
        let url = with_query.authorize(pkce(), &STATE_ENTROPY).unwrap().url;
        assert_eq!(
            url,
            "https://a.example/auth?tenant=x&response_type=code&client_id=cm-client\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2Fcallback&state=_____________________w\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256&prompt=consent"
        );
    }

    #[test]
    fn a_good_callback_leads_to_a_form_encoded_code_exchange() {
        let exchange = started(BodyEncoding::Form)
            .handle_callback(
                "http://127.0.0.1:8976/callback?code=abc%2F123&state=_____________________w",
            )
            .unwrap();
        let request = exchange.request();
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://auth.example.com/token");
        assert_eq!(
            request.headers.get("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.headers.get("accept"), Some("application/json"));
        assert_eq!(
            String::from_utf8_lossy(&request.body),
            "grant_type=authorization_code&code=abc%2F123\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8976%2Fcallback&client_id=cm-client\
             &code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        let body = br#"{"access_token":"at-1","refresh_token":"rt-1","expires_in":3600,"token_type":"Bearer"}"#;
        let token = exchange
            .handle_response(&ok(), body, UnixMillis(1_000))
            .unwrap();
        assert_eq!(
            token,
            Token {
                access: "at-1".into(),
                refresh: Some("rt-1".into()),
                expires_at: Some(UnixMillis(3_601_000)),
                scope: None,
            }
        );
    }

    #[test]
    fn the_json_switch_sends_the_same_fields_as_json() {
        let exchange = started(BodyEncoding::Json)
            .handle_callback("?state=_____________________w&code=c1")
            .unwrap();
        let request = exchange.request();
        assert_eq!(
            request.headers.get("content-type"),
            Some("application/json")
        );
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "grant_type": "authorization_code",
                "code": "c1",
                "redirect_uri": "http://127.0.0.1:8976/callback",
                "client_id": "cm-client",
                "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            })
        );
    }

    #[test]
    fn callbacks_with_the_wrong_state_or_missing_parts_are_rejected() {
        let cases = [
            ("code=c&state=forged", CallbackError::StateMismatch),
            (
                "error=access_denied&state=forged",
                CallbackError::StateMismatch,
            ),
            ("code=c", CallbackError::MissingState),
            ("state=_____________________w", CallbackError::MissingCode),
            (
                "state=_____________________w&code=",
                CallbackError::MissingCode,
            ),
            ("", CallbackError::MissingState),
        ];
        for (query, expected) in cases {
            assert_eq!(
                started(BodyEncoding::Form)
                    .handle_callback(query)
                    .map(|_| ()),
                Err(expected),
                "{query}"
            );
        }
    }

    #[test]
    fn a_callback_with_an_error_reports_it_with_its_description() {
        let error = started(BodyEncoding::Form)
            .handle_callback(
                "http://127.0.0.1:8976/callback?error=access_denied\
                 &error_description=The+user+denied+access&state=_____________________w#_",
            )
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            error,
            CallbackError::Refused(OAuthError {
                code: OAuthErrorCode::AccessDenied,
                description: Some("The user denied access".into()),
                uri: None,
            })
        );
        assert_eq!(
            error.to_string(),
            "authorization refused: access_denied: The user denied access"
        );
    }

    #[test]
    fn refresh_keeps_a_rotated_token_or_the_old_one() {
        let client = client(BodyEncoding::Form);
        let request = client.refresh_request("rt-old");
        assert_eq!(request.url, "https://auth.example.com/token");
        assert_eq!(
            String::from_utf8_lossy(&request.body),
            "grant_type=refresh_token&refresh_token=rt-old&client_id=cm-client\
             &scope=openid+offline_access"
        );
        let rotated = br#"{"access_token":"at-2","refresh_token":"rt-new","expires_in":60}"#;
        let token = client
            .handle_refresh_response("rt-old", &ok(), rotated, UnixMillis(0))
            .unwrap();
        assert_eq!(token.refresh.as_deref(), Some("rt-new"));
        assert_eq!(token.expires_at, Some(UnixMillis(60_000)));
        let kept = br#"{"access_token":"at-3","expires_in":60}"#;
        let token = client
            .handle_refresh_response("rt-old", &ok(), kept, UnixMillis(0))
            .unwrap();
        assert_eq!(token.refresh.as_deref(), Some("rt-old"));
    }

    #[test]
    fn an_expired_refresh_token_is_invalid_grant() {
        let body = br#"{"error":"invalid_grant","error_description":"refresh token expired"}"#;
        let error = client(BodyEncoding::Form)
            .handle_refresh_response("rt-old", &head(400), body, UnixMillis(0))
            .unwrap_err();
        assert_eq!(
            error,
            TokenError::OAuth(OAuthError {
                code: OAuthErrorCode::InvalidGrant,
                description: Some("refresh token expired".into()),
                uri: None,
            })
        );
    }

    #[test]
    fn revocation_is_an_rfc_7009_form_post_when_supported() {
        let client = client(BodyEncoding::Json);
        let request = client
            .revocation_request("rt/1", TokenHint::RefreshToken)
            .unwrap();
        assert_eq!(request.url, "https://auth.example.com/revoke");
        assert_eq!(
            request.headers.get("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            String::from_utf8_lossy(&request.body),
            "token=rt%2F1&token_type_hint=refresh_token&client_id=cm-client"
        );
        let access = client
            .revocation_request("a", TokenHint::AccessToken)
            .unwrap();
        assert!(String::from_utf8_lossy(&access.body).contains("token_type_hint=access_token"));
        assert_eq!(client.handle_revocation_response(&ok(), b""), Ok(()));
        assert_eq!(
            client.handle_revocation_response(&head(400), br#"{"error":"unsupported_token_type"}"#),
            Err(TokenError::OAuth(OAuthError {
                code: OAuthErrorCode::Other("unsupported_token_type".into()),
                description: None,
                uri: None,
            }))
        );
        assert_eq!(
            client.handle_revocation_response(&head(503), b""),
            Err(TokenError::Status { status: 503 })
        );
        let without = OAuthClient {
            revocation_endpoint: None,
            ..client
        };
        assert_eq!(
            without.revocation_request("a", TokenHint::AccessToken),
            None
        );
    }
}

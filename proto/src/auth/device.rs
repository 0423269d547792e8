//! The OAuth device authorization grant (RFC 8628): for terminals without a browser
//! redirect, the user types a short code on another device while cm polls.
//!
//! ```text
//! DeviceClient::start ─▶ DeviceAuthorization ─handle_response─▶ Polling
//! Polling ─(wait until poll_timeout) poll_request … handle_response─▶ Poll::Pending(Polling)
//!                                                                 └─▶ Poll::Done(Token)
//! ```
//!
//! `authorization_pending` keeps polling at the interval; `slow_down` takes the server's new
//! interval or adds 5 seconds; `access_denied` and `expired_token` end the flow. Polling uses
//! the caller's monotonic clock ([`Millis`]); the token's expiry uses wall time. GitHub's
//! variant is the default shape here: form bodies with `Accept: application/json`.

use serde_json::Value;

use crate::http::{Method, Request, ResponseHead};
use crate::time::{Millis, UnixMillis};

use super::form::token_headers;
use super::token::{response_object, seconds};
use super::{parse_token_response, BodyEncoding, OAuthErrorCode, Token, TokenError};

/// The grant type of RFC 8628 §3.4.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL_MS: u64 = 5_000;

/// What `slow_down` adds to the interval when the server names no new one.
pub const SLOW_DOWN_STEP_MS: u64 = 5_000;

/// A client of one server's device authorization endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceClient {
    /// Where the device code is requested.
    pub device_authorization_endpoint: String,
    /// Where the device code is polled for a token.
    pub token_endpoint: String,
    /// The client id.
    pub client_id: String,
    /// The scopes to ask for.
    pub scopes: Vec<String>,
}

impl DeviceClient {
    /// github.com with scope `read:user`; `client_id` is an OAuth app's (cm's or the user's).
    pub fn github(client_id: &str) -> DeviceClient {
        DeviceClient::github_enterprise("github.com", client_id)
    }

    /// A GitHub Enterprise Server at `domain` (`github.com` for the public one).
    pub fn github_enterprise(domain: &str, client_id: &str) -> DeviceClient {
        DeviceClient {
            device_authorization_endpoint: format!("https://{domain}/login/device/code"),
            token_endpoint: format!("https://{domain}/login/oauth/access_token"),
            client_id: client_id.to_string(),
            scopes: vec!["read:user".to_string()],
        }
    }

    /// The first state: the device code is yet to be requested.
    pub fn start(&self) -> DeviceAuthorization {
        DeviceAuthorization {
            client: self.clone(),
        }
    }

    fn post(&self, url: &str, params: &[(&str, &str)]) -> Request {
        Request {
            method: Method::Post,
            url: url.to_string(),
            headers: token_headers(BodyEncoding::Form),
            body: BodyEncoding::Form.encode(params),
        }
    }
}

/// Why a device login ended without a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceError {
    /// The user declined in the browser (`access_denied`).
    Denied,
    /// The device code expired before the user approved (`expired_token`, or its
    /// `expires_in` passed on the caller's clock).
    Expired,
    /// Any other failure of the exchange.
    Token(TokenError),
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceError::Denied => {
                f.write_str("the login was denied in the browser: start the login again to retry")
            }
            DeviceError::Expired => {
                f.write_str("the code expired before the login was approved: start the login again")
            }
            DeviceError::Token(error) => write!(f, "device login failed: {error}"),
        }
    }
}

impl std::error::Error for DeviceError {}

impl From<TokenError> for DeviceError {
    fn from(error: TokenError) -> DeviceError {
        match error {
            TokenError::OAuth(e) if e.code == OAuthErrorCode::AccessDenied => DeviceError::Denied,
            TokenError::OAuth(e) if e.code == OAuthErrorCode::ExpiredToken => DeviceError::Expired,
            other => DeviceError::Token(other),
        }
    }
}

/// The device code is yet to be requested.
#[derive(Debug)]
pub struct DeviceAuthorization {
    client: DeviceClient,
}

impl DeviceAuthorization {
    /// The device authorization request (RFC 8628 §3.1).
    pub fn request(&self) -> Request {
        let scope = self.client.scopes.join(" ");
        let mut params = vec![("client_id", self.client.client_id.as_str())];
        if !scope.is_empty() {
            params.push(("scope", &scope));
        }
        self.client
            .post(&self.client.device_authorization_endpoint, &params)
    }

    /// Reads the device code response (RFC 8628 §3.2), received at `now`; the first poll is
    /// due one interval later.
    pub fn handle_response(
        self,
        head: &ResponseHead,
        body: &[u8],
        now: Millis,
    ) -> Result<Polling, DeviceError> {
        let object = response_object(head, body)?;
        let text = |names: &[&'static str]| -> Result<String, TokenError> {
            names
                .iter()
                .find_map(|name| object.get(*name).and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or(TokenError::InvalidField { field: names[0] })
        };
        let device_code = text(&["device_code"])?;
        let user_code = text(&["user_code"])?;
        // Google spells it `verification_url`.
        let verification_uri = text(&["verification_uri", "verification_url"])?;
        let verification_uri_complete = text(&["verification_uri_complete"]).ok();
        let interval_ms = seconds(&object, "interval")?
            .map(|s| s.saturating_mul(1000))
            .unwrap_or(DEFAULT_INTERVAL_MS);
        let expires_at =
            seconds(&object, "expires_in")?.map(|s| now.add_ms(s.saturating_mul(1000)));
        Ok(Polling {
            client: self.client,
            device_code,
            user_code,
            verification_uri,
            verification_uri_complete,
            interval_ms,
            expires_at,
            next_poll: now.add_ms(interval_ms),
        })
    }
}

/// The user has a code to enter; cm polls until they finish.
#[derive(Debug)]
pub struct Polling {
    client: DeviceClient,
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    interval_ms: u64,
    expires_at: Option<Millis>,
    next_poll: Millis,
}

/// The outcome of one poll.
#[derive(Debug)]
pub enum Poll {
    /// Not yet: poll again at [`Polling::poll_timeout`].
    Pending(Polling),
    /// Logged in.
    Done(Token),
}

impl Polling {
    /// The code the user types (`WDJB-MJHT`).
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user types it.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// A URI with the code filled in, when the server offers one.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// The current polling interval in milliseconds.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
    }

    /// When the device code expires, on the caller's clock, if the server said.
    pub fn expires_at(&self) -> Option<Millis> {
        self.expires_at
    }

    /// When to send the next [`Polling::poll_request`]; polling earlier earns `slow_down`.
    pub fn poll_timeout(&self) -> Millis {
        self.next_poll
    }

    /// The token request for this device code (RFC 8628 §3.4).
    pub fn poll_request(&self) -> Request {
        self.client.post(
            &self.client.token_endpoint,
            &[
                ("client_id", &self.client.client_id),
                ("device_code", &self.device_code),
                ("grant_type", DEVICE_CODE_GRANT),
            ],
        )
    }

    /// Reads a poll's answer, received at `now` (monotonic) and `wall` (for the token's
    /// expiry).
    pub fn handle_response(
        mut self,
        head: &ResponseHead,
        body: &[u8],
        now: Millis,
        wall: UnixMillis,
    ) -> Result<Poll, DeviceError> {
        match parse_token_response(head, body, wall) {
            Ok(token) => return Ok(Poll::Done(token)),
            Err(TokenError::OAuth(e)) if e.code == OAuthErrorCode::AuthorizationPending => {}
            Err(TokenError::OAuth(e)) if e.code == OAuthErrorCode::SlowDown => {
                let server = serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|v| v.get("interval").and_then(Value::as_u64));
                self.interval_ms = match server {
                    Some(s) => s.saturating_mul(1000).max(self.interval_ms),
                    None => self.interval_ms.saturating_add(SLOW_DOWN_STEP_MS),
                };
            }
            Err(other) => return Err(other.into()),
        }
        self.next_poll = now.add_ms(self.interval_ms);
        if self.expires_at.is_some_and(|at| self.next_poll >= at) {
            return Err(DeviceError::Expired);
        }
        Ok(Poll::Pending(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::OAuthError;

    fn head(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            reason: String::new(),
            headers: Default::default(),
        }
    }

    const GRANTED: &[u8] = br#"{"device_code":"dc-1","user_code":"WDJB-MJHT",
        "verification_uri":"https://github.com/login/device","expires_in":900,"interval":5}"#;

    fn polling() -> Polling {
        DeviceClient::github("Iv1.cm")
            .start()
            .handle_response(&head(200), GRANTED, Millis(1_000))
            .unwrap()
    }

    fn poll(polling: Polling, status: u16, body: &[u8], now: u64) -> Result<Poll, DeviceError> {
        polling.handle_response(&head(status), body, Millis(now), UnixMillis(50_000))
    }

    fn pending(result: Result<Poll, DeviceError>) -> Polling {
        match result {
            Ok(Poll::Pending(polling)) => polling,
            other => panic!("expected pending, got {other:?}"),
        }
    }

    #[test]
    fn the_device_code_response_sets_the_schedule() {
        let polling = polling();
        assert_eq!(polling.user_code(), "WDJB-MJHT");
        assert_eq!(
            polling.verification_uri(),
            "https://github.com/login/device"
        );
        assert_eq!(polling.verification_uri_complete(), None);
        assert_eq!(polling.interval_ms(), 5_000);
        assert_eq!(polling.expires_at(), Some(Millis(901_000)));
        assert_eq!(polling.poll_timeout(), Millis(6_000));
        let request = polling.poll_request();
        assert_eq!(request.method, Method::Post);
        assert_eq!(
            request.headers.get("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.headers.get("accept"), Some("application/json"));
    }

    #[test]
    fn rfc_8628_example_with_defaults_and_a_complete_uri() {
        let client = DeviceClient {
            device_authorization_endpoint: "https://server.example.com/device_authorization".into(),
            token_endpoint: "https://server.example.com/token".into(),
            client_id: "1406020730".into(),
            scopes: Vec::new(),
        };
        let start = client.start();
        assert_eq!(start.request().body, b"client_id=1406020730");
        let body = br#"{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
            "user_code":"WDJB-MJHT","verification_uri":"https://example.com/device",
            "verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT",
            "expires_in":1800}"#;
        let polling = start.handle_response(&head(200), body, Millis(0)).unwrap();
        assert_eq!(polling.interval_ms(), DEFAULT_INTERVAL_MS);
        assert_eq!(
            polling.verification_uri_complete(),
            Some("https://example.com/device?user_code=WDJB-MJHT")
        );
        assert_eq!(
            String::from_utf8_lossy(&polling.poll_request().body),
            "client_id=1406020730&device_code=GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS\
             &grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
        );
    }

    #[test]
    fn google_spells_it_verification_url() {
        let body = br#"{"device_code":"d","user_code":"u","verification_url":"https://www.google.com/device","interval":"2"}"#;
        let polling = DeviceClient::github("x")
            .start()
            .handle_response(&head(200), body, Millis(0))
            .unwrap();
        assert_eq!(polling.verification_uri(), "https://www.google.com/device");
        assert_eq!(polling.expires_at(), None);
        assert_eq!(polling.poll_timeout(), Millis(2_000));
    }

    #[test]
    fn a_malformed_device_code_response_is_refused() {
        let cases: [(&[u8], u16, DeviceError); 4] = [
            (
                br#"{"user_code":"u","verification_uri":"v"}"#,
                200,
                DeviceError::Token(TokenError::InvalidField {
                    field: "device_code",
                }),
            ),
            (
                br#"{"device_code":"d","verification_uri":"v"}"#,
                200,
                DeviceError::Token(TokenError::InvalidField { field: "user_code" }),
            ),
            (
                br#"{"device_code":"d","user_code":"u","verification_uri":"v","interval":[]}"#,
                200,
                DeviceError::Token(TokenError::InvalidField { field: "interval" }),
            ),
            (
                br#"{"error":"invalid_client","error_description":"unknown client"}"#,
                401,
                DeviceError::Token(TokenError::OAuth(OAuthError {
                    code: OAuthErrorCode::InvalidClient,
                    description: Some("unknown client".into()),
                    uri: None,
                })),
            ),
        ];
        for (body, status, expected) in cases {
            let result = DeviceClient::github("x")
                .start()
                .handle_response(&head(status), body, Millis(0))
                .map(|_| ());
            assert_eq!(result, Err(expected), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn pending_keeps_the_interval_in_either_status() {
        let polling = pending(poll(
            polling(),
            200,
            br#"{"error":"authorization_pending"}"#,
            6_000,
        ));
        assert_eq!(polling.poll_timeout(), Millis(11_000));
        let polling = pending(poll(
            polling,
            400,
            br#"{"error":"authorization_pending"}"#,
            11_500,
        ));
        assert_eq!(polling.poll_timeout(), Millis(16_500));
        assert_eq!(polling.interval_ms(), 5_000);
    }

    #[test]
    fn slow_down_raises_the_interval_by_five_seconds_or_to_the_servers() {
        let polling = pending(poll(polling(), 400, br#"{"error":"slow_down"}"#, 6_000));
        assert_eq!(polling.interval_ms(), 10_000);
        assert_eq!(polling.poll_timeout(), Millis(16_000));
        let polling = pending(poll(
            polling,
            200,
            br#"{"error":"slow_down","interval":30}"#,
            16_000,
        ));
        assert_eq!(polling.interval_ms(), 30_000);
        assert_eq!(polling.poll_timeout(), Millis(46_000));
        // A server interval below the current one never speeds polling up.
        let polling = pending(poll(
            polling,
            200,
            br#"{"error":"slow_down","interval":1}"#,
            46_000,
        ));
        assert_eq!(polling.interval_ms(), 30_000);
        // And the raised interval sticks for plain pending answers.
        let polling = pending(poll(
            polling,
            200,
            br#"{"error":"authorization_pending"}"#,
            76_000,
        ));
        assert_eq!(polling.poll_timeout(), Millis(106_000));
    }

    #[test]
    fn denial_and_expiry_end_the_flow_with_readable_errors() {
        let denied = poll(polling(), 200, br#"{"error":"access_denied"}"#, 6_000);
        assert_eq!(denied.map(|_| ()), Err(DeviceError::Denied));
        assert_eq!(
            DeviceError::Denied.to_string(),
            "the login was denied in the browser: start the login again to retry"
        );
        let expired = poll(polling(), 400, br#"{"error":"expired_token"}"#, 6_000);
        assert_eq!(expired.map(|_| ()), Err(DeviceError::Expired));
        // The caller's clock passing expires_in ends it too, without another request.
        let late = poll(
            polling(),
            400,
            br#"{"error":"authorization_pending"}"#,
            896_000,
        );
        assert_eq!(late.map(|_| ()), Err(DeviceError::Expired));
        assert_eq!(
            DeviceError::Expired.to_string(),
            "the code expired before the login was approved: start the login again"
        );
    }

    #[test]
    fn success_gives_the_token_and_bad_answers_an_error() {
        let body = br#"{"access_token":"gho_x","token_type":"bearer","scope":"read:user","expires_in":28800,"refresh_token":"ghr_y"}"#;
        match poll(polling(), 200, body, 6_000) {
            Ok(Poll::Done(token)) => assert_eq!(
                token,
                Token {
                    access: "gho_x".into(),
                    refresh: Some("ghr_y".into()),
                    expires_at: Some(UnixMillis(28_850_000)),
                    scope: Some("read:user".into()),
                }
            ),
            other => panic!("expected a token, got {other:?}"),
        }
        assert_eq!(
            poll(polling(), 200, b"not json", 6_000).map(|_| ()),
            Err(DeviceError::Token(TokenError::NotJson { status: 200 }))
        );
        assert_eq!(
            poll(polling(), 500, b"", 6_000).map(|_| ()),
            Err(DeviceError::Token(TokenError::Status { status: 500 }))
        );
    }

    #[test]
    fn github_enterprise_uses_its_domain() {
        let client = DeviceClient::github_enterprise("ghe.example.com", "Iv1.x");
        assert_eq!(
            client.start().request().url,
            "https://ghe.example.com/login/device/code"
        );
        assert_eq!(
            client.token_endpoint,
            "https://ghe.example.com/login/oauth/access_token"
        );
    }
}

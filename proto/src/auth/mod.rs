//! Logging in and staying logged in, as state machines with time and entropy from the caller.
//!
//! Every flow here builds [`Request`](crate::http::Request)s and reads back a
//! [`ResponseHead`] plus body bytes; the caller sends them, keeps the clock, and supplies
//! random bytes and SHA-256 digests (proto has neither). Flows, one file each:
//!
//! - [`api_key`]: validation and masking of pasted keys;
//! - [`pkce`]: OAuth 2.0 authorization code with PKCE (RFC 6749, RFC 7636), refresh and
//!   revocation (RFC 7009); [`discovery`] (RFC 8414) and [`registration`] (RFC 7591) feed it;
//! - [`device`]: the device authorization grant (RFC 8628);
//! - [`exchange`]: a GitHub token traded for a short-lived Copilot token;
//! - [`refresh`]: what the agent asks before each request and after a 401.
//!
//! A token endpoint answers with a [`Token`]; a saved login is a [`StoredLogin`] (the
//! credential, its expiry and how to renew it). Short exchanges are typestate: each
//! transition consumes the state and returns the next one, so a device code cannot be
//! polled before it was granted and a callback cannot be accepted twice.
//!
//! ```text
//! device:  DeviceAuthorization ──response──▶ Polling ──pending/slow_down──▶ Polling
//!                                               └──────success──▶ Token
//! pkce:    AuthorizationRequest ──callback──▶ CodeExchange ──response──▶ Token
//! ```
//!
//! A GitHub device login on literal bytes: the device code, one `authorization_pending`,
//! one `slow_down`, then the token.
//!
//! ```
//! use cm_proto::auth::device::{DeviceClient, Poll};
//! use cm_proto::http::{Method, ResponseHead};
//! use cm_proto::time::{Millis, UnixMillis};
//!
//! let ok = ResponseHead { status: 200, reason: "OK".into(), headers: Default::default() };
//! let client = DeviceClient::github("Iv1.example");
//! let start = client.start();
//! let request = start.request();
//! assert_eq!(request.method, Method::Post);
//! assert_eq!(request.url, "https://github.com/login/device/code");
//! assert_eq!(request.headers.get("accept"), Some("application/json"));
//! assert_eq!(request.body, b"client_id=Iv1.example&scope=read%3Auser");
//!
//! let granted = br#"{"device_code":"dc-1","user_code":"WDJB-MJHT",
//!     "verification_uri":"https://github.com/login/device","expires_in":900,"interval":5}"#;
//! let polling = start.handle_response(&ok, granted, Millis(0))?;
//! assert_eq!(polling.user_code(), "WDJB-MJHT");
//! assert_eq!(polling.verification_uri(), "https://github.com/login/device");
//! assert_eq!(polling.poll_timeout(), Millis(5_000)); // not before the interval
//!
//! let poll = polling.poll_request();
//! assert_eq!(poll.url, "https://github.com/login/oauth/access_token");
//! assert_eq!(
//!     poll.body,
//!     b"client_id=Iv1.example&device_code=dc-1\
//!       &grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
//! );
//!
//! // GitHub reports "keep waiting" with status 200 and an error body.
//! let pending = br#"{"error":"authorization_pending"}"#;
//! let Poll::Pending(polling) = polling.handle_response(&ok, pending, Millis(5_000), UnixMillis(0))? else {
//!     panic!("still pending");
//! };
//! assert_eq!(polling.poll_timeout(), Millis(10_000));
//!
//! let slow = br#"{"error":"slow_down","interval":10}"#;
//! let Poll::Pending(polling) = polling.handle_response(&ok, slow, Millis(10_000), UnixMillis(0))? else {
//!     panic!("slowed down");
//! };
//! assert_eq!(polling.poll_timeout(), Millis(20_000)); // the server's new interval
//!
//! let success = br#"{"access_token":"gho_abc","token_type":"bearer","scope":"read:user"}"#;
//! let Poll::Done(token) = polling.handle_response(&ok, success, Millis(20_000), UnixMillis(0))? else {
//!     panic!("logged in");
//! };
//! assert_eq!(token.access, "gho_abc");
//! assert_eq!(token.refresh, None);
//! assert_eq!(token.expires_at, None); // GitHub OAuth-app tokens do not expire
//! assert_eq!(token.scope.as_deref(), Some("read:user"));
//! # Ok::<(), cm_proto::auth::device::DeviceError>(())
//! ```

pub mod api_key;
pub mod device;
pub mod discovery;
pub mod exchange;
mod form;
pub mod pkce;
pub mod refresh;
pub mod registration;
mod token;

pub use form::{form_decode, form_encode, percent_encode, BodyEncoding};
pub use refresh::{Readiness, Refresher, Renew, StoredLogin};
pub use token::{parse_token_response, AuthError, OAuthError, OAuthErrorCode, Token, TokenError};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ResponseHead;
    use crate::time::{Millis, UnixMillis};

    /// Every parser on hostile bodies and statuses: errors are fine, panics are not.
    #[test]
    fn parsers_never_panic_on_hostile_bodies() {
        let bodies: [&[u8]; 10] = [
            b"",
            b"\xff\xfe",
            b"null",
            b"{\"error\":5}",
            b"{\"access_token\":\"a\",\"expires_in\":1e308}",
            b"{\"token\":\"proxy-ep=\",\"expires_at\":18446744073709551615,\"refresh_in\":18446744073709551615}",
            b"{\"device_code\":\"d\",\"user_code\":\"u\",\"verification_uri\":\"v\",\"interval\":18446744073709551615,\"expires_in\":18446744073709551615}",
            b"{\"error\":\"slow_down\",\"interval\":18446744073709551615}",
            b"{\"issuer\":\"i\",\"scopes_supported\":{}}",
            b"{\"client_id\":\"c\",\"client_secret_expires_at\":-1}",
        ];
        for status in [200, 400, 401, 403, 500] {
            let head = ResponseHead {
                status,
                reason: String::new(),
                headers: Default::default(),
            };
            for body in bodies {
                let _ = parse_token_response(&head, body, UnixMillis(u64::MAX));
                let _ = exchange::CopilotExchange::default().handle_response(
                    &head,
                    body,
                    UnixMillis(u64::MAX),
                );
                let _ = discovery::parse(&head, body, Some("i"));
                let _ = registration::parse_registration(&head, body);
                let client = device::DeviceClient::github("x");
                if let Ok(polling) = client
                    .start()
                    .handle_response(&head, body, Millis(u64::MAX))
                {
                    let _ = polling.handle_response(
                        &head,
                        body,
                        Millis(u64::MAX),
                        UnixMillis(u64::MAX),
                    );
                }
                let text = String::from_utf8_lossy(body);
                let _ = form_decode(&text);
                let _ = api_key::validate(&text, &["sk-"]);
                let _ = api_key::mask(&text);
            }
        }
    }
}

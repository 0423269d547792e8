//! Keeping a saved login usable: what the agent asks before each request and after a 401.
//!
//! A [`StoredLogin`] is a credential, its expiry and how to renew it ([`Renew`]). Before a
//! request, [`Refresher::before_request`] answers [`Readiness::Ready`] (send it),
//! [`Readiness::RefreshFirst`] (send this request, feed the answer to
//! [`Refresher::handle_refresh_response`], ask again) or [`Readiness::LogInAgain`]. After a
//! 401, [`Refresher::after_unauthorized`] allows one refresh; a second 401 before a success
//! gives up with a message that says how to log in again.

use crate::http::{Request, ResponseHead};
use crate::provider::Credential;
use crate::time::UnixMillis;

use super::exchange::{CopilotExchange, REFRESH_MARGIN_MS};
use super::pkce::OAuthClient;
use super::{AuthError, OAuthErrorCode, Token, TokenError};

/// Refresh OAuth tokens this long before they expire, unless configured otherwise.
pub const DEFAULT_MARGIN_MS: u64 = 60_000;

/// How a login is renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renew {
    /// It cannot be: an API key, or a token issued without a refresh token.
    Never,
    /// With the refresh-token grant at the client's token endpoint.
    RefreshToken {
        /// The client that obtained the token.
        client: OAuthClient,
        /// The current refresh token (replaced when the server rotates it).
        refresh_token: String,
    },
    /// By exchanging a long-lived token for a new short-lived one (GitHub → Copilot).
    Exchange {
        /// Where and as whom.
        exchange: CopilotExchange,
        /// The long-lived token.
        source_token: String,
    },
}

/// A saved login: what to send, until when, and how to renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLogin {
    /// The provider id, used in messages (`cm auth login PROVIDER`).
    pub provider: String,
    /// What to send; `None` until a first exchange produced one.
    pub credential: Option<Credential>,
    /// When the credential stops working, if it does.
    pub expires_at: Option<UnixMillis>,
    /// When the server advised renewing it (Copilot's `refresh_in`).
    pub refresh_after: Option<UnixMillis>,
    /// The API base a token exchange named, if any.
    pub base_url: Option<String>,
    /// How to renew it.
    pub renew: Renew,
}

impl StoredLogin {
    /// An API key: never expires, never renewed.
    pub fn api_key(provider: &str, key: &str) -> StoredLogin {
        StoredLogin {
            provider: provider.to_string(),
            credential: Some(Credential::ApiKey(key.to_string())),
            expires_at: None,
            refresh_after: None,
            base_url: None,
            renew: Renew::Never,
        }
    }

    /// An OAuth token from `client`; renewable when it came with a refresh token.
    pub fn oauth(provider: &str, token: Token, client: OAuthClient) -> StoredLogin {
        let renew = match token.refresh {
            Some(refresh_token) => Renew::RefreshToken {
                client,
                refresh_token,
            },
            None => Renew::Never,
        };
        StoredLogin {
            provider: provider.to_string(),
            credential: Some(Credential::Bearer(token.access)),
            expires_at: token.expires_at,
            refresh_after: None,
            base_url: None,
            renew,
        }
    }

    /// A GitHub token to be exchanged for Copilot tokens; the first request exchanges it.
    pub fn copilot(github_token: &str, exchange: CopilotExchange) -> StoredLogin {
        StoredLogin {
            provider: "github-copilot".to_string(),
            credential: None,
            expires_at: None,
            refresh_after: None,
            base_url: None,
            renew: Renew::Exchange {
                exchange,
                source_token: github_token.to_string(),
            },
        }
    }

    fn is_expired(&self, now: UnixMillis) -> bool {
        self.credential.is_none() || self.expires_at.is_some_and(|at| now >= at)
    }

    fn is_due(&self, now: UnixMillis, margin_ms: u64) -> bool {
        let margin = match self.renew {
            Renew::Exchange { .. } => margin_ms.max(REFRESH_MARGIN_MS),
            _ => margin_ms,
        };
        self.credential.is_none()
            || self.refresh_after.is_some_and(|at| now >= at)
            || self
                .expires_at
                .is_some_and(|at| now.0.saturating_add(margin) >= at.0)
    }

    fn renewal_request(&self) -> Option<Request> {
        match &self.renew {
            Renew::Never => None,
            Renew::RefreshToken {
                client,
                refresh_token,
            } => Some(client.refresh_request(refresh_token)),
            Renew::Exchange {
                exchange,
                source_token,
            } => Some(exchange.request(source_token)),
        }
    }
}

/// What to do before sending a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Send the request with this credential.
    Ready(Credential),
    /// Send this renewal request first and feed its answer back.
    RefreshFirst(Request),
    /// Nothing works until the user logs in again; the error says how.
    LogInAgain(AuthError),
}

/// Decides when to renew one login, and allows one refresh per 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresher {
    margin_ms: u64,
    refreshed_after_401: bool,
}

impl Default for Refresher {
    fn default() -> Refresher {
        Refresher::new(DEFAULT_MARGIN_MS)
    }
}

impl Refresher {
    /// Renews OAuth tokens `margin_ms` before they expire (Copilot tokens: at least 5 minutes).
    pub fn new(margin_ms: u64) -> Refresher {
        Refresher {
            margin_ms,
            refreshed_after_401: false,
        }
    }

    /// Whether `login` can be used at `now`, or must be renewed first. A login that cannot
    /// be renewed is used until it actually expires.
    pub fn before_request(&self, login: &StoredLogin, now: UnixMillis) -> Readiness {
        if login.is_due(now, self.margin_ms) {
            if let Some(request) = login.renewal_request() {
                return Readiness::RefreshFirst(request);
            }
            if login.is_expired(now) {
                return Readiness::LogInAgain(AuthError::Expired {
                    provider: login.provider.clone(),
                });
            }
        }
        match &login.credential {
            Some(credential) => Readiness::Ready(credential.clone()),
            None => Readiness::LogInAgain(AuthError::Expired {
                provider: login.provider.clone(),
            }),
        }
    }

    /// After a 401: renew once; a second 401 without a success in between gives up.
    pub fn after_unauthorized(&mut self, login: &StoredLogin) -> Readiness {
        if self.refreshed_after_401 {
            return Readiness::LogInAgain(AuthError::StillUnauthorized {
                provider: login.provider.clone(),
            });
        }
        self.refreshed_after_401 = true;
        match login.renewal_request() {
            Some(request) => Readiness::RefreshFirst(request),
            None => Readiness::LogInAgain(AuthError::StillUnauthorized {
                provider: login.provider.clone(),
            }),
        }
    }

    /// A request succeeded: the next 401 may be refreshed once again.
    pub fn request_succeeded(&mut self) {
        self.refreshed_after_401 = false;
    }

    /// Applies a renewal answer received at `now` to `login` (a rotated refresh token is
    /// kept). A refused refresh token means logging in again; other failures may be retried.
    pub fn handle_refresh_response(
        &self,
        login: &mut StoredLogin,
        head: &ResponseHead,
        body: &[u8],
        now: UnixMillis,
    ) -> Result<(), AuthError> {
        let provider = login.provider.clone();
        match &mut login.renew {
            Renew::Never => Err(AuthError::Expired { provider }),
            Renew::RefreshToken {
                client,
                refresh_token,
            } => {
                let token = client
                    .handle_refresh_response(refresh_token, head, body, now)
                    .map_err(|error| refresh_error(provider, error))?;
                if let Some(rotated) = token.refresh {
                    *refresh_token = rotated;
                }
                login.credential = Some(Credential::Bearer(token.access));
                login.expires_at = token.expires_at;
                login.refresh_after = None;
                Ok(())
            }
            Renew::Exchange { exchange, .. } => {
                let token = exchange.handle_response(head, body, now)?;
                login.credential = Some(Credential::Bearer(token.token));
                login.expires_at = Some(token.expires_at);
                login.refresh_after = token.refresh_after;
                login.base_url = Some(token.api_base);
                Ok(())
            }
        }
    }
}

fn refresh_error(provider: String, error: TokenError) -> AuthError {
    match error {
        TokenError::OAuth(e)
            if matches!(
                e.code,
                OAuthErrorCode::InvalidGrant
                    | OAuthErrorCode::InvalidClient
                    | OAuthErrorCode::UnauthorizedClient
            ) =>
        {
            AuthError::RefreshRejected {
                provider,
                reason: Some(e.to_string()),
            }
        }
        error => AuthError::RefreshFailed { provider, error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::BodyEncoding;

    fn head(status: u16) -> ResponseHead {
        ResponseHead {
            status,
            reason: String::new(),
            headers: Default::default(),
        }
    }

    fn client() -> OAuthClient {
        OAuthClient {
            authorization_endpoint: "https://auth.example.com/authorize".into(),
            token_endpoint: "https://auth.example.com/token".into(),
            revocation_endpoint: None,
            client_id: "cm".into(),
            redirect_uri: "http://127.0.0.1:1/cb".into(),
            scopes: Vec::new(),
            body: BodyEncoding::Form,
            extra_authorize_params: Vec::new(),
        }
    }

    fn oauth_login(refresh: Option<&str>) -> StoredLogin {
        let token = Token {
            access: "at-1".into(),
            refresh: refresh.map(str::to_string),
            expires_at: Some(UnixMillis(1_000_000)),
            scope: None,
        };
        StoredLogin::oauth("acme", token, client())
    }

    fn refresh_body(request: &Readiness) -> String {
        match request {
            Readiness::RefreshFirst(r) => String::from_utf8_lossy(&r.body).into_owned(),
            other => panic!("expected a refresh, got {other:?}"),
        }
    }

    #[test]
    fn a_token_is_used_until_the_margin_then_refreshed_first() {
        let login = oauth_login(Some("rt-1"));
        let refresher = Refresher::new(60_000);
        assert_eq!(
            refresher.before_request(&login, UnixMillis(939_999)),
            Readiness::Ready(Credential::Bearer("at-1".into()))
        );
        let due = refresher.before_request(&login, UnixMillis(940_000));
        assert_eq!(
            refresh_body(&due),
            "grant_type=refresh_token&refresh_token=rt-1&client_id=cm"
        );
    }

    #[test]
    fn a_refresh_answer_updates_the_login_and_keeps_a_rotated_token() {
        let mut login = oauth_login(Some("rt-1"));
        let refresher = Refresher::default();
        let body = br#"{"access_token":"at-2","refresh_token":"rt-2","expires_in":3600}"#;
        refresher
            .handle_refresh_response(&mut login, &head(200), body, UnixMillis(950_000))
            .unwrap();
        assert_eq!(login.credential, Some(Credential::Bearer("at-2".into())));
        assert_eq!(login.expires_at, Some(UnixMillis(4_550_000)));
        assert_eq!(
            refresh_body(&refresher.before_request(&login, UnixMillis(4_500_000))),
            "grant_type=refresh_token&refresh_token=rt-2&client_id=cm"
        );
        let unrotated = br#"{"access_token":"at-3","expires_in":3600}"#;
        refresher
            .handle_refresh_response(&mut login, &head(200), unrotated, UnixMillis(4_500_000))
            .unwrap();
        assert!(
            matches!(&login.renew, Renew::RefreshToken { refresh_token, .. } if refresh_token == "rt-2")
        );
    }

    #[test]
    fn an_expired_refresh_token_says_log_in_again() {
        let mut login = oauth_login(Some("rt-1"));
        let body = br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
        let error = Refresher::default()
            .handle_refresh_response(&mut login, &head(400), body, UnixMillis(0))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the acme login was rejected (invalid_grant: Token has been expired or revoked.): \
             log in again with `cm auth login acme`"
        );
        assert_eq!(login.credential, Some(Credential::Bearer("at-1".into())));
        let error = Refresher::default()
            .handle_refresh_response(&mut login, &head(503), b"", UnixMillis(0))
            .unwrap_err();
        assert_eq!(
            error,
            AuthError::RefreshFailed {
                provider: "acme".into(),
                error: TokenError::Status { status: 503 }
            }
        );
    }

    #[test]
    fn without_a_refresh_token_the_login_lasts_until_expiry() {
        let login = oauth_login(None);
        let refresher = Refresher::new(60_000);
        assert_eq!(
            refresher.before_request(&login, UnixMillis(999_999)),
            Readiness::Ready(Credential::Bearer("at-1".into()))
        );
        assert_eq!(
            refresher.before_request(&login, UnixMillis(1_000_000)),
            Readiness::LogInAgain(AuthError::Expired {
                provider: "acme".into()
            })
        );
    }

    #[test]
    fn api_keys_are_always_ready_and_a_401_gives_up_at_once() {
        let login = StoredLogin::api_key("anthropic", "sk-ant-x");
        let mut refresher = Refresher::default();
        assert_eq!(
            refresher.before_request(&login, UnixMillis(u64::MAX)),
            Readiness::Ready(Credential::ApiKey("sk-ant-x".into()))
        );
        assert_eq!(
            refresher.after_unauthorized(&login),
            Readiness::LogInAgain(AuthError::StillUnauthorized {
                provider: "anthropic".into()
            })
        );
    }

    #[test]
    fn after_a_401_refresh_once_then_give_up_until_a_success() {
        let login = oauth_login(Some("rt-1"));
        let mut refresher = Refresher::default();
        assert!(matches!(
            refresher.after_unauthorized(&login),
            Readiness::RefreshFirst(_)
        ));
        let second = refresher.after_unauthorized(&login);
        assert_eq!(
            second,
            Readiness::LogInAgain(AuthError::StillUnauthorized {
                provider: "acme".into()
            })
        );
        if let Readiness::LogInAgain(error) = second {
            assert_eq!(
                error.to_string(),
                "acme still refuses the credential after a refresh: \
                 log in again with `cm auth login acme`"
            );
        }
        refresher.request_succeeded();
        assert!(matches!(
            refresher.after_unauthorized(&login),
            Readiness::RefreshFirst(_)
        ));
    }

    #[test]
    fn copilot_exchanges_first_then_renews_on_refresh_in() {
        let mut login = StoredLogin::copilot("gho_x", CopilotExchange::default());
        let refresher = Refresher::default();
        let Readiness::RefreshFirst(request) = refresher.before_request(&login, UnixMillis(0))
        else {
            panic!("a first exchange is due");
        };
        assert_eq!(request.headers.get("authorization"), Some("token gho_x"));
        let body = br#"{"token":"tid=1;proxy-ep=proxy.individual.githubcopilot.com",
            "expires_at":1800,"refresh_in":1500}"#;
        refresher
            .handle_refresh_response(&mut login, &head(200), body, UnixMillis(0))
            .unwrap();
        assert_eq!(
            login.base_url.as_deref(),
            Some("https://api.individual.githubcopilot.com")
        );
        assert_eq!(
            refresher.before_request(&login, UnixMillis(1_499_999)),
            Readiness::Ready(Credential::Bearer(
                "tid=1;proxy-ep=proxy.individual.githubcopilot.com".into()
            ))
        );
        assert!(matches!(
            refresher.before_request(&login, UnixMillis(1_500_000)),
            Readiness::RefreshFirst(_)
        ));
        let revoked = refresher
            .handle_refresh_response(&mut login, &head(401), b"{}", UnixMillis(0))
            .unwrap_err();
        assert!(revoked
            .to_string()
            .ends_with("log in again with `cm auth login github-copilot`"));
    }

    #[test]
    fn copilot_without_refresh_in_renews_five_minutes_before_expiry() {
        let mut login = StoredLogin::copilot("gho_x", CopilotExchange::default());
        let refresher = Refresher::new(0);
        refresher
            .handle_refresh_response(
                &mut login,
                &head(200),
                br#"{"token":"t","expires_at":1000}"#,
                UnixMillis(0),
            )
            .unwrap();
        assert!(matches!(
            refresher.before_request(&login, UnixMillis(699_999)),
            Readiness::Ready(_)
        ));
        assert!(matches!(
            refresher.before_request(&login, UnixMillis(700_000)),
            Readiness::RefreshFirst(_)
        ));
    }
}

//! Where and as whom a provider's OAuth login happens: cm's defaults per provider, each
//! overridable in config under `provider.<id>.oauth` (`device_url`, `token_url`,
//! `authorize_url`, `revoke_url`, `exchange_url`, `issuer`, `client_id`, `scopes`).
//!
//! github-copilot logs in with GitHub's device flow and exchanges the GitHub token for a
//! Copilot token. cm ships no client id that belongs to another product: Copilot accepts
//! only the OAuth apps GitHub approves, so `client_id` is the user's to set. Any other
//! provider uses OAuth when its config has an `oauth` object: the device flow when it names
//! a `device_url`, else the authorization code flow with PKCE; with only an `issuer`, the
//! endpoints come from its `.well-known` metadata, and without a `client_id` cm registers
//! itself (RFC 7591) where the metadata names a registration endpoint.

use cm_proto::auth::device::DeviceClient;
use cm_proto::auth::discovery;
use cm_proto::auth::exchange::CopilotExchange;
use cm_proto::auth::pkce::OAuthClient;
use cm_proto::auth::BodyEncoding;
use cm_proto::config::{Config, OAuthConfig};

use crate::exit::Failure;
use crate::fetch_once::fetch;

/// The provider whose login is a GitHub token exchanged for Copilot tokens.
pub const COPILOT: &str = "github-copilot";

/// A provider's resolved OAuth settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The provider id.
    pub provider: String,
    /// The client id; required to log in, refresh or revoke, not to exchange.
    pub client_id: Option<String>,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The issuer, for discovery of missing endpoints.
    pub issuer: Option<String>,
    /// The authorization endpoint (PKCE).
    pub authorize_url: Option<String>,
    /// The token endpoint.
    pub token_url: Option<String>,
    /// The revocation endpoint, if the server has one.
    pub revoke_url: Option<String>,
    /// The device authorization endpoint: set means the device flow.
    pub device_url: Option<String>,
    /// The token exchange endpoint (Copilot).
    pub exchange_url: Option<String>,
    /// The dynamic client registration endpoint, from discovery.
    pub registration_url: Option<String>,
}

/// Whether `id` logs in with OAuth rather than an API key.
pub fn uses_oauth(id: &str, config: &Config) -> bool {
    id == COPILOT || config.provider(id).is_some_and(|p| p.oauth.is_some())
}

/// The settings of `id`: cm's defaults, then the config's `oauth` object over them.
pub fn settings(id: &str, config: &Config) -> Result<OAuthSettings, Failure> {
    let written = config
        .provider(id)
        .and_then(|p| p.oauth.clone())
        .unwrap_or_default();
    let defaults = if id == COPILOT {
        copilot_defaults()
    } else if config.provider(id).is_some_and(|p| p.oauth.is_some()) {
        OAuthConfig::default()
    } else {
        return Err(Failure::usage(format!(
            "provider `{id}` has no OAuth login; store its API key instead \
             (printf '%s\\n' \"$KEY\" | cm auth login {id})"
        )));
    };
    let pick = |written: &Option<String>, default: &Option<String>| {
        written.clone().or_else(|| default.clone())
    };
    let client_id = written.client_id.clone().filter(|c| !c.trim().is_empty());
    Ok(OAuthSettings {
        provider: id.to_string(),
        client_id,
        scopes: written
            .scopes
            .clone()
            .or(defaults.scopes.clone())
            .unwrap_or_default(),
        issuer: pick(&written.issuer, &defaults.issuer),
        authorize_url: pick(&written.authorize_url, &defaults.authorize_url),
        token_url: pick(&written.token_url, &defaults.token_url),
        revoke_url: pick(&written.revoke_url, &defaults.revoke_url),
        device_url: pick(&written.device_url, &defaults.device_url),
        exchange_url: pick(&written.exchange_url, &defaults.exchange_url),
        registration_url: None,
    })
}

fn copilot_defaults() -> OAuthConfig {
    OAuthConfig {
        device_url: Some("https://github.com/login/device/code".into()),
        token_url: Some("https://github.com/login/oauth/access_token".into()),
        exchange_url: Some("https://api.github.com/copilot_internal/v2/token".into()),
        scopes: Some(vec!["read:user".into()]),
        ..OAuthConfig::default()
    }
}

fn missing_client_id(id: &str) -> Failure {
    let why = if id == COPILOT {
        "GitHub Copilot accepts only the OAuth apps GitHub approves, and cm ships none: \
         set the client id of an app you may use"
    } else {
        "set the client id of the OAuth app registered for cm with this provider"
    };
    Failure::usage(format!(
        "provider `{id}` needs an OAuth client id: {why}, in ~/.config/cm/config.json:\n\
         \"provider\": {{\"{id}\": {{\"oauth\": {{\"client_id\": \"...\"}}}}}}\n\
         (see \"OAuth logins\" in the README)"
    ))
}

impl OAuthSettings {
    /// The client id, or an error that says why there is none and where to set it.
    pub fn client_id(&self) -> Result<String, Failure> {
        self.client_id
            .clone()
            .ok_or_else(|| missing_client_id(&self.provider))
    }

    /// Whether the login uses the device flow.
    pub fn is_device_flow(&self) -> bool {
        self.device_url.is_some()
    }

    /// Fills endpoints the config left out from the issuer's metadata (RFC 8414, then
    /// OpenID discovery), and the registration endpoint when there is no client id. Does
    /// nothing when nothing is missing or there is no issuer.
    pub fn discover(&mut self) -> Result<(), Failure> {
        let complete = self.token_url.is_some()
            && (self.device_url.is_some() || self.authorize_url.is_some())
            && self.client_id.is_some();
        let Some(issuer) = self.issuer.clone().filter(|_| !complete) else {
            return Ok(());
        };
        let mut last = String::new();
        for url in [
            discovery::metadata_url(&issuer),
            discovery::openid_configuration_url(&issuer),
        ] {
            let request = cm_proto::http::Request {
                method: cm_proto::http::Method::Get,
                url,
                headers: [("accept", "application/json")].into_iter().collect(),
                body: Vec::new(),
            };
            let answer = fetch(request).map_err(|e| Failure::failed(e.to_string()))?;
            match discovery::parse(&answer.0, &answer.1, Some(&issuer)) {
                Ok(metadata) => {
                    self.authorize_url = self
                        .authorize_url
                        .take()
                        .or(metadata.authorization_endpoint);
                    self.token_url = self.token_url.take().or(metadata.token_endpoint);
                    self.revoke_url = self.revoke_url.take().or(metadata.revocation_endpoint);
                    self.registration_url = metadata.registration_endpoint;
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Failure::failed(format!(
            "cannot discover the OAuth endpoints of {issuer} ({last}); \
             set provider.{}.oauth.authorize_url and token_url",
            self.provider
        )))
    }

    fn token_url(&self) -> Result<String, Failure> {
        self.token_url.clone().ok_or_else(|| {
            Failure::usage(format!(
                "provider `{}` has no OAuth token endpoint: set provider.{}.oauth.token_url \
                 or issuer",
                self.provider, self.provider
            ))
        })
    }

    /// The device flow client.
    pub fn device_client(&self) -> Result<DeviceClient, Failure> {
        Ok(DeviceClient {
            device_authorization_endpoint: self.device_url.clone().unwrap_or_default(),
            token_endpoint: self.token_url()?,
            client_id: self.client_id()?,
            scopes: self.scopes.clone(),
        })
    }

    /// The authorization code client redirecting to `redirect_uri` (also used to refresh
    /// and revoke, where the redirect does not matter).
    pub fn oauth_client(&self, redirect_uri: &str) -> Result<OAuthClient, Failure> {
        Ok(OAuthClient {
            authorization_endpoint: self.authorize_url.clone().unwrap_or_default(),
            token_endpoint: self.token_url()?,
            revocation_endpoint: self.revoke_url.clone(),
            client_id: self.client_id()?,
            redirect_uri: redirect_uri.to_string(),
            scopes: self.scopes.clone(),
            body: BodyEncoding::Form,
            extra_authorize_params: Vec::new(),
        })
    }

    /// The token exchange that follows the login, if the provider has one.
    pub fn exchange(&self) -> Option<CopilotExchange> {
        let token_url = self.exchange_url.clone()?;
        Some(CopilotExchange {
            token_url,
            ..CopilotExchange::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::config::parse;

    fn config(text: &str) -> Config {
        Config::from_layers([parse("config.json", text).expect("valid config")])
    }

    #[test]
    fn copilot_uses_githubs_device_flow_and_needs_a_client_id_from_the_user() {
        let defaults = settings(COPILOT, &config("{}")).unwrap();
        let error = defaults.device_client().unwrap_err();
        assert!(error
            .message
            .contains("accepts only the OAuth apps GitHub approves"));
        assert!(
            defaults.exchange().is_some(),
            "exchanging needs no client id"
        );
        let settings = settings(
            COPILOT,
            &config(r#"{"provider": {"github-copilot": {"oauth": {"client_id": "Iv1.mine"}}}}"#),
        )
        .unwrap();
        assert!(settings.is_device_flow());
        assert_eq!(
            settings.device_url.as_deref(),
            Some("https://github.com/login/device/code")
        );
        assert_eq!(settings.scopes, ["read:user"]);
        assert_eq!(
            settings.exchange().map(|e| e.token_url),
            Some("https://api.github.com/copilot_internal/v2/token".to_string())
        );
        assert_eq!(settings.revoke_url, None);
    }

    #[test]
    fn a_configured_provider_gets_pkce_with_its_own_endpoints() {
        let config = config(
            r#"{"provider": {"acme": {"base_url": "http://127.0.0.1:9/v1", "oauth": {
                "client_id": "cm-acme", "authorize_url": "http://127.0.0.1:9/authorize",
                "token_url": "http://127.0.0.1:9/token", "scopes": ["models"]}}}}"#,
        );
        assert!(uses_oauth("acme", &config));
        assert!(!uses_oauth("anthropic", &config));
        let settings = settings("acme", &config).unwrap();
        assert!(!settings.is_device_flow());
        let client = settings
            .oauth_client("http://127.0.0.1:5/callback")
            .unwrap();
        assert_eq!(client.token_endpoint, "http://127.0.0.1:9/token");
        assert_eq!(client.scopes, ["models"]);
        assert_eq!(settings.exchange(), None);
    }

    #[test]
    fn a_key_provider_has_no_oauth_login() {
        let error = settings("anthropic", &config("{}")).unwrap_err();
        assert!(error.message.contains("has no OAuth login"));
    }
}

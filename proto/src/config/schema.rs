//! The config schema: what a `config.json` or `cm.json` may say.
//!
//! Every field is optional, so each file is a partial [`Layer`]; unknown keys are errors
//! (a misspelt key would otherwise be silently ignored). `api_key` and header values keep
//! `{env:VAR}` references as written; the caller expands them with
//! [`super::expand_env`] when it needs the value.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::ModelRef;
use crate::permission::Action;

/// One config file's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// A JSON schema URL for editors; ignored.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// The default model.
    #[serde(default)]
    pub model: Option<ModelRef>,
    /// Providers by id: settings for built-in ones, or new OpenAI-compatible servers.
    #[serde(default)]
    pub provider: BTreeMap<String, ProviderConfig>,
    /// Permission rules by key (`edit`, `bash`, ...).
    #[serde(default)]
    pub permission: BTreeMap<String, PermissionSetting>,
    /// Limits of the agent loop.
    #[serde(default)]
    pub limits: Limits,
    /// Whether the agent may shrink a long conversation on its own (prune old tool
    /// outputs, summarise); `false` makes an overflow a clear error. Default on.
    #[serde(default)]
    pub compaction: Option<bool>,
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Responses.
    OpenaiResponses,
    /// OpenAI Chat Completions (and compatible servers).
    OpenaiChat,
    /// Google Gemini.
    Gemini,
}

impl Api {
    /// The config word for this API.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic",
            Api::OpenaiResponses => "openai-responses",
            Api::OpenaiChat => "openai-chat",
            Api::Gemini => "gemini",
        }
    }
}

/// One provider's settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The wire format; built-in providers have their own default.
    #[serde(default)]
    pub api: Option<Api>,
    /// The base URL requests go to.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The API key, often `{env:VAR}` (kept as written).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Extra request headers (values may hold `{env:VAR}`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-model settings, by model id.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    /// How `cm auth login` logs in with OAuth, for providers that use it.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
}

/// A provider's OAuth endpoints and client; every field overrides cm's default for it.
///
/// With only `issuer`, the endpoints come from its `.well-known` metadata (RFC 8414). A
/// `device_url` means the device flow (RFC 8628); otherwise the authorization code flow
/// with PKCE and a loopback redirect.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    /// The authorization server's issuer URL, for discovery.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Where the browser logs in (authorization code flow).
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// Where codes, device codes and refresh tokens are exchanged for tokens.
    #[serde(default)]
    pub token_url: Option<String>,
    /// The RFC 7009 revocation endpoint, used by `cm auth logout`.
    #[serde(default)]
    pub revoke_url: Option<String>,
    /// The device authorization endpoint (device flow).
    #[serde(default)]
    pub device_url: Option<String>,
    /// Where the login's token is exchanged for an API token (GitHub Copilot).
    #[serde(default)]
    pub exchange_url: Option<String>,
    /// The OAuth client id (an app registered by cm's user, or cm's own).
    #[serde(default)]
    pub client_id: Option<String>,
    /// The scopes to ask for.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// Settings of one model; each overrides the built-in catalog.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The context window in tokens.
    #[serde(default)]
    pub context: Option<u64>,
    /// The output limit in tokens.
    #[serde(default)]
    pub output: Option<u64>,
    /// Prices in USD per million tokens.
    #[serde(default)]
    pub price: Option<PriceConfig>,
    /// Whether the model accepts images; tools then return images as image parts.
    #[serde(default)]
    pub images: Option<bool>,
    /// The reasoning effort sent with every request (`"low"`, `"medium"`, `"high"`);
    /// `--effort` overrides it.
    #[serde(default)]
    pub effort: Option<crate::provider::Effort>,
}

/// Price overrides in USD per million tokens; each field is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// Uncached input.
    #[serde(default)]
    pub input: Option<f64>,
    /// Output, reasoning included.
    #[serde(default)]
    pub output: Option<f64>,
    /// Input read from the prompt cache.
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Input written to the prompt cache.
    #[serde(default)]
    pub cache_write: Option<f64>,
}

/// Limits of the agent loop; `None` means the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Model requests per turn.
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Attempts per request after the first.
    #[serde(default)]
    pub retries: Option<u64>,
    /// Seconds a stream may stay silent before it counts as broken.
    #[serde(default)]
    pub idle_timeout_s: Option<u64>,
}

/// A permission key's setting: one action, or patterns in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionSetting {
    /// `"edit": "allow"`.
    Action(Action),
    /// `"bash": {"git status*": "allow", "rm *": "deny"}`; order decides ties.
    Patterns(Vec<(String, Action)>),
}

impl<'de> Deserialize<'de> for PermissionSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SettingVisitor;

        impl<'de> Visitor<'de> for SettingVisitor {
            type Value = PermissionSetting;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"allow\", \"ask\", \"deny\" or an object of pattern → action")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<PermissionSetting, E> {
                Action::parse(text)
                    .map(PermissionSetting::Action)
                    .ok_or_else(|| E::unknown_variant(text, &["allow", "ask", "deny"]))
            }

            fn visit_map<M: MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<PermissionSetting, M::Error> {
                let mut patterns: Vec<(String, Action)> = Vec::new();
                while let Some((pattern, action)) = map.next_entry::<String, Action>()? {
                    patterns.retain(|(p, _)| *p != pattern);
                    patterns.push((pattern, action));
                }
                Ok(PermissionSetting::Patterns(patterns))
            }
        }

        deserializer.deserialize_any(SettingVisitor)
    }
}

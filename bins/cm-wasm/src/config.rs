//! What the page configures — provider, base URL, key, model — and the agent it makes.

use std::fmt;

use cm_proto::agent::{AgentConfig, Limits};
use cm_proto::provider::profile::{profile, profiles};
use cm_proto::provider::Credential;
use serde::Deserialize;

use crate::workspace::browser_tools;

/// The header Anthropic requires before it answers a request made from a web page.
pub const ANTHROPIC_BROWSER_HEADER: (&str, &str) =
    ("anthropic-dangerous-direct-browser-access", "true");

/// The system prompt in the browser: no shell, files in a virtual workspace.
const SYSTEM: &str = "You are cm, a coding assistant running inside a web page. The user's \
files are in a virtual workspace at /workspace that only exists in this browser tab; use \
the tools read, write, edit, multiedit, apply_patch, glob, grep and ls on it. There is no \
shell. Keep answers short and use Markdown.";

/// The page's settings, as JSON from JavaScript (`{provider, baseUrl, key, model}`); its
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageConfig {
    /// A provider id (`anthropic`, `openai`, `openrouter`, `ollama`, …).
    pub provider: String,
    /// The base URL; the provider's own when empty.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The API key; stays in this browser.
    #[serde(default)]
    pub key: Option<String>,
    /// The model id.
    pub model: String,
    /// A system prompt replacing the default.
    #[serde(default)]
    pub system: Option<String>,
}

impl fmt::Debug for PageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// Why the settings cannot make an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The JSON does not have the fields.
    Malformed(String),
    /// No profile has this id.
    UnknownProvider(String),
    /// The model is empty.
    NoModel,
    /// The provider needs a key and none was given.
    NoKey(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Malformed(why) => write!(f, "invalid settings: {why}"),
            ConfigError::UnknownProvider(id) => {
                let known: Vec<&str> = profiles().iter().map(|p| p.id).collect();
                write!(
                    f,
                    "unknown provider `{id}`; choose one of {}",
                    known.join(", ")
                )
            }
            ConfigError::NoModel => f.write_str("choose a model"),
            ConfigError::NoKey(provider) => write!(f, "enter an API key for {provider}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl PageConfig {
    /// Reads the settings from their JSON text.
    pub fn from_json(text: &str) -> Result<PageConfig, ConfigError> {
        let config: PageConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Malformed(e.to_string()))?;
        let profile = profile(config.provider.trim())
            .ok_or_else(|| ConfigError::UnknownProvider(config.provider.clone()))?;
        if config.model.trim().is_empty() {
            return Err(ConfigError::NoModel);
        }
        if profile.needs_key() && config.credential().is_none() {
            return Err(ConfigError::NoKey(profile.name.to_string()));
        }
        Ok(config)
    }

    /// `provider/model`, as sessions are labelled.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider.trim(), self.model.trim())
    }

    /// The key as a credential; `None` when empty.
    pub fn credential(&self) -> Option<Credential> {
        let key = self.key.as_deref().map(str::trim).unwrap_or("");
        (!key.is_empty()).then(|| Credential::ApiKey(key.to_string()))
    }

    /// The agent's configuration: the provider's profile at the base URL, the browser's
    /// tools, and fewer attempts than the CLI (a person is watching).
    pub fn agent_config(&self) -> Result<AgentConfig, ConfigError> {
        let id = self.provider.trim();
        let profile = profile(id).ok_or_else(|| ConfigError::UnknownProvider(id.to_string()))?;
        let base_url = self
            .base_url
            .as_deref()
            .map(|url| url.trim().trim_end_matches('/'))
            .filter(|url| !url.is_empty());
        let mut endpoint = profile.endpoint(base_url);
        if profile.format == cm_proto::provider::WireFormat::Anthropic {
            let (name, value) = ANTHROPIC_BROWSER_HEADER;
            endpoint.headers.set(name, value);
        }
        let mut config = AgentConfig::new(id, profile.format, endpoint, self.model.trim());
        config.system = Some(self.system.clone().unwrap_or_else(|| SYSTEM.to_string()));
        config.tools = browser_tools();
        config.limits = Limits {
            max_attempts: 4,
            ..Limits::default()
        };
        config.credential_env = None;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::provider::WireFormat;

    #[test]
    fn anthropic_gets_the_browser_access_header_and_the_browser_tools() {
        let config = PageConfig::from_json(
            r#"{"provider": "anthropic", "baseUrl": "http://127.0.0.1:9/", "key": " sk-ant-x ", "model": "claude-x"}"#,
        )
        .unwrap();
        assert_eq!(config.label(), "anthropic/claude-x");
        assert!(
            !format!("{config:?}").contains("sk-ant-x"),
            "Debug hides the key"
        );
        assert_eq!(
            config.credential(),
            Some(Credential::ApiKey("sk-ant-x".into()))
        );
        let agent = config.agent_config().unwrap();
        assert_eq!(agent.format, WireFormat::Anthropic);
        assert_eq!(agent.endpoint.base_url, "http://127.0.0.1:9");
        assert_eq!(
            agent
                .endpoint
                .headers
                .get("anthropic-dangerous-direct-browser-access"),
            Some("true")
        );
        let names: Vec<&str> = agent.tools.iter().map(|t| t.spec.name.as_str()).collect();
        assert!(names.contains(&"apply_patch") && names.contains(&"grep"));
        assert!(!names.contains(&"bash"));
    }

    #[test]
    fn other_providers_have_no_such_header_and_keep_their_default_url() {
        let config =
            PageConfig::from_json(r#"{"provider": "openai", "key": "sk-1", "model": "gpt-x"}"#)
                .unwrap();
        let agent = config.agent_config().unwrap();
        assert_eq!(agent.endpoint.base_url, "https://api.openai.com/v1");
        assert!(!agent
            .endpoint
            .headers
            .contains("anthropic-dangerous-direct-browser-access"));
    }

    #[test]
    fn bad_settings_say_what_to_fix() {
        let unknown = PageConfig::from_json(r#"{"provider": "nope", "model": "m"}"#).unwrap_err();
        assert!(unknown
            .to_string()
            .starts_with("unknown provider `nope`; choose one of anthropic"));
        let no_key =
            PageConfig::from_json(r#"{"provider": "anthropic", "key": "  ", "model": "m"}"#)
                .unwrap_err();
        assert_eq!(no_key.to_string(), "enter an API key for Anthropic");
        let no_model = PageConfig::from_json(r#"{"provider": "ollama", "model": ""}"#).unwrap_err();
        assert_eq!(no_model, ConfigError::NoModel);
        assert!(PageConfig::from_json(r#"{"provider": "ollama", "model": "llama"}"#).is_ok());
        assert!(matches!(
            PageConfig::from_json("[1]"),
            Err(ConfigError::Malformed(_))
        ));
    }
}

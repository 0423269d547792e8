//! From `provider/model` to where requests go and with which key.
//!
//! The built-in providers are `cm_proto::provider::profile::profiles()`: each brings its
//! wire format, base URL, key variables, headers and quirks. Config may override any of
//! them (`provider.<id>.base_url`, `api`, `api_key`, `headers`) and declare other ids as
//! OpenAI-compatible servers. The environment is read as the official SDKs read it:
//! `ANTHROPIC_BASE_URL` without `/v1` (a trailing `/v1` is tolerated), `OPENAI_BASE_URL`
//! with it; keys from the profile's variables (`GEMINI_API_KEY`, then `GOOGLE_API_KEY`).
//! A key written in config (`"api_key": "{env:VAR}"` or literally) wins over them. Local
//! servers (ollama, lmstudio, llama-cpp) need no key. When neither gives a key, the
//! credential store (`cm auth login`) is asked ([`Provider::with_stored`]);
//! [`Provider::source`] says where the key came from.
//!
//! The environment is passed in as a lookup function so tests need not touch the process's.

use cm_proto::config::{expand_env, Api, Config, EnvError, ModelRef};
use cm_proto::http::Headers;
use cm_proto::model::{self, Price};
use cm_proto::provider::profile::{self, AuthKind, Quirks};
use cm_proto::provider::{Credential, Endpoint, WireFormat};

use cm_host::StoredCredential;

use crate::exit::Failure;

/// The model used when neither `--model` nor a config file names one, by the key found.
pub const DEFAULT_MODELS: [(&str, &str); 2] = [
    ("ANTHROPIC_API_KEY", "anthropic/claude-sonnet-4-5"),
    ("OPENAI_API_KEY", "openai/gpt-5"),
];

/// The key sent to a declared server that has no `api_key`: the agent always sends a
/// credential, and local servers (Ollama, LM Studio, llama.cpp) ignore it.
pub const KEYLESS_PLACEHOLDER: &str = "none";

/// A provider ready to be asked: format, endpoint and key.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The id (`anthropic`, `openai`, or a configured one).
    pub id: String,
    /// The model id sent.
    pub model: String,
    /// The wire format.
    pub format: WireFormat,
    /// Base URL and extra headers; no credential (it is answered per request).
    pub endpoint: Endpoint,
    /// The key, if one was found.
    pub credential: Option<Credential>,
    /// The environment variable that holds (or would hold) the key.
    pub key_env: Option<String>,
    /// The model's prices, if known.
    pub price: Option<Price>,
    /// The model's output limit, if known.
    pub output_limit: Option<u64>,
    /// Whether the model accepts images: the read tool then returns images as image parts.
    pub images: bool,
    /// The model's context window in tokens, if the catalog or config knows it.
    pub context: Option<u64>,
    /// Where the credential came from, when there is one.
    pub source: Option<KeySource>,
    /// Whether the provider logs in with OAuth (config `oauth`, or github-copilot).
    pub oauth: bool,
    /// Keeps a stored OAuth login fresh, when the credential is one.
    pub renewal: Option<crate::renewal::Renewal>,
}

/// Where a provider's credential was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An environment variable (the built-in one or the config's `{env:VAR}`).
    Env(String),
    /// Written literally in config.
    Config,
    /// The credential store, `auth.json`.
    Store,
    /// None needed: a declared server without `api_key` gets a placeholder.
    Placeholder,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env(var) => write!(f, "env {var}"),
            KeySource::Config => f.write_str("config"),
            KeySource::Store => f.write_str("store"),
            KeySource::Placeholder => f.write_str("none needed"),
        }
    }
}

impl Provider {
    /// Falls back to a stored login when no key was found; an environment variable or a
    /// config key always wins. OAuth tokens are sent as bearer tokens.
    pub fn with_stored(mut self, stored: Option<&StoredCredential>) -> Provider {
        if self.credential.is_some() {
            return self;
        }
        self.credential = match stored {
            Some(StoredCredential::ApiKey { key }) => {
                Some(Credential::ApiKey(key.expose().to_string()))
            }
            Some(StoredCredential::Oauth { access, .. }) => {
                Some(Credential::Bearer(access.expose().to_string()))
            }
            None => None,
        };
        if self.credential.is_some() {
            self.source = Some(KeySource::Store);
        }
        self
    }

    /// The message for a provider without a key: which variable to set, or `cm auth login`.
    pub fn missing_key_message(&self) -> String {
        if profile::profile(&self.id).is_some_and(|p| p.auth == AuthKind::Login) || self.oauth {
            return format!(
                "provider `{}` needs a login, not a key: run `cm auth login {}`",
                self.id, self.id
            );
        }
        match &self.key_env {
            Some(var) => format!(
                "no API key for provider `{}`: set {var} (export {var}=...) or run `cm auth login`",
                self.id
            ),
            None => format!(
                "no API key for provider `{}`: set \"api_key\" in its config or run `cm auth login`",
                self.id
            ),
        }
    }
}

/// Which model to use: `--model`, else the config's `model`, else a default for the key
/// that is set.
pub fn choose_model(
    flag: Option<&str>,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ModelRef, Failure> {
    if let Some(text) = flag {
        return ModelRef::parse(text)
            .map_err(|e| Failure::usage(format!("--model {e}; type e.g. `--model openai/gpt-5`")));
    }
    if let Some(model) = config.model() {
        return Ok(model.clone());
    }
    for (var, model) in DEFAULT_MODELS {
        if env(var).is_some_and(|v| !v.is_empty()) {
            if let Ok(model) = ModelRef::parse(model) {
                return Ok(model);
            }
        }
    }
    Err(Failure::usage(
        "no model chosen and no API key found\n\
         pass one: cm run --model anthropic/claude-sonnet-4-5 \"...\"\n\
         or set \"model\" in ~/.config/cm/config.json, export ANTHROPIC_API_KEY or OPENAI_API_KEY,\n\
         or store a key with `cm auth login anthropic`\n\
         to try cm without a key, run scripts/demo.sh",
    ))
}

/// The ids cm knows: the built-ins, then the configured ones.
pub fn known_ids(config: &Config) -> Vec<String> {
    let mut ids: Vec<String> = profile::profiles()
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    for id in config.providers().keys() {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

/// The prefixes a provider's own keys start with; empty when any is usual.
pub fn key_prefixes(id: &str) -> &'static [&'static str] {
    profile::profile(id).map_or(&[], |p| p.key_prefixes)
}

/// The environment variable that holds `id`'s key: the config's `{env:VAR}`, else the
/// built-in one.
pub fn key_env(id: &str, config: &Config) -> Option<String> {
    match config.provider(id).and_then(|s| s.api_key.as_deref()) {
        Some(written) => env_name(written),
        None => profile::profile(id)
            .and_then(|p| p.key_envs.first())
            .map(|var| var.to_string()),
    }
}

/// Resolves `model`'s provider against the config and the environment.
pub fn resolve(
    model: &ModelRef,
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Provider, Failure> {
    let id = model.provider.as_str();
    let built_in = profile::profile(id);
    let settings = config.provider(id);
    if built_in.is_none() && settings.is_none() {
        return Err(Failure::usage(format!(
            "unknown provider `{id}`; the known providers are {}\n\
             to use an OpenAI-compatible server, declare it in cm.json or ~/.config/cm/config.json:\n\
             \"provider\": {{\"{id}\": {{\"api\": \"openai-chat\", \"base_url\": \"http://localhost:11434/v1\"}}}}",
            known_ids(config).join(", ")
        )));
    }
    let format = match settings.and_then(|s| s.api) {
        Some(Api::Anthropic) => WireFormat::Anthropic,
        Some(Api::OpenaiResponses) => WireFormat::OpenaiResponses,
        Some(Api::OpenaiChat) => WireFormat::OpenaiChat,
        Some(Api::Gemini) => WireFormat::Gemini,
        None => built_in.map_or(WireFormat::OpenaiChat, |b| b.format),
    };

    let base_url = match (settings.and_then(|s| s.base_url.clone()), built_in) {
        (Some(url), _) => expand(&url, id, "base_url", env)?,
        (None, Some(b)) => b
            .base_url_env
            .and_then(env)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| b.base_url.to_string()),
        (None, None) => {
            return Err(Failure::usage(format!(
                "provider `{id}` has no \"base_url\"; add it to its config, like\n\
                 \"provider\": {{\"{id}\": {{\"base_url\": \"http://localhost:11434/v1\"}}}}"
            )))
        }
    };

    let mut headers = built_in.map_or_else(Headers::new, |b| b.endpoint(None).headers);
    if let Some(settings) = settings {
        for (name, value) in &settings.headers {
            headers.remove(name);
            headers.push(
                name.clone(),
                expand(value, id, &format!("headers.{name}"), env)?,
            );
        }
    }

    let (credential, key_env) = match (settings.and_then(|s| s.api_key.as_deref()), built_in) {
        (Some(written), _) => match expand_env(written, env) {
            Ok(key) if !key.is_empty() => (Some(Credential::ApiKey(key)), env_name(written)),
            Ok(_) => (None, env_name(written)),
            Err(EnvError::Unset { var }) => (None, Some(var)),
            Err(e) => {
                return Err(Failure::usage(format!(
                    "provider.{id}.api_key: {e}; write it like \"{{env:MY_API_KEY}}\""
                )))
            }
        },
        (None, Some(b)) if b.auth == AuthKind::ApiKey => (
            b.key_envs
                .iter()
                .find_map(|var| env(var).filter(|k| !k.is_empty()))
                .map(Credential::ApiKey),
            b.key_envs.first().map(|var| var.to_string()),
        ),
        (None, Some(b)) if b.auth == AuthKind::Login => (None, None),
        (None, _) if settings.is_some_and(|s| s.oauth.is_some()) => (None, None),
        (None, _) => (
            Some(Credential::ApiKey(KEYLESS_PLACEHOLDER.to_string())),
            None,
        ),
    };

    let source = match (&credential, &key_env) {
        (None, _) => None,
        (Some(_), Some(var)) => Some(KeySource::Env(var.clone())),
        (Some(_), None)
            if built_in.is_none() && settings.and_then(|s| s.api_key.as_ref()).is_none() =>
        {
            Some(KeySource::Placeholder)
        }
        (Some(_), None) => Some(KeySource::Config),
    };
    let info = model::apply_config(
        crate::catalog_cache::current()
            .get(id, &model.model)
            .map(|m| m.info),
        config.model_config(id, &model.model),
    );
    Ok(Provider {
        id: id.to_string(),
        model: model.model.clone(),
        format,
        endpoint: Endpoint {
            base_url,
            credential: None,
            headers,
            quirks: built_in.map_or(Quirks::default(), |b| b.quirks),
        },
        credential,
        key_env,
        price: info.and_then(|i| i.price),
        output_limit: info.and_then(|i| i.output),
        images: info.and_then(|i| i.images).unwrap_or(false),
        context: info.and_then(|i| i.context),
        source,
        oauth: crate::oauth_settings::uses_oauth(id, config),
        renewal: None,
    })
}

/// The variable of a value that is exactly `{env:VAR}`.
fn env_name(written: &str) -> Option<String> {
    written
        .trim()
        .strip_prefix("{env:")
        .and_then(|rest| rest.strip_suffix('}'))
        .map(str::to_string)
}

fn expand(
    text: &str,
    id: &str,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Failure> {
    expand_env(text, env).map_err(|e| {
        Failure::usage(format!(
            "provider.{id}.{key}: {e}; set it or change the config"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::config::parse;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn config(text: &str) -> Config {
        Config::from_layers([parse("cm.json", text).unwrap()])
    }

    fn model(text: &str) -> ModelRef {
        ModelRef::parse(text).unwrap()
    }

    #[test]
    fn anthropic_reads_its_key_and_base_url_from_the_environment() {
        let e = env(&[
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/v1"),
        ]);
        let p = resolve(
            &model("anthropic/claude-sonnet-4-5"),
            &Config::default(),
            &e,
        )
        .unwrap();
        assert_eq!(p.format, WireFormat::Anthropic);
        assert_eq!(p.endpoint.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(p.credential, Some(Credential::ApiKey("sk-ant".into())));
        assert!(p.price.is_some());
        let request = p.format.build_request(&p.endpoint, &Default::default());
        assert_eq!(
            request.url, "http://127.0.0.1:9/v1/messages",
            "the /v1 is not doubled"
        );
    }

    #[test]
    fn openai_defaults_to_responses_and_config_switches_it_to_chat() {
        let e = env(&[("OPENAI_API_KEY", "sk-o")]);
        let p = resolve(&model("openai/gpt-5"), &Config::default(), &e).unwrap();
        assert_eq!(p.format, WireFormat::OpenaiResponses);
        assert_eq!(p.endpoint.base_url, "https://api.openai.com/v1");
        let chat = config(r#"{"provider": {"openai": {"api": "openai-chat"}}}"#);
        let p = resolve(&model("openai/gpt-5"), &chat, &e).unwrap();
        assert_eq!(p.format, WireFormat::OpenaiChat);
        assert_eq!(p.key_env.as_deref(), Some("OPENAI_API_KEY"));
    }

    #[test]
    fn a_declared_server_speaks_chat_with_its_own_key_and_headers() {
        let c = config(
            r#"{"provider": {"local": {"base_url": "http://localhost:11434/v1",
                 "api_key": "{env:LOCAL_KEY}", "headers": {"X-Title": "cm {env:USER}"}}}}"#,
        );
        let e = env(&[("LOCAL_KEY", "k"), ("USER", "ada")]);
        let p = resolve(&model("local/qwen3"), &c, &e).unwrap();
        assert_eq!(p.format, WireFormat::OpenaiChat);
        assert_eq!(p.credential, Some(Credential::ApiKey("k".into())));
        assert_eq!(p.endpoint.headers.get("x-title"), Some("cm ada"));
        assert_eq!(p.price, None, "the catalog does not know it");

        let missing = resolve(&model("local/qwen3"), &c, &env(&[("USER", "ada")])).unwrap();
        assert_eq!(missing.credential, None);
        assert!(missing.missing_key_message().contains("set LOCAL_KEY"));
    }

    #[test]
    fn an_unknown_provider_lists_the_known_ones() {
        let c = config(r#"{"provider": {"ollama": {"base_url": "http://localhost:11434/v1"}}}"#);
        let failure = resolve(&model("olama/qwen3"), &c, &env(&[])).unwrap_err();
        assert!(
            failure.message.starts_with(
                "unknown provider `olama`; the known providers are anthropic, openai, google, \
                 github-copilot, mistral, ollama, lmstudio, llama-cpp, openrouter, groq, \
                 deepseek, xai, togetherai, fireworks-ai, cerebras\n"
            ),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_local_server_needs_no_key_and_no_config() {
        for (id, url) in [
            ("ollama", "http://127.0.0.1:11434/v1/chat/completions"),
            ("lmstudio", "http://127.0.0.1:1234/v1/chat/completions"),
            ("llama-cpp", "http://127.0.0.1:8080/v1/chat/completions"),
        ] {
            let p = resolve(
                &model(&format!("{id}/qwen3")),
                &Config::default(),
                &env(&[]),
            )
            .unwrap();
            assert_eq!(p.format, WireFormat::OpenaiChat);
            assert_eq!(
                p.credential,
                Some(Credential::ApiKey(KEYLESS_PLACEHOLDER.into()))
            );
            assert_eq!(
                p.format.build_request(&p.endpoint, &Default::default()).url,
                url
            );
        }
        let c = config(r#"{"provider": {"ollama": {"base_url": "http://127.0.0.1:9/v1"}}}"#);
        let p = resolve(&model("ollama/qwen3"), &c, &env(&[])).unwrap();
        assert_eq!(p.endpoint.base_url, "http://127.0.0.1:9/v1");
        assert!(p.credential.is_some());
    }

    #[test]
    fn each_hosted_preset_reads_its_key_and_posts_to_its_url() {
        for (id, var, url) in [
            (
                "mistral",
                "MISTRAL_API_KEY",
                "https://api.mistral.ai/v1/chat/completions",
            ),
            (
                "openrouter",
                "OPENROUTER_API_KEY",
                "https://openrouter.ai/api/v1/chat/completions",
            ),
            (
                "groq",
                "GROQ_API_KEY",
                "https://api.groq.com/openai/v1/chat/completions",
            ),
            (
                "deepseek",
                "DEEPSEEK_API_KEY",
                "https://api.deepseek.com/v1/chat/completions",
            ),
            ("xai", "XAI_API_KEY", "https://api.x.ai/v1/chat/completions"),
            (
                "togetherai",
                "TOGETHER_API_KEY",
                "https://api.together.xyz/v1/chat/completions",
            ),
            (
                "fireworks-ai",
                "FIREWORKS_API_KEY",
                "https://api.fireworks.ai/inference/v1/chat/completions",
            ),
            (
                "cerebras",
                "CEREBRAS_API_KEY",
                "https://api.cerebras.ai/v1/chat/completions",
            ),
            (
                "google",
                "GOOGLE_API_KEY",
                "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent",
            ),
        ] {
            let p = resolve(
                &model(&format!("{id}/m")),
                &Config::default(),
                &env(&[(var, "k")]),
            )
            .unwrap();
            assert_eq!(p.credential, Some(Credential::ApiKey("k".into())), "{id}");
            let request = cm_proto::provider::ChatRequest {
                model: "m".into(),
                ..Default::default()
            };
            assert_eq!(p.format.build_request(&p.endpoint, &request).url, url);
            let none = resolve(&model(&format!("{id}/m")), &Config::default(), &env(&[])).unwrap();
            assert_eq!(none.credential, None, "{id}");
            assert!(none.missing_key_message().contains("set "), "{id}");
        }
    }

    #[test]
    fn copilot_needs_a_login_and_sends_cms_editor_headers() {
        let p = resolve(
            &model("github-copilot/gpt-4.1"),
            &Config::default(),
            &env(&[("GITHUB_TOKEN", "g")]),
        )
        .unwrap();
        assert_eq!(p.credential, None);
        assert_eq!(
            p.missing_key_message(),
            "provider `github-copilot` needs a login, not a key: run `cm auth login github-copilot`"
        );
        assert!(p
            .endpoint
            .headers
            .get("editor-version")
            .unwrap()
            .starts_with("cm/"));
    }

    #[test]
    fn a_missing_key_names_the_variable_and_auth_login() {
        let p = resolve(&model("anthropic/x"), &Config::default(), &env(&[])).unwrap();
        assert_eq!(p.credential, None);
        assert_eq!(
            p.missing_key_message(),
            "no API key for provider `anthropic`: set ANTHROPIC_API_KEY \
             (export ANTHROPIC_API_KEY=...) or run `cm auth login`"
        );
    }

    #[test]
    fn the_store_fills_in_only_when_no_key_was_found() {
        let stored = StoredCredential::ApiKey {
            key: cm_host::Secret::new("sk-ant-stored"),
        };
        let m = model("anthropic/x");
        let from_env = resolve(
            &m,
            &Config::default(),
            &env(&[("ANTHROPIC_API_KEY", "sk-ant-env")]),
        )
        .unwrap()
        .with_stored(Some(&stored));
        assert_eq!(
            from_env.credential,
            Some(Credential::ApiKey("sk-ant-env".into()))
        );
        assert_eq!(
            from_env.source,
            Some(KeySource::Env("ANTHROPIC_API_KEY".into()))
        );

        let from_store = resolve(&m, &Config::default(), &env(&[]))
            .unwrap()
            .with_stored(Some(&stored));
        assert_eq!(
            from_store.credential,
            Some(Credential::ApiKey("sk-ant-stored".into()))
        );
        assert_eq!(from_store.source, Some(KeySource::Store));
        assert_eq!(from_store.source.unwrap().to_string(), "store");

        let nothing = resolve(&m, &Config::default(), &env(&[]))
            .unwrap()
            .with_stored(None);
        assert_eq!((nothing.credential, nothing.source), (None, None));
    }

    #[test]
    fn the_model_comes_from_the_flag_then_config_then_the_key_found() {
        let c = config(r#"{"model": "openai/gpt-5-mini"}"#);
        let e = env(&[("ANTHROPIC_API_KEY", "k")]);
        assert_eq!(choose_model(Some("x/y"), &c, &e).unwrap(), model("x/y"));
        assert_eq!(
            choose_model(None, &c, &e).unwrap(),
            model("openai/gpt-5-mini")
        );
        assert_eq!(
            choose_model(None, &Config::default(), &e).unwrap(),
            model("anthropic/claude-sonnet-4-5")
        );
        let none = choose_model(None, &Config::default(), &env(&[])).unwrap_err();
        assert!(none.message.contains("--model anthropic/claude-sonnet-4-5"));
        let bad = choose_model(Some("gpt-5"), &c, &e).unwrap_err();
        assert!(bad.message.contains("names no provider"), "{}", bad.message);
    }
}

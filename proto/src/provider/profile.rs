//! Provider profiles: every provider cm knows, as data over the four wire formats.
//!
//! A [`Profile`] names a provider (`ollama`, `mistral`, …), the [`WireFormat`] it speaks,
//! its default base URL, where its key (and base URL) come from in the environment, the
//! headers it wants and its [`Quirks`]. Quirks travel on [`Endpoint::quirks`] so the
//! request builders apply them; an endpoint without a profile keeps `Quirks::default()`,
//! which is plain OpenAI behaviour.
//!
//! The ids are the ones models.dev uses (`togetherai`, `fireworks-ai`), so catalog data
//! and `--model ID/MODEL` agree.

use crate::http::Headers;
use crate::message::{Message, Part, Role};

use super::{Endpoint, WireFormat};

/// The value cm sends where Copilot expects an editor or plugin name: cm's own, never
/// another product's.
pub const CM_EDITOR: &str = concat!("cm/", env!("CARGO_PKG_VERSION"));

/// One provider: where it lives, how it authenticates and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The id used in `--model ID/MODEL` and config (`mistral`, `fireworks-ai`).
    pub id: &'static str,
    /// The provider's name for people.
    pub name: &'static str,
    /// The wire format it speaks.
    pub format: WireFormat,
    /// The base URL as [`Endpoint::base_url`] takes it for `format`.
    pub base_url: &'static str,
    /// Variables that may hold the key, first found wins (`GEMINI_API_KEY`, then
    /// `GOOGLE_API_KEY`); empty for servers without keys and login-only providers.
    pub key_envs: &'static [&'static str],
    /// How the provider's own keys start (`sk-ant-`); a key without one of them earns a
    /// warning at login, not a refusal (gateways issue their own keys). Empty: no rule.
    pub key_prefixes: &'static [&'static str],
    /// The variable that overrides the base URL, where the provider's SDK reads one.
    pub base_url_env: Option<&'static str>,
    /// How a request is authorised.
    pub auth: AuthKind,
    /// Headers sent on every request.
    pub headers: &'static [(&'static str, &'static str)],
    /// How the request differs from plain OpenAI.
    pub quirks: Quirks,
}

/// How a provider's requests are authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// An API key, from the environment, config or the credential store.
    ApiKey,
    /// No key (a local server); any key given is sent and ignored.
    None,
    /// Only a login (`cm auth login ID`) works: the token comes from an exchange, not a key.
    Login,
}

impl Profile {
    /// Whether requests need a credential at all.
    pub fn needs_key(&self) -> bool {
        self.auth != AuthKind::None
    }

    /// An endpoint at `base_url` (the profile's default when `None`) with its headers and
    /// quirks, and no credential.
    pub fn endpoint(&self, base_url: Option<&str>) -> Endpoint {
        let mut headers = Headers::new();
        for (name, value) in self.headers {
            headers.push(*name, *value);
        }
        Endpoint {
            base_url: base_url.unwrap_or(self.base_url).to_string(),
            credential: None,
            headers,
            quirks: self.quirks,
        }
    }
}

/// How a provider's request differs from plain OpenAI; the default is no difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quirks {
    /// The body field for the output cap (Chat Completions).
    pub max_tokens_field: MaxTokensField,
    /// The role of the system prompt (Chat Completions).
    pub system_role: SystemRole,
    /// The rule tool-call ids must follow on the wire (Chat Completions).
    pub tool_id_rule: ToolIdRule,
    /// Whether `stream_options: {include_usage: true}` is sent (Chat Completions).
    pub stream_usage: StreamUsage,
    /// Whether a `user` message may directly follow a `tool` message (Chat Completions).
    pub user_after_tool: UserAfterTool,
    /// Whether `reasoning_effort` is sent when reasoning is configured (Chat Completions).
    pub reasoning_effort: ReasoningEffortField,
    /// Whether `X-Initiator` and `Copilot-Vision-Request` are derived from the messages.
    pub copilot_headers: bool,
}

/// Which body field caps the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensField {
    /// `max_completion_tokens` for `api.openai.com`, else `max_tokens`.
    #[default]
    ByHost,
    /// Always `max_tokens`.
    MaxTokens,
    /// Always `max_completion_tokens`.
    MaxCompletionTokens,
}

/// The role the system prompt is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SystemRole {
    /// `system`: understood by every compatible server.
    #[default]
    System,
    /// `developer`: OpenAI's name for it with reasoning models; xAI, DeepSeek and Cerebras
    /// reject it.
    Developer,
}

/// What a tool-call id must look like on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolIdRule {
    /// `[a-zA-Z0-9_-]`, at most 40 characters (OpenAI's limit), foreign ids sanitised.
    #[default]
    Free,
    /// Exactly 9 of `[a-zA-Z0-9]` (Mistral); see
    /// [`ToolIdMap`](super::openai_chat::ToolIdMap).
    Mistral9,
}

/// Whether usage is asked for in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamUsage {
    /// Send `stream_options: {include_usage: true}`.
    #[default]
    Ask,
    /// Send no `stream_options` (the server rejects them or sends usage anyway).
    Omit,
}

/// Whether a `user` message may follow a `tool` message directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserAfterTool {
    /// It may.
    #[default]
    Allowed,
    /// An assistant message must come between (Mistral answers 400 otherwise).
    NeedsAssistant,
}

/// Whether `reasoning_effort` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReasoningEffortField {
    /// Send it when reasoning is configured.
    #[default]
    Send,
    /// Never send it (the server rejects it for some models).
    Omit,
}

/// The Copilot headers that depend on the request: `X-Initiator` is `user` when the last
/// message is a user message with text or images, `agent` when it only answers tool calls
/// (or the last message is the assistant's); `Copilot-Vision-Request: true` when any
/// message holds an image.
pub fn copilot_request_headers(messages: &[Message]) -> Vec<(&'static str, &'static str)> {
    let user_turn = messages.last().is_some_and(|last| {
        last.role == Role::User
            && last
                .parts
                .iter()
                .any(|p| matches!(p, Part::Text { .. } | Part::Image(_)))
    });
    let mut headers = vec![("x-initiator", if user_turn { "user" } else { "agent" })];
    let images = messages.iter().any(|m| {
        m.parts.iter().any(|p| match p {
            Part::Image(_) => true,
            Part::ToolResult(result) => result
                .content
                .iter()
                .any(|item| matches!(item, crate::message::ToolOutput::Image(_))),
            _ => false,
        })
    });
    if images {
        headers.push(("copilot-vision-request", "true"));
    }
    headers
}

const CHAT_NO_DEVELOPER: Quirks = Quirks {
    max_tokens_field: MaxTokensField::MaxTokens,
    system_role: SystemRole::System,
    tool_id_rule: ToolIdRule::Free,
    stream_usage: StreamUsage::Ask,
    user_after_tool: UserAfterTool::Allowed,
    reasoning_effort: ReasoningEffortField::Send,
    copilot_headers: false,
};

const LOCAL: Quirks = CHAT_NO_DEVELOPER;

const fn api_key(
    id: &'static str,
    name: &'static str,
    base_url: &'static str,
    key_env: &'static [&'static str],
    quirks: Quirks,
) -> Profile {
    Profile {
        id,
        name,
        format: WireFormat::OpenaiChat,
        base_url,
        key_envs: key_env,
        key_prefixes: &[],
        base_url_env: None,
        auth: AuthKind::ApiKey,
        headers: &[],
        quirks,
    }
}

const fn local(id: &'static str, name: &'static str, base_url: &'static str) -> Profile {
    Profile {
        id,
        name,
        format: WireFormat::OpenaiChat,
        base_url,
        key_envs: &[],
        key_prefixes: &[],
        base_url_env: None,
        auth: AuthKind::None,
        headers: &[],
        quirks: LOCAL,
    }
}

const PROFILES: [Profile; 15] = [
    Profile {
        id: "anthropic",
        name: "Anthropic",
        format: WireFormat::Anthropic,
        base_url: "https://api.anthropic.com",
        key_envs: &["ANTHROPIC_API_KEY"],
        key_prefixes: &["sk-ant-"],
        base_url_env: Some("ANTHROPIC_BASE_URL"),
        auth: AuthKind::ApiKey,
        headers: &[],
        quirks: Quirks::DEFAULT,
    },
    Profile {
        id: "openai",
        name: "OpenAI",
        format: WireFormat::OpenaiResponses,
        base_url: "https://api.openai.com/v1",
        key_envs: &["OPENAI_API_KEY"],
        key_prefixes: &["sk-"],
        base_url_env: Some("OPENAI_BASE_URL"),
        auth: AuthKind::ApiKey,
        headers: &[],
        quirks: Quirks::DEFAULT,
    },
    Profile {
        id: "google",
        name: "Google Gemini",
        format: WireFormat::Gemini,
        base_url: "https://generativelanguage.googleapis.com/v1beta",
        key_envs: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        key_prefixes: &[],
        base_url_env: None,
        auth: AuthKind::ApiKey,
        headers: &[],
        quirks: Quirks::DEFAULT,
    },
    Profile {
        id: "github-copilot",
        name: "GitHub Copilot",
        format: WireFormat::OpenaiChat,
        base_url: "https://api.githubcopilot.com",
        key_envs: &[],
        key_prefixes: &[],
        base_url_env: None,
        auth: AuthKind::Login,
        headers: &[
            ("editor-version", CM_EDITOR),
            ("editor-plugin-version", CM_EDITOR),
            ("user-agent", CM_EDITOR),
            ("openai-intent", "conversation-edits"),
        ],
        quirks: Quirks {
            copilot_headers: true,
            stream_usage: StreamUsage::Omit,
            max_tokens_field: MaxTokensField::MaxTokens,
            ..Quirks::DEFAULT
        },
    },
    api_key(
        "mistral",
        "Mistral",
        "https://api.mistral.ai/v1",
        &["MISTRAL_API_KEY"],
        Quirks {
            tool_id_rule: ToolIdRule::Mistral9,
            user_after_tool: UserAfterTool::NeedsAssistant,
            stream_usage: StreamUsage::Omit,
            ..CHAT_NO_DEVELOPER
        },
    ),
    local("ollama", "Ollama", "http://127.0.0.1:11434/v1"),
    local("lmstudio", "LM Studio", "http://127.0.0.1:1234/v1"),
    local("llama-cpp", "llama.cpp server", "http://127.0.0.1:8080/v1"),
    api_key(
        "openrouter",
        "OpenRouter",
        "https://openrouter.ai/api/v1",
        &["OPENROUTER_API_KEY"],
        CHAT_NO_DEVELOPER,
    ),
    api_key(
        "groq",
        "Groq",
        "https://api.groq.com/openai/v1",
        &["GROQ_API_KEY"],
        CHAT_NO_DEVELOPER,
    ),
    api_key(
        "deepseek",
        "DeepSeek",
        "https://api.deepseek.com/v1",
        &["DEEPSEEK_API_KEY"],
        CHAT_NO_DEVELOPER,
    ),
    api_key(
        "xai",
        "xAI",
        "https://api.x.ai/v1",
        &["XAI_API_KEY"],
        Quirks {
            reasoning_effort: ReasoningEffortField::Omit,
            ..CHAT_NO_DEVELOPER
        },
    ),
    api_key(
        "togetherai",
        "Together AI",
        "https://api.together.xyz/v1",
        &["TOGETHER_API_KEY"],
        CHAT_NO_DEVELOPER,
    ),
    api_key(
        "fireworks-ai",
        "Fireworks AI",
        "https://api.fireworks.ai/inference/v1",
        &["FIREWORKS_API_KEY"],
        CHAT_NO_DEVELOPER,
    ),
    api_key(
        "cerebras",
        "Cerebras",
        "https://api.cerebras.ai/v1",
        &["CEREBRAS_API_KEY"],
        CHAT_NO_DEVELOPER,
    ),
];

impl Quirks {
    /// No quirks: plain OpenAI behaviour (usable in constants, unlike `Default`).
    pub const DEFAULT: Quirks = Quirks {
        max_tokens_field: MaxTokensField::ByHost,
        system_role: SystemRole::System,
        tool_id_rule: ToolIdRule::Free,
        stream_usage: StreamUsage::Ask,
        user_after_tool: UserAfterTool::Allowed,
        reasoning_effort: ReasoningEffortField::Send,
        copilot_headers: false,
    };
}

/// Every built-in provider, in the order help texts list them.
pub fn profiles() -> &'static [Profile] {
    &PROFILES
}

/// The built-in provider `id`.
pub fn profile(id: &str) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ToolOutput, ToolResult};

    #[test]
    fn every_id_resolves_to_itself_and_ids_are_unique() {
        for p in profiles() {
            assert_eq!(profile(p.id).map(|q| q.id), Some(p.id));
            assert_eq!(profiles().iter().filter(|q| q.id == p.id).count(), 1);
        }
        assert_eq!(profile("together"), None);
        let ids: Vec<&str> = profiles().iter().map(|p| p.id).collect();
        for id in [
            "anthropic",
            "openai",
            "google",
            "github-copilot",
            "mistral",
            "ollama",
            "lmstudio",
            "llama-cpp",
            "openrouter",
            "groq",
            "deepseek",
            "xai",
            "togetherai",
            "fireworks-ai",
            "cerebras",
        ] {
            assert!(ids.contains(&id), "{id} missing");
        }
    }

    #[test]
    fn no_quirks_is_the_default_and_only_chat_profiles_have_chat_quirks() {
        assert_eq!(Quirks::default(), Quirks::DEFAULT);
        for p in profiles() {
            if p.format != WireFormat::OpenaiChat {
                assert_eq!(p.quirks, Quirks::DEFAULT, "{}", p.id);
            }
        }
        let mistral = profile("mistral").unwrap().quirks;
        assert_eq!(mistral.tool_id_rule, ToolIdRule::Mistral9);
        assert_eq!(mistral.user_after_tool, UserAfterTool::NeedsAssistant);
        assert_eq!(mistral.max_tokens_field, MaxTokensField::MaxTokens);
        for id in ["xai", "deepseek", "cerebras"] {
            assert_eq!(profile(id).unwrap().quirks.system_role, SystemRole::System);
        }
    }

    #[test]
    fn base_urls_end_as_each_format_expects() {
        for p in profiles() {
            assert!(!p.base_url.ends_with('/'), "{}", p.id);
            match p.format {
                WireFormat::Anthropic => assert!(!p.base_url.ends_with("/v1"), "{}", p.id),
                WireFormat::Gemini => assert!(p.base_url.ends_with("/v1beta"), "{}", p.id),
                WireFormat::OpenaiChat | WireFormat::OpenaiResponses => {
                    if p.id != "github-copilot" {
                        assert!(p.base_url.ends_with("/v1"), "{}", p.id);
                    }
                }
            }
            if p.auth == AuthKind::ApiKey {
                assert!(!p.key_envs.is_empty(), "{} needs a key variable", p.id);
            } else {
                assert!(p.key_envs.is_empty(), "{}", p.id);
            }
        }
        for id in ["ollama", "lmstudio", "llama-cpp"] {
            let p = profile(id).unwrap();
            assert!(p.base_url.starts_with("http://127.0.0.1:"), "{id}");
            assert!(!p.needs_key());
        }
        let copilot = profile("github-copilot").unwrap();
        assert_eq!(copilot.auth, AuthKind::Login);
        assert!(copilot.needs_key());
    }

    #[test]
    fn copilot_headers_are_cms_own_and_name_no_other_editor() {
        let copilot = profile("github-copilot").unwrap();
        let endpoint = copilot.endpoint(Some("https://api.individual.githubcopilot.com"));
        assert_eq!(
            endpoint.base_url,
            "https://api.individual.githubcopilot.com"
        );
        let version = endpoint.headers.get("editor-version").unwrap();
        assert!(version.starts_with("cm/"), "{version}");
        for (_, value) in endpoint.headers.iter() {
            assert!(!value.to_ascii_lowercase().contains("vscode"), "{value}");
        }
    }

    #[test]
    fn the_initiator_is_the_user_only_for_a_typed_turn() {
        let user = Message {
            role: Role::User,
            parts: vec![Part::text("fix it")],
        };
        let results = Message {
            role: Role::User,
            parts: vec![Part::ToolResult(ToolResult {
                call_id: "c".into(),
                name: "read".into(),
                content: vec![ToolOutput::Text { text: "ok".into() }],
                is_error: false,
            })],
        };
        assert_eq!(
            copilot_request_headers(std::slice::from_ref(&user)),
            vec![("x-initiator", "user")]
        );
        assert_eq!(
            copilot_request_headers(&[user, results]),
            vec![("x-initiator", "agent")]
        );
        assert_eq!(copilot_request_headers(&[]), vec![("x-initiator", "agent")]);
    }
}

//! What an [`Agent`](super::Agent) is configured with: where to send requests, which
//! tools exist, the limits of a turn, prices, and the permission policy.

use crate::model::Price;
use crate::permission::Rules;
use crate::provider::{Endpoint, ReasoningConfig, WireFormat};
use crate::tool::ToolDef;

use super::policy::PermissionPolicy;

/// Everything an agent needs besides the history and a seed.
pub struct AgentConfig {
    /// The provider id as configured (`anthropic`, `openai`, `ollama`, …); asked for in
    /// [`Output::NeedCredential`](super::Output::NeedCredential).
    pub provider: String,
    /// The wire format the provider speaks.
    pub format: WireFormat,
    /// Base URL and extra headers; its `credential` is ignored — credentials arrive
    /// through [`Agent::handle_credential`](super::Agent::handle_credential) before each request.
    pub endpoint: Endpoint,
    /// The model id sent to the provider.
    pub model: String,
    /// The system prompt.
    pub system: Option<String>,
    /// The tools the model may call (replaceable between turns with `set_tools`).
    pub tools: Vec<ToolDef>,
    /// Step, retry and timeout limits.
    pub limits: Limits,
    /// The cap on output tokens per request; the wire format's default when `None`.
    pub max_output_tokens: Option<u32>,
    /// Reasoning settings.
    pub reasoning: Option<ReasoningConfig>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// The model's prices; `None` when unknown (costs are then reported as unknown).
    pub price: Option<Price>,
    /// The environment variable that holds the provider's key (`ANTHROPIC_API_KEY`), named
    /// in the error when no credential is available.
    pub credential_env: Option<String>,
    /// Who decides whether a tool call may run.
    pub permissions: Box<dyn PermissionPolicy + Send>,
    /// The model's context window in tokens: the catalog's `context`
    /// ([`ModelInfo`](crate::model::ModelInfo)), overridden by the config's per-model
    /// `context`. `None` (unknown) turns off pruning and compaction ahead of time; a
    /// provider's "context too long" answer still triggers compaction.
    pub context_window: Option<u64>,
    /// Whether the agent shrinks a long conversation on its own: prunes old tool outputs
    /// past 90 % of the window and summarises it past 95 % or on overflow (the config's
    /// `"compaction"`, default `true`). When `false` an overflow fails the turn with
    /// [`AgentError::ContextOverflow`](super::AgentError::ContextOverflow);
    /// [`Agent::compact`](super::Agent::compact) still works on request.
    pub compaction: bool,
}

impl AgentConfig {
    /// A configuration with default limits, no tools, no prices, an unknown context
    /// window, compaction on, and the default permission rules (`read` and `todo` allow,
    /// everything else asks).
    pub fn new(
        provider: impl Into<String>,
        format: WireFormat,
        endpoint: Endpoint,
        model: impl Into<String>,
    ) -> AgentConfig {
        AgentConfig {
            provider: provider.into(),
            format,
            endpoint,
            model: model.into(),
            system: None,
            tools: Vec::new(),
            limits: Limits::default(),
            max_output_tokens: None,
            reasoning: None,
            temperature: None,
            price: None,
            credential_env: None,
            permissions: Box::new(Rules::new()),
            context_window: None,
            compaction: true,
        }
    }
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("provider", &self.provider)
            .field("format", &self.format)
            .field("endpoint", &self.endpoint.base_url)
            .field("model", &self.model)
            .field("tools", &self.tools.len())
            .field("limits", &self.limits)
            .field("price", &self.price)
            .field("context_window", &self.context_window)
            .field("compaction", &self.compaction)
            .finish_non_exhaustive()
    }
}

/// Limits of one turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Model requests per turn before it ends with `MaxSteps` (retries do not count).
    pub max_steps: u32,
    /// Attempts per request, the first included (default 8).
    pub max_attempts: u32,
    /// A response silent this long is treated as broken (default 120 000 ms).
    pub idle_timeout_ms: u64,
    /// The first retry delay before jitter (default 1 000 ms); doubles per retry.
    pub backoff_base_ms: u64,
    /// The longest delay between attempts, `retry-after` included (default 60 000 ms).
    pub backoff_cap_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 100,
            max_attempts: 8,
            idle_timeout_ms: 120_000,
            backoff_base_ms: 1_000,
            backoff_cap_ms: 60_000,
        }
    }
}

//! cm's configuration: JSONC files parsed into [`Layer`]s, merged into a [`Config`].
//!
//! Files arrive as text (the caller reads them): the global `config.json`, then the
//! project's `cm.json`; [`parse`] turns each into a layer, [`Config::from_layers`] merges
//! them with later files winning key by key. Comments (`//`, `/* */`) and trailing commas
//! are accepted. Every error names the file, the line and column (1-based, counted in
//! characters) of the value at fault, and says what to write instead:
//!
//! ```text
//! cm.json:4:12: expected a string for "model", like "anthropic/claude-sonnet-4-5"; found the number 5
//! ```

mod de;
pub mod jsonc;
mod merge;
pub mod schema;

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Visitor};

pub use de::Problem;
pub use jsonc::SyntaxErrorKind;
pub use schema::{
    Api, Layer, Limits, ModelConfig, OAuthConfig, PermissionSetting, PriceConfig, ProviderConfig,
};

use crate::permission::Rules;

/// Model requests per turn when the config does not say.
pub const DEFAULT_MAX_STEPS: u64 = 50;
/// Retries per request when the config does not say.
pub const DEFAULT_RETRIES: u64 = 8;
/// Seconds a silent stream is tolerated when the config does not say.
pub const DEFAULT_IDLE_TIMEOUT_S: u64 = 120;

/// A config file that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name as the caller gave it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

/// What is wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The text is not valid JSONC.
    Syntax(SyntaxErrorKind),
    /// The JSON does not fit the schema.
    Schema {
        /// The keys from the top of the file down to the value at fault.
        path: Vec<String>,
        /// The rule it broke.
        problem: Problem,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        match &self.kind {
            ConfigErrorKind::Syntax(kind) => write!(f, "{kind}"),
            ConfigErrorKind::Schema { path, problem } => write_problem(f, path, problem),
        }
    }
}

impl std::error::Error for ConfigError {}

fn quoted_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    quoted.join(", ")
}

fn write_problem(f: &mut fmt::Formatter<'_>, path: &[String], problem: &Problem) -> fmt::Result {
    let place = match path.last() {
        Some(key) => format!(" for \"{key}\""),
        None => " at the top of the file".to_string(),
    };
    match problem {
        Problem::WrongType { expected, found } => {
            write!(f, "expected {expected}{place}")?;
            if let Some(example) = example(path) {
                write!(f, ", like {example}")?;
            }
            write!(f, "; found {found}")
        }
        Problem::UnknownKey { key, known } => {
            write!(f, "unknown key \"{key}\"")?;
            if !path.is_empty() {
                write!(f, " in \"{}\"", path.join("."))?;
            }
            if let Some(near) = known.iter().find(|k| close(k, key)) {
                write!(f, "; did you mean \"{near}\"?")?;
            }
            write!(f, "; the known keys are {}", quoted_list(known))
        }
        Problem::UnknownValue { value, allowed } => write!(
            f,
            "unknown value \"{value}\"{place}; use one of {}",
            quoted_list(allowed)
        ),
        Problem::MissingKey { key } => write!(f, "missing key \"{key}\"{place}"),
        Problem::Invalid { message } => match path.last() {
            Some(key) => write!(f, "\"{key}\": {message}"),
            None => write!(f, "{message}"),
        },
    }
}

/// Whether two keys differ by at most two single-character edits (a likely typo).
fn close(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let best = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
            current.push(best);
        }
        previous = current;
    }
    previous.last().is_some_and(|&d| d <= 2)
}

/// An example of a good value at this place in the file, for error messages.
fn example(path: &[String]) -> Option<&'static str> {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    Some(match path.as_slice() {
        [] => r#"{"model": "anthropic/claude-sonnet-4-5"}"#,
        ["model"] => r#""anthropic/claude-sonnet-4-5""#,
        ["provider"] => {
            r#"{"ollama": {"api": "openai-chat", "base_url": "http://localhost:11434/v1"}}"#
        }
        ["provider", _] => r#"{"api": "openai-chat", "base_url": "http://localhost:11434/v1"}"#,
        ["provider", _, "api"] => r#""openai-chat""#,
        ["provider", _, "base_url"] => r#""http://localhost:11434/v1""#,
        ["provider", _, "api_key"] => r#""{env:MY_API_KEY}""#,
        ["provider", _, "headers"] => r#"{"X-Title": "cm"}"#,
        ["provider", _, "headers", _] => r#""cm""#,
        ["provider", _, "models"] => r#"{"qwen3": {"context": 32768, "output": 8192}}"#,
        ["provider", _, "models", _] => r#"{"context": 200000, "output": 64000}"#,
        ["provider", _, "models", _, "context"] => "200000",
        ["provider", _, "models", _, "output"] => "64000",
        ["provider", _, "models", _, "price"] => r#"{"input": 3, "output": 15}"#,
        ["provider", _, "models", _, "price", _] => "3.75",
        ["permission"] => r#"{"edit": "allow", "bash": {"git status*": "allow"}}"#,
        ["permission", _] => r#""ask" or {"git status*": "allow"}"#,
        ["permission", _, _] => r#""allow""#,
        ["limits"] => r#"{"max_steps": 50}"#,
        ["limits", "max_steps"] => "50",
        ["limits", "retries"] => "8",
        ["limits", "idle_timeout_s"] => "120",
        _ => return None,
    })
}

/// 1-based line and character column of a byte offset.
fn line_and_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Parses one config file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Layer, ConfigError> {
    let error = |at: usize, kind: ConfigErrorKind| {
        let (line, column) = line_and_column(text, at);
        ConfigError {
            file: file.to_string(),
            line,
            column,
            kind,
        }
    };
    let node = jsonc::parse(text).map_err(|e| error(e.at, ConfigErrorKind::Syntax(e.kind)))?;
    de::from_node(&node).map_err(|e| {
        error(
            e.at.unwrap_or(node.at),
            ConfigErrorKind::Schema {
                path: e.path,
                problem: e.problem,
            },
        )
    })
}

/// A model named as `provider/model`.
///
/// The split is at the first `/`, so model ids may hold more: `openrouter/anthropic/x`
/// is provider `openrouter`, model `anthropic/x`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelRef {
    /// The provider id.
    pub provider: String,
    /// The model id as the provider knows it.
    pub model: String,
}

/// Why a text is not `provider/model`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelRefError {
    /// No `/` at all.
    NoProvider {
        /// The text given.
        text: String,
    },
    /// Nothing before the `/`.
    EmptyProvider {
        /// The text given.
        text: String,
    },
    /// Nothing after the `/`.
    EmptyModel {
        /// The text given.
        text: String,
    },
}

impl fmt::Display for ModelRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, problem) = match self {
            ModelRefError::NoProvider { text } => (text, "names no provider"),
            ModelRefError::EmptyProvider { text } => (text, "has an empty provider"),
            ModelRefError::EmptyModel { text } => (text, "has an empty model"),
        };
        write!(
            f,
            "\"{text}\" {problem}; write \"provider/model\", like \"anthropic/claude-sonnet-4-5\""
        )
    }
}

impl std::error::Error for ModelRefError {}

impl ModelRef {
    /// Parses `provider/model`, splitting at the first `/`.
    pub fn parse(text: &str) -> Result<ModelRef, ModelRefError> {
        let owned = || text.to_string();
        let Some((provider, model)) = text.split_once('/') else {
            return Err(ModelRefError::NoProvider { text: owned() });
        };
        if provider.trim().is_empty() {
            return Err(ModelRefError::EmptyProvider { text: owned() });
        }
        if model.trim().is_empty() {
            return Err(ModelRefError::EmptyModel { text: owned() });
        }
        Ok(ModelRef {
            provider: provider.to_string(),
            model: model.to_string(),
        })
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

impl<'de> Deserialize<'de> for ModelRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModelRefVisitor;

        impl Visitor<'_> for ModelRefVisitor {
            type Value = ModelRef;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ModelRef, E> {
                ModelRef::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(ModelRefVisitor)
    }
}

/// A `{env:VAR}` reference that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvError {
    /// The variable is not set.
    Unset {
        /// The variable's name.
        var: String,
    },
    /// `{env:` without a closing `}`.
    Unclosed {
        /// Byte offset of the `{env:`.
        at: usize,
    },
    /// The name is not a variable name (letters, digits, `_`, not starting with a digit).
    InvalidName {
        /// The name as written.
        name: String,
    },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::Unset { var } => write!(f, "the environment variable {var} is not set"),
            EnvError::Unclosed { .. } => write!(f, "`{{env:` has no closing `}}`"),
            EnvError::InvalidName { name } => {
                write!(f, "\"{name}\" is not an environment variable name")
            }
        }
    }
}

impl std::error::Error for EnvError {}

/// Replaces every `{env:VAR}` in `text` with `lookup(VAR)`; other text stays as is.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    const OPEN: &str = "{env:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(EnvError::Unclosed {
                at: text.len() - rest.len() + start,
            });
        };
        let name = &after[..end];
        let valid = name.chars().next().is_some_and(|c| !c.is_ascii_digit())
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(EnvError::InvalidName {
                name: name.to_string(),
            });
        }
        let value = lookup(name).ok_or_else(|| EnvError::Unset {
            var: name.to_string(),
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The merged configuration, with defaults for what no file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    layer: Layer,
}

impl Config {
    /// Merges layers in order; later layers win key by key.
    pub fn from_layers(layers: impl IntoIterator<Item = Layer>) -> Config {
        let mut layer = Layer::default();
        for later in layers {
            layer.merge(later);
        }
        Config { layer }
    }

    /// The merged settings as written.
    pub fn layer(&self) -> &Layer {
        &self.layer
    }

    /// The default model, if any file names one.
    pub fn model(&self) -> Option<&ModelRef> {
        self.layer.model.as_ref()
    }

    /// A provider's settings.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.layer.provider.get(id)
    }

    /// All configured providers by id.
    pub fn providers(&self) -> &BTreeMap<String, ProviderConfig> {
        &self.layer.provider
    }

    /// The settings of one model of one provider.
    pub fn model_config(&self, provider: &str, model: &str) -> Option<&ModelConfig> {
        self.provider(provider)?.models.get(model)
    }

    /// Model requests per turn (default [`DEFAULT_MAX_STEPS`]).
    pub fn max_steps(&self) -> u64 {
        self.layer.limits.max_steps.unwrap_or(DEFAULT_MAX_STEPS)
    }

    /// Retries per request (default [`DEFAULT_RETRIES`]).
    pub fn retries(&self) -> u64 {
        self.layer.limits.retries.unwrap_or(DEFAULT_RETRIES)
    }

    /// How long a stream may stay silent, in milliseconds (default 120 s).
    pub fn idle_timeout_ms(&self) -> u64 {
        self.layer
            .limits
            .idle_timeout_s
            .unwrap_or(DEFAULT_IDLE_TIMEOUT_S)
            .saturating_mul(1000)
    }

    /// Whether automatic context compaction is on (default `true`); feeds
    /// [`AgentConfig::compaction`](crate::agent::AgentConfig::compaction).
    pub fn compaction(&self) -> bool {
        self.layer.compaction.unwrap_or(true)
    }

    /// The permission rules the files set (no session grants, yes mode off).
    pub fn permission_rules(&self) -> Rules {
        let mut rules = Rules::new();
        for (key, setting) in &self.layer.permission {
            match setting {
                PermissionSetting::Action(action) => rules.set(key, *action),
                PermissionSetting::Patterns(patterns) => {
                    for (pattern, action) in patterns {
                        rules.add(key, pattern, *action);
                    }
                }
            }
        }
        rules
    }
}

#[cfg(test)]
mod tests;

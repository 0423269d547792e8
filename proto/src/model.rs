//! The model catalog: context window, output limit and prices of known models.
//!
//! This is a small built-in table of current Anthropic and OpenAI models; the providers
//! issue replaces it with a generated catalog. A model the table does not know is still
//! usable: [`lookup`] answers `None` and the caller notes that its price is unknown.
//! Config settings ([`ModelConfig`]) win over the table field by field ([`resolve`]).
//!
//! Prices are USD per million tokens. [`Price::cost`] follows [`Usage`]'s meaning:
//! `input_tokens` excludes cache reads and writes, which have their own prices.

use crate::config::ModelConfig;
use crate::message::Usage;

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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    /// The context window in tokens, if known.
    pub context: Option<u64>,
    /// The output limit in tokens, if known.
    pub output: Option<u64>,
    /// Prices, if known.
    pub price: Option<Price>,
    /// Whether the model accepts images (in prompts and tool results), if known.
    pub images: Option<bool>,
}

/// One catalog row.
struct Entry {
    provider: &'static str,
    model: &'static str,
    context: u64,
    output: u64,
    price: Price,
}

const fn entry(
    provider: &'static str,
    model: &'static str,
    context: u64,
    output: u64,
    [input, output_price, cache_read, cache_write]: [f64; 4],
) -> Entry {
    Entry {
        provider,
        model,
        context,
        output,
        price: Price {
            input,
            output: output_price,
            cache_read,
            cache_write,
        },
    }
}

/// Anthropic charges 1.25× input for 5-minute cache writes and 0.1× for reads; OpenAI
/// caches automatically (no write surcharge, so writes are priced as plain input).
const CATALOG: &[Entry] = &[
    entry(
        "anthropic",
        "claude-opus-4-5",
        200_000,
        64_000,
        [5.0, 25.0, 0.5, 6.25],
    ),
    entry(
        "anthropic",
        "claude-opus-4-1",
        200_000,
        32_000,
        [15.0, 75.0, 1.5, 18.75],
    ),
    entry(
        "anthropic",
        "claude-opus-4-0",
        200_000,
        32_000,
        [15.0, 75.0, 1.5, 18.75],
    ),
    entry(
        "anthropic",
        "claude-sonnet-4-5",
        200_000,
        64_000,
        [3.0, 15.0, 0.3, 3.75],
    ),
    entry(
        "anthropic",
        "claude-sonnet-4-0",
        200_000,
        64_000,
        [3.0, 15.0, 0.3, 3.75],
    ),
    entry(
        "anthropic",
        "claude-3-7-sonnet-latest",
        200_000,
        64_000,
        [3.0, 15.0, 0.3, 3.75],
    ),
    entry(
        "anthropic",
        "claude-haiku-4-5",
        200_000,
        64_000,
        [1.0, 5.0, 0.1, 1.25],
    ),
    entry(
        "anthropic",
        "claude-3-5-haiku-latest",
        200_000,
        8_192,
        [0.8, 4.0, 0.08, 1.0],
    ),
    entry(
        "openai",
        "gpt-5.1",
        400_000,
        128_000,
        [1.25, 10.0, 0.125, 1.25],
    ),
    entry(
        "openai",
        "gpt-5",
        400_000,
        128_000,
        [1.25, 10.0, 0.125, 1.25],
    ),
    entry(
        "openai",
        "gpt-5-codex",
        400_000,
        128_000,
        [1.25, 10.0, 0.125, 1.25],
    ),
    entry(
        "openai",
        "gpt-5-mini",
        400_000,
        128_000,
        [0.25, 2.0, 0.025, 0.25],
    ),
    entry(
        "openai",
        "gpt-5-nano",
        400_000,
        128_000,
        [0.05, 0.4, 0.005, 0.05],
    ),
    entry("openai", "gpt-4.1", 1_047_576, 32_768, [2.0, 8.0, 0.5, 2.0]),
    entry(
        "openai",
        "gpt-4.1-mini",
        1_047_576,
        32_768,
        [0.4, 1.6, 0.1, 0.4],
    ),
    entry("openai", "gpt-4o", 128_000, 16_384, [2.5, 10.0, 1.25, 2.5]),
    entry(
        "openai",
        "gpt-4o-mini",
        128_000,
        16_384,
        [0.15, 0.6, 0.075, 0.15],
    ),
    entry("openai", "o3", 200_000, 100_000, [2.0, 8.0, 0.5, 2.0]),
    entry(
        "openai",
        "o4-mini",
        200_000,
        100_000,
        [1.1, 4.4, 0.275, 1.1],
    ),
];

/// Other names the providers accept for catalog models.
const ALIASES: &[(&str, &str, &str)] = &[
    ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"),
    ("anthropic", "claude-opus-4-20250514", "claude-opus-4-0"),
    ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-0"),
    (
        "anthropic",
        "claude-3-7-sonnet-20250219",
        "claude-3-7-sonnet-latest",
    ),
    (
        "anthropic",
        "claude-3-5-haiku-20241022",
        "claude-3-5-haiku-latest",
    ),
];

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

fn find(provider: &str, model: &str) -> Option<&'static Entry> {
    let exact = |model: &str| {
        CATALOG
            .iter()
            .find(|e| e.provider == provider && e.model == model)
    };
    if let Some(found) = exact(model) {
        return Some(found);
    }
    if let Some((_, _, target)) = ALIASES
        .iter()
        .find(|(p, alias, _)| *p == provider && *alias == model)
    {
        return exact(target);
    }
    exact(without_date(model)?)
}

/// What the built-in catalog knows about a model; dated ids (`claude-sonnet-4-5-20250929`,
/// `gpt-5-2025-08-07`) find their undated entry.
pub fn lookup(provider: &str, model: &str) -> Option<ModelInfo> {
    // Every model in the catalog reads images.
    find(provider, model).map(|e| ModelInfo {
        context: Some(e.context),
        output: Some(e.output),
        price: Some(e.price),
        images: Some(true),
    })
}

/// Every model of the built-in catalog as `(provider, model, info)`, in catalog order.
pub fn catalog() -> impl Iterator<Item = (&'static str, &'static str, ModelInfo)> {
    CATALOG.iter().map(|e| {
        let info = ModelInfo {
            context: Some(e.context),
            output: Some(e.output),
            price: Some(e.price),
            images: Some(true),
        };
        (e.provider, e.model, info)
    })
}

/// The catalog entry with the config's settings applied over it, field by field.
///
/// A model the catalog does not know gets a price only if the config gives at least
/// `input` and `output`; its missing cache prices are then the input price (no discount
/// assumed). `None` when neither the catalog nor the config knows anything.
pub fn resolve(provider: &str, model: &str, config: Option<&ModelConfig>) -> Option<ModelInfo> {
    let catalog = lookup(provider, model);
    let Some(config) = config else {
        return catalog;
    };
    let base = catalog.unwrap_or(ModelInfo {
        context: None,
        output: None,
        price: None,
        images: None,
    });
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
    fn the_catalog_lists_what_lookup_finds() {
        let all: Vec<_> = catalog().collect();
        assert!(!all.is_empty());
        for (provider, model, info) in all {
            assert_eq!(lookup(provider, model), Some(info), "{provider}/{model}");
        }
    }

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
    }

    #[test]
    fn dated_ids_and_aliases_find_their_entry() {
        let sonnet = lookup("anthropic", "claude-sonnet-4-5");
        assert!(sonnet.is_some());
        assert_eq!(lookup("anthropic", "claude-sonnet-4-5-20250929"), sonnet);
        assert_eq!(
            lookup("anthropic", "claude-sonnet-4-20250514"),
            lookup("anthropic", "claude-sonnet-4-0")
        );
        assert_eq!(
            lookup("openai", "gpt-4o-2024-08-06"),
            lookup("openai", "gpt-4o")
        );
        assert_eq!(lookup("openai", "gpt-4o-2024-8-06"), None);
    }

    #[test]
    fn every_catalog_row_is_sane_and_unique() {
        for (i, e) in CATALOG.iter().enumerate() {
            assert!(e.output <= e.context, "{}", e.model);
            assert!(
                e.price.input > 0.0 && e.price.output >= e.price.input,
                "{}",
                e.model
            );
            assert!(e.price.cache_read <= e.price.input, "{}", e.model);
            assert!(
                CATALOG[i + 1..]
                    .iter()
                    .all(|o| (o.provider, o.model) != (e.provider, e.model)),
                "{}",
                e.model
            );
        }
        for (provider, _, target) in ALIASES {
            assert!(lookup(provider, target).is_some(), "{target}");
        }
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

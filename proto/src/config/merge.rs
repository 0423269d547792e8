//! Merging config layers: a later layer wins key by key. Objects merge recursively;
//! any other value (a string, a number, a permission set to one action) replaces.
//!
//! A permission pattern set again by a later layer moves to the end of its list, so it
//! also wins ties of specificity as the later rule.

use std::collections::BTreeMap;

use super::schema::{Layer, Limits, ModelConfig, PermissionSetting, PriceConfig, ProviderConfig};

fn replace<T>(base: &mut Option<T>, later: Option<T>) {
    if later.is_some() {
        *base = later;
    }
}

fn merge_map<T>(base: &mut BTreeMap<String, T>, later: BTreeMap<String, T>, merge: fn(&mut T, T)) {
    for (key, value) in later {
        match base.get_mut(&key) {
            Some(existing) => merge(existing, value),
            None => {
                base.insert(key, value);
            }
        }
    }
}

impl Layer {
    /// Applies a later layer over this one.
    pub fn merge(&mut self, later: Layer) {
        replace(&mut self.schema, later.schema);
        replace(&mut self.model, later.model);
        merge_map(&mut self.provider, later.provider, ProviderConfig::merge);
        merge_map(
            &mut self.permission,
            later.permission,
            PermissionSetting::merge,
        );
        self.limits.merge(later.limits);
        replace(&mut self.compaction, later.compaction);
    }
}

impl ProviderConfig {
    /// Applies a later provider setting over this one.
    pub fn merge(&mut self, later: ProviderConfig) {
        replace(&mut self.api, later.api);
        replace(&mut self.base_url, later.base_url);
        replace(&mut self.api_key, later.api_key);
        self.headers.extend(later.headers);
        merge_map(&mut self.models, later.models, ModelConfig::merge);
        replace(&mut self.oauth, later.oauth);
    }
}

impl ModelConfig {
    /// Applies a later model setting over this one.
    pub fn merge(&mut self, later: ModelConfig) {
        replace(&mut self.context, later.context);
        replace(&mut self.output, later.output);
        replace(&mut self.images, later.images);
        replace(&mut self.effort, later.effort);
        match (&mut self.price, later.price) {
            (Some(price), Some(later)) => price.merge(later),
            (price, later) => replace(price, later),
        }
    }
}

impl PriceConfig {
    /// Applies later prices over these.
    pub fn merge(&mut self, later: PriceConfig) {
        replace(&mut self.input, later.input);
        replace(&mut self.output, later.output);
        replace(&mut self.cache_read, later.cache_read);
        replace(&mut self.cache_write, later.cache_write);
    }
}

impl Limits {
    /// Applies later limits over these.
    pub fn merge(&mut self, later: Limits) {
        replace(&mut self.max_steps, later.max_steps);
        replace(&mut self.retries, later.retries);
        replace(&mut self.idle_timeout_s, later.idle_timeout_s);
    }
}

impl PermissionSetting {
    /// Applies a later setting: pattern lists merge, anything else replaces.
    pub fn merge(&mut self, later: PermissionSetting) {
        match (self, later) {
            (PermissionSetting::Patterns(patterns), PermissionSetting::Patterns(later)) => {
                for (pattern, action) in later {
                    patterns.retain(|(p, _)| *p != pattern);
                    patterns.push((pattern, action));
                }
            }
            (this, later) => *this = later,
        }
    }
}

//! Tool-call ids as a provider accepts them, mapped one request at a time.
//!
//! cm keeps each provider's original ids in its transcript. At request-build time every
//! id is turned into the wire id the target accepts, deterministically, so a call and its
//! result still pair up and the same history always yields the same request. Under
//! Mistral's rule (exactly 9 of `[a-zA-Z0-9]`) different ids could hash alike: the map
//! checks every wire id it hands out and re-hashes a later id that would collide.

use std::collections::BTreeMap;

use crate::provider::profile::ToolIdRule;

use super::request::wire_tool_call_id;
use crate::tool::fnv1a64;

/// The length of a Mistral tool-call id.
pub const MISTRAL_TOOL_CALL_ID_LEN: usize = 9;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The Mistral wire id for `id` before collision checks: `id` itself when it already is 9
/// alphanumerics (Mistral's own ids replay unchanged), else 9 base-62 digits of its hash.
pub fn mistral_tool_call_id(id: &str) -> String {
    if is_mistral_id(id) {
        return id.to_string();
    }
    base62_9(fnv1a64(id.as_bytes()))
}

fn is_mistral_id(id: &str) -> bool {
    id.len() == MISTRAL_TOOL_CALL_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn base62_9(mut hash: u64) -> String {
    let mut out = String::with_capacity(MISTRAL_TOOL_CALL_ID_LEN);
    for _ in 0..MISTRAL_TOOL_CALL_ID_LEN {
        out.push(char::from(ALPHABET[(hash % 62) as usize]));
        hash /= 62;
    }
    out
}

/// The wire ids of one request, both ways: original → wire and wire → original.
#[derive(Debug, Clone)]
pub struct ToolIdMap {
    rule: ToolIdRule,
    to_wire: BTreeMap<String, String>,
    to_original: BTreeMap<String, String>,
}

impl ToolIdMap {
    /// An empty map under `rule`.
    pub fn new(rule: ToolIdRule) -> ToolIdMap {
        ToolIdMap {
            rule,
            to_wire: BTreeMap::new(),
            to_original: BTreeMap::new(),
        }
    }

    /// The wire id of `original`: the same answer every time within this map, and never
    /// one already given to a different id (under [`ToolIdRule::Mistral9`]).
    pub fn wire(&mut self, original: &str) -> String {
        if let Some(wire) = self.to_wire.get(original) {
            return wire.clone();
        }
        let wire = match self.rule {
            ToolIdRule::Free => wire_tool_call_id(original),
            ToolIdRule::Mistral9 => {
                let mut candidate = mistral_tool_call_id(original);
                let mut salt: u32 = 0;
                while self.to_original.contains_key(&candidate) {
                    salt = salt.saturating_add(1);
                    candidate = base62_9(fnv1a64(format!("{original}#{salt}").as_bytes()));
                }
                candidate
            }
        };
        self.to_wire.insert(original.to_string(), wire.clone());
        self.to_original
            .entry(wire.clone())
            .or_insert_with(|| original.to_string());
        wire
    }

    /// The original id behind a wire id this map handed out (a Mistral answer that
    /// refers to a call from the history).
    pub fn original(&self, wire: &str) -> Option<&str> {
        self.to_original.get(wire).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_ids_become_nine_alphanumerics_and_map_back() {
        let mut map = ToolIdMap::new(ToolIdRule::Mistral9);
        for original in [
            "toolu_01A09q90qw90lq917835lq9",
            "call_abc123",
            "call_1|fc_68b0",
            "",
            "ünïcødé id",
        ] {
            let wire = map.wire(original);
            assert_eq!(wire.len(), 9, "{original:?} -> {wire}");
            assert!(wire.bytes().all(|b| b.is_ascii_alphanumeric()), "{wire}");
            assert_eq!(map.wire(original), wire, "stable within a request");
            assert_eq!(map.original(&wire), Some(original));
            assert_eq!(
                ToolIdMap::new(ToolIdRule::Mistral9).wire(original),
                wire,
                "stable across requests"
            );
        }
    }

    #[test]
    fn mistrals_own_ids_replay_unchanged() {
        let mut map = ToolIdMap::new(ToolIdRule::Mistral9);
        assert_eq!(map.wire("gSIMJiOkT"), "gSIMJiOkT");
        assert_eq!(map.original("gSIMJiOkT"), Some("gSIMJiOkT"));
    }

    #[test]
    fn a_collision_is_rehashed_for_the_later_id() {
        let mut map = ToolIdMap::new(ToolIdRule::Mistral9);
        let foreign = "toolu_collides";
        let taken = map.wire(foreign);
        // A native id equal to the foreign id's hash arrives later: it must not share it.
        let second = map.wire(&taken);
        assert_ne!(second, taken);
        assert_eq!(second.len(), 9);
        assert_eq!(map.original(&taken), Some(foreign));
        assert_eq!(map.original(&second), Some(taken.as_str()));
    }

    #[test]
    fn the_free_rule_is_openais() {
        let mut map = ToolIdMap::new(ToolIdRule::Free);
        assert_eq!(map.wire("call_1|fc_2"), "call_1");
        assert_eq!(map.wire("toolu_01"), "toolu_01");
    }
}

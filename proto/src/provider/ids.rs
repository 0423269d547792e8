//! Tool-call ids as each wire format allows them (wire-formats.md §10).
//!
//! The transcript keeps every provider's original id; request builders derive the id
//! each format accepts with [`wire_id`], applied alike to a call and its result so pairs
//! still match. Mistral's stricter rule (exactly 9 alphanumerics) has its own mapping in
//! `openai_chat::tool_id`.

use crate::tool::fnv1a64;

/// `id` as `[a-zA-Z0-9_-]{1,max_len}`: unchanged when it already is; otherwise its allowed
/// characters (others dropped; `call` when none are left), cut to fit, then `_` and a
/// 16-hex-digit FNV-1a hash of the whole original id — deterministic, and two different
/// ids do not end up the same by accident.
///
/// `max_len` must leave room for the suffix (at least 18); smaller values are raised.
pub fn wire_id(id: &str, max_len: usize) -> String {
    let allowed = |c: &char| c.is_ascii_alphanumeric() || *c == '_' || *c == '-';
    if !id.is_empty() && id.len() <= max_len && id.chars().all(|c| allowed(&c)) {
        return id.to_string();
    }
    let hash = format!("{:016x}", fnv1a64(id.as_bytes()));
    let keep = max_len.max(hash.len() + 2) - 1 - hash.len();
    let mut prefix: String = id.chars().filter(allowed).take(keep).collect();
    if prefix.is_empty() {
        prefix.push_str("call");
    }
    format!("{prefix}_{hash}")
}

#[cfg(test)]
mod tests {
    use super::wire_id;

    #[test]
    fn valid_ids_pass_unchanged() {
        assert_eq!(wire_id("toolu_01A-b", 64), "toolu_01A-b");
        assert_eq!(wire_id("call_abc", 40), "call_abc");
    }

    #[test]
    fn invalid_ids_keep_their_allowed_characters_and_gain_a_hash() {
        let id = wire_id("call abc/def+==", 64);
        assert!(id.starts_with("callabcdef_"), "{id}");
        assert_eq!(id.len(), "callabcdef_".len() + 16);
        assert_eq!(wire_id("call abc/def+==", 64), id, "deterministic");
        assert_ne!(
            wire_id("call abc/def+=", 64),
            id,
            "different ids stay different"
        );
        assert!(wire_id("///", 64).starts_with("call_"));
    }

    #[test]
    fn long_ids_are_cut_to_the_limit() {
        let long = "x".repeat(500);
        for max in [40, 64] {
            let id = wire_id(&long, max);
            assert_eq!(id.len(), max);
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        }
        assert_eq!(
            wire_id(&long, 3).len(),
            18,
            "the limit leaves room for the hash"
        );
    }
}

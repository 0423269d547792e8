//! API keys as people paste them: validation before storing, masking before showing.
//!
//! A key is refused only when it cannot be sent (empty, whitespace, control characters); a
//! prefix the provider does not usually use is a [`KeyWarning`], because gateways and
//! proxies issue keys of their own.

/// Why a key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// Nothing was entered.
    Empty,
    /// The key contains whitespace (often a pasted line break or a second word).
    Whitespace {
        /// The character's position, counted in characters from 0.
        at: usize,
    },
    /// The key contains a control character (often a terminal escape).
    ControlCharacter {
        /// The character's position, counted in characters from 0.
        at: usize,
    },
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::Empty => f.write_str("the key is empty: paste the whole key"),
            KeyError::Whitespace { at } => write!(
                f,
                "the key contains whitespace at character {at}: paste the key alone, on one line"
            ),
            KeyError::ControlCharacter { at } => write!(
                f,
                "the key contains a control character at character {at}: paste the key again"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Something unusual about an otherwise usable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyWarning {
    /// The key does not start with any prefix the provider is known to use.
    UnfamiliarPrefix {
        /// The prefixes the provider's own keys start with.
        expected: Vec<String>,
    },
}

impl std::fmt::Display for KeyWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyWarning::UnfamiliarPrefix { expected } => write!(
                f,
                "the key does not start with {}: fine for a gateway's key, otherwise check it",
                expected.join(" or ")
            ),
        }
    }
}

/// Checks a key; `known_prefixes` empty means any prefix is familiar. The key is not trimmed:
/// the caller strips the line ending it read, and anything else is the user's to fix.
pub fn validate(key: &str, known_prefixes: &[&str]) -> Result<Option<KeyWarning>, KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    for (at, c) in key.chars().enumerate() {
        if c.is_whitespace() {
            return Err(KeyError::Whitespace { at });
        }
        if c.is_control() {
            return Err(KeyError::ControlCharacter { at });
        }
    }
    if known_prefixes.is_empty() || known_prefixes.iter().any(|p| key.starts_with(p)) {
        Ok(None)
    } else {
        Ok(Some(KeyWarning::UnfamiliarPrefix {
            expected: known_prefixes.iter().map(|p| p.to_string()).collect(),
        }))
    }
}

/// The key for display: its first 4 and last 4 characters around `…`; a key of 12
/// characters or fewer shows none of itself, since 8 of them would be most of it.
pub fn mask(key: &str) -> String {
    let count = key.chars().count();
    if count <= 12 {
        return if count == 0 {
            String::new()
        } else {
            "…".into()
        };
    }
    let head: String = key.chars().take(4).collect();
    let tail: String = key.chars().skip(count - 4).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_keys_pass_and_unfamiliar_prefixes_only_warn() {
        assert_eq!(validate("sk-ant-api03-abc", &["sk-ant-"]), Ok(None));
        assert_eq!(validate("anything-goes", &[]), Ok(None));
        assert_eq!(
            validate("gw_123456", &["sk-ant-", "sk-"]),
            Ok(Some(KeyWarning::UnfamiliarPrefix {
                expected: vec!["sk-ant-".into(), "sk-".into()]
            }))
        );
        let warning = KeyWarning::UnfamiliarPrefix {
            expected: vec!["sk-".into()],
        };
        assert_eq!(
            warning.to_string(),
            "the key does not start with sk-: fine for a gateway's key, otherwise check it"
        );
    }

    #[test]
    fn empty_whitespace_and_control_characters_are_refused() {
        assert_eq!(validate("", &[]), Err(KeyError::Empty));
        assert_eq!(
            validate("sk-abc def", &[]),
            Err(KeyError::Whitespace { at: 6 })
        );
        assert_eq!(
            validate("sk-abc\n", &[]),
            Err(KeyError::Whitespace { at: 6 })
        );
        assert_eq!(validate(" sk", &[]), Err(KeyError::Whitespace { at: 0 }));
        assert_eq!(
            validate("sk\u{a0}x", &[]),
            Err(KeyError::Whitespace { at: 2 })
        );
        assert_eq!(
            validate("sk\u{1b}[200~x", &[]),
            Err(KeyError::ControlCharacter { at: 2 })
        );
        assert_eq!(
            validate("é\u{7f}", &[]),
            Err(KeyError::ControlCharacter { at: 1 })
        );
    }

    #[test]
    fn masking_shows_first_and_last_four_characters_only() {
        assert_eq!(mask("sk-ant-api03-0123456789abcdef"), "sk-a…cdef");
        assert_eq!(mask("abcdefghijklm"), "abcd…jklm");
        assert_eq!(mask("abcdefghijkl"), "…");
        assert_eq!(mask("ab"), "…");
        assert_eq!(mask(""), "");
        assert_eq!(mask("ééééxxxxxxxxxüüüü"), "éééé…üüüü");
    }
}

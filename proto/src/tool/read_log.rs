//! The read-before-edit rule.
//!
//! The model may change an existing file only after reading it in this session, and only
//! while the file still holds what it read (or last wrote): otherwise it would edit from a
//! stale picture of the file. [`ReadLog`] remembers, per resolved path, a hash of that
//! content; `write` and `edit` ask [`ReadLog::check`] before touching a file and record
//! their result afterwards. Creating a new file needs no read.

use std::collections::HashMap;
use std::fmt;

/// FNV-1a, 64-bit: a fast non-cryptographic hash, enough to notice a changed file.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// What the model last saw of each file, keyed by resolved path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadLog {
    seen: HashMap<String, u64>,
}

/// Why a file may not be changed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StaleRead {
    /// The model never read the file in this session.
    NotRead {
        /// The resolved path.
        path: String,
    },
    /// The file on disk differs from what the model last read or wrote.
    ChangedSinceRead {
        /// The resolved path.
        path: String,
    },
}

impl fmt::Display for StaleRead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaleRead::NotRead { path } => write!(
                f,
                "{path} has not been read in this session; read it first, then change it"
            ),
            StaleRead::ChangedSinceRead { path } => write!(
                f,
                "{path} changed on disk since you last read it; read it again, then change it"
            ),
        }
    }
}

impl std::error::Error for StaleRead {}

impl ReadLog {
    /// An empty log: nothing read yet.
    pub fn new() -> ReadLog {
        ReadLog::default()
    }

    /// Remembers that the model has seen `content` as the whole of `path`.
    pub fn record(&mut self, path: &str, content: &[u8]) {
        self.seen.insert(path.to_string(), fnv1a64(content));
    }

    /// Forgets `path` (it was deleted, or the session wants a fresh read).
    pub fn forget(&mut self, path: &str) {
        self.seen.remove(path);
    }

    /// Whether the model has read or written `path` in this session.
    pub fn has_seen(&self, path: &str) -> bool {
        self.seen.contains_key(path)
    }

    /// Whether `path`, now holding `current`, may be changed.
    pub fn check(&self, path: &str, current: &[u8]) -> Result<(), StaleRead> {
        match self.seen.get(path) {
            None => Err(StaleRead::NotRead {
                path: path.to_string(),
            }),
            Some(&hash) if hash == fnv1a64(current) => Ok(()),
            Some(_) => Err(StaleRead::ChangedSinceRead {
                path: path.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn unread_file_must_be_read_first() {
        let log = ReadLog::new();
        let err = log.check("a.rs", b"x").unwrap_err();
        assert_eq!(
            err,
            StaleRead::NotRead {
                path: "a.rs".into()
            }
        );
        assert!(err.to_string().contains("read it first"), "{err}");
    }

    #[test]
    fn file_read_and_unchanged_may_be_changed() {
        let mut log = ReadLog::new();
        log.record("a.rs", b"fn main() {}");
        assert_eq!(log.check("a.rs", b"fn main() {}"), Ok(()));
        assert!(log.has_seen("a.rs"));
    }

    #[test]
    fn file_changed_since_read_says_so() {
        let mut log = ReadLog::new();
        log.record("a.rs", b"old");
        let err = log.check("a.rs", b"new").unwrap_err();
        assert_eq!(
            err,
            StaleRead::ChangedSinceRead {
                path: "a.rs".into()
            }
        );
        assert!(err.to_string().contains("changed on disk"), "{err}");
    }

    #[test]
    fn forgotten_file_must_be_read_again() {
        let mut log = ReadLog::new();
        log.record("a.rs", b"x");
        log.forget("a.rs");
        assert!(matches!(
            log.check("a.rs", b"x"),
            Err(StaleRead::NotRead { .. })
        ));
    }
}

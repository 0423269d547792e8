//! Sessions kept in a key-value store (the page's `localStorage`).
//!
//! Each session is one value, its records as JSON Lines under `cm.session.<id>`; an
//! index under `cm.sessions` lists them newest first with a title. Appending a record
//! rewrites the session's value whole and then the index, so a write the store refuses
//! (its quota is full) leaves both exactly as they were: a failed index write puts the
//! session's old value back. Nothing is ever half-written.

use std::fmt;

use cm_proto::message::{Part, Role};
use cm_proto::session::{Entry, Record};
use serde::{Deserialize, Serialize};

/// The key of the index.
pub const INDEX_KEY: &str = "cm.sessions";
/// The prefix of each session's key.
pub const SESSION_PREFIX: &str = "cm.session.";
/// Characters of the first prompt kept as a session's title.
const TITLE_CHARS: usize = 60;

/// Where values are kept; `set` either stores the whole value or changes nothing.
pub trait KeyValue {
    /// The value under `key`.
    fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` under `key`.
    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Removes `key`.
    fn remove(&mut self, key: &str);
}

/// Why a session could not be saved or loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store refused the write: its quota is used up.
    QuotaExceeded,
    /// The store is not available (storage disabled, a private window).
    Unavailable(String),
    /// No session has that id.
    UnknownSession(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::QuotaExceeded => f.write_str(
                "the browser's storage for this page is full, so the session was not saved \
                 from here on (nothing was half-written); delete old sessions to make room",
            ),
            StoreError::Unavailable(why) => write!(f, "browser storage is not available: {why}"),
            StoreError::UnknownSession(id) => write!(f, "no saved session {id}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// One line of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    /// The session's id.
    pub id: String,
    /// The start of its first prompt.
    pub title: String,
    /// The provider and model it ran with.
    pub model: String,
    /// When its last record was written (Unix ms).
    pub updated: u64,
    /// Records in it.
    pub records: u64,
}

/// The sessions in a [`KeyValue`].
#[derive(Debug)]
pub struct SessionStore<K> {
    kv: K,
}

impl<K: KeyValue> SessionStore<K> {
    /// The sessions kept in `kv`.
    pub fn new(kv: K) -> SessionStore<K> {
        SessionStore { kv }
    }

    /// Every session, most recently updated first; an unreadable index counts as empty.
    pub fn list(&self) -> Vec<SessionSummary> {
        let mut list: Vec<SessionSummary> = self
            .kv
            .get(INDEX_KEY)
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        list.sort_by_key(|s| std::cmp::Reverse(s.updated));
        list
    }

    /// Appends `record` to session `id` (made on its first record), for `model`.
    pub fn append(&mut self, id: &str, model: &str, record: &Record) -> Result<(), StoreError> {
        let key = format!("{SESSION_PREFIX}{id}");
        let before = self.kv.get(&key);
        let mut text = before.clone().unwrap_or_default();
        text.push_str(&record.to_line());
        text.push('\n');
        self.kv.set(&key, &text)?;

        let mut list = self.list();
        let position = list.iter().position(|s| s.id == id);
        let summary = match position {
            Some(i) => &mut list[i],
            None => {
                list.push(SessionSummary {
                    id: id.to_string(),
                    title: String::new(),
                    model: model.to_string(),
                    updated: 0,
                    records: 0,
                });
                let last = list.len() - 1;
                &mut list[last]
            }
        };
        summary.updated = record.at.0;
        summary.records = summary.records.saturating_add(1);
        if summary.title.is_empty() {
            summary.title = title_of(record).unwrap_or_default();
        }
        let index = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
        if let Err(error) = self.kv.set(INDEX_KEY, &index) {
            match before {
                Some(old) => {
                    let _ = self.kv.set(&key, &old);
                }
                None => self.kv.remove(&key),
            }
            return Err(error);
        }
        Ok(())
    }

    /// The records of session `id`; lines that do not parse are skipped (as the CLI does
    /// with a cut log).
    pub fn load(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        let text = self
            .kv
            .get(&format!("{SESSION_PREFIX}{id}"))
            .ok_or_else(|| StoreError::UnknownSession(id.to_string()))?;
        Ok(text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .filter_map(|line| Record::from_line(line).ok())
            .collect())
    }

    /// Deletes session `id` and its index line.
    pub fn delete(&mut self, id: &str) {
        self.kv.remove(&format!("{SESSION_PREFIX}{id}"));
        let list: Vec<SessionSummary> = self.list().into_iter().filter(|s| s.id != id).collect();
        let index = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
        // Shrinking the index cannot exceed a quota the larger one fitted in.
        let _ = self.kv.set(INDEX_KEY, &index);
    }
}

/// The start of a user message's text, for a title.
fn title_of(record: &Record) -> Option<String> {
    let Entry::Message(message) = &record.entry else {
        return None;
    };
    if message.message.role != Role::User {
        return None;
    }
    let text: String = message
        .message
        .parts
        .iter()
        .filter_map(|part| match part {
            Part::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ");
    let title: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = title.chars().take(TITLE_CHARS).collect();
    if short.len() < title.len() {
        short.push('…');
    }
    Some(short)
}

/// A [`KeyValue`] in memory with a quota in bytes (keys and values, as a browser counts).
#[derive(Debug, Default, Clone)]
pub struct MemoryKv {
    values: std::collections::BTreeMap<String, String>,
    quota: Option<usize>,
}

impl MemoryKv {
    /// A store holding at most `quota` bytes of keys and values; unlimited for `None`.
    pub fn with_quota(quota: Option<usize>) -> MemoryKv {
        MemoryKv {
            values: Default::default(),
            quota,
        }
    }

    fn used_without(&self, key: &str) -> usize {
        self.values
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| k.len().saturating_add(v.len()))
            .sum()
    }
}

impl KeyValue for MemoryKv {
    fn get(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        if let Some(quota) = self.quota {
            let total = self
                .used_without(key)
                .saturating_add(key.len())
                .saturating_add(value.len());
            if total > quota {
                return Err(StoreError::QuotaExceeded);
            }
        }
        self.values.insert(key.to_string(), value.to_string());
        Ok(())
    }

    fn remove(&mut self, key: &str) {
        self.values.remove(key);
    }
}

impl<K: KeyValue + ?Sized> KeyValue for Box<K> {
    fn get(&self, key: &str) -> Option<String> {
        (**self).get(key)
    }
    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        (**self).set(key, value)
    }
    fn remove(&mut self, key: &str) {
        (**self).remove(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cm_proto::message::Message;
    use cm_proto::session::{replay, MessageRecord};
    use cm_proto::time::UnixMillis;

    fn message(at: u64, message: Message) -> Record {
        Record::new(
            UnixMillis(at),
            Entry::Message(MessageRecord::plain(message)),
        )
    }

    #[test]
    fn appended_records_reload_as_the_same_history_and_the_index_titles_them() {
        let mut store = SessionStore::new(MemoryKv::default());
        let long = "fix   the bug in parser.rs please, the one where a line that is split in two";
        store
            .append("s1", "mock/m", &message(10, Message::user(long)))
            .unwrap();
        store
            .append("s1", "mock/m", &message(20, Message::assistant("Done.")))
            .unwrap();
        store
            .append("s2", "mock/m", &message(30, Message::user("hi")))
            .unwrap();

        let list = store.list();
        assert_eq!(
            list.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["s2", "s1"]
        );
        assert_eq!(
            list[1].title,
            "fix the bug in parser.rs please, the one where a line that i…"
        );
        assert_eq!((list[1].records, list[1].updated), (2, 20));

        let records = store.load("s1").unwrap();
        assert_eq!(
            replay(&records).history,
            [Message::user(long), Message::assistant("Done.")]
        );
        store.delete("s1");
        assert_eq!(
            store.load("s1"),
            Err(StoreError::UnknownSession("s1".into()))
        );
        assert_eq!(store.list().len(), 1);
    }

    #[test]
    fn a_full_store_refuses_the_record_and_keeps_session_and_index_as_they_were() {
        let mut store = SessionStore::new(MemoryKv::with_quota(Some(700)));
        store
            .append("s1", "m", &message(1, Message::user("hello")))
            .unwrap();
        let session_before = store.kv.get("cm.session.s1");
        let index_before = store.kv.get(INDEX_KEY);

        let big = "x".repeat(600);
        let error = store
            .append("s1", "m", &message(2, Message::assistant(big)))
            .unwrap_err();
        assert_eq!(error, StoreError::QuotaExceeded);
        assert!(error.to_string().contains("nothing was half-written"));
        assert_eq!(store.kv.get("cm.session.s1"), session_before);
        assert_eq!(store.kv.get(INDEX_KEY), index_before);
        assert_eq!(store.load("s1").unwrap().len(), 1);
    }

    #[test]
    fn when_only_the_index_does_not_fit_the_session_write_is_undone() {
        // Room for a new session's value but not for the index line it adds.
        let record = message(1, Message::user("hello"));
        let value_len = record.to_line().len() + 1;
        let quota = "cm.session.s1".len() + value_len + 5;
        let mut store = SessionStore::new(MemoryKv::with_quota(Some(quota)));
        assert_eq!(
            store.append("s1", "m", &record),
            Err(StoreError::QuotaExceeded)
        );
        assert_eq!(store.kv.get("cm.session.s1"), None);
        assert!(store.list().is_empty());
    }

    #[test]
    fn broken_lines_and_a_broken_index_are_survived() {
        let mut kv = MemoryKv::default();
        let good = message(1, Message::user("hi")).to_line();
        kv.set("cm.session.s1", &format!("{good}\n{{\"broken\n\n"))
            .unwrap();
        kv.set(INDEX_KEY, "not json").unwrap();
        let store = SessionStore::new(kv);
        assert_eq!(store.load("s1").unwrap().len(), 1);
        assert!(store.list().is_empty());
    }
}

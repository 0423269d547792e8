//! Session logs on disk: one append-only JSON Lines file per session.
//!
//! `<sessions>/<id>.jsonl` holds one JSON value per line; the first is the session's own
//! record (with its `directory`). The store does not know the record types — it appends
//! anything serialisable and loads raw `serde_json::Value`s for `proto::session` to
//! replay.
//!
//! Durability: [`SessionLog::append`] writes one line, then `fsync`s, before it returns,
//! so a record the agent was told is saved survives a crash. A crash mid-write leaves a
//! torn last line (no newline, or not JSON); loading ignores it and the next writer cuts
//! it off before appending. A corrupt line anywhere else is an error, not skipped: replay
//! must be exact. An exclusive lock on the open file keeps a second cm process from
//! writing to the same session; readers need no lock.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use cm_proto::time::UnixMillis;
use serde::Serialize;
use serde_json::Value;

/// Bytes read from a log to find its first record when listing.
const FIRST_LINE_LIMIT: u64 = 1024 * 1024;

/// A session's id: `ses_` + creation time (base36 ms, fixed width) + randomness, so ids
/// sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A new id from the creation time and caller-provided entropy.
    pub fn generate(created: UnixMillis, entropy: u64) -> SessionId {
        // 9 base36 digits of milliseconds last until the year 5138; 10 of entropy ≈ 51 bits.
        let random = entropy % 36u64.pow(10);
        SessionId(format!(
            "ses_{}{}",
            base36(created.0, 9),
            base36(random, 10)
        ))
    }

    /// Checks an id from outside (a `--session` argument, a file name): 1 to 128 ASCII
    /// letters, digits, `_` or `-`, so it can never name a path outside the store.
    pub fn parse(id: &str) -> Result<SessionId, StoreError> {
        let valid = (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(SessionId(id.to_string()))
        } else {
            Err(StoreError::InvalidId { id: id.to_string() })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a session could not be stored or loaded.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The id is not a valid session id.
    InvalidId {
        /// The id as given.
        id: String,
    },
    /// No session with this id exists.
    NotFound {
        /// The session.
        id: SessionId,
    },
    /// A session with this id exists already.
    AlreadyExists {
        /// The session.
        id: SessionId,
    },
    /// Another process (another cm) holds the session's lock.
    Locked {
        /// The session.
        id: SessionId,
    },
    /// A line before the last one is not JSON.
    Corrupt {
        /// The session.
        id: SessionId,
        /// The 1-based line number.
        line: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// A record could not be serialised as one JSON line.
    Serialize {
        /// The session.
        id: SessionId,
        /// What went wrong.
        message: String,
    },
    /// The file system failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::InvalidId { id } => write!(
                f,
                "invalid session id {id:?}: use letters, digits, '_' and '-' only"
            ),
            StoreError::NotFound { id } => write!(f, "no session {id}"),
            StoreError::AlreadyExists { id } => write!(f, "session {id} exists already"),
            StoreError::Locked { id } => write!(
                f,
                "session {id} is in use by another cm process; close it or start a new session"
            ),
            StoreError::Corrupt { id, line, message } => {
                write!(f, "session {id} is corrupt at line {line}: {message}")
            }
            StoreError::Serialize { id, message } => {
                write!(f, "cannot write a record to session {id}: {message}")
            }
            StoreError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One stored session, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// Its id.
    pub id: SessionId,
    /// Its log file.
    pub path: PathBuf,
    /// When it was last written.
    pub modified: UnixMillis,
    /// Its first record (the session metadata), if readable.
    pub first: Option<Value>,
}

impl SessionInfo {
    /// The `directory` field of the first record.
    pub fn directory(&self) -> Option<&str> {
        self.first.as_ref()?.get("directory")?.as_str()
    }
}

/// The directory of session logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStore {
    dir: PathBuf,
}

impl SessionStore {
    /// The store in `dir` (usually [`Dirs::sessions`](crate::paths::Dirs::sessions));
    /// created, private to the user, on the first [`create`](Self::create).
    pub fn new(dir: impl Into<PathBuf>) -> SessionStore {
        SessionStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file of a session.
    pub fn path_of(&self, id: &SessionId) -> PathBuf {
        self.dir.join(format!("{id}.jsonl"))
    }

    /// Creates a new, empty, locked session log.
    pub fn create(&self, id: &SessionId) -> Result<SessionLog, StoreError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_at(&self.dir))?;
        let path = self.path_of(id);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => StoreError::AlreadyExists { id: id.clone() },
                _ => io_at(&path)(e),
            })?;
        lock(&file, id, &path)?;
        // Make the new directory entry durable too.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(SessionLog {
            id: id.clone(),
            path,
            file,
            len: 0,
            torn: false,
        })
    }

    /// Opens an existing session for appending: locks it and cuts off a torn last line.
    pub fn open(&self, id: &SessionId) -> Result<SessionLog, StoreError> {
        let path = self.path_of(id);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => StoreError::NotFound { id: id.clone() },
                _ => io_at(&path)(e),
            })?;
        lock(&file, id, &path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io_at(&path))?;
        let scan = scan(id, &bytes)?;
        if scan.good_len < bytes.len() {
            file.set_len(scan.good_len as u64).map_err(io_at(&path))?;
            file.sync_data().map_err(io_at(&path))?;
        }
        Ok(SessionLog {
            id: id.clone(),
            path,
            file,
            len: scan.good_len as u64,
            torn: false,
        })
    }

    /// Every record of a session, in order, without a torn last line.
    pub fn load(&self, id: &SessionId) -> Result<Vec<Value>, StoreError> {
        let path = self.path_of(id);
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound { id: id.clone() },
            _ => io_at(&path)(e),
        })?;
        Ok(scan(id, &bytes)?.records)
    }

    /// Every session, most recently written first.
    pub fn list(&self) -> Result<Vec<SessionInfo>, StoreError> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_at(&self.dir)(e)),
        };
        let mut sessions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_at(&self.dir))?;
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".jsonl"))
                .and_then(|n| SessionId::parse(n).ok())
            else {
                continue;
            };
            let path = entry.path();
            // A log deleted while listing is simply not listed.
            let Ok(meta) = entry.metadata() else { continue };
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| u64::try_from(d.as_millis()).ok())
                .unwrap_or(0);
            sessions.push(SessionInfo {
                first: first_record(&path),
                id,
                path,
                modified: UnixMillis(modified),
            });
        }
        sessions.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.id.cmp(&a.id)));
        Ok(sessions)
    }

    /// Removes a session's log; refused with [`StoreError::Locked`] while another process
    /// has it open (the lock is held across the removal, so no writer can slip in).
    pub fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let path = self.path_of(id);
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => StoreError::NotFound { id: id.clone() },
                _ => io_at(&path)(e),
            })?;
        lock(&file, id, &path)?;
        fs::remove_file(&path).map_err(io_at(&path))?;
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// The most recently written session started in `dir` (for `--continue`).
    pub fn newest_for_directory(&self, dir: &Path) -> Result<Option<SessionInfo>, StoreError> {
        Ok(self
            .list()?
            .into_iter()
            .find(|s| s.directory().is_some_and(|d| Path::new(d) == dir)))
    }
}

fn lock(file: &File, id: &SessionId, path: &Path) -> Result<(), StoreError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked { id: id.clone() }),
        Err(TryLockError::Error(e)) => Err(io_at(path)(e)),
    }
}

fn first_record(path: &Path) -> Option<Value> {
    let file = File::open(path).ok()?;
    let mut line = Vec::new();
    BufReader::new(file.take(FIRST_LINE_LIMIT))
        .read_until(b'\n', &mut line)
        .ok()?;
    serde_json::from_slice(&line).ok()
}

/// The records of a log and the length of its intact part.
struct Scan {
    records: Vec<Value>,
    good_len: usize,
}

fn scan(id: &SessionId, bytes: &[u8]) -> Result<Scan, StoreError> {
    let mut records = Vec::new();
    let mut good_len = 0;
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let (line, next) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(at) => (&bytes[start..start + at], start + at + 1),
            // No newline: the write of the last line was cut short.
            None => break,
        };
        if !line.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(line) {
                Ok(value) => records.push(value),
                // The last line is garbage: a write torn by a crash.
                Err(_) if next == bytes.len() => break,
                Err(e) => {
                    return Err(StoreError::Corrupt {
                        id: id.clone(),
                        line: number,
                        message: e.to_string(),
                    })
                }
            }
        }
        good_len = next;
        start = next;
    }
    Ok(Scan { records, good_len })
}

/// A session log open for appending, holding its lock until dropped.
#[derive(Debug)]
pub struct SessionLog {
    id: SessionId,
    path: PathBuf,
    file: File,
    /// Length of the intact part: everything up to the last complete append.
    len: u64,
    /// A failed append may have left part of a line behind.
    torn: bool,
}

impl SessionLog {
    /// The session.
    pub fn id(&self) -> &SessionId {
        &self.id
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one JSON line and syncs it to disk before returning. After a
    /// failed append, the next one first removes whatever part of the line was written.
    pub fn append<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(record).map_err(|e| StoreError::Serialize {
            id: self.id.clone(),
            message: e.to_string(),
        })?;
        if line.contains(&b'\n') {
            return Err(StoreError::Serialize {
                id: self.id.clone(),
                message: "the record's JSON spans several lines".to_string(),
            });
        }
        line.push(b'\n');
        if self.torn {
            self.file.set_len(self.len).map_err(io_at(&self.path))?;
            self.torn = false;
        }
        let written = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.torn = true;
                Err(io_at(&self.path)(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use serde_json::json;

    fn id(s: &str) -> SessionId {
        SessionId::parse(s).unwrap()
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let a = SessionId::generate(UnixMillis(1_700_000_000_000), u64::MAX);
        let b = SessionId::generate(UnixMillis(1_700_000_000_001), 0);
        assert!(a < b);
        assert_eq!(a.as_str().len(), "ses_".len() + 9 + 10);
        assert_eq!(b.as_str(), "ses_0loyw3v290000000000");
        assert_eq!(SessionId::parse(b.as_str()).unwrap(), b);
    }

    #[test]
    fn ids_that_could_name_other_paths_are_refused() {
        for bad in [
            "",
            "../x",
            "a/b",
            "a.jsonl",
            ".hidden",
            "ses x",
            &"x".repeat(129),
        ] {
            assert!(
                matches!(SessionId::parse(bad), Err(StoreError::InvalidId { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn scan_keeps_complete_lines_and_stops_at_a_torn_one() {
        let s = id("s");
        let scan_of = |b: &[u8]| {
            let scan = scan(&s, b).unwrap();
            (scan.records.len(), scan.good_len)
        };
        assert_eq!(scan_of(b""), (0, 0));
        assert_eq!(scan_of(b"{\"a\":1}\n{\"b\":2}\n"), (2, 16));
        assert_eq!(scan_of(b"{\"a\":1}\n{\"b\":"), (1, 8));
        assert_eq!(scan_of(b"{\"a\":1}\n{\"b\":2}"), (1, 8));
        assert_eq!(scan_of(b"{\"a\":1}\n{\"b\":\0\0\n"), (1, 8));
        assert_eq!(scan_of(b"{\"a\":1}\n\n{\"b\":2}\n"), (2, 17));
        match scan(&s, b"{\"a\":1}\nnot json\n{\"b\":2}\n") {
            Err(StoreError::Corrupt { line, .. }) => assert_eq!(line, 2),
            other => panic!("{:?}", other.map(|s| s.records)),
        }
    }

    #[test]
    fn append_then_load_round_trips() {
        let dir = TestDir::new("store-unit");
        let store = SessionStore::new(dir.join("sessions"));
        let s = id("ses_a");
        let mut log = store.create(&s).unwrap();
        log.append(&json!({"type": "session", "directory": "/p"}))
            .unwrap();
        log.append(&json!({"type": "message", "text": "two\nlines"}))
            .unwrap();
        assert_eq!(
            store.load(&s).unwrap(),
            vec![
                json!({"type": "session", "directory": "/p"}),
                json!({"type": "message", "text": "two\nlines"})
            ]
        );
    }

    #[test]
    fn after_a_failed_append_the_partial_line_is_removed_first() {
        let dir = TestDir::new("store-failed");
        let store = SessionStore::new(dir.join("sessions"));
        let s = id("ses_f");
        let mut log = store.create(&s).unwrap();
        log.append(&json!({"n": 1})).unwrap();
        // What a write cut short by a full disk leaves behind.
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"n\":2,\"te")
            .unwrap();
        log.torn = true;
        log.append(&json!({"n": 3})).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text, "{\"n\":1}\n{\"n\":3}\n");
    }

    #[test]
    fn delete_removes_a_log_but_not_one_in_use() {
        let dir = TestDir::new("store-delete");
        let store = SessionStore::new(dir.join("sessions"));
        let s = id("ses_d");
        let log = store.create(&s).unwrap();
        assert!(matches!(store.delete(&s), Err(StoreError::Locked { .. })));
        assert!(store.path_of(&s).exists());
        drop(log);
        store.delete(&s).unwrap();
        assert!(!store.path_of(&s).exists());
        assert!(matches!(store.delete(&s), Err(StoreError::NotFound { .. })));
    }
}

//! The credential store: `auth.json` in cm's data directory, one login per provider id.
//!
//! The file is versioned JSON, mode 0600 from the moment it exists (the temporary file is
//! created 0600, synced, renamed over, then re-chmodded in case it was replaced by hand).
//! Writers take an exclusive lock on `auth.json.lock` around read-modify-write, so two cm
//! processes logging in at once both land. A file that cannot be read as a store is never
//! overwritten: [`CredentialStore::load`] moves it aside to `auth.json.corrupt-<unix ms>`
//! and the error names both paths; the next write starts a fresh file.
//!
//! Secrets are [`Secret`]s, whose `Debug` prints no part of the value; errors carry paths,
//! never contents.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The file format version written; a file of a newer version is refused, not rewritten.
pub const VERSION: u32 = 1;

/// A secret string: serialized as itself, shown by `Debug` as `Secret(..)`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself: for sending, never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One provider's stored login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StoredCredential {
    /// An API key, sent as is.
    ApiKey {
        /// The key.
        key: Secret,
    },
    /// OAuth tokens; `expires_at` in Unix milliseconds, absent when the token does not expire.
    Oauth {
        /// The access token.
        access: Secret,
        /// The refresh token, if the server issued one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refresh: Option<Secret>,
        /// When the access token stops working.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at: Option<u64>,
        /// The client id cm registered for this login (RFC 7591), needed to refresh and
        /// revoke it; absent when the config names the client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
}

/// Everything in `auth.json`: logins by provider id, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The format version.
    pub version: u32,
    /// Logins by provider id.
    pub providers: BTreeMap<String, StoredCredential>,
}

/// Why the store cannot be read or written; names paths, never secrets.
#[derive(Debug)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The file is not a store; it was moved to `backup` (or could not be, when `None`).
    Corrupt {
        /// The file as it was named.
        path: PathBuf,
        /// Where it now is.
        backup: Option<PathBuf>,
        /// What the parser said (positions only, no contents).
        reason: String,
    },
    /// The file was written by a newer cm.
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// Reading, writing or locking failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::Corrupt {
                path,
                backup: Some(backup),
                reason,
            } => write!(
                f,
                "{} is corrupt ({reason}); it was kept as {}; log in again with `cm auth login`",
                path.display(),
                backup.display()
            ),
            CredentialsError::Corrupt {
                path,
                backup: None,
                reason,
            } => write!(
                f,
                "{} is corrupt ({reason}) and could not be moved aside; move or remove it, then log in again",
                path.display()
            ),
            CredentialsError::NewerVersion { path, version } => write!(
                f,
                "{} has format version {version}, newer than this cm understands ({VERSION}); update cm",
                path.display()
            ),
            CredentialsError::Io { path, source } => {
                write!(f, "cannot use {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for CredentialsError {}

/// `auth.json` in a directory.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    path: PathBuf,
}

impl CredentialStore {
    /// The store in `data_dir` (cm's data directory, [`crate::Dirs::data`]).
    pub fn new(data_dir: &Path) -> CredentialStore {
        CredentialStore {
            path: data_dir.join("auth.json"),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored logins; none when the file does not exist. A corrupt file is moved aside.
    pub fn load(&self) -> Result<Credentials, CredentialsError> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Credentials {
                    version: VERSION,
                    providers: BTreeMap::new(),
                })
            }
            Err(source) => return Err(self.io(source)),
        };
        match serde_json::from_slice::<Credentials>(&bytes) {
            Ok(credentials) if credentials.version > VERSION => {
                Err(CredentialsError::NewerVersion {
                    path: self.path.clone(),
                    version: credentials.version,
                })
            }
            Ok(credentials) => Ok(credentials),
            Err(e) => {
                let reason = format!("line {} column {}", e.line(), e.column());
                let backup = self.backup_path();
                let backup = fs::rename(&self.path, &backup).ok().map(|()| backup);
                Err(CredentialsError::Corrupt {
                    path: self.path.clone(),
                    backup,
                    reason,
                })
            }
        }
    }

    /// One provider's login, if stored.
    pub fn get(&self, provider: &str) -> Result<Option<StoredCredential>, CredentialsError> {
        Ok(self.load()?.providers.remove(provider))
    }

    /// Changes the store under the lock and writes it back; returns what `change` returned.
    /// A corrupt file is moved aside first (see [`CredentialStore::load`]) and `corrupt`
    /// receives that error before the change applies to an empty store.
    pub fn update<T>(
        &self,
        corrupt: impl FnOnce(&CredentialsError),
        change: impl FnOnce(&mut Credentials) -> T,
    ) -> Result<T, CredentialsError> {
        let _lock = self.lock()?;
        let mut credentials = match self.load() {
            Ok(credentials) => credentials,
            Err(
                e @ CredentialsError::Corrupt {
                    backup: Some(_), ..
                },
            ) => {
                corrupt(&e);
                Credentials {
                    version: VERSION,
                    providers: BTreeMap::new(),
                }
            }
            Err(e) => return Err(e),
        };
        let out = change(&mut credentials);
        credentials.version = VERSION;
        self.write(&credentials)?;
        Ok(out)
    }

    fn write(&self, credentials: &Credentials) -> Result<(), CredentialsError> {
        let mut text = serde_json::to_string_pretty(credentials)
            .map_err(|e| self.io(io::Error::other(e.to_string())))?;
        text.push('\n');
        write_private(&self.path, text.as_bytes()).map_err(|e| self.io(e))
    }

    fn lock(&self) -> Result<File, CredentialsError> {
        let lock_path = self.sibling(".lock");
        let io = |source| CredentialsError::Io {
            path: lock_path.clone(),
            source,
        };
        if let Some(parent) = lock_path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    fn backup_path(&self) -> PathBuf {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let mut candidate = self.sibling(&format!(".corrupt-{ms}"));
        let mut n = 1;
        while candidate.exists() {
            candidate = self.sibling(&format!(".corrupt-{ms}-{n}"));
            n += 1;
        }
        candidate
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    }

    fn io(&self, source: io::Error) -> CredentialsError {
        CredentialsError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

/// Replaces `target` with `contents`, readable by the owner only at every moment.
fn write_private(target: &Path, contents: &[u8]) -> io::Result<()> {
    let parent = target
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)?;
    let mut temp = target.as_os_str().to_owned();
    temp.push(format!(".tmp-{}", std::process::id()));
    let temp = PathBuf::from(temp);
    let _ = fs::remove_file(&temp);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(contents)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, target)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    fs::set_permissions(target, fs::Permissions::from_mode(0o600))?;
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    fn key(value: &str) -> StoredCredential {
        StoredCredential::ApiKey {
            key: Secret::new(value),
        }
    }

    fn add(store: &CredentialStore, id: &str, value: &str) {
        store
            .update(
                |e| panic!("unexpected corruption: {e}"),
                |c| c.providers.insert(id.to_string(), key(value)),
            )
            .unwrap();
    }

    #[test]
    fn logins_round_trip_through_a_versioned_file() {
        let dir = TestDir::new("creds-roundtrip");
        let store = CredentialStore::new(&dir.join("data"));
        assert!(store.load().unwrap().providers.is_empty(), "no file yet");
        add(&store, "anthropic", "sk-ant-api03-secret");
        let token = StoredCredential::Oauth {
            access: Secret::new("gho_access"),
            refresh: Some(Secret::new("ghr_refresh")),
            expires_at: Some(1_800_000_000_000),
            client_id: Some("registered-client".into()),
        };
        store
            .update(
                |_| {},
                |c| c.providers.insert("github-copilot".into(), token.clone()),
            )
            .unwrap();

        let loaded = store.load().unwrap();
        assert_eq!(loaded.version, VERSION);
        assert_eq!(loaded.providers["anthropic"], key("sk-ant-api03-secret"));
        assert_eq!(loaded.providers["github-copilot"], token);
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains(r#""version": 1"#), "{text}");
        assert!(text.contains(r#""type": "api_key""#), "{text}");
        assert!(text.contains(r#""expires_at": 1800000000000"#), "{text}");

        store
            .update(|_| {}, |c| c.providers.remove("anthropic"))
            .unwrap();
        assert_eq!(store.get("anthropic").unwrap(), None);
        assert!(store.get("github-copilot").unwrap().is_some());
    }

    #[test]
    fn the_file_is_private_and_replaced_atomically() {
        let dir = TestDir::new("creds-mode");
        let store = CredentialStore::new(dir.path());
        add(&store, "openai", "sk-one");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);

        // Loosened by hand, then rewritten: private again, and a new inode (a rename).
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let held = File::open(store.path()).unwrap();
        add(&store, "anthropic", "sk-ant-two");
        assert_eq!(mode(store.path()), 0o600);
        let old = io::read_to_string(held).unwrap();
        assert!(
            old.contains("sk-one") && !old.contains("sk-ant-two"),
            "old inode unchanged"
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_corrupt_file_is_kept_aside_and_named_in_the_error() {
        let dir = TestDir::new("creds-corrupt");
        let store = CredentialStore::new(dir.path());
        fs::write(
            store.path(),
            "{\"version\": 1, \"providers\": {\"anthropic\": sk-ant-lost",
        )
        .unwrap();

        let error = store.load().unwrap_err();
        let CredentialsError::Corrupt {
            backup: Some(backup),
            ..
        } = &error
        else {
            panic!("expected a backed-up corruption, got {error:?}");
        };
        let message = error.to_string();
        assert!(
            message.contains(&store.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains(&backup.display().to_string()), "{message}");
        assert!(!message.contains("sk-ant-lost"), "{message}");
        assert!(backup
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("auth.json.corrupt-"));
        assert!(fs::read_to_string(backup).unwrap().contains("sk-ant-lost"));
        assert!(!store.path().exists(), "moved, not copied");

        // A later login writes a fresh file; the backup stays.
        let backup = backup.clone();
        fs::write(store.path(), "not json").unwrap();
        let mut reported = None;
        store
            .update(
                |e| reported = Some(e.to_string()),
                |c| c.providers.insert("openai".into(), key("sk-new")),
            )
            .unwrap();
        assert!(reported.unwrap().contains("auth.json.corrupt-"));
        assert_eq!(store.get("openai").unwrap(), Some(key("sk-new")));
        assert!(backup.exists());
        let backups = fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .count();
        assert_eq!(backups, 2, "each corrupt file kept");
    }

    #[test]
    fn a_newer_version_is_refused_not_rewritten() {
        let dir = TestDir::new("creds-newer");
        let store = CredentialStore::new(dir.path());
        let newer = r#"{"version": 99, "providers": {}}"#;
        fs::write(store.path(), newer).unwrap();
        let error = store.update(|_| {}, |_| ()).unwrap_err();
        assert!(matches!(
            error,
            CredentialsError::NewerVersion { version: 99, .. }
        ));
        assert_eq!(fs::read_to_string(store.path()).unwrap(), newer);
    }

    #[test]
    fn concurrent_writers_all_land() {
        let dir = TestDir::new("creds-concurrent");
        let data = dir.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let data = data.clone();
                std::thread::spawn(move || {
                    let store = CredentialStore::new(&data);
                    for round in 0..5 {
                        add(&store, &format!("p{i}"), &format!("key-{i}-{round}"));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let loaded = CredentialStore::new(&data).load().unwrap();
        assert_eq!(loaded.providers.len(), 8);
        for i in 0..8 {
            assert_eq!(
                loaded.providers[&format!("p{i}")],
                key(&format!("key-{i}-4"))
            );
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let login = StoredCredential::Oauth {
            access: Secret::new("gho_access_value"),
            refresh: Some(Secret::new("ghr_refresh_value")),
            expires_at: None,
            client_id: None,
        };
        let text = format!("{login:?} {:?}", key("sk-ant-api03-value"));
        assert!(!text.contains("value"), "{text}");
        assert!(text.contains("Secret(..)"), "{text}");
    }
}

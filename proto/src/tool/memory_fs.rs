//! An in-memory [`FileSystem`]: the tools' test bed, and the browser build's workspace.
//!
//! The workspace root is an absolute path (`/workspace` unless chosen). A path is resolved
//! lexically: relative paths start at the root, `.` and empty components vanish, `..`
//! climbs, and anything that ends up outside the root is [`FsError::OutsideWorkspace`].
//! Files are stored by their workspace-relative path; a directory exists when a file lies
//! under it or it was created explicitly. There are no symlinks.

use std::collections::{BTreeMap, BTreeSet};

use super::fs::{DirEntry, FileKind, FileSystem, FsError, Metadata};

/// A workspace held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryFs {
    root: String,
    files: BTreeMap<String, StoredFile>,
    dirs: BTreeSet<String>,
    clock: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredFile {
    contents: Vec<u8>,
    modified: u64,
}

impl Default for MemoryFs {
    fn default() -> MemoryFs {
        MemoryFs::new()
    }
}

impl MemoryFs {
    /// An empty workspace rooted at `/workspace`.
    pub fn new() -> MemoryFs {
        MemoryFs::with_root("/workspace")
    }

    /// An empty workspace rooted at `root`, an absolute path (a relative one is made
    /// absolute by a leading `/`).
    pub fn with_root(root: &str) -> MemoryFs {
        let parts = components(root);
        MemoryFs {
            root: format!("/{}", parts.join("/")),
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
            clock: 0,
        }
    }

    /// The workspace root.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Adds a file, for building fixtures; a path that cannot be written is ignored.
    pub fn with_file(mut self, path: &str, contents: impl AsRef<[u8]>) -> MemoryFs {
        let _ignored = self.write(path, contents.as_ref());
        self
    }

    /// Creates a directory and its parents.
    pub fn create_dir(&mut self, path: &str) -> Result<(), FsError> {
        let key = self.key(path)?;
        self.check_parents(path, &key)?;
        if self.files.contains_key(&key) {
            return Err(FsError::NotADirectory { path: path.into() });
        }
        if !key.is_empty() {
            self.dirs.insert(key);
        }
        Ok(())
    }

    /// A file's contents, if it exists.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        let key = self.key(path).ok()?;
        self.files.get(&key).map(|f| f.contents.as_slice())
    }

    /// The workspace-relative key of `path` (`""` for the root).
    fn key(&self, path: &str) -> Result<String, FsError> {
        if path.is_empty() {
            return Err(FsError::InvalidPath {
                path: path.into(),
                reason: "the path is empty".into(),
            });
        }
        if path.contains('\0') {
            return Err(FsError::InvalidPath {
                path: path.into(),
                reason: "the path contains a NUL byte".into(),
            });
        }
        let mut parts: Vec<&str> = if path.starts_with('/') {
            Vec::new()
        } else {
            components(&self.root)
        };
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        let root = components(&self.root);
        if parts.len() < root.len() || parts[..root.len()] != root[..] {
            return Err(FsError::OutsideWorkspace {
                path: path.into(),
                resolved: format!("/{}", parts.join("/")),
            });
        }
        Ok(parts[root.len()..].join("/"))
    }

    fn is_dir(&self, key: &str) -> bool {
        if key.is_empty() || self.dirs.contains(key) {
            return true;
        }
        let prefix = format!("{key}/");
        let file_below = self
            .files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&prefix));
        let dir_below = self
            .dirs
            .range(prefix.clone()..)
            .next()
            .is_some_and(|k| k.starts_with(&prefix));
        file_below || dir_below
    }

    /// Fails when an ancestor of `key` is a file.
    fn check_parents(&self, path: &str, key: &str) -> Result<(), FsError> {
        let mut end = 0;
        while let Some(slash) = key[end..].find('/') {
            let ancestor = &key[..end + slash];
            if self.files.contains_key(ancestor) {
                return Err(FsError::NotADirectory { path: path.into() });
            }
            end += slash + 1;
        }
        Ok(())
    }
}

fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect()
}

impl FileSystem for MemoryFs {
    fn resolve(&self, path: &str) -> Result<String, FsError> {
        let key = self.key(path)?;
        Ok(if key.is_empty() { ".".into() } else { key })
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let key = self.key(path)?;
        match self.files.get(&key) {
            Some(file) => Ok(file.contents.clone()),
            None if self.is_dir(&key) => Err(FsError::IsADirectory { path: path.into() }),
            None => Err(FsError::NotFound { path: path.into() }),
        }
    }

    fn write(&mut self, path: &str, contents: &[u8]) -> Result<(), FsError> {
        let key = self.key(path)?;
        if self.is_dir(&key) {
            return Err(FsError::IsADirectory { path: path.into() });
        }
        self.check_parents(path, &key)?;
        self.clock = self.clock.saturating_add(1);
        self.files.insert(
            key,
            StoredFile {
                contents: contents.to_vec(),
                modified: self.clock,
            },
        );
        Ok(())
    }

    fn remove(&mut self, path: &str) -> Result<(), FsError> {
        let key = self.key(path)?;
        if self.files.remove(&key).is_some() {
            return Ok(());
        }
        if self.is_dir(&key) {
            return Err(FsError::IsADirectory { path: path.into() });
        }
        Err(FsError::NotFound { path: path.into() })
    }

    fn metadata(&self, path: &str) -> Result<Metadata, FsError> {
        let key = self.key(path)?;
        if let Some(file) = self.files.get(&key) {
            return Ok(Metadata {
                kind: FileKind::File,
                len: u64::try_from(file.contents.len()).unwrap_or(u64::MAX),
                modified_ms: Some(file.modified),
            });
        }
        if self.is_dir(&key) {
            return Ok(Metadata {
                kind: FileKind::Dir,
                len: 0,
                modified_ms: None,
            });
        }
        Err(FsError::NotFound { path: path.into() })
    }

    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let key = self.key(path)?;
        if self.files.contains_key(&key) {
            return Err(FsError::NotADirectory { path: path.into() });
        }
        if !self.is_dir(&key) {
            return Err(FsError::NotFound { path: path.into() });
        }
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        let mut entries: BTreeMap<String, FileKind> = BTreeMap::new();
        let below = |k: &str| k.strip_prefix(prefix.as_str()).map(str::to_string);
        for name in self.files.keys().filter_map(|k| below(k)) {
            match name.split_once('/') {
                Some((dir, _)) => entries.insert(dir.to_string(), FileKind::Dir),
                None => entries.insert(name, FileKind::File),
            };
        }
        for name in self.dirs.iter().filter_map(|k| below(k)) {
            let first = name.split('/').next().unwrap_or_default().to_string();
            entries.insert(first, FileKind::Dir);
        }
        Ok(entries
            .into_iter()
            .map(|(name, kind)| DirEntry { name, kind })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_absolute_paths_inside_the_root_name_the_same_file() {
        let fs = MemoryFs::new().with_file("src/main.rs", "fn main() {}");
        assert_eq!(fs.resolve("src/main.rs").unwrap(), "src/main.rs");
        assert_eq!(fs.resolve("/workspace/src/main.rs").unwrap(), "src/main.rs");
        assert_eq!(fs.resolve("./src//./main.rs").unwrap(), "src/main.rs");
        assert_eq!(fs.resolve("src/../src/main.rs").unwrap(), "src/main.rs");
        assert_eq!(fs.read("/workspace/src/main.rs").unwrap(), b"fn main() {}");
        assert_eq!(fs.resolve(".").unwrap(), ".");
    }

    #[test]
    fn dot_dot_cannot_escape_the_root() {
        let fs = MemoryFs::new();
        let err = fs.resolve("../etc/passwd").unwrap_err();
        assert_eq!(
            err,
            FsError::OutsideWorkspace {
                path: "../etc/passwd".into(),
                resolved: "/etc/passwd".into()
            }
        );
        assert!(matches!(
            fs.read("src/../../../etc/passwd"),
            Err(FsError::OutsideWorkspace { .. })
        ));
        assert!(matches!(
            fs.resolve("/etc/passwd"),
            Err(FsError::OutsideWorkspace { .. })
        ));
        assert!(matches!(
            fs.resolve("/workspace-other/x"),
            Err(FsError::OutsideWorkspace { .. })
        ));
    }

    #[test]
    fn nul_and_empty_paths_are_invalid() {
        let mut fs = MemoryFs::new();
        assert!(matches!(
            fs.resolve("a\0b"),
            Err(FsError::InvalidPath { .. })
        ));
        assert!(matches!(
            fs.write("", b"x"),
            Err(FsError::InvalidPath { .. })
        ));
    }

    #[test]
    fn directories_are_implied_by_files() {
        let fs = MemoryFs::new()
            .with_file("src/tool/read.rs", "r")
            .with_file("src/lib.rs", "l")
            .with_file("README.md", "m");
        assert_eq!(fs.metadata("src").unwrap().kind, FileKind::Dir);
        assert_eq!(fs.metadata("src/tool").unwrap().kind, FileKind::Dir);
        assert_eq!(fs.metadata("src/lib.rs").unwrap().len, 1);
        let names: Vec<(String, FileKind)> = fs
            .list("src")
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind))
            .collect();
        assert_eq!(
            names,
            vec![
                ("lib.rs".to_string(), FileKind::File),
                ("tool".to_string(), FileKind::Dir)
            ]
        );
        assert_eq!(fs.list(".").unwrap().len(), 2);
        assert!(matches!(fs.read("src"), Err(FsError::IsADirectory { .. })));
        assert!(matches!(fs.list("nope"), Err(FsError::NotFound { .. })));
        assert!(matches!(
            fs.list("README.md"),
            Err(FsError::NotADirectory { .. })
        ));
        assert!(matches!(fs.metadata("sr"), Err(FsError::NotFound { .. })));
    }

    #[test]
    fn write_creates_parents_but_not_under_a_file() {
        let mut fs = MemoryFs::new().with_file("a.txt", "x");
        fs.write("deep/er/b.txt", b"y").unwrap();
        assert_eq!(fs.metadata("deep/er").unwrap().kind, FileKind::Dir);
        assert!(matches!(
            fs.write("a.txt/c", b"z"),
            Err(FsError::NotADirectory { .. })
        ));
        assert!(matches!(
            fs.write("deep", b"z"),
            Err(FsError::IsADirectory { .. })
        ));
    }

    #[test]
    fn empty_directories_can_be_created_and_listed() {
        let mut fs = MemoryFs::new();
        fs.create_dir("empty/inner").unwrap();
        assert_eq!(fs.metadata("empty/inner").unwrap().kind, FileKind::Dir);
        assert_eq!(fs.list("empty").unwrap()[0].name, "inner");
        assert!(fs.list("empty/inner").unwrap().is_empty());
    }

    #[test]
    fn remove_deletes_files_only() {
        let mut fs = MemoryFs::new().with_file("d/f", "x");
        assert!(matches!(fs.remove("d"), Err(FsError::IsADirectory { .. })));
        fs.remove("d/f").unwrap();
        assert!(fs.file("d/f").is_none());
        assert!(matches!(fs.remove("d/f"), Err(FsError::NotFound { .. })));
    }

    #[test]
    fn writes_advance_the_modification_clock() {
        let mut fs = MemoryFs::new();
        fs.write("a", b"1").unwrap();
        let first = fs.metadata("a").unwrap().modified_ms;
        fs.write("a", b"2").unwrap();
        assert!(fs.metadata("a").unwrap().modified_ms > first);
    }

    #[test]
    fn a_custom_root_confines_to_itself() {
        let fs = MemoryFs::with_root("/home/me/proj/").with_file("/home/me/proj/x", "1");
        assert_eq!(fs.root(), "/home/me/proj");
        assert_eq!(fs.file("x"), Some(&b"1"[..]));
        assert!(matches!(
            fs.resolve("../other/x"),
            Err(FsError::OutsideWorkspace { resolved, .. }) if resolved == "/home/me/other/x"
        ));
    }
}

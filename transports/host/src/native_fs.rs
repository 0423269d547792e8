//! [`FileSystem`] on the real disk, confined to a [`Workspace`].
//!
//! Every operation resolves its path through [`Workspace::resolve`] first, so the tool logic
//! never touches a path outside the root unless the call was granted
//! `external_directory`. Writes never leave a half-written file: the bytes go to a
//! temporary file in the same directory, are synced, take the old file's mode and are
//! renamed over the target. Because resolution follows symlinks, a write to a link
//! replaces its target and the link stays a link.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use cm_proto::tool::{DirEntry, FileKind, FileSystem, FsError, Metadata, ToolInvocation};

use crate::workspace::{LastLink, ResolvedPath, Workspace};

/// The largest file [`NativeFs::read`] returns by default (50 MiB).
pub const DEFAULT_READ_LIMIT: u64 = 50 * 1024 * 1024;

/// The permission that lets a call reach paths outside the workspace.
pub const EXTERNAL_DIRECTORY: &str = "external_directory";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The real file system, seen through one workspace.
#[derive(Debug, Clone)]
pub struct NativeFs {
    workspace: Workspace,
    external: bool,
    read_limit: u64,
}

impl NativeFs {
    /// Confined to `workspace`, with the default read limit.
    pub fn new(workspace: Workspace) -> NativeFs {
        NativeFs {
            workspace,
            external: false,
            read_limit: DEFAULT_READ_LIMIT,
        }
    }

    /// For one tool call: paths outside are allowed when it was granted
    /// `external_directory`.
    pub fn for_invocation(workspace: Workspace, invocation: &ToolInvocation) -> NativeFs {
        let granted = invocation.granted.iter().any(|g| g == EXTERNAL_DIRECTORY);
        NativeFs::new(workspace).with_external_access(granted)
    }

    /// Allows (or forbids) paths outside the workspace.
    pub fn with_external_access(mut self, granted: bool) -> NativeFs {
        self.external = granted;
        self
    }

    /// Sets the size above which `read` answers [`FsError::TooLarge`].
    pub fn with_read_limit(mut self, limit: u64) -> NativeFs {
        self.read_limit = limit;
        self
    }

    /// The workspace this view is confined to.
    pub fn workspace(&self) -> &Workspace {
        &self.workspace
    }

    fn locate(&self, path: &str, last: LastLink) -> Result<ResolvedPath, FsError> {
        self.workspace.resolve(path, last, self.external)
    }
}

impl FileSystem for NativeFs {
    fn resolve(&self, path: &str) -> Result<String, FsError> {
        Ok(self.locate(path, LastLink::Follow)?.display)
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let target = self.locate(path, LastLink::Follow)?.path;
        let fail = |e: io::Error| io_error(path, e);
        let meta = fs::metadata(&target).map_err(fail)?;
        if meta.is_dir() {
            return Err(FsError::IsADirectory { path: path.into() });
        }
        let limit = self.read_limit;
        if meta.len() > limit {
            return Err(FsError::TooLarge {
                path: path.into(),
                size: meta.len(),
                limit,
            });
        }
        let file = File::open(&target).map_err(fail)?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        // The file may grow between `metadata` and the read: never take more than the limit.
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(fail)?;
        let size = bytes.len() as u64;
        if size > limit {
            return Err(FsError::TooLarge {
                path: path.into(),
                size,
                limit,
            });
        }
        Ok(bytes)
    }

    fn write(&mut self, path: &str, contents: &[u8]) -> Result<(), FsError> {
        let target = self.locate(path, LastLink::Follow)?.path;
        write_atomically(&target, contents).map_err(|e| io_error(path, e))
    }

    fn remove(&mut self, path: &str) -> Result<(), FsError> {
        let target = self.locate(path, LastLink::Keep)?.path;
        let meta = fs::symlink_metadata(&target).map_err(|e| io_error(path, e))?;
        if meta.is_dir() {
            return Err(FsError::IsADirectory { path: path.into() });
        }
        fs::remove_file(&target).map_err(|e| io_error(path, e))
    }

    fn metadata(&self, path: &str) -> Result<Metadata, FsError> {
        let target = self.locate(path, LastLink::Follow)?.path;
        let meta = fs::metadata(&target).map_err(|e| io_error(path, e))?;
        Ok(Metadata {
            kind: kind_of(&meta),
            len: meta.len(),
            modified_ms: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| u64::try_from(d.as_millis()).ok()),
        })
    }

    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError> {
        let target = self.locate(path, LastLink::Follow)?.path;
        let fail = |e: io::Error| io_error(path, e);
        let meta = fs::metadata(&target).map_err(fail)?;
        if !meta.is_dir() {
            return Err(FsError::NotADirectory { path: path.into() });
        }
        let mut entries = Vec::new();
        for entry in fs::read_dir(&target).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let kind = match entry.file_type() {
                // A link is listed as what it points to (a dangling one as `Other`).
                Ok(t) if t.is_symlink() => fs::metadata(entry.path())
                    .map(|m| kind_of(&m))
                    .unwrap_or(FileKind::Other),
                Ok(t) if t.is_dir() => FileKind::Dir,
                Ok(t) if t.is_file() => FileKind::File,
                _ => FileKind::Other,
            };
            entries.push(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
            });
        }
        Ok(entries)
    }
}

fn kind_of(meta: &fs::Metadata) -> FileKind {
    if meta.is_dir() {
        FileKind::Dir
    } else if meta.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    }
}

fn io_error(path: &str, e: io::Error) -> FsError {
    let path = path.to_string();
    match e.kind() {
        io::ErrorKind::NotFound => FsError::NotFound { path },
        io::ErrorKind::PermissionDenied => FsError::PermissionDenied { path },
        io::ErrorKind::IsADirectory => FsError::IsADirectory { path },
        io::ErrorKind::NotADirectory => FsError::NotADirectory { path },
        _ => FsError::Other {
            path,
            message: e.to_string(),
        },
    }
}

/// Replaces `target` (a resolved path, not a symlink) with `contents`: parents created,
/// a temporary sibling written and synced, the old mode kept, renamed over, the directory
/// synced. A file whose mode forbids the owner to write is refused, as a plain write
/// would be.
pub fn write_atomically(target: &Path, contents: &[u8]) -> io::Result<()> {
    let parent = target
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mode = match fs::metadata(target) {
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        }
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o200 == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "the file is read-only",
                ));
            }
            Some(mode)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    fs::create_dir_all(parent)?;
    let temp = temp_sibling(parent, name);
    let result = write_then_rename(&temp, target, contents, mode);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    // Make the rename itself durable; some file systems refuse to sync a directory.
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn temp_sibling(parent: &Path, name: &std::ffi::OsStr) -> PathBuf {
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(
        ".cm-tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    parent.join(temp)
}

fn write_then_rename(
    temp: &Path,
    target: &Path,
    contents: &[u8],
    mode: Option<u32>,
) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(temp)?;
    file.write_all(contents)?;
    if let Some(mode) = mode {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    file.sync_all()?;
    drop(file);
    fs::rename(temp, target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use std::os::unix::fs::symlink;

    fn fs_at(dir: &TestDir) -> NativeFs {
        NativeFs::new(Workspace::at(dir.path()).unwrap())
    }

    #[test]
    fn write_creates_parents_and_reads_back() {
        let dir = TestDir::new("fs-write");
        let mut fs = fs_at(&dir);
        fs.write("a/b/c.txt", b"hello\n").unwrap();
        assert_eq!(fs.read("a/b/c.txt").unwrap(), b"hello\n");
        assert_eq!(std::fs::read(dir.join("a/b/c.txt")).unwrap(), b"hello\n");
        assert_eq!(
            fs.resolve(dir.join("a/b/c.txt").to_str().unwrap()).unwrap(),
            "a/b/c.txt"
        );
        // No temporary file is left behind.
        let names: Vec<_> = fs
            .list("a/b")
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["c.txt".to_string()]);
    }

    #[test]
    fn overwrite_keeps_the_mode() {
        let dir = TestDir::new("fs-mode");
        let script = dir.join("run.sh");
        std::fs::write(&script, "old").unwrap();
        std::fs::set_permissions(&script, fs::Permissions::from_mode(0o751)).unwrap();
        fs_at(&dir).write("run.sh", b"#!/bin/sh\n").unwrap();
        let meta = std::fs::metadata(&script).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o751);
        assert_eq!(std::fs::read(&script).unwrap(), b"#!/bin/sh\n");
    }

    #[test]
    fn read_only_files_are_refused() {
        let dir = TestDir::new("fs-ro");
        std::fs::write(dir.join("ro"), "keep").unwrap();
        std::fs::set_permissions(dir.join("ro"), fs::Permissions::from_mode(0o444)).unwrap();
        let err = fs_at(&dir).write("ro", b"new").unwrap_err();
        assert_eq!(err, FsError::PermissionDenied { path: "ro".into() });
        assert_eq!(std::fs::read(dir.join("ro")).unwrap(), b"keep");
    }

    #[test]
    fn write_goes_through_a_symlink_and_the_link_stays() {
        let dir = TestDir::new("fs-link");
        std::fs::create_dir(dir.join("real")).unwrap();
        std::fs::write(dir.join("real/target.txt"), "old").unwrap();
        symlink("real/target.txt", dir.join("link.txt")).unwrap();
        let mut fs = fs_at(&dir);
        assert_eq!(fs.resolve("link.txt").unwrap(), "real/target.txt");
        fs.write("link.txt", b"new").unwrap();
        let link_meta = std::fs::symlink_metadata(dir.join("link.txt")).unwrap();
        assert!(link_meta.file_type().is_symlink());
        assert_eq!(std::fs::read(dir.join("real/target.txt")).unwrap(), b"new");
    }

    #[test]
    fn hostile_paths_touch_nothing_outside() {
        let out = TestDir::new("fs-hostile-out");
        let dir = TestDir::new("fs-hostile");
        std::fs::write(out.join("secret"), "secret").unwrap();
        symlink(out.join("secret"), dir.join("leak")).unwrap();
        symlink(out.path(), dir.join("outdir")).unwrap();
        let mut fs = fs_at(&dir);
        let abs = out.join("secret");
        let escape = format!(
            "../{}-escape",
            dir.path().file_name().unwrap().to_str().unwrap()
        );
        for path in ["leak", "outdir/secret", &escape, abs.to_str().unwrap()] {
            assert!(
                matches!(fs.read(path), Err(FsError::OutsideWorkspace { .. })),
                "{path}"
            );
            assert!(
                matches!(fs.write(path, b"x"), Err(FsError::OutsideWorkspace { .. })),
                "{path}"
            );
            assert!(
                matches!(fs.metadata(path), Err(FsError::OutsideWorkspace { .. })),
                "{path}"
            );
        }
        assert!(matches!(
            fs.list("outdir"),
            Err(FsError::OutsideWorkspace { .. })
        ));
        assert!(matches!(fs.read("a\0b"), Err(FsError::InvalidPath { .. })));
        assert!(matches!(
            fs.write("", b"x"),
            Err(FsError::InvalidPath { .. })
        ));
        assert_eq!(std::fs::read(out.join("secret")).unwrap(), b"secret");
        assert!(!dir.join(&escape).exists());
        // With the permission granted, the same path works and displays absolute.
        let granted = fs_at(&dir).with_external_access(true);
        assert_eq!(granted.read("leak").unwrap(), b"secret");
        assert_eq!(granted.resolve("leak").unwrap(), abs.to_str().unwrap());
    }

    #[test]
    fn remove_deletes_a_link_not_its_target() {
        let out = TestDir::new("fs-rm-out");
        let dir = TestDir::new("fs-rm");
        std::fs::write(out.join("t"), "t").unwrap();
        symlink(out.join("t"), dir.join("link")).unwrap();
        let mut fs = fs_at(&dir);
        fs.remove("link").unwrap();
        assert!(std::fs::symlink_metadata(dir.join("link")).is_err());
        assert!(out.join("t").exists());
        assert_eq!(
            fs.remove("link"),
            Err(FsError::NotFound {
                path: "link".into()
            })
        );
    }

    #[test]
    fn read_refuses_directories_and_files_over_the_limit() {
        let dir = TestDir::new("fs-limit");
        std::fs::write(dir.join("big"), vec![b'x'; 101]).unwrap();
        std::fs::create_dir(dir.join("d")).unwrap();
        let fs = fs_at(&dir).with_read_limit(100);
        assert_eq!(
            fs.read("big"),
            Err(FsError::TooLarge {
                path: "big".into(),
                size: 101,
                limit: 100
            })
        );
        assert_eq!(
            fs.read("d"),
            Err(FsError::IsADirectory { path: "d".into() })
        );
        assert_eq!(
            fs.read("nope"),
            Err(FsError::NotFound {
                path: "nope".into()
            })
        );
    }

    #[test]
    fn metadata_and_list_report_kinds() {
        let dir = TestDir::new("fs-meta");
        std::fs::write(dir.join("f"), "12345").unwrap();
        std::fs::create_dir(dir.join("d")).unwrap();
        symlink("d", dir.join("dl")).unwrap();
        let fs = fs_at(&dir);
        let meta = fs.metadata("f").unwrap();
        assert_eq!((meta.kind, meta.len), (FileKind::File, 5));
        assert!(meta.modified_ms.is_some());
        let mut entries = fs.list(".").unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let kinds: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("d", FileKind::Dir),
                ("dl", FileKind::Dir),
                ("f", FileKind::File)
            ]
        );
        assert_eq!(
            fs.list("f"),
            Err(FsError::NotADirectory { path: "f".into() })
        );
    }

    #[test]
    fn for_invocation_reads_the_grant() {
        let dir = TestDir::new("fs-grant");
        let ws = Workspace::at(dir.path()).unwrap();
        let mut call = ToolInvocation {
            call_id: "c1".into(),
            name: "read".into(),
            input: serde_json::json!({"path": "/etc/hostname"}),
            granted: vec![],
        };
        let fs = NativeFs::for_invocation(ws.clone(), &call);
        assert!(matches!(
            fs.resolve("/etc"),
            Err(FsError::OutsideWorkspace { .. })
        ));
        call.granted.push(EXTERNAL_DIRECTORY.into());
        assert_eq!(
            NativeFs::for_invocation(ws, &call).resolve("/etc").unwrap(),
            "/etc"
        );
    }
}

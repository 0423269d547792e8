//! The file-system trait the file tools run over.
//!
//! Paths are strings as the model wrote them (relative to the workspace root, or absolute);
//! the implementation resolves them, confines them to the workspace and reports a path
//! outside it as [`FsError::OutsideWorkspace`]. cm-host implements it on the real disk
//! (atomic writes, modes and line endings kept); the browser build on an in-memory tree.

use std::fmt;

/// What kind of entry a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Anything else (device, socket, fifo).
    Other,
}

/// What the tools need to know about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// File, directory or other.
    pub kind: FileKind,
    /// Size in bytes.
    pub len: u64,
    /// Last modification, Unix milliseconds, where known (sorting newest first).
    pub modified_ms: Option<u64>,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name, not its path.
    pub name: String,
    /// What it is.
    pub kind: FileKind,
}

/// Why a file-system operation failed; messages are written for the model to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsError {
    /// Nothing exists at the path.
    NotFound {
        /// The path as given.
        path: String,
    },
    /// A file was expected and a directory found.
    IsADirectory {
        /// The path as given.
        path: String,
    },
    /// A directory was expected and something else found.
    NotADirectory {
        /// The path as given.
        path: String,
    },
    /// The operating system refused access.
    PermissionDenied {
        /// The path as given.
        path: String,
    },
    /// The path resolves outside the workspace (through `..`, an absolute path or a
    /// symlink) and the `external_directory` permission was not granted.
    OutsideWorkspace {
        /// The path as given.
        path: String,
        /// Where it resolves.
        resolved: String,
    },
    /// The path is not usable at all (empty, contains NUL).
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file is larger than the operation allows.
    TooLarge {
        /// The path as given.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// Any other failure, with the system's message.
    Other {
        /// The path as given.
        path: String,
        /// What the system said.
        message: String,
    },
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound { path } => write!(f, "{path}: no such file or directory"),
            FsError::IsADirectory { path } => write!(f, "{path} is a directory, not a file"),
            FsError::NotADirectory { path } => write!(f, "{path} is not a directory"),
            FsError::PermissionDenied { path } => write!(f, "{path}: permission denied"),
            FsError::OutsideWorkspace { path, resolved } => write!(
                f,
                "{path} resolves to {resolved}, outside the workspace; \
                 this needs the external_directory permission"
            ),
            FsError::InvalidPath { path, reason } => write!(f, "invalid path {path:?}: {reason}"),
            FsError::TooLarge { path, size, limit } => {
                write!(f, "{path} is {size} bytes, over the limit of {limit} bytes")
            }
            FsError::Other { path, message } => write!(f, "{path}: {message}"),
        }
    }
}

impl std::error::Error for FsError {}

/// The file operations the built-in tools need.
///
/// `write` creates missing parent directories and replaces the file atomically where the
/// medium allows; implementations keep an existing file's mode and write through a
/// symlink to its target.
pub trait FileSystem {
    /// The path's display form after resolution, workspace-relative when inside it: the
    /// key under which reads are remembered, and what the user is shown.
    fn resolve(&self, path: &str) -> Result<String, FsError>;
    /// Reads a whole file.
    fn read(&self, path: &str) -> Result<Vec<u8>, FsError>;
    /// Writes a whole file, creating parent directories.
    fn write(&mut self, path: &str, contents: &[u8]) -> Result<(), FsError>;
    /// Removes a file.
    fn remove(&mut self, path: &str) -> Result<(), FsError>;
    /// Facts about a path.
    fn metadata(&self, path: &str) -> Result<Metadata, FsError>;
    /// The entries of a directory, in no particular order.
    fn list(&self, path: &str) -> Result<Vec<DirEntry>, FsError>;
}

//! cm-host: the local machine, where cm's tools run and its sessions are kept.
//!
//! cm-proto decides *what* to do; this crate does it on a real computer. It confines
//! file access to the workspace (the git worktree around the working directory), writes
//! files atomically, runs shell commands in their own process group with a timeout and a
//! bounded output, finds cm's XDG directories, and keeps each session as an append-only,
//! locked, crash-tolerant JSON Lines log. It knows nothing of providers, HTTP or the
//! agent loop, and it does not decide permissions: a path outside the workspace is
//! refused with [`cm_proto::tool::FsError::OutsideWorkspace`] until the caller says the
//! `external_directory` permission was granted.
//!
//! Unix only (process groups, file modes).
#![forbid(unsafe_code)]

pub mod bash;
pub mod native_fs;
pub mod paths;
pub mod session_store;
pub mod workspace;

#[cfg(test)]
mod test_dir;

pub use bash::{AbortHandle, BashError, BashOutput, BashRequest, Ending};
pub use native_fs::NativeFs;
pub use paths::{Dirs, DirsError};
pub use session_store::{SessionId, SessionInfo, SessionLog, SessionStore, StoreError};
pub use workspace::{LastLink, ResolvedPath, Workspace};

//! cm-host: the local machine, where cm's tools run and its sessions are kept.
//!
//! cm-proto decides *what* to do; this crate does it on a real computer. It confines
//! file access to the workspace (the git worktree around the working directory), writes
//! files atomically, runs shell commands in their own process group with a timeout and a
//! bounded output, finds cm's XDG directories, and keeps each session as an append-only,
//! locked, crash-tolerant JSON Lines log, and keeps logins in a private `auth.json`
//! ([`credentials`]). It knows nothing of providers, HTTP or the
//! agent loop, and it does not decide permissions: a path outside the workspace is
//! refused with [`cm_proto::tool::FsError::OutsideWorkspace`] until the caller says the
//! `external_directory` permission was granted.
//!
//! The [`search`] tools (`glob`, `grep`, `ls`) are generic over the file-system trait and
//! build for any target, the browser's included, with default features off. Everything
//! that touches the real machine sits behind the default `native` feature, Unix only
//! (process groups, file modes).
#![forbid(unsafe_code)]

#[cfg(feature = "native")]
pub mod bash;
#[cfg(feature = "native")]
pub mod credentials;
#[cfg(feature = "native")]
pub mod native_fs;
#[cfg(feature = "native")]
pub mod paths;
pub mod search;
#[cfg(feature = "native")]
pub mod session_store;
#[cfg(feature = "native")]
pub mod workspace;

#[cfg(all(test, feature = "native"))]
mod test_dir;

#[cfg(feature = "native")]
pub use bash::{AbortHandle, BashError, BashOutput, BashRequest, Ending};
#[cfg(feature = "native")]
pub use credentials::{CredentialStore, Credentials, CredentialsError, Secret, StoredCredential};
#[cfg(feature = "native")]
pub use native_fs::NativeFs;
#[cfg(feature = "native")]
pub use paths::{Dirs, DirsError};
#[cfg(feature = "native")]
pub use session_store::{SessionId, SessionInfo, SessionLog, SessionStore, StoreError};
#[cfg(feature = "native")]
pub use workspace::{LastLink, ResolvedPath, Workspace};

//! The workspace root and confinement of paths to it.
//!
//! The root is the git worktree containing the working directory (the nearest ancestor
//! with a `.git` directory or file), else the working directory itself, canonicalised.
//! A path the model writes — relative to the root, or absolute — is resolved the way the
//! kernel would walk it: `..` and every symlink of the part that exists are followed
//! (a dangling symlink to its target), and a missing tail is appended as written. Only
//! then is it compared with the root, so `link/../..`, `/etc/passwd` and a symlink
//! pointing out are all caught; such a path is [`FsError::OutsideWorkspace`] unless the
//! call was granted `external_directory`.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use cm_proto::tool::FsError;

/// Symlinks followed while resolving one path before giving up (Linux's `MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: u32 = 40;

/// The directory cm's tools work in; paths outside it need `external_directory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

/// A path after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPath {
    /// Absolute, with `..` and the symlinks of its existing part resolved.
    pub path: PathBuf,
    /// Workspace-relative (`.` for the root itself) inside the root, absolute outside.
    pub display: String,
    /// Whether `path` is inside the workspace root.
    pub inside: bool,
}

/// Whether a symlink as the very last component is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastLink {
    /// Resolve to the link's target (read, write, metadata).
    Follow,
    /// Keep the link itself (remove).
    Keep,
}

impl Workspace {
    /// The workspace containing `cwd`: the nearest ancestor holding `.git` (a directory,
    /// or the file a linked worktree or submodule has), else `cwd`.
    pub fn detect(cwd: &Path) -> io::Result<Workspace> {
        let cwd = cwd.canonicalize()?;
        let root = cwd
            .ancestors()
            .find(|dir| dir.join(".git").symlink_metadata().is_ok())
            .unwrap_or(&cwd)
            .to_path_buf();
        Ok(Workspace { root })
    }

    /// A workspace rooted exactly at `root` (canonicalised; it must exist).
    pub fn at(root: &Path) -> io::Result<Workspace> {
        Ok(Workspace {
            root: root.canonicalize()?,
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `path` (relative to the root, or absolute) and confines it to the root
    /// unless `external` (the `external_directory` permission) was granted.
    pub fn resolve(
        &self,
        path: &str,
        last: LastLink,
        external: bool,
    ) -> Result<ResolvedPath, FsError> {
        if path.is_empty() {
            return Err(FsError::InvalidPath {
                path: path.to_string(),
                reason: "the path is empty".to_string(),
            });
        }
        if path.contains('\0') {
            return Err(FsError::InvalidPath {
                path: path.to_string(),
                reason: "the path contains a NUL byte".to_string(),
            });
        }
        let resolved =
            walk(&self.root, Path::new(path), last).map_err(|reason| FsError::InvalidPath {
                path: path.to_string(),
                reason,
            })?;
        let inside = resolved.starts_with(&self.root);
        let display = match resolved.strip_prefix(&self.root) {
            Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => resolved.to_string_lossy().into_owned(),
        };
        if !inside && !external {
            return Err(FsError::OutsideWorkspace {
                path: path.to_string(),
                resolved: display,
            });
        }
        Ok(ResolvedPath {
            path: resolved,
            display,
            inside,
        })
    }
}

/// One step of the walk: a component still to visit.
enum Step {
    Root,
    Parent,
    Name(OsString),
}

fn steps(path: &Path) -> impl Iterator<Item = Step> + '_ {
    path.components().filter_map(|c| match c {
        Component::RootDir | Component::Prefix(_) => Some(Step::Root),
        Component::CurDir => None,
        Component::ParentDir => Some(Step::Parent),
        Component::Normal(name) => Some(Step::Name(name.to_os_string())),
    })
}

/// Walks `path` from `root` component by component, following symlinks while the path
/// exists; once a component is missing the rest is applied lexically.
fn walk(root: &Path, path: &Path, last: LastLink) -> Result<PathBuf, String> {
    let mut current = root.to_path_buf();
    let mut todo: VecDeque<Step> = steps(path).collect();
    let mut exists = true;
    let mut hops = 0u32;
    while let Some(step) = todo.pop_front() {
        match step {
            Step::Root => current = PathBuf::from("/"),
            Step::Parent => {
                current.pop();
            }
            Step::Name(name) => {
                let candidate = current.join(&name);
                let is_last = todo.is_empty();
                if !exists || (is_last && last == LastLink::Keep) {
                    current = candidate;
                    continue;
                }
                match candidate.symlink_metadata() {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        hops += 1;
                        if hops > MAX_SYMLINK_HOPS {
                            return Err("too many levels of symbolic links".to_string());
                        }
                        let target = std::fs::read_link(&candidate)
                            .map_err(|e| format!("cannot read symbolic link: {e}"))?;
                        let target: Vec<Step> = steps(&target).collect();
                        for step in target.into_iter().rev() {
                            todo.push_front(step);
                        }
                    }
                    Ok(_) => current = candidate,
                    // Missing, under a non-directory, or unreadable: nothing more to follow.
                    Err(_) => {
                        exists = false;
                        current = candidate;
                    }
                }
            }
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use std::os::unix::fs::symlink;

    fn inside(ws: &Workspace, path: &str) -> ResolvedPath {
        ws.resolve(path, LastLink::Follow, false)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn outside(ws: &Workspace, path: &str) -> String {
        match ws.resolve(path, LastLink::Follow, false) {
            Err(FsError::OutsideWorkspace { resolved, .. }) => resolved,
            other => panic!("{path}: expected OutsideWorkspace, got {other:?}"),
        }
    }

    #[test]
    fn relative_and_absolute_paths_inside_resolve_to_the_same_display() {
        let dir = TestDir::new("ws-inside");
        std::fs::create_dir(dir.join("src")).unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        assert_eq!(inside(&ws, "src/main.rs").display, "src/main.rs");
        let abs = dir.join("src/main.rs");
        assert_eq!(inside(&ws, abs.to_str().unwrap()).display, "src/main.rs");
        assert_eq!(inside(&ws, "./src/../src/./main.rs").display, "src/main.rs");
        assert_eq!(inside(&ws, ".").display, ".");
        assert_eq!(
            inside(&ws, "new/dir/file.txt").path,
            dir.join("new/dir/file.txt")
        );
    }

    #[test]
    fn dot_dot_out_of_the_root_is_outside() {
        let dir = TestDir::new("ws-dotdot");
        let ws = Workspace::at(dir.path()).unwrap();
        let parent = dir.path().parent().unwrap().join("x");
        assert_eq!(outside(&ws, "../x"), parent.to_str().unwrap());
        assert_eq!(outside(&ws, "a/../../x"), parent.to_str().unwrap());
        assert_eq!(outside(&ws, "missing/../../x"), parent.to_str().unwrap());
    }

    #[test]
    fn absolute_path_outside_is_outside_unless_granted() {
        let dir = TestDir::new("ws-abs");
        let ws = Workspace::at(dir.path()).unwrap();
        assert_eq!(outside(&ws, "/etc/passwd"), "/etc/passwd");
        let granted = ws.resolve("/etc/passwd", LastLink::Follow, true).unwrap();
        assert!(!granted.inside);
        assert_eq!(granted.display, "/etc/passwd");
    }

    #[test]
    fn symlinks_pointing_out_are_outside() {
        let out = TestDir::new("ws-link-target");
        let dir = TestDir::new("ws-link");
        std::fs::write(out.join("secret"), "s").unwrap();
        symlink(out.join("secret"), dir.join("file-link")).unwrap();
        symlink(out.path(), dir.join("dir-link")).unwrap();
        symlink(out.join("not-yet"), dir.join("dangling")).unwrap();
        symlink("..", dir.join("up")).unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        let secret = out.join("secret");
        assert_eq!(outside(&ws, "file-link"), secret.to_str().unwrap());
        assert_eq!(outside(&ws, "dir-link/secret"), secret.to_str().unwrap());
        assert_eq!(
            outside(&ws, "dir-link/new/file"),
            out.join("new/file").to_str().unwrap()
        );
        assert_eq!(
            outside(&ws, "dangling"),
            out.join("not-yet").to_str().unwrap()
        );
        outside(&ws, "up/anything");
    }

    #[test]
    fn symlinks_staying_inside_are_fine_and_dot_dot_follows_the_target() {
        let dir = TestDir::new("ws-link-in");
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        symlink(dir.join("a/b"), dir.join("shortcut")).unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        assert_eq!(inside(&ws, "shortcut/f").display, "a/b/f");
        // `shortcut/..` is `a`, as the kernel walks it, not the root.
        assert_eq!(inside(&ws, "shortcut/../g").display, "a/g");
    }

    #[test]
    fn keep_last_link_names_the_link_itself() {
        let out = TestDir::new("ws-keep-target");
        let dir = TestDir::new("ws-keep");
        symlink(out.path(), dir.join("link")).unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        let kept = ws.resolve("link", LastLink::Keep, false).unwrap();
        assert_eq!(kept.display, "link");
        assert!(ws.resolve("link/x", LastLink::Keep, false).is_err());
    }

    #[test]
    fn symlink_loops_and_bad_strings_are_invalid() {
        let dir = TestDir::new("ws-loop");
        symlink("b", dir.join("a")).unwrap();
        symlink("a", dir.join("b")).unwrap();
        let ws = Workspace::at(dir.path()).unwrap();
        for bad in ["a", "", "src/\0main.rs"] {
            match ws.resolve(bad, LastLink::Follow, true) {
                Err(FsError::InvalidPath { path, .. }) => assert_eq!(path, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn detect_finds_the_git_root_or_falls_back_to_cwd() {
        let dir = TestDir::new("ws-detect");
        std::fs::create_dir_all(dir.join("repo/.git")).unwrap();
        std::fs::create_dir_all(dir.join("repo/sub/deeper")).unwrap();
        std::fs::create_dir_all(dir.join("worktree/src")).unwrap();
        std::fs::write(dir.join("worktree/.git"), "gitdir: /elsewhere\n").unwrap();
        std::fs::create_dir_all(dir.join("plain/x")).unwrap();
        let root = |p: &str| {
            Workspace::detect(&dir.join(p))
                .unwrap()
                .root()
                .to_path_buf()
        };
        assert_eq!(root("repo/sub/deeper"), dir.join("repo"));
        assert_eq!(root("worktree/src"), dir.join("worktree"));
        // No `.git` up to the temp dir (assuming the temp dir is not in a repository).
        if !dir.path().ancestors().any(|a| a.join(".git").exists()) {
            assert_eq!(root("plain/x"), dir.join("plain/x"));
        }
    }
}

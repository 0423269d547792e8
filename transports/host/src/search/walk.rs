//! Walking a directory tree through the [`FileSystem`] trait.
//!
//! A walk starts at a resolved directory with the ignore rules of the workspace root and
//! every directory down to it already in force, lists each directory once, sorts its
//! entries by name, and hides `.git` and whatever the ignore files hide. Symbolic links
//! are never followed: a path whose resolution differs from its spelling is reported as
//! a [`Kind::Link`] and not descended into, so a link loop cannot hang a walk and a link
//! cannot lead outside the workspace. The directory given as the start is walked even if
//! an ignore file hides it (the caller asked for it by name).

use std::collections::VecDeque;

use cm_proto::tool::{FileKind, FileSystem, FsError};

use super::rules::Rules;

/// What a walk found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file (not reached through a link).
    File,
    /// A directory (not reached through a link).
    Dir,
    /// A symbolic link (or an entry that does not resolve to itself); never followed.
    Link,
}

/// One entry of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// Its display path (workspace-relative inside, absolute outside).
    pub(crate) path: String,
    /// Its name.
    pub(crate) name: String,
    /// What it is.
    pub(crate) kind: Kind,
    /// 1 for the start directory's entries.
    pub(crate) depth: usize,
}

/// Whether a walk goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep walking (into this entry, if it is a directory).
    Continue,
    /// Keep walking, but not into this directory.
    Skip,
    /// Stop now.
    Stop,
}

/// Where a search starts, resolved.
#[derive(Debug, Clone)]
pub(crate) enum Start {
    /// A directory to walk.
    Dir(StartDir),
    /// A single file (grep searches just it).
    File(String),
}

/// A directory to walk, with the rules in force in it.
#[derive(Debug, Clone)]
pub(crate) struct StartDir {
    /// Its display path (`.` for the workspace root).
    pub(crate) path: String,
    /// The rules of the workspace root and the directories down to (not including) it.
    pub(crate) rules: Rules,
    /// Whether it is inside the workspace and neither it nor a directory above it is
    /// hidden by an ignore file (so a walk from the root reaches it unchanged).
    #[cfg_attr(not(feature = "native"), allow(dead_code))]
    pub(crate) reachable_from_root: bool,
}

/// `dir` joined with `name`, in display form.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir == "." {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `path` relative to the directory `dir` it lies under.
pub(crate) fn relative<'p>(dir: &str, path: &'p str) -> &'p str {
    if dir == "." {
        return path;
    }
    match path.strip_prefix(dir) {
        Some(rest) => rest.strip_prefix('/').unwrap_or(rest),
        None => path,
    }
}

/// Resolves where a search starts: `path` (default the workspace root).
pub(crate) fn start(fs: &dyn FileSystem, path: Option<&str>) -> Result<Start, FsError> {
    let given = path.unwrap_or(".");
    let resolved = fs.resolve(given)?;
    let meta = fs.metadata(given)?;
    match meta.kind {
        FileKind::Dir => {}
        FileKind::File => return Ok(Start::File(resolved)),
        FileKind::Other => {
            return Err(FsError::NotADirectory {
                path: given.to_string(),
            })
        }
    }
    if resolved.starts_with('/') {
        // Outside the workspace (granted): no rules of the workspace apply.
        return Ok(Start::Dir(StartDir {
            path: resolved,
            rules: Rules::default(),
            reachable_from_root: false,
        }));
    }
    let mut rules = Rules::default();
    let mut reachable = true;
    let mut dir = ".".to_string();
    if resolved != "." {
        for component in resolved.split('/') {
            let entries = fs.list(&dir).unwrap_or_default();
            rules = rules.enter(fs, &dir, &entries);
            let child = join(&dir, component);
            if component == ".git" || rules.is_ignored(&child, true) {
                reachable = false;
            }
            dir = child;
        }
    }
    Ok(Start::Dir(StartDir {
        path: resolved,
        rules,
        reachable_from_root: reachable,
    }))
}

/// The walker: what to hide besides the ignore files, and how careful to be with links.
pub(crate) struct Walker<'a> {
    fs: &'a dyn FileSystem,
    /// Directory names never entered (below the start).
    skip_dirs: &'a [&'a str],
    /// Whether each file is resolved to tell links from files (directories always are).
    check_file_links: bool,
}

impl std::fmt::Debug for Walker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walker")
            .field("skip_dirs", &self.skip_dirs)
            .finish_non_exhaustive()
    }
}

impl<'a> Walker<'a> {
    /// A walker over `fs` that resolves every entry (links are never reported as files).
    pub(crate) fn new(fs: &'a dyn FileSystem) -> Walker<'a> {
        Walker {
            fs,
            skip_dirs: &[],
            check_file_links: true,
        }
    }

    /// Also hides directories with these names.
    pub(crate) fn skipping(mut self, names: &'a [&'a str]) -> Walker<'a> {
        self.skip_dirs = names;
        self
    }

    /// Trusts the listing's kind for files (cheaper; a link to a file shows as a file).
    pub(crate) fn trusting_file_kinds(mut self) -> Walker<'a> {
        self.check_file_links = false;
        self
    }

    /// The visible entries of `dir`, sorted by name, and the rules inside it.
    fn children(&self, dir: &str, rules: &Rules, depth: usize) -> (Vec<Found>, Rules) {
        let Ok(entries) = self.fs.list(dir) else {
            return (Vec::new(), rules.clone());
        };
        let rules = rules.enter(self.fs, dir, &entries);
        let mut found = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.name == ".git" {
                continue;
            }
            let path = join(dir, &entry.name);
            let kind = match entry.kind {
                FileKind::Dir if self.skip_dirs.contains(&entry.name.as_str()) => continue,
                FileKind::Dir if rules.is_ignored(&path, true) => continue,
                FileKind::Dir => self.unless_link(&path, Kind::Dir),
                FileKind::File if rules.is_ignored(&path, false) => continue,
                FileKind::File if self.check_file_links => self.unless_link(&path, Kind::File),
                FileKind::File => Kind::File,
                FileKind::Other => continue,
            };
            found.push(Found {
                path,
                name: entry.name,
                kind,
                depth,
            });
        }
        found.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        (found, rules)
    }

    fn unless_link(&self, path: &str, kind: Kind) -> Kind {
        match self.fs.resolve(path) {
            Ok(resolved) if resolved == path => kind,
            _ => Kind::Link,
        }
    }

    /// Visits every entry under `start` depth first, each directory before its contents,
    /// siblings in name order (the order of the `ignore` crate's sorted walk).
    pub(crate) fn depth_first(&self, start: &StartDir, visit: &mut dyn FnMut(&Found) -> Flow) {
        let (first, rules) = self.children(&start.path, &start.rules, 1);
        let mut stack: Vec<(std::vec::IntoIter<Found>, Rules)> = vec![(first.into_iter(), rules)];
        while let Some((entries, rules)) = stack.last_mut() {
            let Some(found) = entries.next() else {
                stack.pop();
                continue;
            };
            match visit(&found) {
                Flow::Stop => return,
                Flow::Skip => continue,
                Flow::Continue => {}
            }
            if found.kind == Kind::Dir {
                let rules = rules.clone();
                let (children, inner) =
                    self.children(&found.path, &rules, found.depth.saturating_add(1));
                stack.push((children.into_iter(), inner));
            }
        }
    }

    /// Visits every entry under `start` breadth first: all of a depth before the next.
    pub(crate) fn breadth_first(&self, start: &StartDir, visit: &mut dyn FnMut(&Found) -> Flow) {
        let mut queue: VecDeque<(String, Rules, usize)> = VecDeque::new();
        queue.push_back((start.path.clone(), start.rules.clone(), 1));
        while let Some((dir, rules, depth)) = queue.pop_front() {
            let (children, inner) = self.children(&dir, &rules, depth);
            for found in children {
                match visit(&found) {
                    Flow::Stop => return,
                    Flow::Skip => continue,
                    Flow::Continue => {}
                }
                if found.kind == Kind::Dir {
                    queue.push_back((found.path, inner.clone(), depth.saturating_add(1)));
                }
            }
        }
    }
}

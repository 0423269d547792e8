//! The search tools on the real disk, with a fast road where it gives the same answer.
//!
//! `glob` must see every matching file to order them newest first, so on a big tree the
//! cost is the walk itself. When the searched directory is inside the workspace and no
//! ignore file hides it or a directory above it, the walk is done by the `ignore` crate's
//! parallel walker from the workspace root, pruned to the searched directory, configured
//! as [`super::walk`] behaves (hidden files included, `.gitignore`, `.ignore` and
//! `.git/info/exclude` honoured whether or not there is a repository, no global
//! gitignore, no ignore files above the root, links not followed, `.git` skipped). Each
//! worker keeps its own bounded heap; the heaps are merged at the end. Otherwise, and
//! for `grep` and `ls`, the generic walk over [`NativeFs`] runs.
//!
//! One known difference: for a linked git worktree (whose `.git` is a file) the fast
//! path also reads the main repository's `info/exclude`, which lies outside the
//! workspace and which the generic walk cannot reach.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::UNIX_EPOCH;

use cm_proto::tool::ToolOutcome;
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};
use serde_json::Value;

use super::glob::{walk_generic, GlobCall};
use super::newest::Newest;
use super::walk::{relative, StartDir};
use super::{run_search, MAX_GLOB_RESULTS};
use crate::NativeFs;

/// Runs the search tool called `name` on the real disk; `None` when it is not one.
pub fn run_native(name: &str, input: &Value, fs: &NativeFs) -> Option<ToolOutcome> {
    match name {
        "glob" => Some(glob_native(fs, input)),
        _ => run_search(name, input, fs),
    }
}

/// `glob` on the real disk: the parallel walk where it agrees with the generic one.
pub fn glob_native(fs: &NativeFs, input: &Value) -> ToolOutcome {
    let call = match GlobCall::parse(input) {
        Ok(call) => call,
        Err(outcome) => return *outcome,
    };
    let dir = match call.start(fs) {
        Ok(dir) => dir,
        Err(outcome) => return *outcome,
    };
    let newest = if dir.reachable_from_root {
        walk_parallel(fs.workspace().root(), &call, &dir)
    } else {
        walk_generic(fs, &call, &dir)
    };
    call.outcome(&dir, newest)
}

fn walk_parallel(root: &Path, call: &GlobCall<'_>, dir: &StartDir) -> Newest {
    let start = if dir.path == "." {
        root.to_path_buf()
    } else {
        root.join(&dir.path)
    };
    let scope = start.clone();
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .parents(false)
        .ignore(true)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(true)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |e| {
            e.file_name() != ".git" && (e.path().starts_with(&scope) || scope.starts_with(e.path()))
        });
    let shared = Mutex::new(Newest::new(MAX_GLOB_RESULTS));
    let mut visitors = Visitors {
        root,
        start: &start,
        dir,
        call,
        shared: &shared,
    };
    builder.build_parallel().visit(&mut visitors);
    shared.into_inner().unwrap_or_else(PoisonError::into_inner)
}

struct Visitors<'s> {
    root: &'s Path,
    start: &'s PathBuf,
    dir: &'s StartDir,
    call: &'s GlobCall<'s>,
    shared: &'s Mutex<Newest>,
}

impl<'s> ParallelVisitorBuilder<'s> for Visitors<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            start: self.start,
            dir: self.dir,
            call: self.call,
            shared: self.shared,
            local: Newest::new(MAX_GLOB_RESULTS),
        })
    }
}

/// One worker's share of the walk: its own bounded heap, merged when it is done.
struct Visitor<'s> {
    root: &'s Path,
    start: &'s PathBuf,
    dir: &'s StartDir,
    call: &'s GlobCall<'s>,
    shared: &'s Mutex<Newest>,
    local: Newest,
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        let Ok(entry) = entry else {
            return WalkState::Continue;
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) || !entry.path().starts_with(self.start)
        {
            return WalkState::Continue;
        }
        let Ok(below_root) = entry.path().strip_prefix(self.root) else {
            return WalkState::Continue;
        };
        let display = below_root.to_string_lossy();
        if self
            .call
            .pattern
            .matches(relative(&self.dir.path, &display))
        {
            let modified_ms = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| u64::try_from(d.as_millis()).ok());
            self.local.offer(display.into_owned(), modified_ms);
        }
        WalkState::Continue
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let local = std::mem::replace(&mut self.local, Newest::new(0));
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .merge(local);
    }
}

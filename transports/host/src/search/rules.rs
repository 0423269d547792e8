//! Which paths the ignore files hide.
//!
//! Each directory may hold a `.ignore`, a `.gitignore` and (in `.git/info/exclude`) the
//! repository's private excludes; their patterns apply to the paths below it. The files
//! are read through the [`FileSystem`] trait and parsed by the `ignore` crate's
//! gitignore matcher; the precedence is the one that crate's walker (ripgrep's) uses, so
//! the native fast path and this walk agree: any `.ignore` match, deepest directory
//! first, decides; then any `.gitignore` match; then the excludes. A `!pattern` match
//! re-includes.

use std::sync::Arc;

use cm_proto::tool::{DirEntry, FileKind, FileSystem};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use super::walk::join;

/// The ignore rules in force inside one directory (its own and its ancestors').
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    innermost: Option<Arc<Level>>,
}

#[derive(Debug)]
struct Level {
    ignore: Gitignore,
    gitignore: Gitignore,
    exclude: Gitignore,
    parent: Option<Arc<Level>>,
}

impl Rules {
    /// The rules inside `dir`, whose listing is `entries`: these plus its own files.
    pub(crate) fn enter(&self, fs: &dyn FileSystem, dir: &str, entries: &[DirEntry]) -> Rules {
        let has =
            |name: &str, kind: FileKind| entries.iter().any(|e| e.name == name && e.kind == kind);
        let load = |present: bool, file: &str| {
            if present {
                parse(fs, dir, &join(dir, file))
            } else {
                Gitignore::empty()
            }
        };
        let level = Level {
            ignore: load(has(".ignore", FileKind::File), ".ignore"),
            gitignore: load(has(".gitignore", FileKind::File), ".gitignore"),
            exclude: load(has(".git", FileKind::Dir), ".git/info/exclude"),
            parent: self.innermost.clone(),
        };
        if level.ignore.is_empty() && level.gitignore.is_empty() && level.exclude.is_empty() {
            return self.clone();
        }
        Rules {
            innermost: Some(Arc::new(level)),
        }
    }

    /// Whether `path` (a display path under the directories these rules came from) is
    /// ignored.
    pub(crate) fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        let decide = |pick: fn(&Level) -> &Gitignore| {
            let mut level = self.innermost.as_deref();
            while let Some(l) = level {
                match pick(l).matched(path, is_dir) {
                    Match::None => level = l.parent.as_deref(),
                    Match::Ignore(_) => return Some(true),
                    Match::Whitelist(_) => return Some(false),
                }
            }
            None
        };
        decide(|l| &l.ignore)
            .or_else(|| decide(|l| &l.gitignore))
            .or_else(|| decide(|l| &l.exclude))
            .unwrap_or(false)
    }
}

/// Parses one ignore file as the `ignore` crate reads it from disk: line by line, a BOM
/// dropped, stopping at the first line that is not UTF-8; a bad pattern is skipped.
fn parse(fs: &dyn FileSystem, dir: &str, file: &str) -> Gitignore {
    let Ok(bytes) = fs.read(file) else {
        return Gitignore::empty();
    };
    let mut builder = GitignoreBuilder::new(dir);
    let mut lines = bytes.split(|&b| b == b'\n').peekable();
    let mut first = true;
    while let Some(line) = lines.next() {
        if line.is_empty() && lines.peek().is_none() {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Ok(line) = std::str::from_utf8(line) else {
            break;
        };
        let line = if first {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        first = false;
        let _skipped = builder.add_line(None, line);
    }
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

//! The page's virtual workspace and the tools that run on it.
//!
//! Files live in cm-proto's [`MemoryFs`], rooted at `/workspace`. The file tools are
//! cm-proto's [`run_builtin`] and the search tools cm-host's [`run_search`] — the very
//! code the CLI runs on disk, over the same file-system trait — with one [`ReadLog`] and
//! one todo list for the session. `bash` does not exist here, and `webfetch` needs the
//! network, so [`Workspace::run`] leaves it to the caller.

use std::fmt;

use cm_host::search::{run_search, search_defs};
use cm_proto::tool::{
    apply_patch_def, edit_def, multiedit_def, read_def, run_builtin, todo, todoread_def,
    todowrite_def, webfetch_def, write_def, FileKind, FileSystem, MemoryFs, ReadLog, Todo, ToolDef,
    ToolInvocation, ToolOptions, ToolOutcome,
};
use serde::Serialize;

/// The largest file the page takes in (dropped, picked or added through the API).
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// The most bytes all files together may hold.
pub const MAX_TOTAL_BYTES: usize = 50 * 1024 * 1024;

/// The tools the browser offers, in the order the model sees them.
pub fn browser_tools() -> Vec<ToolDef> {
    let mut tools = vec![
        read_def(),
        write_def(),
        edit_def(),
        multiedit_def(),
        apply_patch_def(),
    ];
    tools.extend(search_defs());
    tools.extend([todowrite_def(), todoread_def(), webfetch_def()]);
    tools
}

/// Why a file was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddFileError {
    /// The file is larger than [`MAX_FILE_BYTES`].
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        size: usize,
    },
    /// All files together would pass [`MAX_TOTAL_BYTES`].
    WorkspaceFull {
        /// The path.
        path: String,
    },
    /// The path cannot be used.
    BadPath {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for AddFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddFileError::TooLarge { path, size } => write!(
                f,
                "{path} was not added: it is {} and files may be at most {} here",
                human_size(*size),
                human_size(MAX_FILE_BYTES)
            ),
            AddFileError::WorkspaceFull { path } => write!(
                f,
                "{path} was not added: the files together may be at most {}; remove some first",
                human_size(MAX_TOTAL_BYTES)
            ),
            AddFileError::BadPath { reason } => write!(f, "cannot add the file: {reason}"),
        }
    }
}

impl std::error::Error for AddFileError {}

/// `1.5 MB`-style sizes.
fn human_size(bytes: usize) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    #[allow(clippy::cast_precision_loss)]
    let size = bytes as f64;
    if size >= MB {
        format!("{:.1} MB", size / MB)
    } else {
        format!("{:.1} KB", size / 1024.0)
    }
}

/// One file of the workspace, as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    /// The path relative to the workspace root.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The files and the per-session state of the tools.
#[derive(Debug)]
pub struct Workspace {
    fs: MemoryFs,
    read_log: ReadLog,
    todos: Vec<Todo>,
    options: ToolOptions,
}

impl Default for Workspace {
    fn default() -> Workspace {
        Workspace::new()
    }
}

impl Workspace {
    /// An empty workspace at `/workspace`.
    pub fn new() -> Workspace {
        Workspace {
            fs: MemoryFs::new(),
            read_log: ReadLog::new(),
            todos: Vec::new(),
            options: ToolOptions {
                max_file_bytes: MAX_FILE_BYTES as u64,
                ..ToolOptions::default()
            },
        }
    }

    /// Starts a new session's tool state (what was read, the todo list); files stay.
    pub fn reset_session(&mut self, todos: Vec<Todo>) {
        self.read_log = ReadLog::new();
        self.todos = todos;
    }

    /// Runs `invocation`; `None` for `webfetch`, which the caller runs with the network.
    pub fn run(&mut self, invocation: &ToolInvocation) -> Option<ToolOutcome> {
        let name = invocation.name.as_str();
        let input = &invocation.input;
        match name {
            "webfetch" => return None,
            "todowrite" | "todoread" => return todo::run(&mut self.todos, name, input),
            _ => {}
        }
        if let Some(outcome) = run_search(name, input, &self.fs) {
            return Some(outcome);
        }
        let outcome = run_builtin(name, input, &mut self.fs, &mut self.read_log, &self.options)
            .unwrap_or_else(|| {
                ToolOutcome::error(format!(
                    "the tool {name} is not available in the browser; use read, write, edit, \
                     multiedit, apply_patch, glob, grep, ls, todowrite, todoread or webfetch"
                ))
            });
        Some(outcome)
    }

    /// Adds (or replaces) a file, within [`MAX_FILE_BYTES`] and [`MAX_TOTAL_BYTES`].
    pub fn add_file(&mut self, path: &str, contents: &[u8]) -> Result<(), AddFileError> {
        if contents.len() > MAX_FILE_BYTES {
            return Err(AddFileError::TooLarge {
                path: path.to_string(),
                size: contents.len(),
            });
        }
        let replaced = self.file(path).map_or(0, <[u8]>::len);
        let total = self
            .total_bytes()
            .saturating_sub(replaced)
            .saturating_add(contents.len());
        if total > MAX_TOTAL_BYTES {
            return Err(AddFileError::WorkspaceFull {
                path: path.to_string(),
            });
        }
        self.fs
            .write(path, contents)
            .map_err(|error| AddFileError::BadPath {
                reason: error.to_string(),
            })
    }

    /// A file's contents.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.fs.file(path)
    }

    /// Removes a file; whether it existed.
    pub fn remove_file(&mut self, path: &str) -> bool {
        self.fs.remove(path).is_ok()
    }

    /// Every file, by path.
    pub fn files(&self) -> Vec<FileInfo> {
        let mut files = Vec::new();
        self.walk("", &mut files);
        files
    }

    fn walk(&self, dir: &str, files: &mut Vec<FileInfo>) {
        let listing = if dir.is_empty() { "." } else { dir };
        let Ok(entries) = self.fs.list(listing) else {
            return;
        };
        for entry in entries {
            let path = if dir.is_empty() {
                entry.name.clone()
            } else {
                format!("{dir}/{}", entry.name)
            };
            match entry.kind {
                FileKind::Dir => self.walk(&path, files),
                FileKind::File => {
                    let size = self.fs.metadata(&path).map_or(0, |m| m.len);
                    files.push(FileInfo { path, size });
                }
                _ => {}
            }
        }
    }

    fn total_bytes(&self) -> usize {
        self.files().iter().fold(0usize, |sum, file| {
            sum.saturating_add(usize::try_from(file.size).unwrap_or(usize::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(name: &str, input: serde_json::Value) -> ToolInvocation {
        ToolInvocation {
            call_id: "c".into(),
            name: name.into(),
            input,
            granted: Vec::new(),
        }
    }

    #[test]
    fn the_cli_file_tools_read_edit_and_search_the_virtual_files() {
        let mut ws = Workspace::new();
        ws.add_file("src/notes.txt", b"alpha\nbeta\n").unwrap();
        ws.add_file("README.md", b"# hello\n").unwrap();

        let edit = json!({"path": "src/notes.txt", "old_string": "beta", "new_string": "gamma"});
        let refused = ws.run(&call("edit", edit.clone())).unwrap();
        assert!(refused.is_error, "edit before read is refused, as on disk");

        let read = ws
            .run(&call("read", json!({"path": "src/notes.txt"})))
            .unwrap();
        assert!(!read.is_error);
        let edited = ws.run(&call("edit", edit)).unwrap();
        assert!(!edited.is_error, "{edited:?}");
        assert_eq!(edited.changes[0].path, "src/notes.txt");
        assert_eq!(ws.file("src/notes.txt"), Some(&b"alpha\ngamma\n"[..]));

        let grep = ws.run(&call("grep", json!({"pattern": "gam+a"}))).unwrap();
        assert!(format!("{:?}", grep.content).contains("notes.txt"));
        let glob = ws
            .run(&call("glob", json!({"pattern": "**/*.md"})))
            .unwrap();
        assert!(format!("{:?}", glob.content).contains("README.md"));
        let ls = ws.run(&call("ls", json!({}))).unwrap();
        assert!(format!("{:?}", ls.content).contains("src/"));
    }

    #[test]
    fn todo_works_webfetch_is_left_to_the_caller_and_bash_is_not_here() {
        let mut ws = Workspace::new();
        let todos = json!({"todos": [{"id": "1", "content": "write tests", "status": "pending", "priority": "high"}]});
        assert!(!ws.run(&call("todowrite", todos)).unwrap().is_error);
        let read = ws.run(&call("todoread", json!({}))).unwrap();
        assert!(format!("{:?}", read.content).contains("write tests"));
        assert_eq!(ws.run(&call("webfetch", json!({"url": "https://x"}))), None);
        let bash = ws.run(&call("bash", json!({"command": "ls"}))).unwrap();
        assert!(bash.is_error);
        assert!(browser_tools().iter().all(|t| t.spec.name != "bash"));
        assert_eq!(browser_tools().len(), 11);
    }

    #[test]
    fn large_files_are_refused_with_their_size_and_nothing_is_added() {
        let mut ws = Workspace::new();
        let big = vec![b'x'; MAX_FILE_BYTES + 1];
        let error = ws.add_file("big.log", &big).unwrap_err();
        assert_eq!(
            error.to_string(),
            "big.log was not added: it is 5.0 MB and files may be at most 5.0 MB here"
        );
        assert!(ws.files().is_empty());

        for i in 0..10 {
            ws.add_file(&format!("f{i}"), &vec![b'y'; MAX_FILE_BYTES])
                .unwrap();
        }
        assert!(matches!(
            ws.add_file("one-more", b"z"),
            Err(AddFileError::WorkspaceFull { .. })
        ));
        // Replacing a file counts its new size, not both.
        ws.add_file("f0", b"small").unwrap();
        assert!(matches!(
            ws.add_file("../etc/passwd", b"x"),
            Err(AddFileError::BadPath { .. })
        ));
    }

    #[test]
    fn files_lists_nested_paths_and_remove_deletes_them() {
        let mut ws = Workspace::new();
        ws.add_file("a/b/c.txt", b"123").unwrap();
        ws.add_file("d.txt", b"").unwrap();
        assert_eq!(
            ws.files(),
            [
                FileInfo {
                    path: "a/b/c.txt".into(),
                    size: 3
                },
                FileInfo {
                    path: "d.txt".into(),
                    size: 0
                }
            ]
        );
        assert!(ws.remove_file("a/b/c.txt"));
        assert!(!ws.remove_file("a/b/c.txt"));
        assert_eq!(ws.files().len(), 1);
    }
}

//! `glob`: files whose path matches a pattern, newest first.

use cm_proto::tool::{FileSystem, ToolOutcome};
use serde_json::Value;

use super::newest::Newest;
use super::pattern::Pattern;
use super::walk::{relative, start, Flow, Kind, Start, StartDir, Walker};
use super::{optional_str, MAX_GLOB_RESULTS};

/// A parsed `glob` call.
#[derive(Debug)]
pub(crate) struct GlobCall<'a> {
    pub(crate) pattern_text: &'a str,
    pub(crate) pattern: Pattern,
    pub(crate) path: Option<&'a str>,
}

impl<'a> GlobCall<'a> {
    pub(crate) fn parse(input: &'a Value) -> Result<GlobCall<'a>, Box<ToolOutcome>> {
        let pattern_text = cm_proto::tool::args::required_str(input, "pattern")
            .map_err(|e| ToolOutcome::error(format!("glob: {e}")))?;
        let path =
            optional_str(input, "path").map_err(|e| ToolOutcome::error(format!("glob: {e}")))?;
        let pattern = Pattern::new(pattern_text).map_err(|e| {
            ToolOutcome::error(format!("glob: invalid pattern {pattern_text:?}: {e}"))
        })?;
        Ok(GlobCall {
            pattern_text,
            pattern,
            path,
        })
    }

    /// Resolves the directory to search; a file is refused.
    pub(crate) fn start(&self, fs: &dyn FileSystem) -> Result<StartDir, Box<ToolOutcome>> {
        match start(fs, self.path) {
            Ok(Start::Dir(dir)) => Ok(dir),
            Ok(Start::File(file)) => Err(Box::new(ToolOutcome::error(format!(
                "glob: {file} is a file; give a directory as path (or none for the whole \
                 workspace)"
            )))),
            Err(e) => Err(Box::new(ToolOutcome::fs_error(&e))),
        }
    }

    /// The outcome for what a walk of `dir` collected.
    pub(crate) fn outcome(&self, dir: &StartDir, newest: Newest) -> ToolOutcome {
        let (paths, total) = newest.finish();
        let place = if dir.path == "." {
            "the workspace".to_string()
        } else {
            dir.path.clone()
        };
        if paths.is_empty() {
            return ToolOutcome::text(
                format!(
                    "No files found matching {:?} in {place}.",
                    self.pattern_text
                ),
                format!("glob {} (no files)", self.pattern_text),
            );
        }
        let mut text = paths.join("\n");
        if total > paths.len() {
            text.push_str(&format!(
                "\n\n(Showing the {} most recently modified of {total} matching files; {} more \
                 not shown. Use a more specific pattern or path to narrow the search.)",
                paths.len(),
                total - paths.len()
            ));
        }
        let noun = if total == 1 { "file" } else { "files" };
        ToolOutcome::text(text, format!("glob {} ({total} {noun})", self.pattern_text))
    }
}

/// Runs `glob` over any [`FileSystem`].
pub fn glob(fs: &dyn FileSystem, input: &Value) -> ToolOutcome {
    let call = match GlobCall::parse(input) {
        Ok(call) => call,
        Err(outcome) => return *outcome,
    };
    let dir = match call.start(fs) {
        Ok(dir) => dir,
        Err(outcome) => return *outcome,
    };
    let newest = walk_generic(fs, &call, &dir);
    call.outcome(&dir, newest)
}

pub(crate) fn walk_generic(fs: &dyn FileSystem, call: &GlobCall<'_>, dir: &StartDir) -> Newest {
    let mut newest = Newest::new(MAX_GLOB_RESULTS);
    Walker::new(fs).depth_first(dir, &mut |found| {
        if found.kind == Kind::File && call.pattern.matches(relative(&dir.path, &found.path)) {
            let modified = fs.metadata(&found.path).ok().and_then(|m| m.modified_ms);
            newest.offer(found.path.clone(), modified);
        }
        Flow::Continue
    });
    newest
}

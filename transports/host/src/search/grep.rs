//! `grep`: lines matching a regular expression, as `path:line: text`.
//!
//! Files are searched in path order (a sorted depth-first walk), so the search can stop
//! as soon as the cap is reached and the same call always gives the same answer. Binary
//! files (by [`cm_proto::tool::sniff`]) are skipped; bytes that are not UTF-8 are shown
//! lossily.

use cm_proto::tool::sniff::{classify, Content};
use cm_proto::tool::{FileSystem, ToolOutcome};
use regex::bytes::{Regex, RegexBuilder};
use serde_json::Value;

use super::pattern::Pattern;
use super::walk::{relative, start, Flow, Kind, Start, Walker};
use super::{optional_str, MAX_GREP_LINE_CHARS, MAX_GREP_MATCHES};

/// The largest compiled regex accepted (a guard against patterns that explode).
const REGEX_SIZE_LIMIT: usize = 10 * 1024 * 1024;

/// A parsed `grep` call and the matches found so far.
#[derive(Debug)]
pub(crate) struct GrepCall<'a> {
    pub(crate) pattern_text: &'a str,
    regex: Regex,
    include: Option<Pattern>,
    pub(crate) path: Option<&'a str>,
    lines: Vec<String>,
    files: usize,
    capped: bool,
}

/// What to use instead when a pattern names a Unicode table grep leaves out.
fn unicode_hint(error: &regex::Error) -> &'static str {
    if error.to_string().contains("Unicode") {
        "\nUnicode scripts, ages and boolean properties (\\p{Greek}) are not available: use \
         general categories such as \\pL, \\p{Lu} or \\w, or explicit ranges ([\\x{370}-\\x{3FF}])."
    } else {
        ""
    }
}

impl<'a> GrepCall<'a> {
    pub(crate) fn parse(input: &'a Value) -> Result<GrepCall<'a>, Box<ToolOutcome>> {
        let fail = |e: cm_proto::tool::args::ArgError| ToolOutcome::error(format!("grep: {e}"));
        let pattern_text = cm_proto::tool::args::required_str(input, "pattern").map_err(fail)?;
        let path = optional_str(input, "path").map_err(fail)?;
        let include_text = optional_str(input, "include").map_err(fail)?;
        let regex = RegexBuilder::new(pattern_text)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                ToolOutcome::error(format!(
                    "grep: the pattern {pattern_text:?} is not a valid regular expression:\n{e}\n\
                     Patterns use Rust regex syntax: escape ( ) [ ] {{ }} . * + ? | ^ $ \\ \
                     with a backslash to match them literally; look-around and \
                     backreferences are not supported.{}",
                    unicode_hint(&e)
                ))
            })?;
        let include = match include_text {
            None => None,
            Some(text) => Some(Pattern::new(text).map_err(|e| {
                ToolOutcome::error(format!("grep: invalid include glob {text:?}: {e}"))
            })?),
        };
        Ok(GrepCall {
            pattern_text,
            regex,
            include,
            path,
            lines: Vec::new(),
            files: 0,
            capped: false,
        })
    }

    /// Whether a file at `relative` (to the searched directory) is to be searched.
    pub(crate) fn wants(&self, relative: &str) -> bool {
        self.include.as_ref().is_none_or(|p| p.matches(relative))
    }

    /// Searches one file's bytes; `Stop` once the cap is passed.
    pub(crate) fn search(&mut self, path: &str, bytes: &[u8]) -> Flow {
        if !matches!(classify(path, bytes), Content::Text) || !self.regex.is_match(bytes) {
            return Flow::Continue;
        }
        self.files += 1;
        for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !self.regex.is_match(line) {
                continue;
            }
            if self.lines.len() == MAX_GREP_MATCHES {
                self.capped = true;
                return Flow::Stop;
            }
            let text = String::from_utf8_lossy(line);
            let text = match text.char_indices().nth(MAX_GREP_LINE_CHARS) {
                Some((cut, _)) => format!("{}… [line cut]", &text[..cut]),
                None => text.into_owned(),
            };
            self.lines
                .push(format!("{path}:{}: {text}", index.saturating_add(1)));
        }
        Flow::Continue
    }

    /// The outcome for what was found.
    pub(crate) fn outcome(self) -> ToolOutcome {
        let count = self.lines.len();
        if count == 0 {
            return ToolOutcome::text(
                format!("No matches for {:?}.", self.pattern_text),
                format!("grep {} (no matches)", self.pattern_text),
            );
        }
        let noun =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut text = format!(
            "Found {} in {}\n",
            noun(count, "match", "matches"),
            noun(self.files, "file", "files")
        );
        text.push_str(&self.lines.join("\n"));
        if self.capped {
            text.push_str(&format!(
                "\n\n(Stopped at {MAX_GREP_MATCHES} matches; there are more. Use a more \
                 specific pattern, path or include glob to narrow the search.)"
            ));
        }
        let more = if self.capped { "+" } else { "" };
        ToolOutcome::text(
            text,
            format!(
                "grep {} ({count}{more} matches in {})",
                self.pattern_text,
                noun(self.files, "file", "files")
            ),
        )
    }
}

/// Runs `grep` over any [`FileSystem`].
pub fn grep(fs: &dyn FileSystem, input: &Value) -> ToolOutcome {
    let mut call = match GrepCall::parse(input) {
        Ok(call) => call,
        Err(outcome) => return *outcome,
    };
    match start(fs, call.path) {
        Err(e) => ToolOutcome::fs_error(&e),
        Ok(Start::File(file)) => match fs.read(&file) {
            Ok(bytes) => {
                call.search(&file, &bytes);
                call.outcome()
            }
            Err(e) => ToolOutcome::fs_error(&e),
        },
        Ok(Start::Dir(dir)) => {
            Walker::new(fs).depth_first(&dir, &mut |found| {
                if found.kind != Kind::File || !call.wants(relative(&dir.path, &found.path)) {
                    return Flow::Continue;
                }
                match fs.read(&found.path) {
                    Ok(bytes) => call.search(&found.path, &bytes),
                    Err(_) => Flow::Continue,
                }
            });
            call.outcome()
        }
    }
}

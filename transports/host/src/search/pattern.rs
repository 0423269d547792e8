//! Glob patterns as the search tools take them.
//!
//! A pattern without `/` matches a file's name at any depth (`*.rs`); one with `/`
//! matches the path relative to the searched directory, where `*` stays within one
//! component and `**` crosses any number (`src/**/*.ts`). `{a,b}` alternates.

use globset::{GlobBuilder, GlobMatcher};

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    matcher: GlobMatcher,
    by_name: bool,
}

impl Pattern {
    /// Compiles `text`; the error explains what is wrong with it.
    pub(crate) fn new(text: &str) -> Result<Pattern, globset::Error> {
        let text = text.trim();
        let text = text.strip_prefix("./").unwrap_or(text);
        let matcher = GlobBuilder::new(text)
            .literal_separator(true)
            .backslash_escape(true)
            .build()?
            .compile_matcher();
        Ok(Pattern {
            matcher,
            by_name: !text.contains('/'),
        })
    }

    /// Whether the file at `relative` (to the searched directory) matches.
    pub(crate) fn matches(&self, relative: &str) -> bool {
        if self.by_name {
            let name = relative.rsplit('/').next().unwrap_or(relative);
            self.matcher.is_match(name)
        } else {
            self.matcher.is_match(relative)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_without_a_slash_matches_names_at_any_depth() {
        let p = Pattern::new("*.rs").unwrap();
        assert!(p.matches("main.rs"));
        assert!(p.matches("src/deep/lib.rs"));
        assert!(!p.matches("src/lib.rsx"));
        let p = Pattern::new("*.{ts,tsx}").unwrap();
        assert!(p.matches("a/b.tsx") && p.matches("c.ts") && !p.matches("d.js"));
    }

    #[test]
    fn a_pattern_with_a_slash_matches_the_relative_path() {
        let p = Pattern::new("src/*.rs").unwrap();
        assert!(p.matches("src/lib.rs"));
        assert!(!p.matches("src/a/lib.rs"));
        assert!(!p.matches("lib.rs"));
        let p = Pattern::new("./**/*.rs").unwrap();
        assert!(p.matches("lib.rs") && p.matches("a/b/c.rs"));
    }

    #[test]
    fn a_broken_pattern_is_an_error() {
        let err = Pattern::new("src/[a-").unwrap_err();
        assert!(err.to_string().contains("unclosed"), "{err}");
    }
}

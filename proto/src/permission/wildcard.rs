//! Wildcard patterns: `*` matches any run of characters (also none), `?` exactly one,
//! every other character only itself. A pattern matches the whole subject, not a part.

/// Whether `pattern` matches all of `subject`.
///
/// Runs in O(pattern × subject) at worst (one backtrack point), so no pattern can make
/// it explode.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let subject: Vec<char> = subject.chars().collect();
    let (mut p, mut s) = (0, 0);
    // The last `*` seen and the subject position it currently stands in for.
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, s));
                p += 1;
            }
            Some(&c) if c == '?' || c == subject[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((star_p, star_s)) => {
                    p = star_p + 1;
                    s = star_s + 1;
                    star = Some((star_p, star_s + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// How specific a pattern is: the number of its literal characters (not `*` or `?`).
pub fn specificity(pattern: &str) -> usize {
    pattern.chars().filter(|&c| c != '*' && c != '?').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_any_run_also_empty() {
        assert!(matches("git status*", "git status"));
        assert!(matches("git status*", "git status --short"));
        assert!(matches("*", ""));
        assert!(matches("*.rs", "src/main.rs"));
        assert!(matches("a*b*c", "a-x-b-y-c"));
        assert!(!matches("a*b*c", "a-x-b-y-d"));
        assert!(!matches("git status*", "git stash"));
    }

    #[test]
    fn question_mark_matches_exactly_one_character() {
        assert!(matches("ls -?", "ls -l"));
        assert!(!matches("ls -?", "ls -"));
        assert!(!matches("ls -?", "ls -la"));
        assert!(matches("caf?", "café"));
    }

    #[test]
    fn the_whole_subject_must_match() {
        assert!(!matches("rm", "rm -rf /"));
        assert!(!matches("rm *", "echo rm x"));
        assert!(matches("", ""));
        assert!(!matches("", "x"));
    }

    #[test]
    fn everything_else_is_literal() {
        assert!(matches("[a].{b}$", "[a].{b}$"));
        assert!(!matches("[ab]", "a"));
        assert!(!matches("a.c", "abc"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let pattern = "*a".repeat(50) + "b";
        let subject = "a".repeat(5000);
        assert!(!matches(&pattern, &subject));
    }

    #[test]
    fn specificity_counts_literal_characters() {
        assert_eq!(specificity("git status*"), 10);
        assert_eq!(specificity("*"), 0);
        assert_eq!(specificity("ls -?"), 4);
        assert_eq!(specificity("é*"), 1);
    }
}

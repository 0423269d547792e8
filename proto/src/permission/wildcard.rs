//! Wildcard patterns: `*` matches any run of characters (also none), `?` exactly one,
//! every other character only itself. A pattern matches the whole subject, not a part.
//!
//! A subject may also have holes (text only known later, such as `$HOME` in a bash
//! line): [`may_match`] says whether some filling of the holes matches,
//! [`matches_every`] whether every filling does.

use super::shell::Piece;

/// One position of a subject with holes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Char(char),
    /// Any text, also none.
    Hole,
}

/// One position of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
}

fn units(subject: &[Piece]) -> Vec<Unit> {
    let mut units = Vec::new();
    for piece in subject {
        match piece {
            Piece::Text(text) => units.extend(text.chars().map(Unit::Char)),
            Piece::Unknown(_) => units.push(Unit::Hole),
        }
    }
    units
}

/// The pattern's positions; with `literal` every character is only itself.
fn tokens(pattern: &str, literal: bool) -> Vec<Token> {
    pattern
        .chars()
        .map(|c| match c {
            '*' if !literal => Token::AnyRun,
            '?' if !literal => Token::AnyOne,
            c => Token::Literal(c),
        })
        .collect()
}

/// Whether some text in the holes makes `pattern` match all of `subject`.
pub fn may_match(pattern: &str, literal: bool, subject: &[Piece]) -> bool {
    let p = tokens(pattern, literal);
    let s = units(subject);
    // below[j]: p[i + 1..] and s[j..] can spell the same text; row[j]: p[i..] and s[j..].
    let mut below = vec![false; s.len() + 1];
    let mut row = vec![false; s.len() + 1];
    for i in (0..=p.len()).rev() {
        for j in (0..=s.len()).rev() {
            let next = row.get(j + 1).copied().unwrap_or(false);
            let down = below[j];
            let diagonal = below.get(j + 1).copied().unwrap_or(false);
            row[j] = match (p.get(i), s.get(j)) {
                (None, None) => true,
                (Some(Token::AnyRun), _) => down || (j < s.len() && next),
                (_, Some(Unit::Hole)) => next || (i < p.len() && down),
                (Some(Token::AnyOne), Some(Unit::Char(_))) => diagonal,
                (Some(Token::Literal(a)), Some(Unit::Char(b))) => a == b && diagonal,
                _ => false,
            };
        }
        std::mem::swap(&mut below, &mut row);
    }
    below[0]
}

/// Whether `pattern` matches all of `subject` whatever text the holes hold.
///
/// Sound, not complete: it holds when a `*` can take each hole whole.
pub fn matches_every(pattern: &str, literal: bool, subject: &[Piece]) -> bool {
    let p = tokens(pattern, literal);
    let s = units(subject);
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        match (p.get(i), s[j]) {
            (Some(Token::AnyRun), _) => {
                star = Some((i, j));
                i += 1;
            }
            (Some(Token::AnyOne), Unit::Char(_)) => {
                i += 1;
                j += 1;
            }
            (Some(Token::Literal(a)), Unit::Char(b)) if *a == b => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((star_i, star_j)) => {
                    i = star_i + 1;
                    j = star_j + 1;
                    star = Some((star_i, star_j + 1));
                }
                None => return false,
            },
        }
    }
    p[i..].iter().all(|&t| t == Token::AnyRun)
}

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
    fn holes_may_hold_any_text() {
        let subject = [Piece::Text("git ".into()), Piece::Unknown("$SUB".into())];
        assert!(may_match("git push*", false, &subject));
        assert!(!matches_every("git push*", false, &subject));
        assert!(matches_every("git *", false, &subject));
        assert!(!may_match("rm *", false, &subject));
        // The hole may be empty or long, so `?` cannot be sure of it.
        assert!(may_match("git ?", false, &subject));
        assert!(!matches_every("git ?", false, &subject));
        // Literal patterns (session grants) treat `*` as a character.
        assert!(!may_match("g*", true, &subject));
        let known = [Piece::Text("git push".into())];
        assert!(may_match("git push*", false, &known));
        assert!(matches_every("git push*", false, &known));
        assert!(!may_match("git pull*", false, &known));
        let hole_only = [Piece::Unknown("$X".into())];
        assert!(may_match("rm -rf /", false, &hole_only));
        assert!(may_match("", false, &hole_only));
    }

    #[test]
    fn specificity_counts_literal_characters() {
        assert_eq!(specificity("git status*"), 10);
        assert_eq!(specificity("*"), 0);
        assert_eq!(specificity("ls -?"), 4);
        assert_eq!(specificity("é*"), 1);
    }
}

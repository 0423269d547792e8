//! The region of a file most like `old_string`, shown when nothing matched so the model
//! can see what the file really says there.
//!
//! Each window of as many lines as `old_string` is scored by the mean Dice similarity of
//! character bigrams, line against line (lines trimmed). The work is bounded: at most
//! [`MAX_COMPARISONS`] line comparisons and 400 characters per line.

use crate::tool::file_format::to_lf;

/// The most line-against-line comparisons one search makes.
pub const MAX_COMPARISONS: usize = 2_000_000;
const MAX_LINE_CHARS: usize = 400;

/// A run of lines of the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    /// The 1-based first line.
    pub first_line: usize,
    /// How many lines.
    pub lines: usize,
    /// Mean similarity, 0 to 1.
    pub score: f64,
}

fn bigrams(line: &str) -> Vec<u64> {
    let chars: Vec<char> = line.trim().chars().take(MAX_LINE_CHARS).collect();
    let mut grams: Vec<u64> = chars
        .windows(2)
        .map(|w| (u64::from(u32::from(w[0])) << 32) | u64::from(u32::from(w[1])))
        .collect();
    grams.sort_unstable();
    grams
}

fn dice(a: &[u64], b: &[u64], a_line: &str, b_line: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a_line.trim() == b_line.trim() {
            1.0
        } else {
            0.0
        };
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    (2 * shared) as f64 / (a.len() + b.len()) as f64
}

/// The window of `text` most similar to `old`, if any scores at least 0.3.
pub fn closest_region(text: &str, old: &str) -> Option<Region> {
    let text = to_lf(text);
    let old = to_lf(old);
    let file_lines: Vec<&str> = text.lines().collect();
    let old_lines: Vec<&str> = old.trim_matches('\n').lines().collect();
    if file_lines.is_empty() || old_lines.is_empty() {
        return None;
    }
    let window = old_lines.len().min(file_lines.len());
    let compared = window.min(MAX_COMPARISONS / file_lines.len()).max(1);
    let old_grams: Vec<Vec<u64>> = old_lines[..compared].iter().map(|l| bigrams(l)).collect();
    let file_grams: Vec<Vec<u64>> = file_lines.iter().map(|l| bigrams(l)).collect();
    let mut best: Option<Region> = None;
    for start in 0..=file_lines.len() - window {
        let total: f64 = (0..compared)
            .map(|j| {
                dice(
                    &file_grams[start + j],
                    &old_grams[j],
                    file_lines[start + j],
                    old_lines[j],
                )
            })
            .sum();
        let score = total / compared as f64;
        if best.is_none_or(|b| score > b.score) {
            best = Some(Region {
                first_line: start + 1,
                lines: window,
                score,
            });
        }
    }
    best.filter(|b| b.score >= 0.3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_region_with_a_typo() {
        let text = "fn a() {}\nfn b() {\n    let total = 1;\n    total\n}\nfn c() {}\n";
        let region = closest_region(text, "fn b() {\n    let totl = 1;\n").unwrap();
        assert_eq!(region.first_line, 2);
        assert_eq!(region.lines, 2);
        assert!(region.score > 0.8, "{region:?}");
    }

    #[test]
    fn unrelated_text_has_no_closest_region() {
        assert_eq!(closest_region("aaaa\nbbbb\n", "zzzz qqqq"), None);
        assert_eq!(closest_region("", "x"), None);
    }

    #[test]
    fn a_longer_old_string_than_the_file_compares_what_there_is() {
        let region = closest_region("alpha\n", "alpha\nbeta\ngamma\n").unwrap();
        assert_eq!(region.first_line, 1);
        assert_eq!(region.lines, 1);
    }
}

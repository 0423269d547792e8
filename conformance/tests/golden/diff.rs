//! A readable line diff for golden-file mismatches.

/// Lines shown around each change.
const CONTEXT: usize = 2;
/// Lines of diff output shown at most.
const MAX_OUTPUT_LINES: usize = 80;
/// Characters of one line shown at most (events with encrypted reasoning are long).
const MAX_LINE_CHARS: usize = 400;

/// A unified-style diff of `expected` (the golden file) against `actual` (the decoder):
/// `-` lines are only in the golden file, `+` lines only in the decoder's output.
pub fn lines(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    let ops = edit_script(&old, &new);
    let changed: Vec<usize> = (0..ops.len())
        .filter(|&i| !matches!(ops[i], Op::Same(..)))
        .collect();
    let shown = |i: usize| {
        changed
            .iter()
            .any(|&c| i + CONTEXT >= c && i <= c + CONTEXT)
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (i, op) in ops.iter().enumerate() {
        if !shown(i) {
            skipped = true;
            continue;
        }
        if skipped && !out.is_empty() {
            out.push("   ...".to_string());
        }
        skipped = false;
        out.push(match op {
            Op::Same(line, n) => format!("  {:>4} {}", n + 1, clip(line)),
            Op::Removed(line, n) => format!("- {:>4} {}", n + 1, clip(line)),
            Op::Added(line, n) => format!("+ {:>4} {}", n + 1, clip(line)),
        });
    }
    let total = out.len();
    if total > MAX_OUTPUT_LINES {
        out.truncate(MAX_OUTPUT_LINES);
        out.push(format!(
            "   ... {} more diff lines",
            total - MAX_OUTPUT_LINES
        ));
    }
    out.join("\n")
}

enum Op<'a> {
    /// A line in both, with its line index in the golden file.
    Same(&'a str, usize),
    /// A golden-file line missing from the output, with its index in the golden file.
    Removed(&'a str, usize),
    /// An output line missing from the golden file, with its index in the output.
    Added(&'a str, usize),
}

/// The shortest edit script by longest common subsequence (files are small).
fn edit_script<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (old.len(), new.len());
    // lcs[i][j]: length of the LCS of old[i..] and new[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            ops.push(Op::Same(old[i], i));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(Op::Removed(old[i], i));
            i += 1;
        } else {
            ops.push(Op::Added(new[j], j));
            j += 1;
        }
    }
    ops
}

fn clip(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((at, _)) => format!("{}… ({} bytes)", &line[..at], line.len()),
        None => line.to_string(),
    }
}

#[test]
fn diff_marks_changed_lines_with_their_numbers() {
    let golden = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
    let output = "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\nk\n";
    assert_eq!(
        lines(golden, output),
        [
            "     2 b", "     3 c", "-    4 d", "+    4 D", "     5 e", "     6 f", "   ...",
            "     9 i", "    10 j", "+   11 k",
        ]
        .join("\n")
    );
}

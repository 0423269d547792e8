//! Unified diffs of a [`FileChange`](super::FileChange), for people reviewing an edit.
//!
//! Line-based: the common head and tail are skipped, the middle aligned by a longest
//! common subsequence. The table is bounded ([`MAX_LCS_CELLS`]); past it the middle is
//! shown as all removed then all added, which is still a correct diff, only a longer one.
//! A missing final newline is not marked.

/// The largest LCS table (old lines × new lines of the differing middle) computed.
pub const MAX_LCS_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same(usize, usize),
    Removed(usize),
    Added(usize),
}

fn operations(old: &[&str], new: &[&str]) -> Vec<Op> {
    let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (old_mid, new_mid) = (&old[head..old.len() - tail], &new[head..new.len() - tail]);
    let mut ops: Vec<Op> = (0..head).map(|i| Op::Same(i, i)).collect();
    let (n, m) = (old_mid.len(), new_mid.len());
    if n.saturating_mul(m) > MAX_LCS_CELLS || n == 0 || m == 0 {
        ops.extend((0..n).map(|i| Op::Removed(head + i)));
        ops.extend((0..m).map(|j| Op::Added(head + j)));
    } else {
        // lcs[i][j]: the LCS length of old_mid[i..] and new_mid[j..].
        let width = m + 1;
        let mut lcs = vec![0u32; (n + 1) * width];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * width + j] = if old_mid[i] == new_mid[j] {
                    lcs[(i + 1) * width + j + 1] + 1
                } else {
                    lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && old_mid[i] == new_mid[j] {
                ops.push(Op::Same(head + i, head + j));
                i += 1;
                j += 1;
            } else if j == m || (i < n && lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
                ops.push(Op::Removed(head + i));
                i += 1;
            } else {
                ops.push(Op::Added(head + j));
                j += 1;
            }
        }
    }
    let (old_tail, new_tail) = (old.len() - tail, new.len() - tail);
    ops.extend((0..tail).map(|k| Op::Same(old_tail + k, new_tail + k)));
    ops
}

/// A unified diff from `before` to `after` with `context` lines around each change;
/// empty when they are equal.
pub fn unified_diff(path: &str, before: &str, after: &str, context: usize) -> String {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let ops = operations(&old, &new);
    let changed: Vec<usize> = (0..ops.len())
        .filter(|&k| !matches!(ops[k], Op::Same(..)))
        .collect();
    if changed.is_empty() {
        return String::new();
    }
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(context);
        let mut end = changed[k];
        while k < changed.len() && changed[k] <= end.saturating_add(2 * context).saturating_add(1) {
            end = changed[k];
            k += 1;
        }
        let end = end.saturating_add(context).min(ops.len() - 1);
        let hunk = &ops[start..=end];
        let (mut old_count, mut new_count) = (0, 0);
        let mut body = String::new();
        for op in hunk {
            match *op {
                Op::Same(i, _) => {
                    old_count += 1;
                    new_count += 1;
                    body.push_str(&format!(" {}\n", old[i]));
                }
                Op::Removed(i) => {
                    old_count += 1;
                    body.push_str(&format!("-{}\n", old[i]));
                }
                Op::Added(j) => {
                    new_count += 1;
                    body.push_str(&format!("+{}\n", new[j]));
                }
            }
        }
        let old_start = hunk.iter().find_map(|op| match *op {
            Op::Same(i, _) | Op::Removed(i) => Some(i + 1),
            Op::Added(_) => None,
        });
        let new_start = hunk.iter().find_map(|op| match *op {
            Op::Same(_, j) | Op::Added(j) => Some(j + 1),
            Op::Removed(_) => None,
        });
        // An empty side is numbered by the line before it, as diff(1) does.
        let position = |first: Option<usize>, count: usize, before: usize| match first {
            Some(line) => format!("{line},{count}"),
            None => format!("{before},0"),
        };
        let before_line = |side_old: bool| {
            ops[..start]
                .iter()
                .filter(|op| match op {
                    Op::Same(..) => true,
                    Op::Removed(_) => side_old,
                    Op::Added(_) => !side_old,
                })
                .count()
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n{body}",
            position(old_start, old_count, before_line(true)),
            position(new_start, new_count, before_line(false)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_line_with_context() {
        let before = "a\nb\nc\nd\ne\nf\ng\n";
        let after = "a\nb\nc\nD\ne\nf\ng\n";
        assert_eq!(
            unified_diff("x.txt", before, after, 2),
            "--- a/x.txt\n+++ b/x.txt\n@@ -2,5 +2,5 @@\n b\n c\n-d\n+D\n e\n f\n"
        );
    }

    #[test]
    fn distant_changes_make_two_hunks_and_near_ones_merge() {
        let numbered = |edits: &[(usize, &str)]| -> String {
            (1..=20usize)
                .map(|i| match edits.iter().find(|(at, _)| *at == i) {
                    Some((_, text)) => format!("{text}\n"),
                    None => format!("{i}\n"),
                })
                .collect()
        };
        let before = numbered(&[]);
        let after = numbered(&[(3, "three"), (18, "eighteen")]);
        let diff = unified_diff("n", &before, &after, 1);
        assert_eq!(diff.matches("@@ -").count(), 2, "{diff}");
        assert!(
            diff.contains("@@ -2,3 +2,3 @@\n 2\n-3\n+three\n 4\n"),
            "{diff}"
        );
        assert!(
            diff.contains("@@ -17,3 +17,3 @@\n 17\n-18\n+eighteen\n 19\n"),
            "{diff}"
        );
        let after = numbered(&[(3, "three"), (5, "five")]);
        assert_eq!(
            unified_diff("n", &before, &after, 1)
                .matches("@@ -")
                .count(),
            1
        );
    }

    #[test]
    fn creating_a_file_adds_every_line() {
        assert_eq!(
            unified_diff("new", "", "a\nb\n", 3),
            "--- a/new\n+++ b/new\n@@ -0,0 +1,2 @@\n+a\n+b\n"
        );
    }

    #[test]
    fn insertions_align_with_the_lcs() {
        let diff = unified_diff("f", "a\nc\n", "a\nb\nc\n", 0);
        assert_eq!(diff, "--- a/f\n+++ b/f\n@@ -1,0 +2,1 @@\n+b\n");
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified_diff("f", "same\n", "same\n", 3), "");
    }

    #[test]
    fn oversized_middles_fall_back_to_remove_then_add() {
        let ops = operations(&["x"; 3], &["y"; 2]);
        assert_eq!(
            ops,
            vec![
                Op::Removed(0),
                Op::Removed(1),
                Op::Removed(2),
                Op::Added(0),
                Op::Added(1)
            ]
        );
    }
}

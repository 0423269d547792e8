//! The newest N files of a walk, kept in a bounded heap so a huge tree needs only N
//! entries of memory.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The `limit` newest files seen so far, and how many were seen.
#[derive(Debug)]
pub(crate) struct Newest {
    limit: usize,
    heap: BinaryHeap<Ranked>,
    seen: usize,
}

/// Ordered worst first: older, then (for equal times) later in path order.
#[derive(Debug, PartialEq, Eq)]
struct Ranked {
    modified_ms: u64,
    path: String,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Ranked) -> Ordering {
        other
            .modified_ms
            .cmp(&self.modified_ms)
            .then_with(|| self.path.cmp(&other.path))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Ranked) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Newest {
    /// Keeps at most `limit` files.
    pub(crate) fn new(limit: usize) -> Newest {
        Newest {
            limit,
            heap: BinaryHeap::with_capacity(limit.saturating_add(1)),
            seen: 0,
        }
    }

    /// Offers a file; an unknown modification time counts as the oldest.
    pub(crate) fn offer(&mut self, path: String, modified_ms: Option<u64>) {
        self.seen = self.seen.saturating_add(1);
        let ranked = Ranked {
            modified_ms: modified_ms.unwrap_or(0),
            path,
        };
        if self.heap.len() < self.limit {
            self.heap.push(ranked);
        } else if self.heap.peek().is_some_and(|worst| ranked < *worst) {
            self.heap.pop();
            self.heap.push(ranked);
        }
    }

    /// Adds what another collector kept (a parallel walk's other half).
    #[cfg_attr(not(feature = "native"), allow(dead_code))]
    pub(crate) fn merge(&mut self, other: Newest) {
        let seen = self.seen.saturating_add(other.seen);
        for ranked in other.heap {
            self.offer(ranked.path, Some(ranked.modified_ms));
        }
        self.seen = seen;
    }

    /// The kept paths, newest first, and how many files were seen in all.
    pub(crate) fn finish(self) -> (Vec<String>, usize) {
        let paths = self
            .heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.path)
            .collect();
        (paths, self.seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_in_order_and_counts_all() {
        let mut newest = Newest::new(3);
        for (path, time) in [("a", 5), ("b", 9), ("c", 1), ("d", 7), ("e", 9), ("f", 3)] {
            newest.offer(path.into(), Some(time));
        }
        newest.offer("g".into(), None);
        assert_eq!(
            newest.finish(),
            (vec!["b".into(), "e".into(), "d".into()], 7)
        );
    }

    #[test]
    fn merging_halves_equals_one_pass() {
        let files: Vec<(String, u64)> = (0..50u64)
            .map(|i| (format!("f{i}"), (i * 37) % 11))
            .collect();
        let mut whole = Newest::new(7);
        let (mut left, mut right) = (Newest::new(7), Newest::new(7));
        for (i, (path, time)) in files.iter().enumerate() {
            whole.offer(path.clone(), Some(*time));
            let half = if i % 2 == 0 { &mut left } else { &mut right };
            half.offer(path.clone(), Some(*time));
        }
        left.merge(right);
        assert_eq!(left.finish(), whole.finish());
    }
}

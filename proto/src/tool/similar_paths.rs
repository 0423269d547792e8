//! "Did you mean": siblings of a missing path whose names are close to the one asked for.

use super::fs::FileSystem;

/// The message for a missing file, with up to three similarly named siblings.
pub fn not_found_message(fs: &dyn FileSystem, path: &str) -> String {
    let similar = similar_siblings(fs, path, 3);
    if similar.is_empty() {
        format!("{path} does not exist")
    } else {
        format!(
            "{path} does not exist. Did you mean: {}?",
            similar.join(", ")
        )
    }
}

/// Up to `max` existing siblings of `path` with similar names, as paths written the way
/// `path` was (same directory prefix), closest first.
pub fn similar_siblings(fs: &dyn FileSystem, path: &str, max: usize) -> Vec<String> {
    let trimmed = path.trim_end_matches('/');
    let (dir, name) = match trimmed.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", trimmed),
    };
    let listing_dir = if dir.is_empty() {
        if path.starts_with('/') {
            "/"
        } else {
            "."
        }
    } else {
        dir
    };
    let Ok(entries) = fs.list(listing_dir) else {
        return Vec::new();
    };
    let wanted = name.to_lowercase();
    let mut scored: Vec<(usize, String)> = entries
        .into_iter()
        .filter_map(|entry| {
            let score = closeness(&wanted, &entry.name.to_lowercase())?;
            Some((score, entry.name))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(max)
        .map(|(_, entry)| {
            if dir.is_empty() && !path.starts_with('/') {
                entry
            } else {
                format!("{dir}/{entry}")
            }
        })
        .collect()
}

/// The edit distance when `candidate` is close enough to `wanted` to suggest.
fn closeness(wanted: &str, candidate: &str) -> Option<usize> {
    let distance = levenshtein(wanted, candidate);
    let stem = |s: &str| s.split('.').next().unwrap_or(s).to_string();
    let same_stem = !stem(wanted).is_empty() && stem(wanted) == stem(candidate);
    let allowed = (wanted.chars().count() / 3).max(2);
    let contains = wanted.len() >= 3 && (candidate.contains(wanted) || wanted.contains(candidate));
    (same_stem || distance <= allowed || contains).then_some(distance)
}

/// Edit distance over chars; names longer than 256 chars are compared on their start.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(256).collect();
    let b: Vec<char> = b.chars().take(256).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tool::MemoryFs;

    #[test]
    fn suggests_close_names_closest_first() {
        let fs = MemoryFs::new()
            .with_file("src/main.rs", "")
            .with_file("src/main.py", "")
            .with_file("src/lib.rs", "")
            .with_file("src/unrelated.txt", "");
        let got = similar_siblings(&fs, "src/main.rss", 3);
        assert_eq!(got, vec!["src/main.rs", "src/main.py"]);
        assert_eq!(similar_siblings(&fs, "src/lbi.rs", 3), vec!["src/lib.rs"]);
    }

    #[test]
    fn case_differences_are_suggested() {
        let fs = MemoryFs::new().with_file("README.md", "");
        assert_eq!(similar_siblings(&fs, "readme.md", 3), vec!["README.md"]);
    }

    #[test]
    fn a_missing_directory_suggests_nothing() {
        let fs = MemoryFs::new().with_file("a.rs", "");
        assert!(similar_siblings(&fs, "nope/a.rs", 3).is_empty());
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
    }
}

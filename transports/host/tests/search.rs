//! The search tools on the real disk: the generic walk over `NativeFs` and the native
//! fast path agree, links are not followed, and a big tree is fast and capped.
#![allow(clippy::unwrap_used)]

#[path = "../src/test_dir.rs"]
#[allow(dead_code)]
mod test_dir;

use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant, SystemTime};

use cm_host::search::{glob, glob_native, grep, ls, run_native};
use cm_host::{NativeFs, Workspace};
use cm_proto::message::ToolOutput;
use cm_proto::tool::ToolOutcome;
use serde_json::{json, Value};
use test_dir::TestDir;

fn text(outcome: &ToolOutcome) -> &str {
    match outcome.content.as_slice() {
        [ToolOutput::Text { text }] => text,
        other => panic!("expected one text output, got {other:?}"),
    }
}

fn put(dir: &TestDir, path: &str, contents: &[u8]) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

/// Sets a file's modification time to `secs` after the epoch.
fn age(dir: &TestDir, path: &str, secs: u64) {
    let file = File::options().write(true).open(dir.join(path)).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

/// A repository with ignore files at several levels, links in and out, a loop, binaries.
fn repo(outside: &TestDir) -> (TestDir, NativeFs) {
    let dir = TestDir::new("search-repo");
    put(&dir, ".git/HEAD", b"ref: refs/heads/main\n");
    put(&dir, ".git/info/exclude", b"private/\n");
    put(&dir, ".gitignore", b"*.log\n/build/\n");
    put(&dir, ".ignore", b"docs/draft.md\n");
    put(&dir, "src/main.rs", b"fn main() {\n    helper();\n}\n");
    put(&dir, "src/lib.rs", b"pub fn helper() {}\n");
    put(&dir, "src/gen/.gitignore", b"*.rs\n!keep.rs\n");
    put(&dir, "src/gen/out.rs", b"fn helper_generated() {}\n");
    put(&dir, "src/gen/keep.rs", b"fn helper_kept() {}\n");
    put(&dir, "src/gen/trace.log", b"helper\n");
    put(&dir, "build/out.txt", b"helper in build\n");
    put(&dir, "private/notes.md", b"helper notes\n");
    put(&dir, "docs/draft.md", b"helper draft\n");
    put(&dir, "docs/guide.md", b"use helper()\n");
    put(&dir, "assets/logo.png", b"\x89PNG\r\n\x1a\nhelper");
    put(&dir, "assets/blob.dat", b"\0\0helper\0");
    put(outside, "secret.rs", b"fn helper_secret() {}\n");
    symlink(".", dir.join("src/loop")).unwrap();
    symlink("..", dir.join("src/up")).unwrap();
    symlink(outside.path(), dir.join("outside")).unwrap();
    symlink(outside.join("secret.rs"), dir.join("src/secret.rs")).unwrap();
    symlink("lib.rs", dir.join("src/alias.rs")).unwrap();
    for (i, path) in [
        ".gitignore",
        ".ignore",
        "src/main.rs",
        "src/lib.rs",
        "src/gen/.gitignore",
        "src/gen/keep.rs",
        "docs/guide.md",
        "assets/logo.png",
        "assets/blob.dat",
    ]
    .iter()
    .enumerate()
    {
        age(&dir, path, 1_000_000 + i as u64 * 10);
    }
    let fs = NativeFs::new(Workspace::at(dir.path()).unwrap());
    (dir, fs)
}

#[test]
fn generic_and_native_glob_agree_and_honour_the_ignore_files() {
    let outside = TestDir::new("search-outside");
    let (_dir, fs) = repo(&outside);
    let everything = json!({"pattern": "**/*"});
    let native = glob_native(&fs, &everything);
    assert_eq!(
        text(&native),
        "assets/blob.dat\nassets/logo.png\ndocs/guide.md\nsrc/gen/keep.rs\n\
         src/gen/.gitignore\nsrc/lib.rs\nsrc/main.rs\n.ignore\n.gitignore"
    );
    assert_eq!(native, glob(&fs, &everything));
    for input in [
        json!({"pattern": "*.rs"}),
        json!({"pattern": "*", "path": "src"}),
        json!({"pattern": "gen/*", "path": "src"}),
        json!({"pattern": "*", "path": "src/gen"}),
        json!({"pattern": "*", "path": "build"}),
        json!({"pattern": "*.md", "path": "docs"}),
    ] {
        assert_eq!(glob_native(&fs, &input), glob(&fs, &input), "{input}");
    }
    // The ignored directory named explicitly is searched by the generic road.
    assert_eq!(
        text(&glob_native(&fs, &json!({"pattern": "*", "path": "build"}))),
        "build/out.txt"
    );
}

#[test]
fn grep_skips_binaries_links_and_ignored_files() {
    let outside = TestDir::new("search-grep-out");
    let (_dir, fs) = repo(&outside);
    let found = run_native("grep", &json!({"pattern": "helper"}), &fs).unwrap();
    assert_eq!(
        text(&found),
        "Found 4 matches in 4 files\n\
         docs/guide.md:1: use helper()\n\
         src/gen/keep.rs:1: fn helper_kept() {}\n\
         src/lib.rs:1: pub fn helper() {}\n\
         src/main.rs:2:     helper();"
    );
    let bad = run_native("grep", &json!({"pattern": "helper("}), &fs).unwrap();
    assert!(bad.is_error && text(&bad).contains("not a valid regular expression"));
}

#[test]
fn ls_shows_links_without_following_them() {
    let outside = TestDir::new("search-ls-out");
    let (_dir, fs) = repo(&outside);
    let listed = ls(&fs, &json!({"path": "src"}));
    assert_eq!(
        text(&listed),
        "src/\n  gen/\n    .gitignore\n    keep.rs\n  alias.rs\n  lib.rs\n  loop\n  main.rs\n  \
         secret.rs\n  up\n"
    );
}

#[test]
fn outside_the_workspace_needs_external_directory_and_works_once_granted() {
    let outside = TestDir::new("search-ext-out");
    let (_dir, fs) = repo(&outside);
    let far = outside.path().to_str().unwrap().to_string();
    for (tool, input) in [
        ("glob", json!({"pattern": "*", "path": far})),
        ("grep", json!({"pattern": "x", "path": "outside"})),
        ("ls", json!({"path": "src/up/.."})),
    ] {
        let out = run_native(tool, &input, &fs).unwrap();
        let need = out
            .needs
            .as_ref()
            .unwrap_or_else(|| panic!("{tool}: {out:?}"));
        assert_eq!(need.permission, "external_directory");
    }
    let granted = fs.clone().with_external_access(true);
    let found = grep(&granted, &json!({"pattern": "helper", "path": "outside"}));
    assert_eq!(
        text(&found),
        format!("Found 1 match in 1 file\n{far}/secret.rs:1: fn helper_secret() {{}}")
    );
}

/// Builds `files` files in 100 directories (each holding `contents`); returns the tree.
fn big_tree(files: usize, contents: &[u8]) -> (TestDir, NativeFs) {
    let dir = TestDir::new("search-big");
    put(&dir, ".gitignore", b"skip*/\n");
    for d in 0..100 {
        fs::create_dir_all(dir.join(&format!("d{d:02}/sub"))).unwrap();
    }
    for i in 0..files {
        let path = format!("d{:02}/sub/f{i}.txt", i % 100);
        fs::write(dir.join(&path), contents).unwrap();
    }
    age(&dir, "d07/sub/f7.txt", 4_000_000_000);
    let fs = NativeFs::new(Workspace::at(dir.path()).unwrap());
    (dir, fs)
}

/// 50,000 files: the native glob walks them all (newest first needs every time) and
/// answers capped, fast. [`glob_over_half_a_million_files`] is the same at 500,000.
#[test]
fn glob_over_a_big_tree_is_capped_and_fast() {
    let (_dir, fs) = big_tree(50_000, b"x");
    let input: Value = json!({"pattern": "*.txt"});
    let started = Instant::now();
    let found = glob_native(&fs, &input);
    let took = started.elapsed();
    let out = text(&found);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "d07/sub/f7.txt");
    assert_eq!(lines.len(), 102);
    assert!(
        lines[101].starts_with(
            "(Showing the 100 most recently modified of 50000 matching files; 49900 more"
        ),
        "{}",
        lines[101]
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    eprintln!("glob over 50,000 files: {took:?}");
    // grep stops at the cap without reading the whole tree.
    let started = Instant::now();
    let found = grep(&fs, &json!({"pattern": "x"}));
    assert!(text(&found).contains("(Stopped at 100 matches"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Run by hand (`cargo test -p cm-host --test search -- --ignored`): 500,000 empty files.
/// Measured on the 2-core development machine under load (load average 8), test profile:
/// 2.8 s for the whole walk, 100 paths and the note returned.
#[test]
#[ignore = "builds 500,000 files; run by hand"]
fn glob_over_half_a_million_files() {
    let (_dir, fs) = big_tree(500_000, b"");
    let started = Instant::now();
    let found = glob_native(&fs, &json!({"pattern": "*.txt"}));
    let took = started.elapsed();
    assert!(text(&found).contains("of 500000 matching files"));
    eprintln!("glob over 500,000 files: {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

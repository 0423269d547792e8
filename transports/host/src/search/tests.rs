//! The search tools over [`MemoryFs`]: the generic path the browser build runs.
#![allow(clippy::unwrap_used)]

use cm_proto::message::ToolOutput;
use cm_proto::tool::{MemoryFs, ToolOutcome};
use serde_json::json;

use super::*;

fn text(outcome: &ToolOutcome) -> &str {
    match outcome.content.as_slice() {
        [ToolOutput::Text { text }] => text,
        other => panic!("expected one text output, got {other:?}"),
    }
}

fn lines(outcome: &ToolOutcome) -> Vec<&str> {
    assert!(!outcome.is_error, "{outcome:?}");
    text(outcome).lines().collect()
}

/// A small repository: ignore files at two levels, a `.git`, a binary file.
fn repo() -> MemoryFs {
    MemoryFs::new()
        .with_file(".gitignore", "*.log\n/build/\nsecret.txt\n")
        .with_file(".git/HEAD", "ref: refs/heads/main\n")
        .with_file(".git/info/exclude", "private/\n")
        .with_file("src/main.rs", "fn main() {\n    helper();\n}\n")
        .with_file("src/lib.rs", "pub fn helper() {}\n")
        .with_file("src/gen/.gitignore", "*.rs\n!keep.rs\n")
        .with_file("src/gen/out.rs", "fn helper_generated() {}\n")
        .with_file("src/gen/keep.rs", "fn helper_kept() {}\n")
        .with_file("debug.log", "helper called\n")
        .with_file("build/out.txt", "helper in build\n")
        .with_file("docs/secret.txt", "helper secret\n")
        .with_file("private/notes.md", "helper notes\n")
        .with_file("logo.bin", b"\0\0helper\0".as_slice())
        .with_file("image.txt", b"\0helper".as_slice())
        .with_file(".ignore", "docs/draft.md\n")
        .with_file("docs/draft.md", "helper draft\n")
        .with_file("docs/guide.md", "use helper()\n")
}

#[test]
fn glob_honours_ignore_files_and_skips_git() {
    let fs = repo();
    let found = glob(&fs, &json!({"pattern": "**/*"}));
    let mut paths = lines(&found);
    paths.sort_unstable();
    assert_eq!(
        paths,
        vec![
            ".gitignore",
            ".ignore",
            "docs/guide.md",
            "image.txt",
            "logo.bin",
            "src/gen/.gitignore",
            "src/gen/keep.rs",
            "src/lib.rs",
            "src/main.rs",
        ]
    );
    assert_eq!(found.summary, "glob **/* (9 files)");
}

#[test]
fn glob_lists_newest_first() {
    let mut fs = MemoryFs::new();
    for name in ["b.rs", "a.rs", "c.rs"] {
        fs.write(name, b"x").unwrap();
    }
    fs.write("a.rs", b"touched").unwrap();
    assert_eq!(
        lines(&glob(&fs, &json!({"pattern": "*.rs"}))),
        vec!["a.rs", "c.rs", "b.rs"]
    );
}

#[test]
fn glob_pattern_with_a_slash_is_relative_to_the_path() {
    let fs = repo();
    assert_eq!(
        lines(&glob(&fs, &json!({"pattern": "gen/*.rs", "path": "src"}))),
        vec!["src/gen/keep.rs"]
    );
    let none = glob(&fs, &json!({"pattern": "*.py"}));
    assert!(!none.is_error);
    assert_eq!(
        text(&none),
        "No files found matching \"*.py\" in the workspace."
    );
}

#[test]
fn glob_caps_at_100_and_says_how_many_more() {
    let mut fs = MemoryFs::new();
    for i in 0..250 {
        fs.write(&format!("d{}/f{i:03}.txt", i % 7), b"x").unwrap();
    }
    let found = glob(&fs, &json!({"pattern": "*.txt"}));
    let out = lines(&found);
    assert_eq!(out.len(), MAX_GLOB_RESULTS + 2);
    // The newest are the last written, in reverse order.
    assert_eq!(out[0], "d4/f249.txt");
    assert_eq!(out[99], "d3/f150.txt");
    assert_eq!(
        out[101],
        "(Showing the 100 most recently modified of 250 matching files; 150 more not \
         shown. Use a more specific pattern or path to narrow the search.)"
    );
}

#[test]
fn a_named_directory_is_searched_even_if_ignored_and_its_rules_still_apply() {
    let fs = repo()
        .with_file("build/.gitignore", "*.tmp\n")
        .with_file("build/x.tmp", "t");
    assert_eq!(
        lines(&glob(&fs, &json!({"pattern": "*", "path": "build"}))),
        vec!["build/.gitignore", "build/out.txt"]
    );
}

#[test]
fn rules_of_directories_above_the_path_apply() {
    let fs = repo().with_file("src/gen/debug.log", "x");
    // `*.log` from the root and `*.rs` from src/gen both apply when searching src/gen.
    assert_eq!(
        lines(&glob(&fs, &json!({"pattern": "*", "path": "src/gen"}))),
        vec!["src/gen/keep.rs", "src/gen/.gitignore"]
    );
}

#[test]
fn grep_finds_lines_skipping_ignored_git_and_binary_files() {
    let fs = repo();
    let found = grep(&fs, &json!({"pattern": "helper"}));
    assert_eq!(
        lines(&found),
        vec![
            "Found 4 matches in 4 files",
            "docs/guide.md:1: use helper()",
            "src/gen/keep.rs:1: fn helper_kept() {}",
            "src/lib.rs:1: pub fn helper() {}",
            "src/main.rs:2:     helper();",
        ]
    );
    assert_eq!(found.summary, "grep helper (4 matches in 4 files)");
}

#[test]
fn grep_include_and_path_narrow_the_files() {
    let fs = repo();
    assert_eq!(
        lines(&grep(
            &fs,
            &json!({"pattern": "fn \\w+", "include": "*.rs"})
        )),
        vec![
            "Found 3 matches in 3 files",
            "src/gen/keep.rs:1: fn helper_kept() {}",
            "src/lib.rs:1: pub fn helper() {}",
            "src/main.rs:1: fn main() {",
        ]
    );
    assert_eq!(
        lines(&grep(
            &fs,
            &json!({"pattern": "helper", "path": "src/main.rs"})
        )),
        vec!["Found 1 match in 1 file", "src/main.rs:2:     helper();"]
    );
    assert_eq!(
        lines(&grep(
            &fs,
            &json!({"pattern": "helper", "path": "src", "include": "gen/*.rs"})
        )),
        vec![
            "Found 1 match in 1 file",
            "src/gen/keep.rs:1: fn helper_kept() {}"
        ]
    );
}

#[test]
fn a_unicode_script_class_is_refused_with_what_to_use_instead() {
    let fs = repo();
    let out = grep(&fs, &json!({"pattern": "\\p{Greek}+"}));
    assert!(out.is_error);
    let message = text(&out);
    assert!(
        message.contains("not a valid regular expression"),
        "{message}"
    );
    assert!(
        message.contains("use general categories such as \\pL"),
        "{message}"
    );
    // General categories and the Perl classes stay Unicode-aware.
    let out = grep(&fs, &json!({"pattern": "\\p{Lu}\\w+"}));
    assert!(!out.is_error, "{}", text(&out));
}

#[test]
fn an_invalid_regex_is_an_error_the_model_can_fix() {
    let fs = repo();
    let out = grep(&fs, &json!({"pattern": "fn main("}));
    assert!(out.is_error);
    let message = text(&out);
    assert!(
        message.starts_with("grep: the pattern \"fn main(\" is not a valid regular expression"),
        "{message}"
    );
    assert!(message.contains("unclosed group"), "{message}");
    assert!(message.contains("escape ( )"), "{message}");
    let out = grep(&fs, &json!({"pattern": "x", "include": "[a-"}));
    assert!(
        out.is_error && text(&out).contains("invalid include glob"),
        "{out:?}"
    );
}

#[test]
fn grep_caps_matches_and_cuts_long_lines() {
    let long = format!("needle {}\n", "x".repeat(2000));
    let fs = MemoryFs::new()
        .with_file("a.txt", "needle\n".repeat(80))
        .with_file("b.txt", "needle\n".repeat(80))
        .with_file("c.txt", long);
    let found = grep(&fs, &json!({"pattern": "needle"}));
    let out = lines(&found);
    assert_eq!(out[0], "Found 100 matches in 2 files");
    assert_eq!(out[100], "b.txt:20: needle");
    assert!(out
        .last()
        .unwrap()
        .starts_with("(Stopped at 100 matches; there are more."));
    assert_eq!(found.summary, "grep needle (100+ matches in 2 files)");
    let cut = grep(&fs, &json!({"pattern": "needle x", "path": "c.txt"}));
    let line = lines(&cut)[1];
    assert!(line.ends_with("… [line cut]"), "{line}");
    assert_eq!(
        line.chars().count(),
        "c.txt:1: ".len() + MAX_GREP_LINE_CHARS + "… [line cut]".chars().count()
    );
}

#[test]
fn no_match_is_not_an_error() {
    let out = grep(&repo(), &json!({"pattern": "nowhere_to_be_found"}));
    assert!(!out.is_error);
    assert_eq!(text(&out), "No matches for \"nowhere_to_be_found\".");
}

#[test]
fn paths_outside_the_workspace_need_external_directory() {
    let fs = repo();
    for (tool, input) in [
        ("glob", json!({"pattern": "*", "path": "../elsewhere"})),
        ("grep", json!({"pattern": "x", "path": "/etc"})),
        ("ls", json!({"path": "/"})),
    ] {
        let out = run_search(tool, &input, &fs).unwrap();
        assert!(out.is_error, "{tool}");
        let need = out.needs.expect("needs a permission");
        assert_eq!(need.permission, "external_directory", "{tool}");
    }
    assert!(run_search("read", &json!({}), &fs).is_none());
}

#[test]
fn bad_arguments_name_the_field() {
    let fs = repo();
    let out = glob(&fs, &json!({}));
    assert_eq!(
        text(&out),
        "glob: missing required argument `pattern` (a string)"
    );
    let out = grep(&fs, &json!({"pattern": "x", "path": 3}));
    assert_eq!(text(&out), "grep: argument `path` must be a string, got 3");
    let out = ls(&fs, &json!({"ignore": "*.log"}));
    assert!(text(&out).contains("an array of glob patterns"), "{out:?}");
    let out = glob(&fs, &json!({"pattern": "*", "path": "src/main.rs"}));
    assert!(out.is_error && text(&out).contains("is a file"));
    let out = glob(&fs, &json!({"pattern": "*", "path": "nope"}));
    assert_eq!(text(&out), "nope: no such file or directory");
}

#[test]
fn ls_draws_a_tree_without_the_usual_noise() {
    let fs = repo()
        .with_file("node_modules/x/index.js", "x")
        .with_file("target/debug/cm", "x")
        .with_file("src/nested/deeper/mod.rs", "x");
    let out = ls(&fs, &json!({}));
    assert_eq!(
        text(&out),
        "./\n\
         \x20 docs/\n\
         \x20   guide.md\n\
         \x20 src/\n\
         \x20   gen/\n\
         \x20     .gitignore\n\
         \x20     keep.rs\n\
         \x20   nested/\n\
         \x20     deeper/\n\
         \x20       mod.rs\n\
         \x20   lib.rs\n\
         \x20   main.rs\n\
         \x20 .gitignore\n\
         \x20 .ignore\n\
         \x20 image.txt\n\
         \x20 logo.bin\n"
    );
    assert_eq!(out.summary, "ls . (15 entries)");
    // Named explicitly, an ignored-by-default directory is listed.
    assert_eq!(
        text(&ls(&fs, &json!({"path": "node_modules"}))),
        "node_modules/\n  x/\n    index.js\n"
    );
    let out = ls(&fs, &json!({"path": "src", "ignore": ["nested", "*.rs"]}));
    assert_eq!(text(&out), "src/\n  gen/\n    .gitignore\n");
}

#[test]
fn ls_caps_breadth_first_so_the_top_level_is_whole() {
    let mut fs = MemoryFs::new();
    for i in 0..30 {
        for j in 0..10 {
            fs.write(&format!("d{i:02}/f{j}.txt"), b"x").unwrap();
        }
    }
    let out = ls(&fs, &json!({}));
    let text = text(&out);
    for i in 0..30 {
        assert!(text.contains(&format!("\n  d{i:02}/\n")), "d{i:02} missing");
    }
    assert_eq!(text.lines().filter(|l| l.starts_with("    f")).count(), 70);
    assert!(text.ends_with("(Showing the first 100 entries, level by level; there are more. List a subdirectory to see the rest.)\n"));
    assert_eq!(out.summary, "ls . (100+ entries)");
}

#[test]
fn defs_are_shared_reads_keyed_by_path() {
    let defs = search_defs();
    let names: Vec<&str> = defs.iter().map(|d| d.spec.name.as_str()).collect();
    assert_eq!(names, ["glob", "grep", "ls"]);
    for def in &defs {
        assert_eq!(def.permission, "read");
        assert_eq!(def.subject.as_deref(), Some("path"));
        assert!(!def.exclusive);
        let schema = &def.spec.input_schema;
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"]["path"].is_object());
        for field in schema["required"].as_array().into_iter().flatten() {
            assert!(schema["properties"][field.as_str().unwrap()].is_object());
        }
    }
    assert!(grep_def().spec.description.contains("path:line: text"));
    assert!(glob_def()
        .spec
        .description
        .contains("most recently modified first"));
}

use super::*;
use crate::message::ToolOutput;
use crate::tool::{read, MemoryFs, ToolOptions};
use serde_json::json;

fn text_of(outcome: &ToolOutcome) -> &str {
    match &outcome.content[..] {
        [ToolOutput::Text { text }] => text,
        other => panic!("expected one text output, got {other:?}"),
    }
}

/// A workspace holding `path` with `contents`, already read by the model.
fn read_file(path: &str, contents: impl AsRef<[u8]>) -> (MemoryFs, ReadLog) {
    let fs = MemoryFs::new().with_file(path, contents);
    let mut log = ReadLog::new();
    let outcome = read(
        &fs,
        &json!({ "path": path }),
        &mut log,
        &ToolOptions::default(),
    );
    assert!(!outcome.is_error, "{outcome:?}");
    (fs, log)
}

fn run(fs: &mut MemoryFs, log: &mut ReadLog, input: Value) -> ToolOutcome {
    edit(fs, &input, log)
}

fn contents(fs: &MemoryFs, path: &str) -> String {
    String::from_utf8(fs.file(path).expect("file exists").to_vec()).expect("utf-8")
}

#[test]
fn edit_replaces_a_unique_exact_match_and_shows_the_region() {
    let (mut fs, mut log) = read_file("src/a.rs", "fn a() {\n    1\n}\n");
    let input = json!({"path": "src/a.rs", "old_string": "    1", "new_string": "    2"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "src/a.rs"), "fn a() {\n    2\n}\n");
    assert_eq!(
        text_of(&outcome),
        "Edited src/a.rs at line 2. The changed region now reads:\n1: fn a() {\n2:     2\n3: }\n"
    );
    assert_eq!(outcome.summary, "edited src/a.rs (1 replacement)");
    assert_eq!(
        outcome.changes,
        vec![FileChange {
            path: "src/a.rs".into(),
            before: Some(b"fn a() {\n    1\n}\n".to_vec()),
            after: Some(b"fn a() {\n    2\n}\n".to_vec()),
        }]
    );
}

#[test]
fn edit_updates_the_read_log_so_a_second_edit_needs_no_read() {
    let (mut fs, mut log) = read_file("a.txt", "one two three\n");
    let first = run(
        &mut fs,
        &mut log,
        json!({"path": "a.txt", "old_string": "one", "new_string": "1"}),
    );
    assert!(!first.is_error);
    let second = run(
        &mut fs,
        &mut log,
        json!({"path": "a.txt", "old_string": "two", "new_string": "2"}),
    );
    assert!(!second.is_error, "{second:?}");
    assert_eq!(contents(&fs, "a.txt"), "1 2 three\n");
}

#[test]
fn edit_refuses_two_matches_and_names_their_lines() {
    let (mut fs, mut log) = read_file("a.py", "x = 1\nprint(x)\nx = 1\n");
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "a.py", "old_string": "x = 1", "new_string": "x = 2"}),
    );
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.contains("matches 2 places in a.py (starting at lines 1, 3)"),
        "{text}"
    );
    assert!(text.contains("replace_all"), "{text}");
    assert_eq!(contents(&fs, "a.py"), "x = 1\nprint(x)\nx = 1\n");
}

#[test]
fn edit_replace_all_changes_every_exact_occurrence() {
    let (mut fs, mut log) = read_file("a.py", "x = 1\nprint(x)\nx = 1\n");
    let input =
        json!({"path": "a.py", "old_string": "x = 1", "new_string": "x = 2", "replace_all": true});
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "a.py"), "x = 2\nprint(x)\nx = 2\n");
    assert_eq!(
        text_of(&outcome),
        "Edited a.py: replaced 2 occurrences, at lines 1, 3."
    );
    assert_eq!(outcome.summary, "edited a.py (2 replacements)");
}

#[test]
fn edit_with_identical_strings_is_an_error() {
    let (mut fs, mut log) = read_file("a", "x");
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "a", "old_string": "x", "new_string": "x"}),
    );
    assert!(outcome.is_error);
    assert!(text_of(&outcome).contains("identical"));
}

#[test]
fn edit_with_empty_old_string_creates_a_missing_file() {
    let mut fs = MemoryFs::new();
    let mut log = ReadLog::new();
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "new/file.md", "old_string": "", "new_string": "# hi\n"}),
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "new/file.md"), "# hi\n");
    assert_eq!(outcome.changes[0].before, None);
    assert!(log.has_seen("new/file.md"));
}

#[test]
fn edit_with_empty_old_string_on_an_existing_file_suggests_write() {
    let (mut fs, mut log) = read_file("a", "content\n");
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "a", "old_string": "", "new_string": "x"}),
    );
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("use write"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "a"), "content\n");
}

#[test]
fn edit_with_empty_old_string_fills_an_empty_file_that_was_read() {
    let (mut fs, mut log) = read_file("empty", "");
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "empty", "old_string": "", "new_string": "x\n"}),
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "empty"), "x\n");
    assert_eq!(outcome.changes[0].before.as_deref(), Some(&b""[..]));
}

#[test]
fn edit_unread_file_is_refused_with_read_first() {
    let mut fs = MemoryFs::new().with_file("a", "x\n");
    let outcome = run(
        &mut fs,
        &mut ReadLog::new(),
        json!({"path": "a", "old_string": "x", "new_string": "y"}),
    );
    assert!(outcome.is_error);
    assert!(text_of(&outcome).contains("read it first"));
    assert_eq!(contents(&fs, "a"), "x\n");
}

#[test]
fn edit_file_changed_on_disk_says_so() {
    let (mut fs, mut log) = read_file("a", "x\n");
    fs.write("a", b"x\nmore\n").unwrap();
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "a", "old_string": "x", "new_string": "y"}),
    );
    assert!(outcome.is_error);
    assert!(text_of(&outcome).contains("changed on disk"));
    assert_eq!(contents(&fs, "a"), "x\nmore\n");
}

#[test]
fn edit_with_crlf_file_keeps_crlf() {
    let (mut fs, mut log) = read_file("w.txt", "one\r\ntwo\r\nthree\r\n");
    let input = json!({"path": "w.txt", "old_string": "one\ntwo", "new_string": "uno\ndos\nmas"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "w.txt"), "uno\r\ndos\r\nmas\r\nthree\r\n");
    assert!(!text_of(&outcome).contains("did not match exactly"));
}

#[test]
fn edit_with_bom_keeps_the_bom() {
    let (mut fs, mut log) = read_file("b.txt", "\u{feff}alpha\nbeta\n");
    let input = json!({"path": "b.txt", "old_string": "alpha", "new_string": "gamma"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "b.txt"), "\u{feff}gamma\nbeta\n");
}

#[test]
fn edit_with_lf_file_converts_crlf_new_text_to_lf() {
    let (mut fs, mut log) = read_file("u.txt", "a\nb\n");
    let input = json!({"path": "u.txt", "old_string": "a\r\nb", "new_string": "c\r\nd"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "u.txt"), "c\nd\n");
}

#[test]
fn edit_with_indentation_drift_reindents_the_new_text() {
    let file =
        "impl A {\n    fn f(&self) {\n        if ok {\n            go();\n        }\n    }\n}\n";
    let (mut fs, mut log) = read_file("a.rs", file);
    let input = json!({
        "path": "a.rs",
        "old_string": "if ok {\n    go();\n}",
        "new_string": "if ok {\n    go();\n    again();\n}",
    });
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(
        contents(&fs, "a.rs"),
        "impl A {\n    fn f(&self) {\n        if ok {\n            go();\n            again();\n        }\n    }\n}\n"
    );
    assert!(text_of(&outcome).contains("after ignoring a different indentation"));
}

#[test]
fn edit_with_trailing_whitespace_drift_matches_trimmed_lines() {
    let (mut fs, mut log) = read_file("t.txt", "keep\nold line   \n\tnext\n");
    let input = json!({"path": "t.txt", "old_string": "old line\n  next", "new_string": "new line\n\tnext"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "t.txt"), "keep\nnew line\n\tnext\n");
}

#[test]
fn edit_with_whitespace_drift_inside_lines_matches() {
    let (mut fs, mut log) = read_file("c.c", "int  x =  1;\nint y = 2;\n");
    let input = json!({"path": "c.c", "old_string": "int x = 1;\nint y = 2;", "new_string": "int x = 3;\nint y = 4;"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "c.c"), "int x = 3;\nint y = 4;\n");
    assert!(text_of(&outcome).contains("differences in whitespace"));
}

#[test]
fn edit_with_literal_escapes_unescapes_them() {
    let (mut fs, mut log) = read_file("s.js", "const s = \"a\";\nlog(s);\n");
    let input = json!({
        "path": "s.js",
        "old_string": "const s = \\\"a\\\";\\nlog(s);",
        "new_string": "const s = \\\"b\\\";\\nlog(s);",
    });
    let outcome = run(&mut fs, &mut log, input);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "s.js"), "const s = \"b\";\nlog(s);\n");
}

#[test]
fn edit_fuzzy_match_in_two_places_is_refused_with_lines() {
    let (mut fs, mut log) = read_file("d.py", "  a()\n  b()\nx\n      a()\n      b()\n");
    let input = json!({"path": "d.py", "old_string": "a()\nb()", "new_string": "c()"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.contains("matches 2 places (starting at lines 1, 4)"),
        "{text}"
    );
}

#[test]
fn edit_refuses_a_disproportionate_fuzzy_match() {
    let file = format!("a{}\nb\n", " ".repeat(400));
    let (mut fs, mut log) = read_file("p.txt", file.as_bytes());
    let input = json!({"path": "p.txt", "old_string": "a \nb", "new_string": "c"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("far more than old_string's 4"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "p.txt"), file);
}

#[test]
fn edit_without_a_match_shows_the_closest_region() {
    let file = "fn one() {}\n\nfn two() {\n    let total = compute();\n    total * 2\n}\n\nfn three() {}\n";
    let (mut fs, mut log) = read_file("m.rs", file);
    let input = json!({
        "path": "m.rs",
        "old_string": "fn two() {\n    let totl = compute();",
        "new_string": "fn two() {\n    let total = 1;",
    });
    let outcome = run(&mut fs, &mut log, input);
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.starts_with(
            "old_string was not found in m.rs. The most similar part of the file is lines 3-4:\n"
        ),
        "{text}"
    );
    assert!(text.contains("1: fn one() {}\n2: \n3: fn two() {\n4:     let total = compute();\n5:     total * 2\n6: }\n"), "{text}");
    assert_eq!(contents(&fs, "m.rs"), file);
}

#[test]
fn edit_without_anything_similar_says_to_read_the_file() {
    let (mut fs, mut log) = read_file("a", "hello\n");
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "a", "old_string": "zzzz qqqq", "new_string": "x"}),
    );
    assert!(outcome.is_error);
    assert!(text_of(&outcome).contains("Nothing in the file resembles it"));
}

#[test]
fn edit_non_utf8_file_is_refused_and_left_intact() {
    let bytes = b"caf\xe9 au lait\n".to_vec();
    let (mut fs, mut log) = read_file("latin1.txt", &bytes);
    let input = json!({"path": "latin1.txt", "old_string": "lait", "new_string": "miel"});
    let outcome = run(&mut fs, &mut log, input);
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.contains("not valid UTF-8 (the first undecodable byte is at offset 3)"),
        "{text}"
    );
    assert_eq!(fs.file("latin1.txt"), Some(&bytes[..]));
    assert!(outcome.changes.is_empty());
}

#[test]
fn edit_missing_file_suggests_siblings_and_write() {
    let mut fs = MemoryFs::new().with_file("src/lib.rs", "");
    let outcome = run(
        &mut fs,
        &mut ReadLog::new(),
        json!({"path": "src/lbi.rs", "old_string": "a", "new_string": "b"}),
    );
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.starts_with("src/lbi.rs does not exist. Did you mean: src/lib.rs?"),
        "{text}"
    );
    assert!(text.contains("use write"), "{text}");
}

#[test]
fn edit_hostile_paths_are_refused() {
    let mut fs = MemoryFs::new();
    let input = json!({"path": "a/../../secret", "old_string": "", "new_string": "x"});
    let outcome = run(&mut fs, &mut ReadLog::new(), input);
    assert!(outcome.is_error);
    assert_eq!(outcome.needs.unwrap().permission, "external_directory");
    let input = json!({"path": "x\u{0}.rs", "old_string": "", "new_string": "x"});
    let outcome = run(&mut fs, &mut ReadLog::new(), input);
    assert!(text_of(&outcome).contains("NUL"));
    assert!(fs.list(".").unwrap().is_empty());
}

#[test]
fn edit_of_a_directory_is_refused() {
    let mut fs = MemoryFs::new().with_file("d/f", "");
    let outcome = run(
        &mut fs,
        &mut ReadLog::new(),
        json!({"path": "d", "old_string": "a", "new_string": "b"}),
    );
    assert!(text_of(&outcome).contains("is a directory"));
}

#[test]
fn edit_bad_arguments_name_the_field() {
    let mut fs = MemoryFs::new();
    let outcome = run(
        &mut fs,
        &mut ReadLog::new(),
        json!({"path": "a", "new_string": "b"}),
    );
    assert_eq!(
        text_of(&outcome),
        "missing required argument `old_string` (a string)"
    );
    let outcome = run(
        &mut fs,
        &mut ReadLog::new(),
        json!({"path": "a", "old_string": "a", "new_string": "b", "replace_all": 3}),
    );
    assert_eq!(
        text_of(&outcome),
        "argument `replace_all` must be true or false, got 3"
    );
}

#[test]
fn edit_deleting_text_with_an_empty_new_string_works() {
    let (mut fs, mut log) = read_file("a", "keep\ndrop\nkeep2\n");
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "a", "old_string": "drop\n", "new_string": ""}),
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "a"), "keep\nkeep2\n");
}

#[test]
fn edit_that_changes_nothing_after_fuzzy_matching_is_an_error() {
    let (mut fs, mut log) = read_file("a", "  x\n  y\n");
    let outcome = run(
        &mut fs,
        &mut log,
        json!({"path": "a", "old_string": "x\ny", "new_string": "  x\n  y"}),
    );
    assert!(outcome.is_error, "{outcome:?}");
    assert!(text_of(&outcome).contains("unchanged"));
}

#[test]
fn edit_never_panics_on_awkward_text_and_changes_only_on_success() {
    let files = [
        "",
        "\r",
        "\n\n\n",
        "\u{feff}",
        "\u{3000}\u{3000}x\r\n\u{3000}y\r\n",
        "é\té\r\n  é\n\u{2028}\n",
        "a\\nb\n",
        "\t\t\n  \n",
    ];
    let olds = [
        "x",
        "\n",
        "\r\n",
        "\\",
        "é\n  é",
        "  y",
        "\u{3000}x",
        "a\\nb",
        " \n ",
        "\t",
    ];
    for file in files {
        for old in olds {
            let (mut fs, mut log) = read_file("f", file);
            let input = json!({"path": "f", "old_string": old, "new_string": "Z\nZ"});
            let outcome = run(&mut fs, &mut log, input);
            let now = fs.file("f").unwrap_or_default().to_vec();
            if outcome.is_error {
                assert_eq!(now, file.as_bytes(), "{file:?} / {old:?}");
                assert!(outcome.changes.is_empty());
            } else {
                assert_ne!(now, file.as_bytes(), "{file:?} / {old:?}");
                assert_eq!(outcome.changes[0].after.as_deref(), Some(&now[..]));
            }
        }
    }
}

#[test]
fn edit_unread_huge_file_is_refused_before_it_is_read() {
    let mut fs = MemoryFs::new().with_file("huge.log", vec![b'a'; 1 << 20]);
    let input = json!({"path": "huge.log", "old_string": "a", "new_string": "b"});
    let outcome = run(&mut fs, &mut ReadLog::new(), input);
    assert!(outcome.is_error);
    assert!(text_of(&outcome).contains("read it first"));
}

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
fn read_file(path: &str, contents: &str) -> (MemoryFs, ReadLog) {
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

fn contents(fs: &MemoryFs, path: &str) -> String {
    String::from_utf8(fs.file(path).expect("file exists").to_vec()).expect("utf-8")
}

#[test]
fn multiedit_applies_edits_in_order_each_to_the_result_of_the_last() {
    let (mut fs, mut log) = read_file("a.rs", "fn a() {\n    one();\n}\nfn b() {}\n");
    let input = json!({"path": "a.rs", "edits": [
        {"old_string": "one();", "new_string": "two();"},
        {"old_string": "two();", "new_string": "three();\n    four();"},
        {"old_string": "fn b() {}", "new_string": "fn b() { five() }"},
    ]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(!outcome.is_error, "{outcome:?}");
    let after = "fn a() {\n    three();\n    four();\n}\nfn b() { five() }\n";
    assert_eq!(contents(&fs, "a.rs"), after);
    assert_eq!(outcome.summary, "edited a.rs (3 edits)");
    assert_eq!(
        outcome.changes,
        vec![FileChange {
            path: "a.rs".into(),
            before: Some(b"fn a() {\n    one();\n}\nfn b() {}\n".to_vec()),
            after: Some(after.as_bytes().to_vec()),
        }]
    );
    assert!(
        text_of(&outcome).contains("edits[2]: line 5"),
        "{}",
        text_of(&outcome)
    );
    assert!(log.check("a.rs", after.as_bytes()).is_ok());
}

#[test]
fn multiedit_is_all_or_nothing_and_names_the_failing_edit() {
    let original = "alpha\nbeta\ngamma\n";
    let (mut fs, mut log) = read_file("f.txt", original);
    let input = json!({"path": "f.txt", "edits": [
        {"old_string": "alpha", "new_string": "ALPHA"},
        {"old_string": "delta", "new_string": "DELTA"},
    ]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(text.starts_with("edits[1] of 2 failed"), "{text}");
    assert!(text.contains("old_string was not found in f.txt"), "{text}");
    assert!(
        text.contains("No edit was applied; f.txt is unchanged"),
        "{text}"
    );
    assert_eq!(contents(&fs, "f.txt"), original);
    assert!(outcome.changes.is_empty());
}

#[test]
fn multiedit_later_edit_sees_the_earlier_ones_so_a_replaced_text_is_gone() {
    let (mut fs, mut log) = read_file("f.txt", "x = 1\n");
    let input = json!({"path": "f.txt", "edits": [
        {"old_string": "x = 1", "new_string": "x = 2"},
        {"old_string": "x = 1", "new_string": "x = 3"},
    ]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("as edits[0..1] left it"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "f.txt"), "x = 1\n");
}

#[test]
fn multiedit_with_replace_all_changes_every_occurrence() {
    let (mut fs, mut log) = read_file("r.py", "old = 1\nprint(old)\nold += old\n");
    let input = json!({"path": "r.py", "edits": [
        {"old_string": "old", "new_string": "new", "replace_all": true},
        {"old_string": "print(new)", "new_string": "print(new * 2)"},
    ]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(
        contents(&fs, "r.py"),
        "new = 1\nprint(new * 2)\nnew += new\n"
    );
    assert!(
        text_of(&outcome).contains("edits[0]: 4 places, lines 1, 2, 3, 3"),
        "{}",
        text_of(&outcome)
    );
}

#[test]
fn multiedit_ambiguous_edit_without_replace_all_is_refused() {
    let (mut fs, mut log) = read_file("r.py", "a\na\n");
    let input = json!({"path": "r.py", "edits": [{"old_string": "a", "new_string": "b"}]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("matches 2 places"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "r.py"), "a\na\n");
}

#[test]
fn multiedit_needs_a_read_first() {
    let mut fs = MemoryFs::new().with_file("a.txt", "a\n");
    let mut log = ReadLog::new();
    let input = json!({"path": "a.txt", "edits": [{"old_string": "a", "new_string": "b"}]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("read it first"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "a.txt"), "a\n");
}

#[test]
fn multiedit_keeps_crlf_and_bom() {
    let (mut fs, mut log) = read_file("w.txt", "\u{feff}one\r\ntwo\r\n");
    let input = json!({"path": "w.txt", "edits": [
        {"old_string": "one", "new_string": "uno\nein"},
        {"old_string": "two", "new_string": "dos"},
    ]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "w.txt"), "\u{feff}uno\r\nein\r\ndos\r\n");
}

#[test]
fn multiedit_first_edit_with_empty_old_string_creates_a_file() {
    let mut fs = MemoryFs::new();
    let mut log = ReadLog::new();
    let input = json!({"path": "new.txt", "edits": [
        {"old_string": "", "new_string": "hello world\n"},
        {"old_string": "world", "new_string": "there"},
    ]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "new.txt"), "hello there\n");
    assert_eq!(outcome.changes[0].before, None);
}

#[test]
fn multiedit_missing_file_without_creation_says_so() {
    let mut fs = MemoryFs::new();
    let mut log = ReadLog::new();
    let input = json!({"path": "nope.txt", "edits": [{"old_string": "a", "new_string": "b"}]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).starts_with("nope.txt does not exist"),
        "{}",
        text_of(&outcome)
    );
}

#[test]
fn multiedit_bad_arguments_name_the_field_and_the_edit() {
    let mut fs = MemoryFs::new().with_file("a.txt", "a\n");
    let mut log = ReadLog::new();
    let cases = [
        (
            json!({"path": "a.txt"}),
            "missing required argument `edits` (an array)",
        ),
        (
            json!({"path": "a.txt", "edits": []}),
            "`edits` is empty; give at least one edit",
        ),
        (
            json!({"path": "a.txt", "edits": [{"old_string": "a", "new_string": "b"}, {"old_string": "a"}]}),
            "edits[1]: missing required argument `new_string` (a string)",
        ),
        (
            json!({"path": "a.txt", "edits": [{"old_string": "a", "new_string": "a"}]}),
            "edits[0]: old_string and new_string are identical",
        ),
        (
            json!({"path": "a.txt", "edits": [{"old_string": "a", "new_string": "b"}, {"old_string": "", "new_string": "c"}]}),
            "edits[1]: old_string is empty",
        ),
        (
            json!({"path": "a.txt", "edits": ["a"]}),
            "edits[0]: the arguments must be a JSON object",
        ),
    ];
    for (input, want) in cases {
        let outcome = multiedit(&mut fs, &input, &mut log);
        assert!(outcome.is_error, "{input}");
        assert!(
            text_of(&outcome).starts_with(want),
            "{input}: {}",
            text_of(&outcome)
        );
    }
    assert_eq!(contents(&fs, "a.txt"), "a\n");
}

#[test]
fn multiedit_path_outside_the_workspace_needs_external_directory() {
    let mut fs = MemoryFs::new();
    let mut log = ReadLog::new();
    let input = json!({"path": "../etc/passwd", "edits": [{"old_string": "a", "new_string": "b"}]});
    let outcome = multiedit(&mut fs, &input, &mut log);
    assert!(outcome.is_error);
    let need = outcome.needs.expect("a permission need");
    assert_eq!(need.permission, "external_directory");
    assert_eq!(need.subject, "/etc/passwd");
}

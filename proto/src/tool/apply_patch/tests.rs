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

/// A workspace holding `files`, each already read by the model.
fn workspace(files: &[(&str, &str)]) -> (MemoryFs, ReadLog) {
    let mut fs = MemoryFs::new();
    for (path, contents) in files {
        fs = fs.with_file(path, contents);
    }
    let mut log = ReadLog::new();
    for (path, _) in files {
        let outcome = read(
            &fs,
            &json!({ "path": path }),
            &mut log,
            &ToolOptions::default(),
        );
        assert!(!outcome.is_error, "{outcome:?}");
    }
    (fs, log)
}

fn run(fs: &mut MemoryFs, log: &mut ReadLog, patch: &str) -> ToolOutcome {
    apply_patch(fs, &json!({ "patch": patch }), log)
}

fn contents(fs: &MemoryFs, path: &str) -> String {
    String::from_utf8(fs.file(path).expect("file exists").to_vec()).expect("utf-8")
}

#[test]
fn add_file_creates_it_without_a_read() {
    let (mut fs, mut log) = workspace(&[]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Add File: src/new.rs\n+fn main() {}\n+\n+// end\n*** End Patch\n",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "src/new.rs"), "fn main() {}\n\n// end\n");
    assert_eq!(
        text_of(&outcome),
        "Applied the patch:\nadded src/new.rs (3 lines)"
    );
    assert_eq!(outcome.summary, "patched 1 file");
    assert_eq!(
        outcome.changes,
        vec![FileChange {
            path: "src/new.rs".into(),
            before: None,
            after: Some(b"fn main() {}\n\n// end\n".to_vec()),
        }]
    );
    assert!(log.check("src/new.rs", b"fn main() {}\n\n// end\n").is_ok());
}

#[test]
fn add_file_that_exists_is_refused() {
    let (mut fs, mut log) = workspace(&[("a.txt", "old\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Add File: a.txt\n+new\n*** End Patch",
    );
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).starts_with("cannot add a.txt: it already exists"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "a.txt"), "old\n");
}

#[test]
fn delete_file_removes_it_and_forgets_the_read() {
    let (mut fs, mut log) = workspace(&[("old.txt", "bye\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Delete File: old.txt\n*** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(fs.file("old.txt"), None);
    assert!(!log.has_seen("old.txt"));
    assert_eq!(
        outcome.changes,
        vec![FileChange {
            path: "old.txt".into(),
            before: Some(b"bye\n".to_vec()),
            after: None,
        }]
    );
}

#[test]
fn delete_of_an_unread_file_is_refused() {
    let mut fs = MemoryFs::new().with_file("keep.txt", "x\n");
    let mut log = ReadLog::new();
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Delete File: keep.txt\n*** End Patch",
    );
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("has not been read in this session"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "keep.txt"), "x\n");
}

#[test]
fn update_file_applies_hunks_with_anchors() {
    let original =
        "struct A;\n\nimpl A {\n    fn new() -> A {\n        A\n    }\n}\n\nfn new() {}\n";
    let (mut fs, mut log) = workspace(&[("src/lib.rs", original)]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n\
         *** Update File: src/lib.rs\n\
         @@ struct A;\n\
         -struct A;\n\
         +struct A {\n\
         +    x: u8,\n\
         +}\n\
         @@ impl A {\n\
         \x20    fn new() -> A {\n\
         -        A\n\
         +        A { x: 0 }\n\
         \x20    }\n\
         *** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(
        contents(&fs, "src/lib.rs"),
        "struct A {\n    x: u8,\n}\n\nimpl A {\n    fn new() -> A {\n        A { x: 0 }\n    }\n}\n\nfn new() {}\n"
    );
    assert_eq!(
        text_of(&outcome),
        "Applied the patch:\nupdated src/lib.rs (2 hunks)"
    );
}

#[test]
fn update_with_end_of_file_appends_at_the_end() {
    let (mut fs, mut log) = workspace(&[("a.txt", "one\ntwo\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: a.txt\n@@\n two\n+three\n*** End of File\n*** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "a.txt"), "one\ntwo\nthree\n");
}

#[test]
fn move_is_recorded_as_deletion_and_addition() {
    let (mut fs, mut log) = workspace(&[("old/name.rs", "fn a() {}\nfn b() {}\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: old/name.rs\n*** Move to: new/name.rs\n@@\n-fn b() {}\n+fn c() {}\n*** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(fs.file("old/name.rs"), None);
    assert_eq!(contents(&fs, "new/name.rs"), "fn a() {}\nfn c() {}\n");
    assert_eq!(
        outcome.changes,
        vec![
            FileChange {
                path: "old/name.rs".into(),
                before: Some(b"fn a() {}\nfn b() {}\n".to_vec()),
                after: None,
            },
            FileChange {
                path: "new/name.rs".into(),
                before: None,
                after: Some(b"fn a() {}\nfn c() {}\n".to_vec()),
            },
        ]
    );
    assert!(text_of(&outcome).contains("updated old/name.rs (1 hunk) and moved it to new/name.rs"));
    assert!(!log.has_seen("old/name.rs"));
    assert!(log.has_seen("new/name.rs"));
}

#[test]
fn move_onto_an_existing_file_is_refused() {
    let (mut fs, mut log) = workspace(&[("a", "a\n"), ("b", "b\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** End Patch",
    );
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("b already exists"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(
        (contents(&fs, "a"), contents(&fs, "b")),
        ("a\n".into(), "b\n".into())
    );
}

#[test]
fn patch_whose_second_file_does_not_match_changes_nothing() {
    let (mut fs, mut log) =
        workspace(&[("one.txt", "alpha\nbeta\n"), ("two.txt", "gamma\ndelta\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n\
         *** Update File: one.txt\n\
         -alpha\n\
         +ALPHA\n\
         *** Add File: three.txt\n\
         +new\n\
         *** Update File: two.txt\n\
         @@\n\
         \x20gamma\n\
         -epsilon\n\
         +EPSILON\n\
         *** End Patch",
    );
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.starts_with(
            "cannot update two.txt: hunk 1: its context and removed lines were not found"
        ),
        "{text}"
    );
    assert!(
        text.contains("did not match:\n gamma\n-epsilon\n"),
        "{text}"
    );
    assert!(
        text.contains("The most similar part of two.txt is lines 1-2:\n1: gamma\n2: delta\n"),
        "{text}"
    );
    assert!(
        text.ends_with("No file was changed by this patch."),
        "{text}"
    );
    assert_eq!(contents(&fs, "one.txt"), "alpha\nbeta\n");
    assert_eq!(contents(&fs, "two.txt"), "gamma\ndelta\n");
    assert_eq!(fs.file("three.txt"), None);
    assert!(outcome.changes.is_empty());
}

#[test]
fn heredoc_wrapper_is_accepted() {
    let (mut fs, mut log) = workspace(&[("a.py", "x = 1\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 2\n*** End Patch\nEOF\n",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "a.py"), "x = 2\n");
}

#[test]
fn missing_first_at_at_is_accepted() {
    let (mut fs, mut log) = workspace(&[("a.py", "a\nb\nc\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "\n\n*** Begin Patch\n*** Update File: a.py\n a\n-b\n+B\n*** End Patch\n\n",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "a.py"), "a\nB\nc\n");
}

#[test]
fn trailing_whitespace_and_indentation_drift_are_tolerated_and_reported() {
    let original = "class A:\n    def f(self):   \n        return 1\n";
    let (mut fs, mut log) = workspace(&[("a.py", original)]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: a.py\n@@\n def f(self):\n-    return 1\n+    return 2\n+    # done\n*** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(
        contents(&fs, "a.py"),
        "class A:\n    def f(self):   \n        return 2\n        # done\n"
    );
    assert!(
        text_of(&outcome)
            .contains("context matched after ignoring differences in whitespace and indentation"),
        "{}",
        text_of(&outcome)
    );
}

#[test]
fn typographic_quotes_and_dashes_in_context_match_ascii() {
    let original = "msg = \"don't - stop\"\nother = 1\n";
    let (mut fs, mut log) = workspace(&[("m.py", original)]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: m.py\n@@\n msg = \u{201C}don\u{2019}t \u{2014} stop\u{201D}\n-other = 1\n+other = 2\n*** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "m.py"), "msg = \"don't - stop\"\nother = 2\n");
}

#[test]
fn ambiguous_context_is_refused() {
    let original = "if a:\n    go()\nif b:\n    go()\n";
    let (mut fs, mut log) = workspace(&[("g.py", original)]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: g.py\n@@\n-    go()\n+    stop()\n*** End Patch",
    );
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.contains("match 2 places (starting at lines 2, 4)"),
        "{text}"
    );
    assert!(
        text.contains("Add context lines, or an `@@` line"),
        "{text}"
    );
    assert_eq!(contents(&fs, "g.py"), original);
}

#[test]
fn crlf_files_stay_crlf_and_keep_their_bom() {
    let original = "\u{feff}one\r\ntwo\r\nthree\r\n";
    let (mut fs, mut log) = workspace(&[("w.txt", original)]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: w.txt\n@@\n one\n-two\n+2\n+2.5\n*** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(
        contents(&fs, "w.txt"),
        "\u{feff}one\r\n2\r\n2.5\r\nthree\r\n"
    );
}

#[test]
fn delete_then_add_replaces_a_file_and_two_updates_build_on_each_other() {
    let (mut fs, mut log) = workspace(&[("a", "1\n"), ("b", "x\ny\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Delete File: a\n*** Add File: a\n+2\n*** Update File: b\n-x\n+X\n*** Update File: b\n-y\n+Y\n*** End Patch",
    );
    assert!(!outcome.is_error, "{outcome:?}");
    assert_eq!(contents(&fs, "a"), "2\n");
    assert_eq!(contents(&fs, "b"), "X\nY\n");
    assert_eq!(outcome.changes.len(), 2);
}

#[test]
fn update_of_a_file_changed_since_read_is_refused() {
    let (fs, mut log) = workspace(&[("a", "1\n")]);
    let mut fs = fs.with_file("a", "changed\n");
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: a\n-changed\n+x\n*** End Patch",
    );
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("changed on disk since you last read it"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "a"), "changed\n");
}

#[test]
fn update_of_a_missing_file_suggests_similar_names() {
    let (mut fs, mut log) = workspace(&[("src/main.rs", "fn main() {}\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: src/mian.rs\n-a\n+b\n*** End Patch",
    );
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("Did you mean: src/main.rs?"),
        "{}",
        text_of(&outcome)
    );
}

#[test]
fn malformed_patch_headers_are_explained() {
    let (mut fs, mut log) = workspace(&[("a", "1\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Change File: a\n-1\n+2\n*** End Patch",
    );
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(
        text.starts_with("the patch is malformed: line 2: expected `*** Add File: `, `*** Update File: ` or `*** Delete File: ` followed by a path, got `*** Change File: a`. No file was changed."),
        "{text}"
    );
    let outcome = run(&mut fs, &mut log, "--- a/a\n+++ b/a\n@@ -1 +1 @@\n-1\n+2\n");
    assert!(
        text_of(&outcome).contains("must start with `*** Begin Patch`, but starts with `--- a/a`"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(contents(&fs, "a"), "1\n");
}

#[test]
fn empty_patch_is_refused() {
    let (mut fs, mut log) = workspace(&[]);
    for patch in ["", "\n  \n", "*** Begin Patch\n*** End Patch"] {
        let outcome = run(&mut fs, &mut log, patch);
        assert!(outcome.is_error, "{patch:?}");
        assert!(
            text_of(&outcome).starts_with("the patch is malformed: the patch"),
            "{}",
            text_of(&outcome)
        );
    }
    let outcome = apply_patch(&mut fs, &json!({}), &mut log);
    assert!(text_of(&outcome).starts_with("missing required argument `patch`"));
    let outcome = apply_patch(&mut fs, &json!("patch"), &mut log);
    assert_eq!(text_of(&outcome), "the arguments must be a JSON object");
}

#[test]
fn path_with_nul_is_invalid() {
    let (mut fs, mut log) = workspace(&[]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Add File: a\u{0}b\n+x\n*** End Patch",
    );
    assert!(outcome.is_error);
    assert!(
        text_of(&outcome).contains("the path contains a NUL byte"),
        "{}",
        text_of(&outcome)
    );
    assert_eq!(outcome.needs, None);
}

#[test]
fn dot_dot_path_needs_external_directory_and_changes_nothing() {
    let (mut fs, mut log) = workspace(&[("a", "1\n")]);
    let outcome = run(
        &mut fs,
        &mut log,
        "*** Begin Patch\n*** Update File: a\n-1\n+2\n*** Add File: ../outside.txt\n+x\n*** End Patch",
    );
    assert!(outcome.is_error);
    let need = outcome.needs.expect("a permission need");
    assert_eq!(need.permission, "external_directory");
    assert_eq!(need.subject, "/outside.txt");
    assert_eq!(contents(&fs, "a"), "1\n");
}

#[test]
fn paths_lists_every_touched_path_once_in_order() {
    let input = json!({"patch": "*** Begin Patch\n*** Update File: a\n*** Move to: b\n*** Delete File: c\n*** Add File: a\n+x\n*** End Patch"});
    assert_eq!(paths(&input), vec!["a", "b", "c"]);
    assert_eq!(paths(&json!({"patch": "garbage"})), Vec::<String>::new());
    assert_eq!(paths(&json!({})), Vec::<String>::new());
    let codex_style = json!({"input": "*** Begin Patch\n*** Delete File: z\n*** End Patch"});
    assert_eq!(paths(&codex_style), vec!["z"]);
}

/// A file system whose writes to one path fail, to test the rollback.
struct FailingWrites {
    inner: MemoryFs,
    fail: &'static str,
}

impl FileSystem for FailingWrites {
    fn resolve(&self, path: &str) -> Result<String, FsError> {
        self.inner.resolve(path)
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, FsError> {
        self.inner.read(path)
    }
    fn write(&mut self, path: &str, contents: &[u8]) -> Result<(), FsError> {
        if path == self.fail {
            return Err(FsError::PermissionDenied { path: path.into() });
        }
        self.inner.write(path, contents)
    }
    fn remove(&mut self, path: &str) -> Result<(), FsError> {
        self.inner.remove(path)
    }
    fn metadata(&self, path: &str) -> Result<crate::tool::Metadata, FsError> {
        self.inner.metadata(path)
    }
    fn list(&self, path: &str) -> Result<Vec<crate::tool::DirEntry>, FsError> {
        self.inner.list(path)
    }
}

#[test]
fn a_failed_write_restores_the_files_already_written() {
    let (inner, mut log) = workspace(&[("a", "1\n"), ("b", "2\n"), ("gone", "g\n")]);
    let mut fs = FailingWrites { inner, fail: "b" };
    let outcome = apply_patch(
        &mut fs,
        &json!({"patch": "*** Begin Patch\n*** Update File: a\n-1\n+one\n*** Add File: new\n+n\n*** Delete File: gone\n*** Update File: b\n-2\n+two\n*** End Patch"}),
        &mut log,
    );
    assert!(outcome.is_error);
    let text = text_of(&outcome);
    assert!(text.starts_with("b: permission denied"), "{text}");
    assert!(
        text.ends_with("2 files already changed were restored."),
        "{text}"
    );
    assert_eq!(fs.inner.file("a"), Some(&b"1\n"[..]));
    assert_eq!(fs.inner.file("b"), Some(&b"2\n"[..]));
    assert_eq!(fs.inner.file("gone"), Some(&b"g\n"[..]));
    assert_eq!(fs.inner.file("new"), None);
}

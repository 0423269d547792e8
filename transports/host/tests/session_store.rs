//! The session store on a real directory: durability, torn lines, the lock, listing.
#![allow(clippy::unwrap_used)]

#[path = "../src/test_dir.rs"]
#[allow(dead_code)]
mod test_dir;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use cm_host::{SessionId, SessionStore, StoreError};
use cm_proto::time::UnixMillis;
use serde::Serialize;
use serde_json::{json, Value};
use test_dir::TestDir;

fn store(dir: &TestDir) -> SessionStore {
    SessionStore::new(dir.join("data/cm/sessions"))
}

fn id(s: &str) -> SessionId {
    SessionId::parse(s).unwrap()
}

fn header(directory: &str) -> Value {
    json!({"type": "session", "v": 1, "directory": directory, "title": "t"})
}

fn set_modified(path: &Path, unix_secs: u64) {
    let file = OpenOptions::new().write(true).open(path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(unix_secs))
        .unwrap();
}

#[derive(Serialize)]
struct Message<'a> {
    r#type: &'a str,
    text: &'a str,
}

#[test]
fn appended_records_are_on_disk_before_append_returns_and_survive_reopening() {
    let dir = TestDir::new("store-reopen");
    let store = store(&dir);
    let s = SessionId::generate(UnixMillis(1_750_000_000_000), 42);
    let mut log = store.create(&s).unwrap();
    log.append(&header("/work/p")).unwrap();
    log.append(&Message {
        r#type: "message",
        text: "hi",
    })
    .unwrap();
    // Readable by another reader while the writer still holds the log.
    let on_disk = std::fs::read_to_string(store.path_of(&s)).unwrap();
    assert_eq!(
        on_disk,
        "{\"directory\":\"/work/p\",\"title\":\"t\",\"type\":\"session\",\"v\":1}\n\
         {\"type\":\"message\",\"text\":\"hi\"}\n"
    );
    drop(log);

    let mut log = store.open(&s).unwrap();
    log.append(&json!({"type": "turn_end"})).unwrap();
    drop(log);
    let records = store.load(&s).unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[1], json!({"type": "message", "text": "hi"}));
    assert_eq!(records[2], json!({"type": "turn_end"}));
}

#[test]
fn logs_are_private_to_the_user() {
    let dir = TestDir::new("store-mode");
    let store = store(&dir);
    let s = id("ses_private");
    store.create(&s).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store.path_of(&s)), 0o600);
    assert_eq!(mode(store.dir()), 0o700);
}

#[test]
fn a_torn_last_line_is_ignored_on_load_and_cut_off_before_the_next_append() {
    let dir = TestDir::new("store-torn");
    let store = store(&dir);
    let s = id("ses_torn");
    let mut log = store.create(&s).unwrap();
    log.append(&header("/p")).unwrap();
    log.append(&json!({"n": 1})).unwrap();
    drop(log);
    // A crash in the middle of writing the third record.
    let path = store.path_of(&s);
    let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
    raw.write_all(b"{\"n\": 2, \"text\": \"half").unwrap();
    drop(raw);

    assert_eq!(store.load(&s).unwrap(), vec![header("/p"), json!({"n": 1})]);
    let mut log = store.open(&s).unwrap();
    log.append(&json!({"n": 3})).unwrap();
    drop(log);
    assert_eq!(
        store.load(&s).unwrap(),
        vec![header("/p"), json!({"n": 1}), json!({"n": 3})]
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("half"), "{text}");
    assert!(text.ends_with("{\"n\":3}\n"));
}

#[test]
fn a_garbage_last_line_with_a_newline_is_also_torn() {
    let dir = TestDir::new("store-garbage");
    let store = store(&dir);
    let s = id("ses_garbage");
    let mut log = store.create(&s).unwrap();
    log.append(&header("/p")).unwrap();
    drop(log);
    let mut raw = OpenOptions::new()
        .append(true)
        .open(store.path_of(&s))
        .unwrap();
    raw.write_all(b"\0\0\0\0\n").unwrap();
    drop(raw);
    assert_eq!(store.load(&s).unwrap(), vec![header("/p")]);
    store.open(&s).unwrap().append(&json!({"n": 1})).unwrap();
    assert_eq!(store.load(&s).unwrap(), vec![header("/p"), json!({"n": 1})]);
}

#[test]
fn corruption_before_the_last_line_is_an_error_naming_the_line() {
    let dir = TestDir::new("store-corrupt");
    let store = store(&dir);
    let s = id("ses_corrupt");
    drop(store.create(&s).unwrap());
    std::fs::write(store.path_of(&s), "{\"a\":1}\n{oops\n{\"b\":2}\n").unwrap();
    let err = store.load(&s).unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { line: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("session ses_corrupt is corrupt at line 2"),
        "{err}"
    );
    assert!(matches!(
        store.open(&s),
        Err(StoreError::Corrupt { line: 2, .. })
    ));
}

#[test]
fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
    let dir = TestDir::new("store-lock");
    let store = store(&dir);
    let s = id("ses_locked");
    let mut first = store.create(&s).unwrap();
    first.append(&header("/p")).unwrap();
    let err = store.open(&s).unwrap_err();
    assert!(
        matches!(&err, StoreError::Locked { id } if id == &s),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "session ses_locked is in use by another cm process; close it or start a new session"
    );
    // Readers are not locked out.
    assert_eq!(store.load(&s).unwrap(), vec![header("/p")]);
    drop(first);
    store.open(&s).unwrap().append(&json!({"n": 1})).unwrap();
}

#[test]
fn create_and_open_report_existing_and_missing_sessions() {
    let dir = TestDir::new("store-exists");
    let store = store(&dir);
    let s = id("ses_once");
    drop(store.create(&s).unwrap());
    assert!(matches!(
        store.create(&s),
        Err(StoreError::AlreadyExists { .. })
    ));
    let missing = id("ses_missing");
    assert!(matches!(
        store.open(&missing),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.load(&missing),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.load(&s).unwrap(), Vec::<Value>::new());
}

#[test]
fn list_is_newest_first_and_newest_for_directory_picks_by_first_record() {
    let dir = TestDir::new("store-list");
    let store = store(&dir);
    assert!(
        store.list().unwrap().is_empty(),
        "a missing store lists nothing"
    );
    let sessions = [
        ("ses_a", "/proj/one", 1_000),
        ("ses_b", "/proj/two", 3_000),
        ("ses_c", "/proj/one", 2_000),
    ];
    for (name, directory, mtime) in sessions {
        let mut log = store.create(&id(name)).unwrap();
        log.append(&header(directory)).unwrap();
        drop(log);
        set_modified(&store.path_of(&id(name)), mtime);
    }
    // Files that are not sessions are skipped.
    File::create(store.dir().join("notes.txt")).unwrap();
    File::create(store.dir().join("bad name.jsonl")).unwrap();

    let listed = store.list().unwrap();
    let order: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(order, ["ses_b", "ses_c", "ses_a"]);
    assert_eq!(listed[0].modified, UnixMillis(3_000_000));
    assert_eq!(listed[0].directory(), Some("/proj/two"));
    assert_eq!(listed[0].first, Some(header("/proj/two")));

    let newest = |d: &str| {
        store
            .newest_for_directory(Path::new(d))
            .unwrap()
            .map(|s| s.id)
    };
    assert_eq!(newest("/proj/one"), Some(id("ses_c")));
    assert_eq!(newest("/proj/one/"), Some(id("ses_c")));
    assert_eq!(newest("/proj/two"), Some(id("ses_b")));
    assert_eq!(newest("/proj/three"), None);
}

#[test]
fn a_session_without_a_readable_first_record_is_listed_without_metadata() {
    let dir = TestDir::new("store-empty");
    let store = store(&dir);
    drop(store.create(&id("ses_empty")).unwrap());
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].first, None);
    assert_eq!(store.newest_for_directory(Path::new("/")).unwrap(), None);
}

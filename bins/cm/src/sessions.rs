//! Opening the session a run writes to: a new one, the newest of this directory
//! (`--continue`), or a named one (`--session ID`), replayed into the agent's history.

use std::path::Path;

use cm_host::{SessionId, SessionLog, SessionStore, StoreError};
use cm_proto::session::{self, Entry, Record, SessionInfo, SessionState};
use cm_proto::time::UnixMillis;

use crate::exit::Failure;

/// Which session to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Start a new one.
    New,
    /// The newest session started in the working directory.
    Newest,
    /// This one.
    Id(String),
}

/// A session open for appending, with what its log adds up to.
#[derive(Debug)]
pub struct OpenSession {
    /// The log, locked.
    pub log: SessionLog,
    /// The replayed state (empty for a new session).
    pub state: SessionState,
    /// Whether it existed before this run.
    pub resumed: bool,
}

/// What a new session's first record says.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// The working directory.
    pub directory: &'a Path,
    /// The provider id.
    pub provider: &'a str,
    /// The model id.
    pub model: &'a str,
    /// The prompt, from which the title is taken.
    pub prompt: &'a str,
    /// Now.
    pub at: UnixMillis,
    /// Random bits for the id.
    pub entropy: u64,
}

/// Opens or creates the chosen session.
pub fn open(
    store: &SessionStore,
    choice: &Choice,
    new: &NewSession<'_>,
) -> Result<OpenSession, Failure> {
    let id = match choice {
        Choice::New => return create(store, new),
        Choice::Newest => match store.newest_for_directory(new.directory) {
            Ok(Some(info)) => info.id,
            Ok(None) => {
                return Err(Failure::usage(format!(
                    "no session was started in {} yet, so there is nothing to continue\n\
                     start one with: cm run \"...\"",
                    new.directory.display()
                )))
            }
            Err(e) => return Err(store_failure(e)),
        },
        Choice::Id(text) => SessionId::parse(text).map_err(|_| {
            Failure::usage(format!(
                "`{text}` is not a session id; ids look like ses_0m3k2j1h0abcdefghij \
                 (see the files in {})",
                store.dir().display()
            ))
        })?,
    };
    let values = store.load(&id).map_err(|e| match e {
        StoreError::NotFound { .. } => Failure::usage(format!(
            "there is no session `{id}` in {}; use `cm run -c` for the newest one here",
            store.dir().display()
        )),
        other => store_failure(other),
    })?;
    let records: Vec<Record> = values
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect();
    let state = session::replay(&records);
    let log = store.open(&id).map_err(store_failure)?;
    Ok(OpenSession {
        log,
        state,
        resumed: true,
    })
}

fn create(store: &SessionStore, new: &NewSession<'_>) -> Result<OpenSession, Failure> {
    let id = SessionId::generate(new.at, new.entropy);
    let mut log = store.create(&id).map_err(store_failure)?;
    let info = SessionInfo {
        id: id.as_str().to_string(),
        created: new.at,
        directory: new.directory.display().to_string(),
        provider: new.provider.to_string(),
        model: new.model.to_string(),
        title: Some(title(new.prompt)),
    };
    let first = Record::new(new.at, Entry::Session(info.clone()));
    log.append(&first).map_err(store_failure)?;
    Ok(OpenSession {
        log,
        state: SessionState {
            info: Some(info),
            ..SessionState::default()
        },
        resumed: false,
    })
}

/// The longest title, in characters, before it is cut with `…`.
pub const TITLE_CHARS: usize = 60;

/// A session's title: the first non-blank line of its first prompt, with control
/// characters dropped, runs of whitespace collapsed to one space, and at most
/// [`TITLE_CHARS`] characters (cut with `…`).
pub fn title(prompt: &str) -> String {
    let line = prompt
        .lines()
        .find(|l| l.chars().any(|c| !c.is_whitespace() && !c.is_control()))
        .unwrap_or("");
    let words: Vec<String> = line
        .split(|c: char| c.is_whitespace())
        .map(|w| w.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect();
    let line = words.join(" ");
    let mut title: String = line.chars().take(TITLE_CHARS).collect();
    if title.len() < line.len() {
        title.push('…');
    }
    title
}

/// Stored session failures as cm reports them (a held lock is the user's to resolve).
pub fn store_failure_message(error: StoreError) -> Failure {
    store_failure(error)
}

fn store_failure(error: StoreError) -> Failure {
    match error {
        StoreError::Locked { id } => Failure::usage(format!(
            "session `{id}` is in use by another cm; wait for it to finish or start a new session"
        )),
        other => Failure::failed(format!("session log: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;
    use cm_proto::message::Message;
    use cm_proto::session::MessageRecord;

    fn new_session<'a>(dir: &'a Path, at: u64) -> NewSession<'a> {
        NewSession {
            directory: dir,
            provider: "anthropic",
            model: "m",
            prompt: "fix the tests\nplease",
            at: UnixMillis(at),
            entropy: at,
        }
    }

    #[test]
    fn titles_are_the_first_line_shortened() {
        assert_eq!(title("\n fix the tests \nmore"), "fix the tests");
        assert_eq!(title(&"x".repeat(70)).chars().count(), 61);
        assert!(title(&"x".repeat(70)).ends_with('…'));
        assert_eq!(
            title("fix\tthe   \u{1b}[31mred\u{7} tests"),
            "fix the [31mred tests"
        );
        assert_eq!(title("\u{7}\n\n  \nhello  world"), "hello world");
        assert_eq!(title(""), "");
        assert_eq!(
            title(&"é".repeat(60)),
            "é".repeat(60),
            "60 characters, not bytes"
        );
    }

    #[test]
    fn a_new_session_starts_with_its_info_and_continue_finds_it_again() {
        let dir = TestDir::new("cm-sessions");
        let store = SessionStore::new(dir.join("sessions"));
        let work = dir.path();
        let mut first = open(&store, &Choice::New, &new_session(work, 1_700_000_000_000)).unwrap();
        assert!(!first.resumed);
        let id = first.log.id().clone();
        let message = Record::new(
            UnixMillis(1_700_000_000_001),
            Entry::Message(MessageRecord::plain(Message::user("hi"))),
        );
        first.log.append(&message).unwrap();

        let locked = open(&store, &Choice::Newest, &new_session(work, 0)).unwrap_err();
        assert!(
            locked.message.contains("in use by another cm"),
            "{}",
            locked.message
        );
        drop(first);

        let again = open(&store, &Choice::Newest, &new_session(work, 0)).unwrap();
        assert!(again.resumed);
        assert_eq!(again.log.id(), &id);
        assert_eq!(again.state.history, [Message::user("hi")]);
        assert_eq!(
            again.state.info.as_ref().and_then(|i| i.title.as_deref()),
            Some("fix the tests")
        );
    }

    #[test]
    fn continuing_without_a_session_or_with_a_bad_id_says_what_to_do() {
        let dir = TestDir::new("cm-sessions-none");
        let store = SessionStore::new(dir.join("sessions"));
        let none = open(&store, &Choice::Newest, &new_session(dir.path(), 0)).unwrap_err();
        assert!(none.message.contains("start one with: cm run"));
        let bad = open(
            &store,
            &Choice::Id("../x".into()),
            &new_session(dir.path(), 0),
        )
        .unwrap_err();
        assert!(bad.message.contains("is not a session id"));
        let missing = open(
            &store,
            &Choice::Id("ses_nope".into()),
            &new_session(dir.path(), 0),
        )
        .unwrap_err();
        assert!(missing.message.contains("there is no session `ses_nope`"));
    }
}

//! The model catalog cm uses: the built-in snapshot, with the catalog `cm models refresh`
//! last fetched laid over it.
//!
//! The refreshed catalog lives in `<data>/models.json` (models.dev's schema, see
//! `cm_proto::model::Catalog`). A missing file is normal; an unreadable or broken one is
//! ignored with a note (the built-in catalog still works), never fatal. A command that
//! resolves providers calls [`install`] once; [`current`] then answers with the overlay,
//! and with the built-in catalog when nothing was installed (as in unit tests).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cm_proto::model::{self, Catalog};

/// The refreshed catalog's file name in the data directory.
pub const FILE: &str = "models.json";

static INSTALLED: OnceLock<Catalog> = OnceLock::new();

/// `<data>/models.json`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The built-in catalog with the refreshed one over it, and a note when the refreshed
/// one exists but cannot be used.
pub fn load(data_dir: &Path) -> (Catalog, Option<String>) {
    let file = path(data_dir);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (model::builtin().clone(), None)
        }
        Err(e) => {
            return (
                model::builtin().clone(),
                Some(format!(
                    "ignoring the refreshed catalog {}: {e}",
                    file.display()
                )),
            )
        }
    };
    match Catalog::parse(&text) {
        Ok(refreshed) => (model::builtin().overlay(&refreshed), None),
        Err(e) => (
            model::builtin().clone(),
            Some(format!(
                "ignoring the refreshed catalog {}: {e}; run `cm models refresh` again",
                file.display()
            )),
        ),
    }
}

/// Makes `catalog` the one [`current`] answers with (the first call wins).
pub fn install(catalog: Catalog) {
    let _ = INSTALLED.set(catalog);
}

/// The installed catalog, else the built-in one.
pub fn current() -> &'static Catalog {
    INSTALLED.get().unwrap_or_else(|| model::builtin())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    #[test]
    fn a_refreshed_file_overlays_and_a_broken_one_is_ignored_with_a_note() {
        let dir = TestDir::new("cm-catalog-cache");
        let (catalog, note) = load(dir.path());
        assert_eq!(note, None);
        assert_eq!(&catalog, model::builtin());

        std::fs::write(
            path(dir.path()),
            r#"{"anthropic": {"models": {"claude-next": {"tool_call": true,
                "limit": {"context": 1000000}}}}}"#,
        )
        .unwrap();
        let (catalog, note) = load(dir.path());
        assert_eq!(note, None);
        assert_eq!(
            catalog
                .get("anthropic", "claude-next")
                .and_then(|m| m.info.context),
            Some(1_000_000)
        );
        assert!(catalog.get("anthropic", "claude-sonnet-4-5").is_some());

        std::fs::write(path(dir.path()), "{ not json").unwrap();
        let (catalog, note) = load(dir.path());
        assert_eq!(&catalog, model::builtin());
        assert!(note.unwrap().contains("cm models refresh"));
    }
}

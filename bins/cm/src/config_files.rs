//! Finding and reading the config files: the user's `config.json`, then the project's
//! nearest `cm.json`.
//!
//! The global file is `$XDG_CONFIG_HOME/cm/config.json` (default `~/.config/cm/config.json`).
//! The project file is the first `cm.json` found walking from the working directory up to
//! the workspace root (the git root), so a subdirectory may carry its own. Later files win
//! key by key ([`Config::from_layers`]). A missing file is fine; an unreadable or invalid
//! one is a configuration error (exit 2) that names file:line:column.

use std::io;
use std::path::{Path, PathBuf};

use cm_proto::config::{self, Config, Layer};

use crate::exit::Failure;

/// The project config's file name.
pub const PROJECT_FILE: &str = "cm.json";

/// The merged configuration and the files it came from, in order.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The merged settings.
    pub config: Config,
    /// The files that existed and were read.
    #[cfg_attr(not(test), allow(dead_code))]
    pub files: Vec<PathBuf>,
}

/// The nearest `cm.json` from `cwd` up to `root` (both included); `None` if there is none
/// or `cwd` is not inside `root`.
pub fn project_file(cwd: &Path, root: &Path) -> Option<PathBuf> {
    if !cwd.starts_with(root) {
        return None;
    }
    cwd.ancestors()
        .take_while(|dir| dir.starts_with(root))
        .map(|dir| dir.join(PROJECT_FILE))
        .find(|file| file.is_file())
}

/// Reads and merges the global file and the project file.
pub fn load(global: &Path, cwd: &Path, root: &Path) -> Result<LoadedConfig, Failure> {
    let mut candidates = vec![global.to_path_buf()];
    candidates.extend(project_file(cwd, root));
    let mut layers = Vec::new();
    let mut files = Vec::new();
    for path in candidates {
        if let Some(layer) = read_layer(&path)? {
            layers.push(layer);
            files.push(path);
        }
    }
    Ok(LoadedConfig {
        config: Config::from_layers(layers),
        files,
    })
}

/// One file as a layer; `None` when it does not exist.
pub fn read_layer(path: &Path) -> Result<Option<Layer>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )))
        }
    };
    let name = path.display().to_string();
    config::parse(&name, &text).map(Some).map_err(|error| {
        Failure::usage(format!(
            "{error}\nfix the file and run cm again (the config keys are described in `cm run --help`)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    #[test]
    fn the_project_file_overrides_the_global_one_key_by_key() {
        let dir = TestDir::new("cm-config-files");
        let global = dir.join("config/cm/config.json");
        std::fs::create_dir_all(global.parent().unwrap()).unwrap();
        std::fs::write(
            &global,
            r#"{ "model": "anthropic/claude-sonnet-4-5", // mine
                 "limits": {"max_steps": 9, "retries": 3,}, }"#,
        )
        .unwrap();
        let root = dir.join("project");
        let sub = root.join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(root.join("cm.json"), r#"{"limits": {"max_steps": 4}}"#).unwrap();

        let loaded = load(&global, &sub, &root).unwrap();
        assert_eq!(loaded.files, [global.clone(), root.join("cm.json")]);
        assert_eq!(loaded.config.max_steps(), 4);
        assert_eq!(loaded.config.retries(), 3);
        assert_eq!(
            loaded.config.model().map(|m| m.to_string()).as_deref(),
            Some("anthropic/claude-sonnet-4-5")
        );
    }

    #[test]
    fn the_nearest_project_file_wins_and_the_search_stops_at_the_root() {
        let dir = TestDir::new("cm-config-nearest");
        let root = dir.join("repo");
        let sub = root.join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(dir.join("cm.json"), "{}").unwrap(); // above the root: ignored
        assert_eq!(project_file(&sub, &root), None);
        std::fs::write(root.join("cm.json"), "{}").unwrap();
        std::fs::write(root.join("a/cm.json"), "{}").unwrap();
        assert_eq!(project_file(&sub, &root), Some(root.join("a/cm.json")));
    }

    #[test]
    fn missing_files_are_fine_and_bad_ones_name_file_line_and_column() {
        let dir = TestDir::new("cm-config-bad");
        let root = dir.join("p");
        std::fs::create_dir_all(&root).unwrap();
        let loaded = load(&dir.join("none.json"), &root, &root).unwrap();
        assert!(loaded.files.is_empty());

        std::fs::write(root.join("cm.json"), "{\n  \"model\": 5\n}").unwrap();
        let failure = load(&dir.join("none.json"), &root, &root).unwrap_err();
        assert_eq!(failure.status, crate::exit::Status::Usage);
        let file = root.join("cm.json").display().to_string();
        assert!(
            failure
                .message
                .starts_with(&format!("{file}:2:12: expected a string")),
            "{}",
            failure.message
        );
    }
}

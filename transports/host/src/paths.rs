//! Where cm keeps its files: the XDG base directories, each with a `cm` subdirectory.
//!
//! The environment is read through a lookup function, so tests (and callers with their
//! own view of the environment) pass their values instead of touching the process's.
//! As the XDG spec says, an empty or relative `$XDG_*_HOME` is ignored.

use std::fmt;
use std::path::PathBuf;

/// cm's directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// `$XDG_CONFIG_HOME/cm`, default `~/.config/cm`: `config.json`.
    pub config: PathBuf,
    /// `$XDG_DATA_HOME/cm`, default `~/.local/share/cm`: sessions, credentials.
    pub data: PathBuf,
    /// `$XDG_STATE_HOME/cm`, default `~/.local/state/cm`: history, logs.
    pub state: PathBuf,
}

/// The directories cannot be found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirsError {
    /// `$HOME` is unset, empty or relative, and an XDG variable that would replace it is
    /// missing too.
    NoHome {
        /// The XDG variable that was needed.
        variable: &'static str,
    },
}

impl fmt::Display for DirsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirsError::NoHome { variable } => {
                write!(f, "cannot find cm's directories: set HOME or {variable}")
            }
        }
    }
}

impl std::error::Error for DirsError {}

impl Dirs {
    /// The directories from `lookup` (a variable name → its value).
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Dirs, DirsError> {
        let absolute = |name: &str| lookup(name).map(PathBuf::from).filter(|p| p.is_absolute());
        let home = absolute("HOME");
        let base = |variable: &'static str, default: &str| {
            absolute(variable)
                .or_else(|| home.as_ref().map(|h| h.join(default)))
                .map(|dir| dir.join("cm"))
                .ok_or(DirsError::NoHome { variable })
        };
        Ok(Dirs {
            config: base("XDG_CONFIG_HOME", ".config")?,
            data: base("XDG_DATA_HOME", ".local/share")?,
            state: base("XDG_STATE_HOME", ".local/state")?,
        })
    }

    /// The directories from this process's environment.
    pub fn from_process_env() -> Result<Dirs, DirsError> {
        Dirs::from_env(|name| std::env::var(name).ok())
    }

    /// `config.json` in the config directory.
    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.json")
    }

    /// Where session logs live: `<data>/sessions`.
    pub fn sessions(&self) -> PathBuf {
        self.data.join("sessions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn defaults_live_under_home() {
        let dirs = Dirs::from_env(env(&[("HOME", "/home/ada")])).unwrap();
        assert_eq!(dirs.config, PathBuf::from("/home/ada/.config/cm"));
        assert_eq!(dirs.data, PathBuf::from("/home/ada/.local/share/cm"));
        assert_eq!(dirs.state, PathBuf::from("/home/ada/.local/state/cm"));
        assert_eq!(
            dirs.config_file(),
            PathBuf::from("/home/ada/.config/cm/config.json")
        );
        assert_eq!(
            dirs.sessions(),
            PathBuf::from("/home/ada/.local/share/cm/sessions")
        );
    }

    #[test]
    fn xdg_variables_win_and_relative_or_empty_ones_are_ignored() {
        let dirs = Dirs::from_env(env(&[
            ("HOME", "/home/ada"),
            ("XDG_CONFIG_HOME", "/cfg"),
            ("XDG_DATA_HOME", "relative/data"),
            ("XDG_STATE_HOME", ""),
        ]))
        .unwrap();
        assert_eq!(dirs.config, PathBuf::from("/cfg/cm"));
        assert_eq!(dirs.data, PathBuf::from("/home/ada/.local/share/cm"));
        assert_eq!(dirs.state, PathBuf::from("/home/ada/.local/state/cm"));
    }

    #[test]
    fn without_home_every_variable_is_needed() {
        let full = Dirs::from_env(env(&[
            ("XDG_CONFIG_HOME", "/c"),
            ("XDG_DATA_HOME", "/d"),
            ("XDG_STATE_HOME", "/s"),
        ]))
        .unwrap();
        assert_eq!(full.data, PathBuf::from("/d/cm"));
        let missing = Dirs::from_env(env(&[("XDG_CONFIG_HOME", "/c")]));
        assert_eq!(
            missing,
            Err(DirsError::NoHome {
                variable: "XDG_DATA_HOME"
            })
        );
        assert_eq!(
            missing.unwrap_err().to_string(),
            "cannot find cm's directories: set HOME or XDG_DATA_HOME"
        );
    }
}

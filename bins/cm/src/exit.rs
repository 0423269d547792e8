//! Exit codes and the error that carries one.
//!
//! Every way `cm` can stop is a [`Failure`] with the code it exits with: 1 when the task
//! itself failed (the provider refused, the model ran out of steps), 2 when what the user
//! typed or configured cannot be used, 130 when interrupted. `main` prints the message
//! and exits; nothing else calls `process::exit`.

use std::fmt;
use std::process::ExitCode;

/// Why `cm` stops, and so its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The task was done (0).
    Done,
    /// The task failed (1).
    Failed,
    /// The command line or the configuration cannot be used (2).
    Usage,
    /// The user interrupted it (130, as shells report SIGINT).
    Interrupted,
}

impl Status {
    /// The numeric exit code.
    pub fn code(self) -> u8 {
        match self {
            Status::Done => 0,
            Status::Failed => 1,
            Status::Usage => 2,
            Status::Interrupted => 130,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// An error that ends `cm`, with the message for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// How `cm` exits.
    pub status: Status,
    /// What to tell the user; the first line says what is wrong, the rest what to do.
    pub message: String,
}

impl Failure {
    /// A usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            status: Status::Usage,
            message: message.into(),
        }
    }

    /// The task failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            status: Status::Failed,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let codes: Vec<u8> = [
            Status::Done,
            Status::Failed,
            Status::Usage,
            Status::Interrupted,
        ]
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, [0, 1, 2, 130]);
    }
}

//! cm's system prompt: who it is, how it works with the tools, where it runs, and the
//! project's own instructions.
//!
//! [`Environment::gather`] does the I/O (git with a short timeout, instruction files);
//! [`render`] is a pure function of what was gathered, so its wording is tested directly.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long each git command may take before it is killed.
const GIT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Lines of `git status --short` shown; the rest are counted.
const STATUS_LINES: usize = 20;
/// Bytes of one instruction file included.
const INSTRUCTIONS_LIMIT: usize = 32 * 1024;
/// Instruction file names, in order of preference within one directory.
const INSTRUCTION_FILES: [&str; 2] = ["AGENTS.md", "CLAUDE.md"];

/// What the prompt says about the machine and the project.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Environment {
    /// The working directory.
    pub cwd: PathBuf,
    /// The workspace root (the git worktree, else the working directory).
    pub root: PathBuf,
    /// `linux x86_64` and the like.
    pub os: String,
    /// Today as `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The git branch, when the workspace is a git repository.
    pub branch: Option<String>,
    /// `git status --short`, shortened; `None` outside git or when git did not answer.
    pub status: Option<String>,
    /// Instruction files found, outermost first: (path, contents).
    pub instructions: Vec<(PathBuf, String)>,
}

impl Environment {
    /// Looks at the machine: runs git (each command at most 1.5 s) and reads AGENTS.md or
    /// CLAUDE.md in each directory from the workspace root down to `cwd`.
    pub fn gather(cwd: &Path, root: &Path) -> Environment {
        let is_git = root.join(".git").exists();
        let branch = is_git
            .then(|| git(root, &["rev-parse", "--abbrev-ref", "HEAD"]))
            .flatten()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        let status = is_git
            .then(|| git(root, &["status", "--short"]))
            .flatten()
            .map(|s| shorten_status(&s));
        Environment {
            cwd: cwd.to_path_buf(),
            root: root.to_path_buf(),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            date: today(),
            branch,
            status,
            instructions: instruction_files(cwd, root),
        }
    }
}

/// The system prompt for `env`.
pub fn render(env: &Environment) -> String {
    let mut out = String::from(
        "You are cm, a coding assistant working in the user's project from their terminal. \
You read and change the code with the tools you are given and run commands to check your work. \
Do what was asked, completely, and nothing more.

# How to work
- Look before you act: read the files involved before changing them, and search the code \
rather than guessing names or paths.
- You must read a file before you edit or overwrite it; if it changed on disk since, read it again.
- Prefer small, precise edits to rewriting whole files. Keep the project's style, naming and \
line endings. Do not add files that were not needed.
- After a change, run the project's tests or build with bash and fix what fails. Never claim \
something works without having run it.
- Commands run without a terminal: they get no input and must not wait for a prompt or open \
an editor or a pager. Avoid commands that never exit.
- Several independent reads or searches can be made in one step.
- If a tool call is denied, do not retry it unchanged: take another way or ask the user.
- Never reveal or invent secrets, and do not touch files outside the project unless asked.

# How to answer
- Be concise and direct. Your text goes to a terminal: plain text or short Markdown, no \
preamble and no summary of what the user can see anyway.
- When you are done, say in a sentence or two what you changed and how you checked it; \
refer to code as path:line.
- If something is unclear or risky (deleting data, pushing, large rewrites), ask before doing it.

# Environment
",
    );
    out.push_str(&format!("- Working directory: {}\n", env.cwd.display()));
    if env.root != env.cwd {
        out.push_str(&format!("- Workspace root: {}\n", env.root.display()));
    }
    out.push_str(&format!("- Operating system: {}\n", env.os));
    out.push_str(&format!("- Date: {}\n", env.date));
    match &env.branch {
        Some(branch) => out.push_str(&format!("- Git branch: {branch}\n")),
        None => out.push_str("- Not a git repository (or git is not available)\n"),
    }
    if let Some(status) = &env.status {
        if status.is_empty() {
            out.push_str("- Git status: clean\n");
        } else {
            out.push_str(&format!("- Git status (short):\n{status}\n"));
        }
    }
    if !env.instructions.is_empty() {
        out.push_str(
            "\n# Project instructions\nThe project's maintainers wrote these for you; follow them.\n",
        );
        for (path, text) in &env.instructions {
            out.push_str(&format!("\n## {}\n\n{}\n", path.display(), text.trim_end()));
        }
    }
    out
}

/// The first [`STATUS_LINES`] lines, indented, with a count of the rest.
fn shorten_status(status: &str) -> String {
    let lines: Vec<&str> = status.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out: Vec<String> = lines
        .iter()
        .take(STATUS_LINES)
        .map(|l| format!("    {l}"))
        .collect();
    if lines.len() > STATUS_LINES {
        out.push(format!("    ... and {} more", lines.len() - STATUS_LINES));
    }
    out.join("\n")
}

/// AGENTS.md (else CLAUDE.md) of each directory from `root` down to `cwd`.
fn instruction_files(cwd: &Path, root: &Path) -> Vec<(PathBuf, String)> {
    let mut dirs: Vec<&Path> = if cwd.starts_with(root) {
        cwd.ancestors()
            .take_while(|d| d.starts_with(root))
            .collect()
    } else {
        vec![cwd]
    };
    dirs.reverse();
    dirs.into_iter()
        .filter_map(|dir| {
            INSTRUCTION_FILES.iter().find_map(|name| {
                let path = dir.join(name);
                let bytes = std::fs::read(&path).ok()?;
                let mut text = String::from_utf8_lossy(&bytes).into_owned();
                if text.len() > INSTRUCTIONS_LIMIT {
                    let mut cut = INSTRUCTIONS_LIMIT;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                    text.push_str("\n[... cut: the file is longer]");
                }
                Some((path, text))
            })
        })
        .collect()
}

/// Runs git in `dir`; its stdout if it exits 0 within [`GIT_TIMEOUT`].
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    // Read on a thread so a full pipe cannot block git while we wait for it.
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + GIT_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = reader.join().ok()?;
    status.filter(|s| s.success()).map(|_| text)
}

/// Today's date in UTC as `YYYY-MM-DD`.
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_date(secs / 86_400)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_dir::TestDir;

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(19_782), "2024-02-29");
    }

    #[test]
    fn the_prompt_states_role_tools_environment_and_instructions() {
        let env = Environment {
            cwd: "/w/app/src".into(),
            root: "/w/app".into(),
            os: "linux x86_64".into(),
            date: "2025-01-02".into(),
            branch: Some("main".into()),
            status: Some("    M src/lib.rs".into()),
            instructions: vec![("/w/app/AGENTS.md".into(), "Run `make check`.\n".into())],
        };
        let prompt = render(&env);
        for want in [
            "You are cm",
            "read a file before you edit",
            "run the project's tests",
            "Be concise",
            "- Working directory: /w/app/src",
            "- Workspace root: /w/app",
            "- Operating system: linux x86_64",
            "- Date: 2025-01-02",
            "- Git branch: main",
            "    M src/lib.rs",
            "## /w/app/AGENTS.md\n\nRun `make check`.",
        ] {
            assert!(prompt.contains(want), "missing {want:?} in:\n{prompt}");
        }
    }

    #[test]
    fn status_is_shortened_with_a_count() {
        let status: String = (0..25).map(|i| format!("?? f{i}\n")).collect();
        let short = shorten_status(&status);
        assert_eq!(short.lines().count(), 21);
        assert!(short.ends_with("... and 5 more"));
    }

    #[test]
    fn instructions_are_found_from_the_root_down_agents_before_claude() {
        let dir = TestDir::new("cm-instructions");
        let root = dir.path();
        let sub = root.join("pkg");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(root.join("CLAUDE.md"), "outer claude").unwrap();
        std::fs::write(sub.join("AGENTS.md"), "inner agents").unwrap();
        std::fs::write(sub.join("CLAUDE.md"), "inner claude, unused").unwrap();
        let env = Environment::gather(&sub, root);
        let texts: Vec<&str> = env.instructions.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["outer claude", "inner agents"]);
        assert_eq!(env.branch, None, "no .git here");
    }
}

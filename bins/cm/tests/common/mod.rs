//! The end-to-end harness: the real `cm` binary in a temporary project, with HOME and the
//! XDG directories pointed into the same temporary tree, against an in-process cm-mock.
#![allow(dead_code)]

pub mod http;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A temporary home and project, removed on drop.
#[derive(Debug)]
pub struct Sandbox {
    root: PathBuf,
    /// The project cm runs in.
    pub project: PathBuf,
    env: Vec<(String, String)>,
}

impl Sandbox {
    /// A fresh sandbox whose project is a git repository when `git` is true.
    pub fn new(label: &str) -> Sandbox {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let root = std::env::temp_dir().join(format!(
            "cm-e2e-{label}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let project = root.join("project");
        std::fs::create_dir_all(&project).expect("create sandbox");
        let root = root.canonicalize().expect("canonical sandbox");
        let project = root.join("project");
        Sandbox {
            env: Vec::new(),
            root,
            project,
        }
    }

    /// The temporary root (home lives in `home/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Sets an environment variable for every cm run.
    pub fn env(&mut self, name: &str, value: &str) -> &mut Sandbox {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// Points the Anthropic provider at a mock server.
    pub fn anthropic_at(&mut self, base: &str) -> &mut Sandbox {
        self.env("ANTHROPIC_BASE_URL", base)
            .env("ANTHROPIC_API_KEY", "test-key")
    }

    /// Writes a project file.
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.project.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(path, text).expect("write project file");
    }

    /// Marks a project file executable.
    pub fn make_executable(&self, rel: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.project.join(rel);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// Reads a project file.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.project.join(rel)).expect("read project file")
    }

    /// Writes the global config.json.
    pub fn global_config(&self, text: &str) {
        let path = self.root.join("config/cm/config.json");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("config dir");
        std::fs::write(path, text).expect("write config");
    }

    /// The session logs written so far.
    pub fn session_files(&self) -> Vec<PathBuf> {
        let dir = self.root.join("data/cm/sessions");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The command for `cm args...` in the project, with a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cm"));
        command
            .args(args)
            .current_dir(&self.project)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("config"))
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("XDG_STATE_HOME", self.root.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Runs `cm args...` to the end (killed after 60 s).
    pub fn cm(&self, args: &[&str]) -> Run {
        let child = self.command(args).spawn().expect("spawn cm");
        Run::wait(child, Duration::from_secs(60))
    }

    /// Runs `cm args...` with `input` piped on stdin.
    pub fn cm_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn cm");
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        Run::wait(child, Duration::from_secs(60))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A finished cm run.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// stdout as text.
    pub stdout: String,
    /// stderr as text.
    pub stderr: String,
}

impl Run {
    /// Waits for `child`, killing it after `limit`.
    pub fn wait(mut child: Child, limit: Duration) -> Run {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let output: Output = child.wait_with_output().expect("cm output");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with the whole output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "cm exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// The stdout JSON lines.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }
}

impl Sandbox {
    /// The command for `program args...` in the project, with the same clean environment
    /// as [`Sandbox::command`] (for wrappers such as `script` that start cm themselves).
    pub fn other_command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.project)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root.join("home"))
            .env("XDG_CONFIG_HOME", self.root.join("config"))
            .env("XDG_DATA_HOME", self.root.join("data"))
            .env("XDG_STATE_HOME", self.root.join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }
}

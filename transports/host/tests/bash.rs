//! The bash runner against real processes: exit codes, output, environment, timeouts,
//! aborts, runaway output and background children. Every test checks that the process
//! group it started is gone afterwards.
#![allow(clippy::unwrap_used)]

#[path = "../src/test_dir.rs"]
#[allow(dead_code)]
mod test_dir;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use cm_host::bash::{self, AbortHandle, BashOutput, BashRequest, Ending};
use test_dir::TestDir;

fn run_in(dir: &Path, command: &str, timeout: Duration) -> BashOutput {
    let request = BashRequest::new(command, dir).with_timeout(timeout);
    let out = bash::run(&request, &AbortHandle::new()).expect("bash runs");
    assert_group_gone(out.process_group);
    out
}

fn run(command: &str) -> BashOutput {
    let dir = TestDir::new("bash");
    run_in(dir.path(), command, Duration::from_secs(20))
}

/// Live (non-zombie) processes in a process group, from /proc.
fn live_members(group: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2
            && fields[0] != "Z"
            && fields[0] != "X"
            && fields[2] == group.to_string()
        {
            pids.push(pid);
        }
    }
    pids
}

fn assert_group_gone(group: u32) {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let live = live_members(group);
        if live.is_empty() {
            return;
        }
        if Instant::now() > until {
            for pid in &live {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
            panic!("process group {group} still has live members {live:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exit_codes_and_signals_are_reported() {
    assert_eq!(run("true").ending, Ending::Exited(0));
    assert!(run("true").success());
    assert_eq!(run("exit 3").ending, Ending::Exited(3));
    assert_eq!(run("kill -TERM $$").ending, Ending::Signalled(15));
    let missing = run("definitely-not-a-command-cm");
    assert_eq!(missing.ending, Ending::Exited(127));
    assert!(
        missing.output.contains("command not found"),
        "{}",
        missing.output
    );
}

#[test]
fn stdout_and_stderr_are_combined_in_order() {
    let out = run("echo one; echo two >&2; echo three; printf four >&2");
    assert_eq!(out.output, "one\ntwo\nthree\nfour");
    assert_eq!(out.dropped_bytes, 0);
}

#[test]
fn the_environment_keeps_pagers_and_prompts_quiet_and_keeps_the_rest() {
    let out = run(
        "echo \"$PAGER $GIT_PAGER $GIT_TERMINAL_PROMPT $TERM\"; test -n \"$PATH\" && echo path",
    );
    assert_eq!(out.output, "cat cat 0 dumb\npath\n");
    let dir = TestDir::new("bash-env");
    let mut request = BashRequest::new("echo $CM_EXTRA", dir.path());
    request.env.push(("CM_EXTRA".into(), "extra".into()));
    let out = bash::run(&request, &AbortHandle::new()).unwrap();
    assert_eq!(out.output, "extra\n");
}

#[test]
fn it_runs_in_the_given_directory() {
    let dir = TestDir::new("bash-cwd");
    std::fs::create_dir(dir.join("sub")).unwrap();
    let out = run_in(&dir.join("sub"), "pwd", Duration::from_secs(10));
    assert_eq!(out.output.trim_end(), dir.join("sub").to_str().unwrap());
    let missing = bash::run(
        &BashRequest::new("true", dir.join("nope")),
        &AbortHandle::new(),
    );
    assert!(matches!(missing, Err(bash::BashError::NoDirectory { .. })));
}

#[test]
fn stdin_is_empty_so_readers_return_at_once() {
    let start = Instant::now();
    let out = run("cat; read line || echo eof");
    assert_eq!(out.output, "eof\n");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn timeout_kills_the_whole_group() {
    let dir = TestDir::new("bash-timeout");
    let start = Instant::now();
    let out = run_in(
        dir.path(),
        "echo before; sleep 100 & sleep 100; echo never",
        Duration::from_millis(500),
    );
    assert_eq!(out.ending, Ending::TimedOut(Duration::from_millis(500)));
    assert_eq!(out.output, "before\n");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let outcome = out.to_outcome("sleep 100");
    assert!(outcome.is_error);
    assert!(
        outcome.summary.contains("timed out after 0.5 s"),
        "{}",
        outcome.summary
    );
}

#[test]
fn a_background_child_holding_the_pipe_does_not_keep_the_call_alive() {
    let start = Instant::now();
    let out = run("sleep 100 & echo started");
    assert_eq!(out.ending, Ending::Exited(0));
    assert_eq!(out.output, "started\n");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_child_that_left_the_group_is_left_alone_but_does_not_block_the_call() {
    let dir = TestDir::new("bash-setsid");
    let start = Instant::now();
    let request = BashRequest::new(
        "setsid sh -c 'echo $$; exec sleep 100' & sleep 0.3; echo done",
        dir.path(),
    );
    let out = bash::run(&request, &AbortHandle::new()).unwrap();
    let escaped: Option<u32> = out
        .output
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok());
    if let Some(pid) = escaped {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.ending, Ending::Exited(0));
    assert!(escaped.is_some(), "{:?}", out.output);
    assert!(out.output.ends_with("done\n"), "{:?}", out.output);
    assert_group_gone(out.process_group);
}

#[test]
fn abort_from_another_thread_kills_the_group() {
    let dir = TestDir::new("bash-abort");
    let abort = AbortHandle::new();
    let trigger = abort.clone();
    let aborter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        trigger.abort();
    });
    let start = Instant::now();
    let request = BashRequest::new("sleep 100 & sleep 100 & wait", dir.path());
    let out = bash::run(&request, &abort).unwrap();
    aborter.join().unwrap();
    assert_eq!(out.ending, Ending::Aborted);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_group_gone(out.process_group);
    assert_eq!(
        out.to_outcome("sleep").summary,
        "bash: sleep (aborted by the user)"
    );
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn huge_output_is_capped_with_head_and_tail_and_memory_stays_bounded() {
    let before = peak_rss_kib();
    let out = run("echo first; yes | head -c 100000000; echo; echo last");
    assert_eq!(out.ending, Ending::Exited(0));
    let total = "first\n".len() + 100_000_000 + "\nlast\n".len();
    let kept = bash::DEFAULT_OUTPUT_LIMIT as u64;
    assert_eq!(out.dropped_bytes, total as u64 - kept);
    assert!(out.output.starts_with("first\ny\ny\n"));
    assert!(out.output.ends_with("y\ny\n\nlast\n"));
    assert!(out.output.contains(&format!(
        "[… {} bytes of output dropped …]",
        out.dropped_bytes
    )));
    assert!(out.output.len() < bash::DEFAULT_OUTPUT_LIMIT + 100);
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        assert!(
            after.saturating_sub(before) < 40 * 1024,
            "peak RSS grew {before} → {after} KiB"
        );
    }
}

#[test]
fn output_that_never_stops_is_killed_at_the_timeout() {
    let dir = TestDir::new("bash-yes");
    let start = Instant::now();
    let out = run_in(dir.path(), "yes", Duration::from_millis(700));
    assert_eq!(out.ending, Ending::TimedOut(Duration::from_millis(700)));
    assert!(out.dropped_bytes > 0);
    assert!(out.output.len() < bash::DEFAULT_OUTPUT_LIMIT + 100);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn invalid_utf8_is_replaced_not_fatal() {
    let out = run("printf 'a\\377b'");
    assert_eq!(out.output, "a\u{fffd}b");
}

//! What the integration tests share: the simulator binary, the echo backend,
//! and running a command with a time limit.
//!
//! The echo backend is built by running `$CARGO build -p echo
//! --message-format=json-render-diagnostics` from inside the workspace and
//! taking the executable's path from cargo's `compiler-artifact` message. So
//! the tests need no guess of the target directory: the cargo that runs the
//! tests (`CARGO`) builds with the same configuration, the default
//! `target/` or `CARGO_TARGET_DIR`, whichever is in force. Cargo has released
//! its build lock by the time tests run, and concurrent test processes
//! (nextest) just wait for each other's lock.

#![allow(dead_code)] // each test crate uses its own part of this module

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The simulator, built by cargo for these tests.
pub(crate) fn sim() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spectrum-sim"))
}

/// The workspace root, where the README's commands run.
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("spectrum-sim is inside the workspace")
        .to_owned()
}

/// The cargo running these tests.
pub(crate) fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into())
}

/// The echo example's executable, built once per test process.
pub(crate) fn echo() -> &'static Path {
    static ECHO: OnceLock<PathBuf> = OnceLock::new();
    ECHO.get_or_init(|| {
        let out = Command::new(cargo())
            .args([
                "build",
                "-p",
                "echo",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(out.status.success(), "cargo build -p echo failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "echo")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the echo executable")
    })
}

/// Runs `command` to its end with captured output, killing it (and
/// failing the test) if it takes longer than `limit`.
pub(crate) fn run_within(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.join().unwrap_or_default()),
                String::from_utf8_lossy(&err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Stdout and stderr as text, for assertions and their messages.
pub(crate) fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

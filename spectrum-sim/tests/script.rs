//! Script mode against the echo example: the README's demo passes, a wrong
//! expectation and a dying backend fail with the line and the frames.

mod common;

use std::io::BufRead as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{echo, run_within, sim, texts, workspace_root};

const LIMIT: Duration = Duration::from_secs(300);

/// The README's main command, as written there: builds echo with
/// `--cargo`, runs the demo script, prints the frames.
#[test]
fn the_readme_demo_passes() {
    let out = run_within(
        sim()
            .args([
                "run",
                "--cargo",
                "echo",
                "--script",
                "examples/echo/demo.sim",
            ])
            .current_dir(workspace_root()),
        LIMIT,
    );
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for expected in [
        "→ PING",
        "← PONG",
        "→ LOGIN { user: \"alice@localhost\"",
        "← CONNECTED { user: \"alice@localhost\" }",
        "✓ CONNECTED for alice@localhost",
        "← CONV_MESSAGE { user_name: \"alice@localhost\", buddy_name: \"bob\", message: \"Hello, echo!\"",
        "✓ VCARD with fullname \"Echo of bob\"",
        "✓ BUDDY_TYPED",
        "# current user: alice@localhost",
        "# round trip ",
        "→ EXIT",
        "# backend exited with code 0",
        "# script passed",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    // The backend's own log line, shown as it came, between the frames.
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("  | ") && l.contains("connected to the main instance")),
        "{stdout}"
    );
    // Not a terminal: no colour.
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
}

#[test]
fn a_wrong_echo_fails_naming_the_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("wrong.sim");
    std::fs::write(
        &script,
        "login alice@localhost alice pw\n\
         expect connected alice@localhost\n\
         timeout 0.5\n\
         send alice@localhost bob Hello\n\
         expect message alice@localhost bob Goodbye\n\
         send alice@localhost bob never sent\n",
    )
    .expect("script written");
    let start = Instant::now();
    let out = run_within(
        sim().arg("run").arg(echo()).arg("--script").arg(&script),
        LIMIT,
    );
    let (stdout, stderr) = texts(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(
            "wrong.sim:5: `expect message alice@localhost bob Goodbye` failed: \
             no CONV_MESSAGE for alice@localhost from bob saying \"Goodbye\" within 0.5 s"
        ),
        "{stderr}"
    );
    // The frames seen, including the echo that did come.
    assert!(stderr.contains("frames so far"), "{stderr}");
    assert!(
        stderr.contains("backend → main  CONV_MESSAGE { user_name: \"alice@localhost\", buddy_name: \"bob\", message: \"Hello\""),
        "{stderr}"
    );
    assert!(
        !stdout.contains("never sent"),
        "the script stopped at the failure"
    );
    assert!(!stdout.contains("script passed"), "{stdout}");
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn script_errors_are_reported_before_the_backend_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("typo.sim");
    std::fs::write(
        &script,
        "# fine\nlogin a@x a\nlgoin a@x a\nexpect message a@x\n",
    )
    .expect("script written");
    let out = run_within(
        sim().arg("run").arg(echo()).arg("--script").arg(&script),
        LIMIT,
    );
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("typo.sim:3: unknown command `lgoin` (did you mean `login`?)"),
        "{stderr}"
    );
    assert!(stderr.contains("typo.sim:4: missing <buddy>"), "{stderr}");
    assert!(stdout.is_empty(), "no backend was started: {stdout}");
}

/// The backend is killed while the script waits: the sim notices at once
/// and fails, naming the line.
#[test]
fn a_dying_backend_fails_the_script() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("dies.sim");
    std::fs::write(
        &script,
        "login alice@localhost alice pw\nexpect connected alice@localhost\nsleep 60000\n",
    )
    .expect("script written");
    let start = Instant::now();
    let mut child = sim()
        .arg("run")
        .arg(echo())
        .arg("--script")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sim starts");
    let stdout = child.stdout.take().expect("piped");
    let mut seen = String::new();
    let mut pid = None;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("utf-8");
        seen.push_str(&line);
        seen.push('\n');
        if pid.is_none() {
            pid = line
                .split("(pid ")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .map(str::to_owned);
        }
        if line.contains("dies.sim:3: sleep") {
            let pid = pid.clone().expect("the sim printed the backend's pid");
            let killed = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .expect("kill runs");
            assert!(killed.success());
        }
    }
    let out = child.wait_with_output().expect("sim ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{seen}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("dies.sim:3: `sleep 60000` failed: the backend closed the connection"),
        "{stderr}"
    );
    assert!(stderr.contains("backend exited with code -1"), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(30), "noticed at once");
}

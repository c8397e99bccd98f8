//! The interactive prompt in a real terminal (tmux): type commands, see the
//! frames, including the echo that arrives while the prompt waits.
//!
//! Needs tmux (`apt-get install -y tmux`); without it the test fails and
//! says so. Each run uses a tmux server of its own (`-L`), so it neither
//! sees nor disturbs other tmux sessions, and the server starts with this
//! process's environment.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{echo, sim};

/// A private tmux server with one session running a shell command.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Fails the test, saying what to install, when there is no tmux.
    fn require() {
        match Command::new("tmux").arg("-V").output() {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "this test drives the simulator through a terminal with tmux, \
                 which is not installed: apt-get install -y tmux"
            ),
        }
    }

    fn start(command: &str) -> Tmux {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let tmux = Tmux {
            socket: format!("spectrum-sim-test-{}-{nanos}", std::process::id()),
        };
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "sim",
            "-x",
            "200",
            "-y",
            "50",
            command,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    /// Types a line and presses Enter.
    fn type_line(&self, text: &str) {
        assert!(
            self.run(&["send-keys", "-t", "sim", "-l", text])
                .status
                .success()
        );
        assert!(
            self.run(&["send-keys", "-t", "sim", "Enter"])
                .status
                .success()
        );
    }

    /// Everything the terminal showed, history included, wrapped lines joined.
    fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .run(&["capture-pane", "-p", "-J", "-t", "sim", "-S", "-"])
                .stdout,
        )
        .into_owned()
    }

    /// Waits until the screen shows every one of `texts`.
    fn wait_for(&self, texts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the terminal never showed {texts:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn quoted(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    assert!(!text.contains('\''), "a path without quotes: {text}");
    format!("'{text}'")
}

#[test]
fn login_send_and_quit_at_the_prompt() {
    Tmux::require();
    let sim_path = std::path::PathBuf::from(sim().get_program());
    // The prompt's history goes here, not into the home directory.
    let state = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "XDG_STATE_HOME={} {} run {}; echo \"SIM-EXIT=$?\"; sleep 600",
        quoted(state.path()),
        quoted(&sim_path),
        quoted(echo())
    );
    let tmux = Tmux::start(&command);
    // The backend's own log line, from its stderr, shown live.
    let screen = tmux.wait_for(&["← STATS", "sim> ", "connected to the main instance"]);
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("  | ") && l.contains("connected to the main instance")),
        "{screen}"
    );

    tmux.type_line("login alice@localhost alice pw");
    tmux.wait_for(&["← CONNECTED { user: \"alice@localhost\" }"]);

    // The echo arrives while the prompt waits for the next line; the
    // current user saves repeating the JID.
    tmux.type_line("user alice@localhost");
    tmux.wait_for(&["# current user: alice@localhost"]);
    tmux.type_line("send bob hi there");
    tmux.wait_for(&[
        "→ CONV_MESSAGE { user_name: \"alice@localhost\", buddy_name: \"bob\", message: \"hi there\"",
        "← CONV_MESSAGE { user_name: \"alice@localhost\", buddy_name: \"bob\", message: \"hi there\"",
    ]);

    tmux.type_line("frobnicate");
    tmux.wait_for(&["error: unknown command `frobnicate`; type `help` for the list"]);

    tmux.type_line("quit");
    let screen = tmux.wait_for(&["→ EXIT", "# backend exited with code 0", "SIM-EXIT=0"]);
    // On a terminal, in colour.
    let coloured = tmux.run(&["capture-pane", "-p", "-e", "-J", "-t", "sim", "-S", "-"]);
    assert!(
        String::from_utf8_lossy(&coloured.stdout).contains("\u{1b}["),
        "no colour on a terminal"
    );
    // Every line typed is in the history, for the next run.
    let history = std::fs::read_to_string(state.path().join("spectrum-sim/history"))
        .expect("the prompt saved its history");
    assert!(history.contains("send bob hi there"), "{history}");
    // The prompt was redrawn after the asynchronous frames, and the unknown
    // command did not end the session.
    assert!(screen.matches("sim> ").count() >= 4, "{screen}");
}

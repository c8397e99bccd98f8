//! The interactive prompt: commands from stdin, frames printed as they come.
//!
//! Reading a line and reading the socket happen at the same time: a thread
//! reads lines into a channel, and the prompt waits on whichever of the
//! channel, the backend's socket or Ctrl-C is ready first.
//!
//! On a terminal the thread runs a line editor (rustyline: arrow keys,
//! history kept across runs, Ctrl-R search). What arrives while the user
//! types (frames, the backend's log lines) is printed above the line being
//! edited. The editor asks for the next line only once the previous command
//! is done, so the terminal is never left in the editor's raw mode when the
//! simulator ends. Without a terminal (a pipe), stdin is read line by line.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc as sync_mpsc;
use std::time::{Duration, Instant};

use rustyline::ExternalPrinter as _;
use rustyline::error::ReadlineError;
use tokio::sync::mpsc;

use crate::commands;
use crate::output::{self, Kind};
use crate::session::{Outcome, Session, StepError};

const PROMPT: &str = "sim> ";

/// What the reading thread delivers.
enum Input {
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupted,
}

/// The reading side: lines in, and (with the editor) "read the next one".
struct Reader {
    lines: mpsc::Receiver<Input>,
    /// With the editor: lets it show the prompt again.
    next: Option<sync_mpsc::Sender<()>>,
    /// The editor is showing the prompt now.
    reading: bool,
}

impl Reader {
    /// The next input; `None` at the end of input.
    async fn recv(&mut self) -> Option<Input> {
        let input = self.lines.recv().await;
        self.reading = false;
        output::pause_printer(true);
        input
    }

    /// A command is done: show the prompt again.
    fn ready(&mut self) {
        if let Some(next) = &self.next
            && !self.reading
        {
            output::pause_printer(false);
            self.reading = next.send(()).is_ok();
        }
    }

    /// Before the program ends: the editor must not be left in raw mode
    /// with its prompt on screen, so wait for the line being typed.
    async fn finish(&mut self) {
        if self.reading {
            output::line(Kind::Note, "# press Enter to leave");
            let _ = self.lines.recv().await;
        }
        output::clear_printer();
    }
}

/// Runs the prompt until `quit`, the end of input, Ctrl-C, or the backend's
/// end. Exits 0 after a clean `quit` (whatever the backend's exit code,
/// which is printed), 1 if the backend went away on its own.
pub(crate) async fn run(mut session: Session) -> ExitCode {
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut reader = if tty { editor() } else { plain() };
    if tty {
        output::line(
            Kind::Note,
            "# type `help` for the commands, `user <jid>` to stop repeating it, `quit` to stop",
        );
    }
    let code = loop {
        reader.ready();
        // The socket future is cancelled whenever a line comes first, which
        // `poll` allows: no frame is lost.
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            input = reader.recv() => {
                let line = match input {
                    Some(Input::Line(line)) => line,
                    Some(Input::Interrupted) => {
                        output::line(Kind::Note, "# interrupted: quitting");
                        break quit(&mut session).await;
                    }
                    None => {
                        output::line(Kind::Note, "# end of input: quitting");
                        break quit(&mut session).await;
                    }
                };
                match commands::parse(&line, session.current_user()) {
                    Ok(None) => {}
                    Err(e) => output::line(Kind::Failed, &format!("error: {e}")),
                    Ok(Some(command)) => match session.execute(&command).await {
                        Ok(Outcome::Continue) => {}
                        Ok(Outcome::Exited(_)) => break Ok(()),
                        Err(StepError::Unmet(failure)) => {
                            output::line(Kind::Failed, &format!("✗ {}", failure.what()));
                        }
                        Err(StepError::Lost(failure)) => break Err(failure.what().to_owned()),
                    },
                }
            }
            frame = session.poll(far) => {
                if let Err(failure) = frame {
                    break Err(failure.what().to_owned());
                }
            }
            _ = tokio::signal::ctrl_c() => {
                output::line(Kind::Note, "# interrupted: quitting");
                break quit(&mut session).await;
            }
        }
    };
    match code {
        Ok(()) => {
            reader.finish().await;
            ExitCode::SUCCESS
        }
        Err(what) => {
            output::line(Kind::Failed, &format!("error: {what}"));
            reader.finish().await;
            session.abandon().await;
            ExitCode::FAILURE
        }
    }
}

async fn quit(session: &mut Session) -> Result<(), String> {
    match session.quit().await {
        Ok(_) => Ok(()),
        Err(StepError::Unmet(failure) | StepError::Lost(failure)) => Err(failure.what().to_owned()),
    }
}

/// Where the prompt's history is kept: `$XDG_STATE_HOME/spectrum-sim/history`,
/// else `~/.local/state/spectrum-sim/history`.
fn history_file() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("spectrum-sim").join("history"))
}

/// Lines from a line editor on the terminal.
fn editor() -> Reader {
    let (tx, rx) = mpsc::channel(16);
    let (next_tx, next_rx) = sync_mpsc::channel::<()>();
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => {
            output::line(
                Kind::Failed,
                &format!("# no line editing ({e}): reading plain lines"),
            );
            return plain();
        }
    };
    match editor.create_external_printer() {
        Ok(mut printer) => output::set_printer(Box::new(move |mut line: String| {
            // Between two prompts the editor writes the text as it is; with
            // the newline it ends the line in both cases.
            line.push('\n');
            let _ = printer.print(line);
        })),
        Err(e) => output::line(
            Kind::Failed,
            &format!("# frames may garble the prompt: {e}"),
        ),
    }
    output::pause_printer(true);
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    std::thread::spawn(move || {
        while next_rx.recv().is_ok() {
            let input = match editor.readline(PROMPT) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                        if let Some(path) = &history {
                            if let Some(dir) = path.parent() {
                                let _ = std::fs::create_dir_all(dir);
                            }
                            let _ = editor.save_history(path);
                        }
                    }
                    Input::Line(line)
                }
                Err(ReadlineError::Interrupted) => Input::Interrupted,
                Err(_) => break, // Ctrl-D or a terminal error: end of input
            };
            if tx.blocking_send(input).is_err() {
                break;
            }
        }
    });
    Reader {
        lines: rx,
        next: Some(next_tx),
        reading: false,
    }
}

/// Lines of stdin, read by a thread of their own; the channel closes at the
/// end of input. (A blocking read of stdin cannot be cancelled: the thread
/// must not hold up the end of the program, so nothing waits for it.)
fn plain() -> Reader {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(Input::Line(line)).is_err() {
                break;
            }
        }
    });
    Reader {
        lines: rx,
        next: None,
        reading: false,
    }
}

//! The interactive prompt: commands from stdin, frames printed as they come.
//!
//! Reading stdin and reading the socket happen at the same time: a thread
//! reads lines into a channel, and the prompt waits on whichever of the
//! channel, the backend's socket or Ctrl-C is ready first. A frame that
//! arrives while the user is typing is printed at once, and the prompt shown
//! again. (The thread is a plain one because a blocking read of stdin cannot
//! be cancelled: it must not hold up the end of the program.)

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::commands;
use crate::session::{Outcome, Session, StepError};

const PROMPT: &str = "sim> ";

/// Runs the prompt until `quit`, the end of input, Ctrl-C, or the backend's
/// end. Exits 0 after a clean `quit` (whatever the backend's exit code,
/// which is printed), 1 if the backend went away on its own.
pub(crate) async fn run(mut session: Session) -> ExitCode {
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut lines = read_lines();
    if tty {
        println!("# type `help` for the commands, `quit` to stop");
    }
    loop {
        if tty && !session.prompt_on_screen() {
            print!("{PROMPT}");
            let _ = std::io::stdout().flush();
            session.set_prompt_on_screen(true);
        }
        // The socket future is cancelled whenever a line comes first, which
        // `poll` allows: no frame is lost.
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            line = lines.recv() => {
                // Enter moved the cursor past the prompt.
                session.set_prompt_on_screen(false);
                let Some(line) = line else {
                    if tty {
                        println!(); // Ctrl-D left the cursor after the prompt
                    }
                    println!("# end of input: quitting");
                    return quit(session).await;
                };
                match commands::parse(&line) {
                    Ok(None) => {}
                    Err(e) => eprintln!("error: {e}"),
                    Ok(Some(command)) => match session.execute(&command).await {
                        Ok(Outcome::Continue) => {}
                        Ok(Outcome::Exited(_)) => return ExitCode::SUCCESS,
                        Err(StepError::Unmet(failure)) => eprintln!("✗ {}", failure.what()),
                        Err(StepError::Lost(failure)) => return lost(session, failure.what()).await,
                    },
                }
            }
            frame = session.poll(far) => {
                if let Err(failure) = frame {
                    if session.prompt_on_screen() {
                        println!();
                    }
                    return lost(session, failure.what()).await;
                }
                // The frame replaced the prompt; the next turn shows it again.
            }
            _ = tokio::signal::ctrl_c() => {
                println!();
                println!("# interrupted: quitting");
                return quit(session).await;
            }
        }
    }
}

async fn quit(mut session: Session) -> ExitCode {
    match session.quit().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(StepError::Unmet(failure) | StepError::Lost(failure)) => {
            lost(session, failure.what()).await
        }
    }
}

async fn lost(session: Session, what: &str) -> ExitCode {
    eprintln!("error: {what}");
    session.abandon().await;
    ExitCode::FAILURE
}

/// Lines of stdin, read by a thread of their own; the channel closes at the
/// end of input.
fn read_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

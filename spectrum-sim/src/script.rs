//! Script mode: the prompt's commands from a file, checked with `expect`.
//!
//! The whole file is parsed before the backend starts, so a typo fails at
//! once with its line number. Each line is echoed as `# file:line: text`
//! before its frames. The run stops at the first `expect` that is not met in
//! time, or when the backend goes away, with the line and every frame seen;
//! at the end of the file the backend gets EXIT (unless the script already
//! said `quit`).

use std::path::Path;
use std::process::ExitCode;

use crate::commands::{self, Command};
use crate::output::{self, Kind};
use crate::session::{Outcome, Session, StepError};

/// One command of a script, with where it came from.
#[derive(Debug)]
struct Line {
    number: usize,
    text: String,
    command: Command,
}

/// A parsed script.
#[derive(Debug)]
pub(crate) struct Script {
    /// The file name, for messages.
    name: String,
    lines: Vec<Line>,
}

impl Script {
    /// Reads and parses a script; the error lists every bad line.
    pub(crate) fn load(path: &Path) -> Result<Script, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the script {}: {e}", path.display()))?;
        let name = path.display().to_string();
        Script::parse(&name, &text)
    }

    fn parse(name: &str, text: &str) -> Result<Script, String> {
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        // `user <jid>` changes how the lines after it read.
        let mut current: Option<String> = None;
        for (i, text) in text.lines().enumerate() {
            match commands::parse(text, current.as_deref()) {
                Ok(None) => {}
                Ok(Some(command)) => lines.push(Line {
                    number: i + 1,
                    text: text.trim().to_owned(),
                    command: {
                        if let Command::User(jid) = &command {
                            current = Some(jid.clone());
                        }
                        command
                    },
                }),
                Err(e) => errors.push(format!("{name}:{}: {e}", i + 1)),
            }
        }
        if errors.is_empty() {
            Ok(Script {
                name: name.to_owned(),
                lines,
            })
        } else {
            Err(format!("the script has errors:\n{}", errors.join("\n")))
        }
    }

    /// Runs the script: 0 when it completes, 1 when an `expect` fails or
    /// the backend goes away.
    pub(crate) async fn run(self, mut session: Session) -> ExitCode {
        let mut quit = false;
        let mut expectations = 0;
        for line in &self.lines {
            output::line(
                Kind::Note,
                &format!("# {}:{}: {}", self.name, line.number, line.text),
            );
            if matches!(line.command, Command::Expect(_)) {
                expectations += 1;
            }
            match session.execute(&line.command).await {
                Ok(Outcome::Continue) => {}
                Ok(Outcome::Exited(_)) => {
                    quit = true;
                    break;
                }
                Err(StepError::Unmet(failure) | StepError::Lost(failure)) => {
                    eprintln!(
                        "spectrum-sim: {}:{}: `{}` failed: {failure}",
                        self.name, line.number, line.text
                    );
                    session.abandon().await;
                    return ExitCode::FAILURE;
                }
            }
        }
        if !quit
            && let Err(StepError::Unmet(failure) | StepError::Lost(failure)) = session.quit().await
        {
            eprintln!(
                "spectrum-sim: {}: the backend did not end after EXIT: {failure}",
                self.name
            );
            session.abandon().await;
            return ExitCode::FAILURE;
        }
        println!(
            "# script passed: {} commands, {expectations} expectations met",
            self.lines.len()
        );
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = "# demo\nlogin a@x a\nlgoin a@x a\n\nsend a@x\nexpect connected a@x\n";
        let err = Script::parse("t.sim", text).expect_err("two bad lines");
        assert!(err.contains("t.sim:3: unknown command `lgoin`"), "{err}");
        assert!(err.contains("t.sim:5: missing <buddy>"), "{err}");
        let ok =
            Script::parse("t.sim", "login a@x a\n# c\nexpect connected a@x\n").expect("parses");
        let numbers: Vec<usize> = ok.lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 3]);
    }
}

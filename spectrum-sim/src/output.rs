//! Everything the simulator prints, in one place: frames, notes, results
//! and the backend's own output, coloured on a terminal and plain
//! otherwise.
//!
//! While the interactive prompt reads a line, text printed from elsewhere
//! would land in the middle of what the user types. The prompt therefore
//! installs a [`Printer`] that prints above the line being edited; until
//! then, and in scripts, lines go to stdout (errors to stderr).

use std::io::{IsTerminal as _, Write as _};
use std::sync::{Mutex, OnceLock};

/// What a line is, which decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Text without colour (help).
    Plain,
    /// A frame to the backend (`→`).
    Sent,
    /// A frame from the backend (`←`).
    Received,
    /// A remark of the simulator (`# ...`).
    Note,
    /// An expectation met (`✓`).
    Met,
    /// An error or an expectation not met; printed on stderr without a printer.
    Failed,
    /// A line the backend wrote to its stderr or stdout.
    Backend,
}

/// Prints one line (without its newline) above the line being edited.
pub(crate) type Printer = Box<dyn FnMut(String) + Send>;

/// The installed printer, and whether it is paused (no prompt on screen:
/// lines go straight to stdout).
struct Slot {
    printer: Option<Printer>,
    paused: bool,
}

fn slot() -> &'static Mutex<Slot> {
    static SLOT: OnceLock<Mutex<Slot>> = OnceLock::new();
    SLOT.get_or_init(|| {
        Mutex::new(Slot {
            printer: None,
            paused: false,
        })
    })
}

/// Routes every line through `p` until [`clear_printer`], except while
/// [paused](pause_printer).
pub(crate) fn set_printer(p: Printer) {
    if let Ok(mut slot) = slot().lock() {
        slot.printer = Some(p);
    }
}

/// Pauses the printer while no prompt is on screen, or resumes it.
pub(crate) fn pause_printer(paused: bool) {
    if let Ok(mut slot) = slot().lock() {
        slot.paused = paused;
    }
}

/// Back to plain stdout and stderr.
pub(crate) fn clear_printer() {
    if let Ok(mut slot) = slot().lock() {
        slot.printer = None;
    }
}

/// Whether to colour: stdout is a terminal and `NO_COLOR` is not set.
pub(crate) fn colour() -> bool {
    static COLOUR: OnceLock<bool> = OnceLock::new();
    *COLOUR.get_or_init(|| {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    })
}

/// `text` as it is shown for `kind`: with ANSI colour when [`colour`].
pub(crate) fn styled(kind: Kind, text: &str) -> String {
    if !colour() {
        return text.to_owned();
    }
    let code = match kind {
        Kind::Plain => return text.to_owned(),
        Kind::Sent => "36",     // cyan
        Kind::Received => "32", // green
        Kind::Note => "33",     // yellow
        Kind::Met => "1;32",    // bold green
        Kind::Failed => "1;31", // bold red
        Kind::Backend => "2",   // dim
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// Prints one line of `kind`.
pub(crate) fn line(kind: Kind, text: &str) {
    let shown = styled(kind, text);
    if let Ok(mut slot) = slot().lock()
        && !slot.paused
        && let Some(p) = slot.printer.as_mut()
    {
        p(shown);
        return;
    }
    if kind == Kind::Failed {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{shown}");
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{shown}");
        let _ = out.flush();
    }
}

/// A line the backend wrote, as the simulator shows it: `  | text`.
pub(crate) fn backend_line(text: &str) {
    line(Kind::Backend, &format!("  | {}", strip_ansi(text)));
}

/// `text` without ANSI escape sequences (the backend's own colours would
/// defeat the dimming, and garble a log file).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // Parameters and intermediates, up to the final byte.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed() {
        assert_eq!(
            strip_ansi("\x1b[2m2026\x1b[0m \x1b[32m INFO\x1b[0m hello"),
            "2026  INFO hello"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }
}

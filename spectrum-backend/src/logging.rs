//! Logging through `tracing`, set up as Spectrum 2 admins set up backend
//! logging.
//!
//! `logging.backend_config` in the transport's config file names a log4cxx
//! properties file (Spectrum 2's own backends read it). Two of its settings
//! are honoured: the root logger's level (`log4j.rootLogger = DEBUG, R`) and
//! where its first appender writes: the file of a file appender
//! (`log4j.appender.R.File`, with `${jid}`, `${id}` and `${pid}` replaced and
//! missing directories created), or stderr for any other appender. Layouts,
//! rolling and per-logger levels are not: lines keep tracing's format.
//!
//! `RUST_LOG`, when set, chooses what is shown instead of that level
//! (`RUST_LOG=spectrum_backend=debug` shows every frame). Without either,
//! `info` and above go to stderr, which Spectrum 2 passes on to its own
//! output.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

use crate::Config;

/// What a log4cxx properties file asks of this backend.
#[derive(Debug, Default, PartialEq, Eq)]
struct Settings {
    /// A `tracing` level directive (`debug`, `off`...).
    level: Option<&'static str>,
    /// The log file; `None` means stderr.
    file: Option<PathBuf>,
}

/// Installs the subscriber unless one is already set.
pub(crate) fn init(config: &Config, backend_id: Option<&str>) {
    let mut problem = None;
    let settings = match config
        .get("logging.backend_config")
        .filter(|p| !p.is_empty())
    {
        None => Settings::default(),
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => {
                let jid = config.get("service.jid").unwrap_or_default();
                let id = backend_id.unwrap_or_default();
                settings(
                    &text,
                    &[
                        ("jid", jid),
                        ("id", id),
                        ("pid", &std::process::id().to_string()),
                    ],
                )
            }
            Err(e) => {
                problem = Some(format!("cannot read logging.backend_config {path}: {e}"));
                Settings::default()
            }
        },
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.level.unwrap_or("info")));
    let file = settings.file.and_then(|path| match open(&path) {
        Ok(file) => Some(file),
        Err(e) => {
            problem = Some(format!("cannot open the log file {}: {e}", path.display()));
            None
        }
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match file {
        Some(file) => builder
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .try_init(),
        None => builder
            .with_writer(std::io::stderr)
            // Spectrum 2 sends a backend's output to its own log files: colour
            // codes only for a person at a terminal.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    if let Some(problem) = problem {
        tracing::warn!("{problem}; logging to stderr");
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Reads the root logger's level and first appender from properties text.
fn settings(text: &str, vars: &[(&str, &str)]) -> Settings {
    let properties = properties(text);
    let Some(root) = properties
        .get("log4j.rootLogger")
        .or_else(|| properties.get("log4j.rootCategory"))
    else {
        return Settings::default();
    };
    let mut parts = root.split(',').map(str::trim);
    let level = parts.next().and_then(level);
    let file = parts.next().filter(|a| !a.is_empty()).and_then(|appender| {
        let class = properties.get(&format!("log4j.appender.{appender}"))?;
        if !class.ends_with("FileAppender") {
            return None;
        }
        let file = properties.get(&format!("log4j.appender.{appender}.File"))?;
        Some(PathBuf::from(substitute(file, vars)))
    });
    Settings { level, file }
}

/// `key = value` (or `key: value`) lines; `#` and `!` start comments.
fn properties(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let at = l.find(['=', ':'])?;
            Some((l[..at].trim().to_owned(), l[at + 1..].trim().to_owned()))
        })
        .collect()
}

/// A log4j level as a `tracing` directive.
fn level(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_uppercase().as_str() {
        "ALL" | "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        "OFF" => "off",
        _ => return None,
    })
}

fn substitute(text: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(text.to_owned(), |text, (name, value)| {
        text.replace(&format!("${{{name}}}"), value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: &[(&str, &str)] = &[("jid", "irc.example.org"), ("id", "3"), ("pid", "42")];

    #[test]
    fn a_file_appender_with_variables() {
        let text = "# backend logging\n\
            log4j.rootLogger=debug, R\n\
            log4j.appender.R=org.apache.log4j.RollingFileAppender\n\
            log4j.appender.R.File=/var/log/spectrum2/${jid}/backends/backend-${id}-${pid}.log\n\
            log4j.appender.R.MaxFileSize=10000KB\n";
        assert_eq!(
            settings(text, VARS),
            Settings {
                level: Some("debug"),
                file: Some("/var/log/spectrum2/irc.example.org/backends/backend-3-42.log".into()),
            }
        );
    }

    #[test]
    fn a_console_appender_keeps_stderr() {
        let text = "log4j.rootLogger = WARN, stdout\n\
            log4j.appender.stdout = org.apache.log4j.ConsoleAppender\n";
        assert_eq!(
            settings(text, VARS),
            Settings {
                level: Some("warn"),
                file: None
            }
        );
    }

    #[test]
    fn nothing_usable_means_the_defaults() {
        assert_eq!(settings("", VARS), Settings::default());
        assert_eq!(settings("log4j.rootLogger=LOUD", VARS), Settings::default());
        // An appender that is not defined: stderr.
        assert_eq!(
            settings("log4j.rootCategory: fatal, X", VARS),
            Settings {
                level: Some("error"),
                file: None
            }
        );
    }
}

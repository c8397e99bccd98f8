//! The command line Spectrum 2 gives a backend.
//!
//! The main instance runs `<backend> --host H --port P --service.backend_id=N`
//! followed by its own arguments, each quoted: usually `-n` or `-j <jid>` and
//! the path of its config file, which is the last positional argument.
//! Arguments a backend does not know must be ignored, and
//! `--section.key=value` overrides the config file.

use std::ffi::OsString;

/// Parsed start-up arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The main instance's backend host (`--host` / `-h`).
    pub host: String,
    /// The main instance's backend port (`--port` / `-p`).
    pub port: u16,
    /// The log id the main instance gave this process (`--service.backend_id`).
    pub backend_id: Option<String>,
    /// The transport's config file: `--config` or the last positional argument.
    pub config: std::path::PathBuf,
    /// `-j` / `--jid`: parsed, and like Spectrum 2 not applied to the config.
    pub jid: Option<String>,
    /// Every `--section.key=value`, in order; they override the config file.
    pub overrides: Vec<(String, String)>,
}

/// The command line is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgsError {
    /// `--help` was given.
    #[error("{USAGE}")]
    Help,
    /// A required argument is absent.
    #[error("missing {0}\n\n{USAGE}")]
    Missing(&'static str),
    /// An option that takes a value came last.
    #[error("option `{0}` needs a value\n\n{USAGE}")]
    NoValue(String),
    /// `--port` is not a port number.
    #[error("invalid port `{0}`: expected a number from 1 to 65535\n\n{USAGE}")]
    BadPort(String),
    /// An argument is not valid Unicode.
    #[error("argument {0:?} is not valid UTF-8")]
    NotUnicode(OsString),
}

/// How to run a backend, printed with argument errors.
pub const USAGE: &str = "\
usage: <backend> --host HOST --port PORT [--service.backend_id=N] [OPTIONS] CONFIG

A Spectrum 2 backend. The Spectrum 2 main instance starts it with these
arguments; to run it by hand, give the host and port the main instance
listens on for backends and the transport's config file.

  -h, --host HOST          address of the main instance (service.backend_host)
  -p, --port PORT          port of the main instance (service.backend_port)
  --service.backend_id=N   log id given by the main instance
  -c, --config FILE        the transport config file (or give it last)
  --SECTION.KEY=VALUE      override a config file value
  -n, -d, -j JID           accepted and ignored, as Spectrum 2 passes them
  --help                   print this text";

impl Args {
    /// Parses the process's own arguments.
    pub fn from_env() -> Result<Args, ArgsError> {
        Self::parse(std::env::args_os().skip(1))
    }

    /// Parses arguments, *without* the program name.
    ///
    /// ```
    /// use spectrum_backend::Args;
    ///
    /// // Exactly what Spectrum 2 runs for a main started as `spectrum2 -n /etc/t.cfg`.
    /// let args = Args::parse(["--host", "127.0.0.1", "--port", "31640",
    ///     "--service.backend_id=1", "-n", "/etc/t.cfg"]).unwrap();
    /// assert_eq!(args.port, 31640);
    /// assert_eq!(args.backend_id.as_deref(), Some("1"));
    /// assert_eq!(args.config, std::path::Path::new("/etc/t.cfg"));
    /// ```
    pub fn parse<I, S>(args: I) -> Result<Args, ArgsError>
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut host = None;
        let mut port = None;
        let mut config = None;
        let mut jid = None;
        let mut positional = None;
        let mut overrides = Vec::new();
        let mut args = args.into_iter().map(|a| {
            let a = a.into();
            a.into_string().map_err(ArgsError::NotUnicode)
        });
        while let Some(arg) = args.next() {
            let arg = arg?;
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with('-') => (n.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> Result<String, ArgsError> {
                match inline.clone() {
                    Some(v) => Ok(v),
                    None => args
                        .next()
                        .ok_or_else(|| ArgsError::NoValue(name.to_owned()))?,
                }
            };
            match name.as_str() {
                "--help" => return Err(ArgsError::Help),
                "-h" | "--host" => host = Some(value(&name)?),
                "-p" | "--port" => port = Some(value(&name)?),
                "-c" | "--config" => config = Some(value(&name)?),
                "-j" | "--jid" => jid = Some(value(&name)?),
                "-n" | "--no-daemonize" | "-d" | "--no-debug" => {}
                n if n.starts_with("--") && n[2..].contains('.') => {
                    overrides.push((n[2..].to_owned(), inline.clone().unwrap_or_default()));
                }
                n if n.starts_with('-') && n.len() > 1 => {
                    tracing::debug!(argument = %arg, "ignoring unknown argument");
                }
                _ => positional = Some(arg),
            }
        }
        let host = host.ok_or(ArgsError::Missing("--host"))?;
        let port = port.ok_or(ArgsError::Missing("--port"))?;
        let port = match port.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err(ArgsError::BadPort(port)),
        };
        let config = config
            .or(positional)
            .ok_or(ArgsError::Missing("the config file argument"))?;
        let backend_id = overrides
            .iter()
            .rev()
            .find(|(k, _)| k == "service.backend_id")
            .map(|(_, v)| v.clone());
        Ok(Args {
            host,
            port,
            backend_id,
            config: config.into(),
            jid,
            overrides,
        })
    }

    /// The arguments Spectrum 2 passes, for spawning a backend in tests.
    pub fn to_spectrum_argv(&self) -> Vec<String> {
        let mut argv = vec![
            "--host".to_owned(),
            self.host.clone(),
            "--port".to_owned(),
            self.port.to_string(),
        ];
        if let Some(id) = &self.backend_id {
            argv.push(format!("--service.backend_id={id}"));
        }
        argv.push("-n".to_owned());
        argv.push(self.config.display().to_string());
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_spectrum_passes() {
        let a = Args::parse([
            "--host",
            "127.0.0.1",
            "--port",
            "31640",
            "--service.backend_id=3",
            "-j",
            "irc.example.org",
            "/etc/spectrum2/transports/irc.cfg",
        ])
        .expect("valid");
        assert_eq!(a.host, "127.0.0.1");
        assert_eq!(a.port, 31640);
        assert_eq!(a.backend_id.as_deref(), Some("3"));
        assert_eq!(a.jid.as_deref(), Some("irc.example.org"));
        assert_eq!(
            a.config,
            std::path::Path::new("/etc/spectrum2/transports/irc.cfg")
        );
        assert_eq!(
            a.overrides,
            vec![("service.backend_id".to_owned(), "3".to_owned())]
        );
    }

    #[test]
    fn ignores_unknown_options_and_takes_overrides() {
        let a = Args::parse([
            "--weird",
            "--host=::1",
            "-p",
            "2000",
            "--service.jid=x.org",
            "c.cfg",
        ])
        .expect("valid");
        assert_eq!(a.host, "::1");
        assert_eq!(
            a.overrides,
            vec![("service.jid".to_owned(), "x.org".to_owned())]
        );
    }

    #[test]
    fn explains_what_is_missing() {
        let e = Args::parse(["--port", "1", "c.cfg"]).expect_err("no host");
        assert_eq!(e, ArgsError::Missing("--host"));
        assert!(e.to_string().contains("usage:"));
        assert_eq!(
            Args::parse(["--host", "h", "--port", "x", "c"]),
            Err(ArgsError::BadPort("x".into()))
        );
        assert_eq!(
            Args::parse(["--host", "h", "--port", "1"]),
            Err(ArgsError::Missing("the config file argument"))
        );
        assert_eq!(
            Args::parse(["--host"]),
            Err(ArgsError::NoValue("--host".into()))
        );
    }
}

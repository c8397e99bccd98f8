use std::borrow::Cow;
use std::fmt;

use spectrum_proto::ConnectionError;

/// A handler's failure, carrying the `Disconnected.error` code the main
/// instance will receive if it ends the session.
///
/// The code decides what Spectrum 2 does next: [`ConnectionError::NetworkError`]
/// (0) and [`ConnectionError::OtherError`] (16) make it log the user in again,
/// up to three times; any other code is final and the reason is shown to the
/// XMPP user. Choose with care: a wrong password must not be retried.
///
/// ```
/// use spectrum_backend::{ConnectionError, Error};
///
/// let e = Error::authentication_failed("wrong password");
/// assert_eq!(e.code(), ConnectionError::AuthenticationFailed);
/// assert!(!e.retries_login());
///
/// // I/O errors convert with `?` into NetworkError (0): Spectrum 2 retries.
/// let e: Error = std::io::Error::other("connection reset").into();
/// assert_eq!(e.code(), ConnectionError::NetworkError);
/// ```
#[derive(Debug)]
pub struct Error {
    code: ConnectionError,
    message: Cow<'static, str>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// `Result` with this crate's [`Error`].
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with an explicit code and a message for the XMPP user.
    pub fn new(code: ConnectionError, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// The legacy network could not be reached; Spectrum 2 retries (code 0).
    pub fn network(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ConnectionError::NetworkError, message)
    }

    /// Wrong credentials; final, not retried (code 2).
    pub fn authentication_failed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ConnectionError::AuthenticationFailed, message)
    }

    /// The legacy name is not acceptable; final (code 1).
    pub fn invalid_username(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ConnectionError::InvalidUsername, message)
    }

    /// The name is already in use on the legacy network; final (code 6).
    pub fn name_in_use(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ConnectionError::NameInUse, message)
    }

    /// The backend's settings are wrong; final (code 7).
    pub fn invalid_settings(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ConnectionError::InvalidSettings, message)
    }

    /// Anything else; Spectrum 2 retries (code 16).
    pub fn other(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ConnectionError::OtherError, message)
    }

    /// Attaches the underlying cause.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The code sent in `Disconnected.error`.
    pub fn code(&self) -> ConnectionError {
        self.code
    }

    /// The text sent in `Disconnected.message`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether Spectrum 2 will log the user in again after this error.
    pub fn retries_login(&self) -> bool {
        matches!(
            self.code,
            ConnectionError::NetworkError | ConnectionError::OtherError
        )
    }

    /// The text for `Disconnected.message`: the message and its causes.
    pub(crate) fn report(&self) -> String {
        use std::error::Error as _;
        let mut text = self.message.to_string();
        let mut cause = self.source();
        while let Some(c) = cause {
            let c_text = c.to_string();
            if !text.contains(&c_text) {
                text.push_str(": ");
                text.push_str(&c_text);
            }
            cause = c.source();
        }
        text
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str_name())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for Error {
    /// I/O failures are taken to be the legacy network's: retried (code 0).
    fn from(e: std::io::Error) -> Self {
        Error::network(e.to_string()).with_source(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::other(e.to_string()).with_source(e)
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Error {
    /// Errors of unknown kind become [`ConnectionError::OtherError`] (16), the
    /// code Spectrum 2 itself uses when a backend fails: the login is retried
    /// at most three times.
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        match e.downcast::<Error>() {
            Ok(e) => *e,
            Err(e) => Error {
                code: ConnectionError::OtherError,
                message: e.to_string().into(),
                source: Some(e),
            },
        }
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Error::other(message)
    }
}

impl From<&'static str> for Error {
    fn from(message: &'static str) -> Self {
        Error::other(message)
    }
}

/// A frame could not be sent to the main instance.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection to the main instance is closed or shutting down.
    #[error("the connection to the Spectrum 2 main instance is closed")]
    Closed,
    /// The message is larger than the maximum frame length.
    #[error(transparent)]
    Encode(#[from] spectrum_proto::EncodeError),
    /// The main instance does not handle this message type; sending it would
    /// stall its reader (see [`spectrum_proto::MessageType::main_handles`]).
    #[error("the main instance does not handle {0:?} frames; sending one would stall it")]
    NotHandledByMain(spectrum_proto::MessageType),
    /// The main instance sent no QUERY answer.
    #[error("the main instance closed the connection before answering the query")]
    NoAnswer,
}

/// The backend could not start or lost its connection for good.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The command line is not what Spectrum 2 passes.
    #[error(transparent)]
    Args(#[from] crate::args::ArgsError),
    /// The config file could not be read or parsed.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Connecting to the main instance failed.
    #[error("cannot connect to the Spectrum 2 main instance at {addr}: {source}")]
    Connect {
        /// `host:port` from the arguments.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Reading from the main instance failed.
    #[error("connection to the main instance failed: {0}")]
    Io(#[from] std::io::Error),
    /// The main instance's stream is out of step (a length prefix no real
    /// frame has): the backend exits non-zero so that Spectrum 2 starts a new
    /// one rather than keep a backend that looks alive but cannot hear.
    #[error(transparent)]
    CorruptStream(spectrum_proto::CorruptStream),
}

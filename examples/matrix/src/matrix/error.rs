//! What can go wrong talking to a homeserver.

/// A failed request to the homeserver.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No HTTP answer: the server is unreachable, the connection broke, or
    /// the request timed out.
    #[error("cannot reach the homeserver for {what}: {source}")]
    Unreachable {
        /// The request, in words.
        what: &'static str,
        /// What the HTTP client reported.
        #[source]
        source: reqwest::Error,
    },
    /// The access token was revoked or expired (`M_UNKNOWN_TOKEN`): only a
    /// new login helps.
    #[error("the homeserver no longer accepts the access token ({message}): log in again")]
    UnknownToken {
        /// The server's explanation.
        message: String,
    },
    /// The server answered with a Matrix error.
    #[error("the homeserver refused {what}: {errcode}: {message} (HTTP {status})")]
    Refused {
        /// The request, in words.
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The Matrix error code, such as `M_FORBIDDEN`.
        errcode: String,
        /// The server's explanation.
        message: String,
    },
    /// The answer was larger than the client accepts; it was not read past
    /// the limit.
    #[error("the homeserver's answer to {what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The request, in words.
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The answer was not the JSON the API describes.
    #[error("the homeserver's answer to {what} is malformed: {source}")]
    Malformed {
        /// The request, in words.
        what: &'static str,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A request that needs a login was made without one.
    #[error("not logged in")]
    NotLoggedIn,
}

impl Error {
    /// The Matrix error code, if the server sent one.
    pub fn errcode(&self) -> Option<&str> {
        match self {
            Error::Refused { errcode, .. } => Some(errcode),
            Error::UnknownToken { .. } => Some("M_UNKNOWN_TOKEN"),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: the server was unreachable,
    /// overloaded, or rate-limiting.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Refused {
                status, errcode, ..
            } => *status >= 500 || errcode == "M_LIMIT_EXCEEDED",
            _ => false,
        }
    }
}

/// A result of a homeserver request.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! What can go wrong with the state database, said so that an operator
//! knows what to do.

use std::io;
use std::path::PathBuf;

use rusqlite::ErrorCode;

/// An error of the [`Store`](super::Store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The config names no directory for the database.
    #[error(
        "no directory for the state database: set `{key}` (or `service.working_dir`) in the config"
    )]
    NoDirectory {
        /// The config key to set.
        key: &'static str,
    },
    /// The directory for the database cannot be created.
    #[error("cannot create the state directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a SQLite database, or a damaged one. Nothing was
    /// changed in it.
    #[error(
        "the state database {path} is corrupt or not a SQLite database ({source}); \
         move it away to start with an empty state"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file cannot be opened or written (permissions, a read-only file
    /// system, a full disk).
    #[error(
        "the state database {path} cannot be opened or written ({source}); \
         check the permissions and free space of its directory"
    )]
    Unwritable {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// Any other database error.
    #[error("the state database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A stored value is not of the type asked for.
    #[error("the stored value {key:?} of {user} is not of the type asked for: {source}")]
    Decode {
        /// Whose value.
        user: String,
        /// Its key.
        key: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A value cannot be serialized.
    #[error("the value for {key:?} cannot be stored: {source}")]
    Encode {
        /// Its key.
        key: String,
        /// What serde said.
        source: serde_json::Error,
    },
}

impl StoreError {
    /// Sorts a SQLite error on the database at `path`.
    pub(super) fn sqlite(path: PathBuf, source: rusqlite::Error) -> StoreError {
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt { path, source }
            }
            Some(
                ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
                | ErrorCode::PermissionDenied
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure,
            ) => StoreError::Unwritable { path, source },
            _ => StoreError::Database { path, source },
        }
    }
}

/// A handler that cannot reach its state ends the session with
/// OTHER_ERROR, the operator's text in the log and the user's message.
impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> crate::Error {
        crate::Error::other(e.to_string())
    }
}

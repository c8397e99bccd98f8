//! Per-user state that survives restarts (feature `store`).
//!
//! A [`Store`] is one SQLite database file ([`FILE_NAME`]) in a directory,
//! by default Spectrum 2's `service.working_dir` (the backend's working
//! directory). SQLite is compiled in: no system library is needed. Each
//! user gets a [`UserStore`]: keys to values of any serde type (stored as
//! JSON), read and written one by one or in a transaction. The backend
//! processes of one transport may share the file: SQLite's locking and WAL
//! journal keep them apart.
//!
//! Calls block on the database for a short while (the values are small);
//! from async code, call them through `tokio::task::spawn_blocking` when
//! many users are busy.
//!
//! ```
//! use spectrum_backend::gateway::store::Store;
//!
//! # fn main() -> Result<(), spectrum_backend::gateway::store::StoreError> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path())?;
//! let alice = store.user("alice@example.org");
//! alice.set("token", "s3cr3t")?;
//! drop(store);
//!
//! // After a restart:
//! let store = Store::open(dir.path())?;
//! let token: Option<String> = store.user("alice@example.org").get("token")?;
//! assert_eq!(token.as_deref(), Some("s3cr3t"));
//! # Ok(())
//! # }
//! ```

mod error;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::StoreError;

/// The database file's name in the store's directory.
pub const FILE_NAME: &str = "spectrum-backend-state.sqlite3";

/// How long a write waits for another backend process holding the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS user_state (
    user TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user, key)
) WITHOUT ROWID";

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    db: Mutex<Connection>,
}

/// The state database; cheap to clone. See the [module](self)
/// documentation.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens (or creates) the database in `dir`, creating the directory if
    /// needed, and checks that the file is a sound database.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let fail = |e| StoreError::sqlite(path.clone(), e);
        let db = Connection::open(&path).map_err(fail)?;
        db.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // The first read of the file: a file that is no database fails here.
        let check: String = db
            .query_row("PRAGMA quick_check", [], |row| row.get(0))
            .map_err(fail)?;
        if check != "ok" {
            return Err(StoreError::Corrupt {
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                    Some(check),
                ),
                path,
            });
        }
        db.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(fail)?;
        db.execute(SCHEMA, []).map_err(fail)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                db: Mutex::new(db),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The state of `user` (the XMPP bare JID).
    pub fn user(&self, user: impl Into<String>) -> UserStore {
        UserStore {
            store: self.clone(),
            user: user.into(),
        }
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent: every
        // change is a statement or a transaction of its own.
        crate::locks::lock(&self.inner.db)
    }

    fn fail(&self, e: rusqlite::Error) -> StoreError {
        StoreError::sqlite(self.inner.path.clone(), e)
    }
}

/// One user's keys and values; cheap to clone.
#[derive(Debug, Clone)]
pub struct UserStore {
    store: Store,
    user: String,
}

impl UserStore {
    /// Whose state this is.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The value under `key`, if any.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let db = self.store.db();
        get(&db, &self.user, key).map_err(|e| e.into_store(&self.store))
    }

    /// Stores `value` under `key`, replacing what was there.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let db = self.store.db();
        set(&db, &self.user, key, value).map_err(|e| e.into_store(&self.store))
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&self, key: &str) -> Result<bool, StoreError> {
        let db = self.store.db();
        remove(&db, &self.user, key).map_err(|e| e.into_store(&self.store))
    }

    /// The user's keys, sorted.
    pub fn keys(&self) -> Result<Vec<String>, StoreError> {
        let db = self.store.db();
        let mut statement = db
            .prepare_cached("SELECT key FROM user_state WHERE user = ?1 ORDER BY key")
            .map_err(|e| self.store.fail(e))?;
        statement
            .query_map(params![self.user], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.store.fail(e))
    }

    /// Removes all of the user's state (e.g. when they unregister); how
    /// many keys there were.
    pub fn clear(&self) -> Result<usize, StoreError> {
        self.store
            .db()
            .execute("DELETE FROM user_state WHERE user = ?1", params![self.user])
            .map_err(|e| self.store.fail(e))
    }

    /// Runs `change` in a transaction: everything it wrote is kept if it
    /// returns `Ok`, nothing if it returns an error (or panics).
    ///
    /// ```
    /// # use spectrum_backend::gateway::store::{Store, StoreError};
    /// # fn main() -> Result<(), StoreError> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let alice = Store::open(dir.path())?.user("alice@example.org");
    /// let logins = alice.update(|tx| {
    ///     let n = tx.get::<u32>("logins")?.unwrap_or(0) + 1;
    ///     tx.set("logins", &n)?;
    ///     Ok::<_, StoreError>(n)
    /// })?;
    /// assert_eq!(logins, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn update<R, E>(
        &self,
        change: impl FnOnce(&Transaction<'_>) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let mut db = self.store.db();
        let tx = db.transaction().map_err(|e| self.store.fail(e))?;
        let scope = Transaction {
            tx,
            user: &self.user,
            store: &self.store,
        };
        let result = change(&scope)?;
        scope.tx.commit().map_err(|e| self.store.fail(e))?;
        Ok(result)
    }
}

/// A user's state inside [`UserStore::update`].
#[derive(Debug)]
pub struct Transaction<'a> {
    tx: rusqlite::Transaction<'a>,
    user: &'a str,
    store: &'a Store,
}

impl Transaction<'_> {
    /// The value under `key`, as this transaction sees it.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        get(&self.tx, self.user, key).map_err(|e| e.into_store(self.store))
    }

    /// Stores `value` under `key` when the transaction commits.
    pub fn set<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        set(&self.tx, self.user, key, value).map_err(|e| e.into_store(self.store))
    }

    /// Removes `key` when the transaction commits; whether it was there.
    pub fn remove(&self, key: &str) -> Result<bool, StoreError> {
        remove(&self.tx, self.user, key).map_err(|e| e.into_store(self.store))
    }
}

/// An error before the store's path is attached.
enum Failure {
    Sqlite(rusqlite::Error),
    Ready(StoreError),
}

impl Failure {
    fn into_store(self, store: &Store) -> StoreError {
        match self {
            Failure::Sqlite(e) => store.fail(e),
            Failure::Ready(e) => e,
        }
    }
}

fn get<T: DeserializeOwned>(db: &Connection, user: &str, key: &str) -> Result<Option<T>, Failure> {
    let text: Option<String> = db
        .prepare_cached("SELECT value FROM user_state WHERE user = ?1 AND key = ?2")
        .and_then(|mut s| s.query_row(params![user, key], |row| row.get(0)).optional())
        .map_err(Failure::Sqlite)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|source| {
            Failure::Ready(StoreError::Decode {
                user: user.to_owned(),
                key: key.to_owned(),
                source,
            })
        })
    })
    .transpose()
}

fn set<T: Serialize + ?Sized>(
    db: &Connection,
    user: &str,
    key: &str,
    value: &T,
) -> Result<(), Failure> {
    let text = serde_json::to_string(value).map_err(|source| {
        Failure::Ready(StoreError::Encode {
            key: key.to_owned(),
            source,
        })
    })?;
    db.prepare_cached(
        "INSERT INTO user_state (user, key, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (user, key) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut s| s.execute(params![user, key, text]))
    .map(drop)
    .map_err(Failure::Sqlite)
}

fn remove(db: &Connection, user: &str, key: &str) -> Result<bool, Failure> {
    db.prepare_cached("DELETE FROM user_state WHERE user = ?1 AND key = ?2")
        .and_then(|mut s| s.execute(params![user, key]))
        .map(|n| n > 0)
        .map_err(Failure::Sqlite)
}

#[cfg(test)]
mod tests;

//! Taking a lock whatever became of its last holder.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, even if a thread panicked while holding it.
///
/// Such a panic (in an author's closure given to `Ctx::with_rooms`, say)
/// has already ended that handler's session; refusing the lock afterwards
/// would spread it to everyone who takes the lock next, the connection
/// thread included. What the lock guards is used as the panicking holder
/// left it.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

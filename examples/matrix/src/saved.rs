//! A user's Matrix session kept across backend restarts: the access token
//! and the sync position, in the per-user store.
//!
//! With them a new backend process (or the user's next LOGIN) resumes the
//! same Matrix device without a password login, and syncs on from where
//! the last answer shown to the user ended: nothing is shown twice, and
//! what arrived in between is shown once.

use serde::{Deserialize, Serialize};
use spectrum_backend::Ctx;
use spectrum_backend::gateway::store::UserStore;

use crate::matrix::types::Session;

/// The store key of the saved session.
const KEY: &str = "matrix.session";

/// What is kept for one XMPP user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Saved {
    /// The homeserver the token belongs to: a token is only used there.
    pub(crate) homeserver: String,
    /// The token, its Matrix user and device.
    pub(crate) session: Session,
    /// The `next_batch` of the last sync answer shown to the user.
    pub(crate) since: String,
}

/// One user's saved session. Store failures are logged and then ignored:
/// the session works without them, it just cannot resume.
pub(crate) struct Keeper {
    user: Option<UserStore>,
}

impl Keeper {
    /// The saved session of the session's user (in the state database of
    /// `service.working_dir`); a store that cannot be opened leaves the
    /// user without one.
    pub(crate) fn open(ctx: &Ctx) -> Keeper {
        let user = ctx
            .store()
            .inspect_err(|e| tracing::warn!("sessions are not kept across restarts: {e}"))
            .ok();
        Keeper { user }
    }

    /// Whether sessions are kept (the store is usable).
    pub(crate) fn keeps(&self) -> bool {
        self.user.is_some()
    }

    /// The saved session for `user_id` at `homeserver`, if any.
    pub(crate) fn load(&self, homeserver: &str, user_id: &str) -> Option<Saved> {
        let saved: Saved = match self.user.as_ref()?.get(KEY) {
            Ok(saved) => saved?,
            Err(e) => {
                tracing::warn!("the saved Matrix session is unreadable: {e}");
                return None;
            }
        };
        // The legacy name may be a localpart; the session has the full ID.
        let same_user = saved.session.user_id == user_id
            || saved
                .session
                .user_id
                .strip_prefix('@')
                .and_then(|s| s.split(':').next())
                == Some(user_id);
        (saved.homeserver == homeserver && same_user).then_some(saved)
    }

    /// Saves the whole session.
    pub(crate) fn save(&self, saved: &Saved) {
        if let Some(user) = &self.user
            && let Err(e) = user.set(KEY, saved)
        {
            tracing::warn!("cannot save the Matrix session: {e}");
        }
    }

    /// Moves the saved sync position on to `since`.
    pub(crate) fn advance(&self, since: &str) {
        let Some(user) = &self.user else {
            return;
        };
        let moved = user.update(|tx| {
            let Some(mut saved) = tx.get::<Saved>(KEY)? else {
                return Ok(());
            };
            saved.since = since.to_owned();
            tx.set(KEY, &saved)
        });
        if let Err(e) = moved {
            tracing::warn!("cannot save the sync position: {e}");
        }
    }

    /// Forgets the session (its token was revoked).
    pub(crate) fn forget(&self) {
        if let Some(user) = &self.user
            && let Err(e) = user.remove(KEY)
        {
            tracing::warn!("cannot forget the Matrix session: {e}");
        }
    }
}

//! Prompts: questions asked to the XMPP user through a pseudo-contact, and
//! the answers routed to them instead of to the message handler.
//!
//! The waiting side lives in [`Ctx::ask`](crate::Ctx::ask); this module is
//! the session's table of open questions, consulted by the reader for every
//! message of the user, before the message is queued: a question asked
//! inside the Login handler is answered while that handler still runs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::events::Event;

/// Why [`Ctx::ask`](crate::Ctx::ask) got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// The user did not answer in time.
    #[error("no answer from the user to {contact:?} within {after:?}")]
    Timeout {
        /// The pseudo-contact that asked.
        contact: String,
        /// The time allowed.
        after: Duration,
    },
    /// The session ended before the user answered.
    #[error("the session ended before the user answered {contact:?}")]
    Ended {
        /// The pseudo-contact that asked.
        contact: String,
    },
    /// The question could not be sent.
    #[error("could not ask the user: {0}")]
    NotSent(String),
}

impl From<AskError> for crate::Error {
    fn from(e: AskError) -> crate::Error {
        crate::Error::other(e.to_string())
    }
}

/// The open questions of one session, by pseudo-contact.
#[derive(Default)]
pub(crate) struct Prompts {
    /// How many questions are open: the reader looks at the table only when
    /// one is.
    open: AtomicUsize,
    waiting: Mutex<Vec<(String, oneshot::Sender<String>)>>,
}

impl Prompts {
    /// Opens a question from `contact`; the receiver gets the answer. A
    /// question already open from the same contact is replaced (its asker
    /// sees the session's answer channel close).
    pub(crate) fn open(&self, contact: &str) -> oneshot::Receiver<String> {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self.lock();
        waiting.retain(|(c, tx)| !c.eq_ignore_ascii_case(contact) && !tx.is_closed());
        waiting.push((contact.to_owned(), tx));
        self.open.store(waiting.len(), Ordering::Release);
        rx
    }

    /// Forgets the question from `contact` (answered, timed out or given up).
    pub(crate) fn close(&self, contact: &str) {
        let mut waiting = self.lock();
        waiting.retain(|(c, tx)| !c.eq_ignore_ascii_case(contact) && !tx.is_closed());
        self.open.store(waiting.len(), Ordering::Release);
    }

    /// Takes a message of the user that answers an open question; gives
    /// back any other event.
    ///
    /// Inlined so that, with no question open (every frame but a few),
    /// the event is not moved in and out.
    #[inline]
    pub(crate) fn answer(&self, event: Box<Event>) -> Option<Box<Event>> {
        if self.open.load(Ordering::Acquire) == 0 {
            return Some(event);
        }
        self.answer_open(event)
    }

    fn answer_open(&self, event: Box<Event>) -> Option<Box<Event>> {
        let Event::ConvMessage(msg) = *event else {
            return Some(event);
        };
        let mut waiting = self.lock();
        // Spectrum 2 lower-cases legacy names it derives from JIDs.
        let Some(at) = waiting
            .iter()
            .position(|(c, _)| c.eq_ignore_ascii_case(&msg.buddy_name))
        else {
            return Some(Box::new(Event::ConvMessage(msg)));
        };
        let (_, tx) = waiting.swap_remove(at);
        self.open.store(waiting.len(), Ordering::Release);
        match tx.send(msg.message) {
            Ok(()) => None,
            // The asker is gone (timed out just now): an ordinary message.
            Err(message) => Some(Box::new(Event::ConvMessage(
                spectrum_proto::ConversationMessage { message, ..msg },
            ))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, oneshot::Sender<String>)>> {
        crate::locks::lock(&self.waiting)
    }
}

//! Gateway chores done once: what every backend that bridges a legacy
//! network needs besides the wire protocol.
//!
//! These building blocks do no I/O towards the main instance and do not
//! borrow a session: they take what the legacy network said and return the
//! [`Payload`](crate::proto::Payload)s to send, already addressed to their
//! user, so that they can be used in a network read loop and sent in a batch.
//!
//! * [`rooms`]: joined rooms, occupants, own nickname and subject; answers
//!   the JOIN_ROOM that Spectrum 2 replays after every CONNECTED.
//! * [`contacts`]: the legacy roster; BUDDY_CHANGED only on a change, avatar
//!   hashes.
//! * [`link`]: a supervised connection to the legacy network (reconnect with
//!   backoff, bounded send queue, bounded input lines).
//! * [`text`]: XMPP text cut to a network's message size.
//! * [`prelude`]: all of the above and the crate's prelude in one import.
//! * `store` (feature `store`): per-user state that survives restarts, in an
//!   embedded SQLite database.

pub mod contacts;
mod frames;
pub mod link;
pub mod prelude;
pub mod rooms;
#[cfg(feature = "store")]
pub mod store;
pub mod text;

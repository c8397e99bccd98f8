//! Private chats with room occupants: a network that knows occupants by
//! nickname only (IRC) answers a `room/nick` message from the nickname, and
//! the answer belongs in the same private chat.

use std::collections::BTreeMap;

use super::Rooms;

/// At most this many private chats are remembered per session; the oldest
/// by nickname order goes first (a user cannot grow it without bound).
pub const MAX_PRIVATE_CHATS: usize = 1000;

/// The remembered chats: by folded nickname, the room they came through.
#[derive(Debug, Clone, Default)]
pub(super) struct PrivateChats(BTreeMap<String, String>);

impl Rooms {
    /// The user wrote to `nickname` as an occupant of `room` (a message to
    /// `room/nickname`): what `nickname` writes back privately belongs in
    /// that chat ([`Rooms::private_chat_of`]) while the user is in `room`.
    /// Follows the occupant's renames ([`Rooms::renamed`]).
    pub fn private_chat(&mut self, room: &str, nickname: &str) {
        let Some(name) = self.name(room).map(str::to_owned) else {
            return;
        };
        let key = (self.names.fold_nickname)(nickname);
        let chats = &mut self.private.0;
        if chats.len() >= MAX_PRIVATE_CHATS && !chats.contains_key(&key) {
            chats.pop_first();
        }
        chats.insert(key, name);
    }

    /// The room of the private chat with `nickname` (see
    /// [`Rooms::private_chat`]), if the user wrote to it through a room the
    /// user is still in: a private message from `nickname` goes there
    /// ([`reply::Message::private`](crate::reply::Message::private)), else
    /// to the contact.
    ///
    /// ```
    /// # use spectrum_backend::gateway::rooms::{Occupant, Rooms};
    /// # use spectrum_backend::proto::Room;
    /// let mut rooms = Rooms::new("alice@example.org");
    /// let join = Room { room: "#a".into(), nickname: "alice".into(), ..Room::default() };
    /// rooms.join_requested(&join);
    /// rooms.joined("#a", "alice", [Occupant::new("bob")]);
    /// rooms.private_chat("#a", "bob");
    /// rooms.renamed("#a", "bob", "robert");
    /// assert_eq!(rooms.private_chat_of("robert"), Some("#a"));
    /// rooms.left("#a");
    /// assert_eq!(rooms.private_chat_of("robert"), None);
    /// ```
    pub fn private_chat_of(&self, nickname: &str) -> Option<&str> {
        let room = self.private.0.get(&(self.names.fold_nickname)(nickname))?;
        self.is_joined(room).then_some(room.as_str())
    }

    /// A private chat follows its occupant's rename.
    pub(super) fn private_chat_renamed(&mut self, old: &str, new: &str) {
        let fold = self.names.fold_nickname;
        if let Some(room) = self.private.0.remove(&fold(old)) {
            self.private.0.insert(fold(new), room);
        }
    }
}

//! A room's current state, built from state events: name, topic, members
//! and their power levels, encryption.

use std::collections::BTreeMap;

use serde_json::Value;

use super::types::Event;

/// Power level of members the power-levels event does not list, when the
/// room has no power-levels event at all (the spec's default).
const DEFAULT_USER_LEVEL: i64 = 0;

/// A joined member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's user ID.
    pub user_id: String,
    /// The member's display name in this room, if set.
    pub display_name: Option<String>,
    /// The member's avatar in this room, as an `mxc://` URI.
    pub avatar_url: Option<String>,
}

/// What state events say about one room.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomState {
    /// `m.room.name`.
    pub name: Option<String>,
    /// `m.room.topic`, with who set it.
    pub topic: Option<(String, String)>,
    /// `m.room.canonical_alias`.
    pub alias: Option<String>,
    /// Whether `m.room.encryption` is set (end-to-end encrypted).
    pub encrypted: bool,
    /// Joined members by user ID.
    pub members: BTreeMap<String, Member>,
    /// Explicit power levels by user ID.
    levels: BTreeMap<String, i64>,
    /// Level of unlisted users.
    users_default: i64,
    /// Level needed to kick: what this backend calls a moderator.
    kick: i64,
    /// Creators of a room version 12 or later, who outrank every level.
    creators: Vec<String>,
}

/// The power level at which members count as moderators when the room does
/// not say (the spec's default kick level).
const DEFAULT_KICK_LEVEL: i64 = 50;

fn level(value: Option<&Value>, default: i64) -> i64 {
    // Older rooms may carry levels as strings.
    match value {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    }
}

impl RoomState {
    /// The state described by `events` (in order; later ones win).
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut state = RoomState {
            users_default: DEFAULT_USER_LEVEL,
            kick: DEFAULT_KICK_LEVEL,
            ..RoomState::default()
        };
        for event in events {
            state.apply(event);
        }
        state
    }

    /// Applies one event; returns whether it was a state event this type
    /// tracks.
    pub fn apply(&mut self, event: &Event) -> bool {
        let Some(key) = event.state_key.as_deref() else {
            return false;
        };
        match event.kind.as_str() {
            "m.room.name" => {
                self.name = event.content_str("name").map(str::to_owned);
            }
            "m.room.topic" => {
                self.topic = event
                    .content_str("topic")
                    .map(|t| (t.to_owned(), event.sender.clone()));
            }
            "m.room.canonical_alias" => {
                self.alias = event.content_str("alias").map(str::to_owned);
            }
            "m.room.encryption" => self.encrypted = true,
            "m.room.create" => {
                let version = event.content_str("room_version").unwrap_or("1");
                // From version 12 on, creators hold infinite power and are
                // not listed in the power levels.
                if version.parse::<u32>().is_ok_and(|v| v >= 12) {
                    let more = event
                        .content
                        .get("additional_creators")
                        .and_then(Value::as_array);
                    self.creators = std::iter::once(event.sender.clone())
                        .chain(
                            more.into_iter()
                                .flatten()
                                .filter_map(Value::as_str)
                                .map(str::to_owned),
                        )
                        .collect();
                }
            }
            "m.room.member" => {
                if event.content_str("membership") == Some("join") {
                    let member = Member {
                        user_id: key.to_owned(),
                        display_name: event
                            .content_str("displayname")
                            .filter(|n| !n.trim().is_empty())
                            .map(str::to_owned),
                        avatar_url: event.content_str("avatar_url").map(str::to_owned),
                    };
                    self.members.insert(key.to_owned(), member);
                } else {
                    self.members.remove(key);
                }
            }
            "m.room.power_levels" => {
                let content = &event.content;
                self.users_default = level(content.get("users_default"), 0);
                self.kick = level(content.get("kick"), DEFAULT_KICK_LEVEL);
                self.levels = content
                    .get("users")
                    .and_then(Value::as_object)
                    .map(|users| {
                        users
                            .iter()
                            .map(|(user, l)| (user.clone(), level(Some(l), 0)))
                            .collect()
                    })
                    .unwrap_or_default();
            }
            _ => return false,
        }
        true
    }

    /// A user's power level.
    pub fn power_level(&self, user_id: &str) -> i64 {
        if self.creators.iter().any(|c| c == user_id) {
            return i64::MAX;
        }
        self.levels
            .get(user_id)
            .copied()
            .unwrap_or(self.users_default)
    }

    /// Whether the user may kick others: a moderator.
    pub fn is_moderator(&self, user_id: &str) -> bool {
        self.power_level(user_id) >= self.kick
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(kind: &str, key: &str, sender: &str, content: Value) -> Event {
        Event {
            kind: kind.into(),
            sender: sender.into(),
            content,
            state_key: Some(key.into()),
            ..Event::default()
        }
    }

    #[test]
    fn members_levels_topic_and_encryption_follow_the_events() {
        let events = [
            state("m.room.name", "", "@a:x", json!({"name": "Lobby"})),
            state("m.room.topic", "", "@a:x", json!({"topic": "hello"})),
            state(
                "m.room.member",
                "@a:x",
                "@a:x",
                json!({"membership": "join", "displayname": "Ann"}),
            ),
            state(
                "m.room.member",
                "@b:x",
                "@b:x",
                json!({"membership": "join", "displayname": "  "}),
            ),
            state(
                "m.room.member",
                "@c:x",
                "@c:x",
                json!({"membership": "invite"}),
            ),
            state(
                "m.room.power_levels",
                "",
                "@a:x",
                json!({"users": {"@a:x": 100, "@b:x": "50"}, "kick": 50}),
            ),
        ];
        let mut room = RoomState::from_events(&events);
        assert_eq!(room.name.as_deref(), Some("Lobby"));
        assert_eq!(room.topic, Some(("hello".into(), "@a:x".into())));
        assert_eq!(room.members.keys().collect::<Vec<_>>(), ["@a:x", "@b:x"]);
        assert_eq!(room.members["@a:x"].display_name.as_deref(), Some("Ann"));
        assert_eq!(
            room.members["@b:x"].display_name, None,
            "blank names are none"
        );
        assert!(room.is_moderator("@a:x") && room.is_moderator("@b:x"));
        assert!(!room.is_moderator("@c:x"));
        assert!(!room.encrypted);

        room.apply(&state(
            "m.room.member",
            "@b:x",
            "@b:x",
            json!({"membership": "leave"}),
        ));
        room.apply(&state(
            "m.room.encryption",
            "",
            "@a:x",
            json!({"algorithm": "m.megolm.v1.aes-sha2"}),
        ));
        assert_eq!(room.members.keys().collect::<Vec<_>>(), ["@a:x"]);
        assert!(room.encrypted);
        assert!(!room.apply(&Event {
            kind: "m.room.message".into(),
            ..Event::default()
        }));
    }

    #[test]
    fn creators_of_version_12_rooms_outrank_every_level() {
        let create = |version: &str| {
            state(
                "m.room.create",
                "",
                "@a:x",
                json!({"room_version": version, "additional_creators": ["@b:x"]}),
            )
        };
        let levels = state(
            "m.room.power_levels",
            "",
            "@a:x",
            json!({"users": {"@c:x": 100}}),
        );
        let new = RoomState::from_events(&[create("12"), levels.clone()]);
        assert_eq!(new.power_level("@a:x"), i64::MAX);
        assert!(new.is_moderator("@b:x") && new.is_moderator("@c:x"));
        let old = RoomState::from_events(&[create("10"), levels]);
        assert!(!old.is_moderator("@a:x"), "older rooms list every level");
    }

    #[test]
    fn without_power_levels_nobody_is_a_moderator() {
        let room = RoomState::from_events(&[]);
        assert_eq!(room.power_level("@a:x"), 0);
        assert!(!room.is_moderator("@a:x"));
    }
}

//! The parts of the client-server API's JSON this backend reads.
//!
//! Every field is optional on the way in (`#[serde(default)]`): a server
//! that leaves one out is read as if it were empty, never rejected whole.
//! Event contents stay `serde_json::Value` here; the code that shows an
//! event decodes the content it understands and ignores the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A successful password login.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Session {
    /// The fully qualified user ID, such as `@alice:example.org`.
    pub user_id: String,
    /// The bearer token for every later request.
    pub access_token: String,
    /// The device the login created.
    pub device_id: String,
}

/// The answer to `whoami`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct WhoAmI {
    /// The token's user.
    pub user_id: String,
    /// The token's device, if it has one.
    #[serde(default)]
    pub device_id: Option<String>,
}

/// One event, from a timeline, a state list, ephemeral data or account data.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Event {
    /// The event type, such as `m.room.message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who sent it (empty for ephemeral and account data).
    pub sender: String,
    /// The type's content.
    pub content: Value,
    /// Present on state events (often the empty string).
    pub state_key: Option<String>,
    /// The event ID (empty for ephemeral and account data).
    pub event_id: String,
    /// When the sender's server received it, in milliseconds since the epoch.
    pub origin_server_ts: u64,
    /// Data the server adds.
    pub unsigned: Unsigned,
}

/// Server-added data of an event.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Unsigned {
    /// The transaction ID, present only for the sending device's own events.
    pub transaction_id: Option<String>,
}

impl Event {
    /// A string field of the content.
    pub fn content_str(&self, field: &str) -> Option<&str> {
        self.content.get(field).and_then(Value::as_str)
    }
}

/// A list of events.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Events {
    /// The events, oldest first.
    pub events: Vec<Event>,
}

/// A room's new timeline events.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Timeline {
    /// The events, oldest first.
    pub events: Vec<Event>,
    /// Whether events were left out between the last sync and these.
    pub limited: bool,
}

/// A joined room in a sync answer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct JoinedRoom {
    /// State before the timeline (changes since the last sync).
    pub state: Events,
    /// New events.
    pub timeline: Timeline,
    /// Typing and receipts.
    pub ephemeral: Events,
}

/// A room the user is invited to.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct InvitedRoom {
    /// The stripped state the inviter shares, including the invite itself.
    pub invite_state: Events,
}

/// A room the user left or was removed from.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct LeftRoom {
    /// The events up to the leave.
    pub timeline: Timeline,
}

/// Rooms in a sync answer, by room ID.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Rooms {
    /// Rooms the user is in.
    pub join: BTreeMap<String, JoinedRoom>,
    /// Rooms the user is invited to.
    pub invite: BTreeMap<String, InvitedRoom>,
    /// Rooms the user left.
    pub leave: BTreeMap<String, LeftRoom>,
}

/// The answer to `/sync`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SyncResponse {
    /// The position to pass as `since` next time.
    pub next_batch: String,
    /// What changed in rooms.
    pub rooms: Rooms,
    /// Presence of users the account shares a room with.
    pub presence: Events,
    /// Global account data (such as `m.direct`).
    pub account_data: Events,
}

/// A user's public profile.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Profile {
    /// The display name.
    pub displayname: Option<String>,
    /// The avatar as an `mxc://` URI.
    pub avatar_url: Option<String>,
}

/// What a `/sync` asks for.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// The previous answer's `next_batch`; `None` for an initial sync.
    pub since: Option<String>,
    /// How long the server may hold the request open waiting for events.
    pub timeout: std::time::Duration,
    /// A filter, as JSON (inline filter) or the ID of an uploaded one.
    pub filter: Option<String>,
    /// Presence to set while syncing (`online`, `offline`, `unavailable`).
    pub set_presence: Option<&'static str>,
    /// Every joined room's whole state, even with `since` (a session that
    /// resumes knows nothing yet).
    pub full_state: bool,
}

/// A timeline event's kind of message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    /// `m.text`.
    Text,
    /// `m.emote`: an action, shown as `/me`.
    Emote,
    /// `m.notice`: from a bot; clients do not answer it automatically.
    Notice,
}

impl MsgType {
    /// The `msgtype` value.
    pub fn as_str(self) -> &'static str {
        match self {
            MsgType::Text => "m.text",
            MsgType::Emote => "m.emote",
            MsgType::Notice => "m.notice",
        }
    }
}

/// The content of a text message, with an optional HTML body.
pub fn message_content(msgtype: MsgType, body: &str, html: Option<&str>) -> Value {
    let mut content = serde_json::json!({ "msgtype": msgtype.as_str(), "body": body });
    if let Some(html) = html {
        content["format"] = "org.matrix.custom.html".into();
        content["formatted_body"] = html.into();
    }
    content
}

/// The content of a file message (`m.image`, `m.video`, `m.audio` or
/// `m.file`, from the MIME type) for an uploaded `mxc://` URI.
pub fn media_content(mxc: &str, filename: &str, mimetype: &str, size: usize) -> Value {
    let msgtype = match mimetype.split('/').next() {
        Some("image") => "m.image",
        Some("video") => "m.video",
        Some("audio") => "m.audio",
        _ => "m.file",
    };
    serde_json::json!({
        "msgtype": msgtype,
        "body": filename,
        "url": mxc,
        "info": { "mimetype": mimetype, "size": size },
    })
}

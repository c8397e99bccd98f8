//! The one table of events a Spectrum 2 backend deals with: those it
//! receives (with the payload each delivers), and those only backends send
//! (with what to call instead of handling them).
//!
//! Depend on `spectrum-backend`; this crate exists so that the runtime and
//! its proc-macro crate read the same table. The runtime expands
//! [`events!`] into its types (event kinds, the event enum, markers, payload
//! impls, routing); the macro crate reads the constants below for its
//! diagnostics. Adding an event is one line here.

/// Calls `$callback! { .. }` with the table of events.
///
/// Sections, in this order:
///
/// * `lifecycle`: `Name(Payload)`, or `Name` without a payload: events
///   that shape the session itself (no per-event queueing);
/// * `session`: `Name(Payload) <- PayloadVariant`: events routed to a
///   user's session, decoded from the `spectrum_proto::Payload` variant
///   named after the arrow; without an arrow, the runtime decides the
///   variant by hand (one frame type, several events);
/// * `request`: like `session`, for events whose handler returns an answer;
/// * `outgoing`: `Name => "what to call instead"`: messages only backends
///   send.
///
/// Each entry carries its documentation as doc comments. Payload types are
/// bare names, resolved where the callback expands.
#[macro_export]
macro_rules! events {
    ($callback:path) => {
        $callback! {
            lifecycle {
                /// LOGIN: constructs the session. Required in every backend. Returning
                /// `Ok(session)` sends Connected; an error sends Disconnected with its code.
                Login(Login);
                /// LOGOUT: consumes the session (the handler takes `self`). Also run by
                /// the runtime at shutdown.
                Logout(Logout);
                /// EXIT: the main instance is done with this process. Runs once, after
                /// every session has logged out; takes no `self`.
                Exit;
            }
            session {
                /// STATUS_CHANGED: the XMPP user's presence changed. May arrive before
                /// the login completes; never means "offline".
                StatusChanged(Status) <- StatusChanged;
                /// CONV_MESSAGE: the user sent a message to a contact, a room, or a room
                /// occupant (`room/nick`). A non-empty `id` asks for
                /// [`Ctx::message_ack`](crate::Ctx::message_ack).
                ConvMessage(ConversationMessage) <- ConvMessage;
                /// JOIN_ROOM: join a room and answer with its occupants, the user
                /// included ([`Ctx::room_joined`](crate::Ctx::room_joined)). Sent again
                /// after every Connected.
                JoinRoom(Room) <- JoinRoom;
                /// LEAVE_ROOM: leave the room.
                LeaveRoom(Room) <- LeaveRoom;
                /// BUDDY_CHANGED: the user added, accepted or renamed a contact.
                BuddyChanged(Buddy) <- BuddyChanged;
                /// BUDDY_REMOVED: the user removed a contact or rejected a request.
                BuddyRemoved(Buddy) <- BuddyRemoved;
                /// BUDDY_TYPING: the user is composing a message to the contact.
                BuddyTyping(Buddy) <- BuddyTyping;
                /// BUDDY_TYPED: the user paused composing.
                BuddyTyped(Buddy) <- BuddyTyped;
                /// BUDDY_STOPPED_TYPING: the user stopped composing.
                BuddyStoppedTyping(Buddy) <- BuddyStoppedTyping;
                /// ATTENTION: the user "buzzed" a contact.
                Attention(ConversationMessage) <- Attention;
                /// VCARD with a photo: the user published their own vCard (`id` is 0).
                VCardUpdate(VCard);
                /// ROOM_SUBJECT_CHANGED: the user set a room's subject.
                RoomSubjectChanged(ConversationMessage) <- RoomSubjectChanged;
                /// RAW_XML: a stanza for the legacy network (only with the rawxml feature).
                RawXml(String) <- RawXml;
                /// BUDDIES: the roster the main instance stores, right after LOGIN.
                /// Handling it turns on `features.send_buddies_on_login`.
                Buddies(Buddies);
            }
            request {
                /// VCARD without a photo: the user asked for a contact's vCard.
                ///
                /// The handler returns the vCard ([`VCardReply`](crate::VCardReply)); the
                /// runtime answers with the request's `id`, which Spectrum 2 matches alone.
                /// Unhandled requests get an empty vCard so the XMPP client is not left
                /// waiting.
                VCard(VCard);
            }
            outgoing {
                /// CONNECTED: sent by the runtime when the Login handler returns `Ok`.
                Connected => "return `Ok(session)` from the `#[on(Login)]` handler; the runtime sends CONNECTED";
                /// DISCONNECTED: [`Ctx::disconnect`](crate::Ctx::disconnect), or return an error.
                Disconnected => "call `ctx.disconnect(code, reason)`, or return an error from a handler";
                /// PING's answer, sent by the runtime.
                Pong => "nothing: the runtime answers every PING itself";
                /// PING: answered by the runtime, never by a handler.
                Ping => "nothing: the runtime answers every PING itself";
                /// STATS: sent by the runtime after every PONG.
                Stats => "nothing: the runtime sends STATS after every PONG";
                /// BACKEND_CONFIG: derived from the handlers, sent by the runtime.
                BackendConfig => "nothing: the runtime derives BACKEND_CONFIG from your handlers (see `Runtime::capabilities`)";
                /// PARTICIPANT_CHANGED: [`Ctx::participant`](crate::Ctx::participant) and
                /// [`Ctx::room_joined`](crate::Ctx::room_joined).
                ParticipantChanged => "call `ctx.participant(room, nick)`, or `ctx.room_joined(&join)` to answer a join";
                /// ROOM_NICKNAME_CHANGED: [`Ctx::room_nickname_changed`](crate::Ctx::room_nickname_changed).
                RoomNicknameChanged => "call `ctx.room_nickname_changed(room, nick)`";
                /// AUTH_REQUEST: [`Ctx::auth_request`](crate::Ctx::auth_request).
                AuthRequest => "call `ctx.auth_request(buddy)`";
                /// ROOM_LIST: [`Ctx::room_list`](crate::Ctx::room_list).
                RoomList => "call `ctx.room_list(rooms)`";
                /// CONV_MESSAGE_ACK: [`Ctx::message_ack`](crate::Ctx::message_ack).
                ConvMessageAck => "call `ctx.message_ack(buddy, id)`";
                /// QUERY: [`BackendCtx::query`](crate::BackendCtx::query); the answer is
                /// its return value.
                Query => "call `ctx.backend().query(command)`; the answer is its return value";
            }
        }
    };
}

/// Builds [`INCOMING`] and [`OUTGOING`] from the table.
macro_rules! constants {
    (
        lifecycle { $($(#[doc = $ld:literal])* $l:ident $(($lp:ident))?;)* }
        session { $($(#[doc = $sd:literal])* $s:ident($sp:ident) $(<- $sv:ident)?;)* }
        request { $($(#[doc = $rd:literal])* $r:ident($rp:ident) $(<- $rv:ident)?;)* }
        outgoing { $($(#[doc = $od:literal])* $o:ident => $hint:literal;)* }
    ) => {
        /// Every event a backend can handle, with the name of the payload its
        /// handler receives (`None` for EXIT), as written in the prelude.
        pub const INCOMING: &[(&str, Option<&str>)] = &[
            $((stringify!($l), constants!(@payload $($lp)?)),)*
            $((stringify!($s), Some(stringify!($sp))),)*
            $((stringify!($r), Some(stringify!($rp))),)*
        ];

        /// Messages only backends send, and what to call instead of handling
        /// them.
        pub const OUTGOING: &[(&str, &str)] = &[$((stringify!($o), $hint),)*];
    };
    (@payload) => { None };
    (@payload $p:ident) => { Some(stringify!($p)) };
}

events!(constants);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_across_the_table() {
        let mut names: Vec<&str> = INCOMING
            .iter()
            .map(|(n, _)| *n)
            .chain(OUTGOING.iter().map(|(n, _)| *n))
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all);
        assert_eq!(INCOMING[0], ("Login", Some("Login")));
        assert!(INCOMING.contains(&("Exit", None)));
        assert!(INCOMING.contains(&("RawXml", Some("String"))));
    }
}

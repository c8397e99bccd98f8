//! Property tests: every [`Payload`] survives encoding and decoding through
//! [`FrameCodec`], alone and as a stream of frames cut at arbitrary points.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use spectrum_proto::login::UserSettings;
use spectrum_proto::{
    ApiVersion, Attachment, BackendConfig, Buddies, Buddy, Connected, ConversationMessage,
    Disconnected, FrameCodec, Login, Logout, Participant, Payload, Room, RoomList, Stats, Status,
    VCard,
};
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Any string: empty, ASCII, or arbitrary Unicode including control
/// characters and newlines.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z0-9@./#_-]{1,12}", "(?s).{0,12}"]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    option::of(text())
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    vec(text(), 0..4)
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// A value of the closed `StatusType` enum, for required status fields.
fn status_type() -> impl Strategy<Value = i32> {
    0..=6i32
}

fn connected() -> impl Strategy<Value = Connected> {
    text().prop_map(|user| Connected { user })
}

fn disconnected() -> impl Strategy<Value = Disconnected> {
    (text(), any::<i32>(), opt_text()).prop_map(|(user, error, message)| Disconnected {
        user,
        error,
        message,
    })
}

fn settings() -> impl Strategy<Value = Option<UserSettings>> {
    option::of(
        btree_map(text(), text(), 0..4)
            .prop_map(|value: BTreeMap<String, String>| UserSettings { value }),
    )
}

fn login() -> impl Strategy<Value = Login> {
    (text(), text(), text(), texts(), settings()).prop_map(
        |(user, legacy_name, password, extra_fields, settings)| Login {
            user,
            legacy_name,
            password,
            extra_fields,
            settings,
        },
    )
}

fn logout() -> impl Strategy<Value = Logout> {
    (text(), text()).prop_map(|(user, legacy_name)| Logout { user, legacy_name })
}

fn buddy() -> impl Strategy<Value = Buddy> {
    (
        (text(), text(), opt_text(), texts()),
        // Buddy.status is optional: any number survives, valid or not.
        (
            option::of(prop_oneof![status_type(), any::<i32>()]),
            opt_text(),
            opt_text(),
            option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (user_name, buddy_name, alias, group),
                (status, status_message, icon_hash, blocked),
            )| {
                Buddy {
                    user_name,
                    buddy_name,
                    alias,
                    group,
                    status,
                    status_message,
                    icon_hash,
                    blocked,
                }
            },
        )
}

fn buddies() -> impl Strategy<Value = Buddies> {
    vec(buddy(), 0..4).prop_map(|buddy| Buddies { buddy })
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (text(), opt_text(), opt_text()).prop_map(|(url, mime_type, description)| Attachment {
        url,
        mime_type,
        description,
    })
}

fn conversation_message() -> impl Strategy<Value = ConversationMessage> {
    (
        (text(), text(), text(), opt_text(), opt_text(), opt_text()),
        (
            option::of(any::<bool>()),
            opt_text(),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            vec(attachment(), 0..3),
        ),
    )
        .prop_map(
            |(
                (user_name, buddy_name, message, nickname, xhtml, timestamp),
                (headline, id, pm, carbon, attachment),
            )| ConversationMessage {
                user_name,
                buddy_name,
                message,
                nickname,
                xhtml,
                timestamp,
                headline,
                id,
                pm,
                carbon,
                attachment,
            },
        )
}

fn room() -> impl Strategy<Value = Room> {
    (text(), text(), text(), opt_text()).prop_map(|(user_name, nickname, room, password)| Room {
        user_name,
        nickname,
        room,
        password,
    })
}

fn room_list() -> impl Strategy<Value = RoomList> {
    (texts(), texts(), opt_text()).prop_map(|(room, name, user)| RoomList { room, name, user })
}

fn participant() -> impl Strategy<Value = Participant> {
    (
        (text(), text(), text(), any::<i32>(), status_type()),
        (opt_text(), opt_text(), opt_text(), opt_text()),
    )
        .prop_map(
            |(
                (user_name, room, nickname, flag, status),
                (status_message, newname, icon_hash, alias),
            )| {
                Participant {
                    user_name,
                    room,
                    nickname,
                    flag,
                    status,
                    status_message,
                    newname,
                    icon_hash,
                    alias,
                }
            },
        )
}

fn vcard() -> impl Strategy<Value = VCard> {
    (
        text(),
        text(),
        any::<i32>(),
        opt_text(),
        opt_text(),
        option::of(bytes(300)),
    )
        .prop_map(
            |(user_name, buddy_name, id, fullname, nickname, photo)| VCard {
                user_name,
                buddy_name,
                id,
                fullname,
                nickname,
                photo,
            },
        )
}

fn status() -> impl Strategy<Value = Status> {
    (text(), status_type(), opt_text()).prop_map(|(user_name, status, status_message)| Status {
        user_name,
        status,
        status_message,
    })
}

fn stats() -> impl Strategy<Value = Stats> {
    (any::<i32>(), any::<i32>(), any::<i32>(), text()).prop_map(|(res, init_res, shared, id)| {
        Stats {
            res,
            init_res,
            shared,
            id,
        }
    })
}

fn backend_config() -> impl Strategy<Value = BackendConfig> {
    text().prop_map(|config| BackendConfig { config })
}

/// A type number `Payload::from_wrapper` does not decode: outside 1..=36,
/// the never-used 5, or one of the dead FT_* types 24..=28.
fn unknown_type_number() -> impl Strategy<Value = i32> {
    prop_oneof![i32::MIN..=0, 37..=i32::MAX, Just(5), 24..=28i32]
}

/// Any valid payload, of every variant.
fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        connected().prop_map(Payload::Connected),
        disconnected().prop_map(Payload::Disconnected),
        login().prop_map(Payload::Login),
        logout().prop_map(Payload::Logout),
        buddy().prop_map(Payload::BuddyChanged),
        buddy().prop_map(Payload::BuddyRemoved),
        conversation_message().prop_map(Payload::ConvMessage),
        Just(Payload::Ping),
        Just(Payload::Pong),
        room().prop_map(Payload::JoinRoom),
        room().prop_map(Payload::LeaveRoom),
        participant().prop_map(Payload::ParticipantChanged),
        room().prop_map(Payload::RoomNicknameChanged),
        conversation_message().prop_map(Payload::RoomSubjectChanged),
        vcard().prop_map(Payload::Vcard),
        status().prop_map(Payload::StatusChanged),
        buddy().prop_map(Payload::BuddyTyping),
        buddy().prop_map(Payload::BuddyStoppedTyping),
        buddy().prop_map(Payload::BuddyTyped),
        buddy().prop_map(Payload::AuthRequest),
        conversation_message().prop_map(Payload::Attention),
        stats().prop_map(Payload::Stats),
        Just(Payload::Exit),
        backend_config().prop_map(Payload::BackendConfig),
        backend_config().prop_map(Payload::Query),
        room_list().prop_map(Payload::RoomList),
        conversation_message().prop_map(Payload::ConvMessageAck),
        text().prop_map(Payload::RawXml),
        buddies().prop_map(Payload::Buddies),
        any::<i32>().prop_map(|version| Payload::ApiVersion(ApiVersion { version })),
        (unknown_type_number(), option::of(bytes(64))).prop_map(|(type_number, payload)| {
            Payload::Unknown {
                type_number,
                payload,
            }
        }),
    ]
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn encode_all(payloads: &[Payload]) -> Vec<u8> {
    let mut codec = FrameCodec::new();
    let mut out = BytesMut::new();
    for p in payloads {
        codec
            .encode(p.to_wrapper(), &mut out)
            .expect("a small payload encodes");
    }
    out.to_vec()
}

/// Decodes every whole frame now in `buf` into `out`.
fn drain(codec: &mut FrameCodec, buf: &mut BytesMut, out: &mut Vec<Payload>) {
    while let Some(item) = codec.decode(buf).expect("no I/O error") {
        let wrapper = item.expect("every frame is a valid wrapper");
        out.push(Payload::from_wrapper(wrapper).expect("every payload is valid"));
    }
}

/// Feeds `stream` to a fresh decoder in the given chunks and returns what
/// it decoded; checks that the stream ends cleanly.
fn decode_in_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Payload> {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        drain(&mut codec, &mut buf, &mut out);
    }
    assert_eq!(
        codec
            .decode_eof(&mut buf)
            .expect("nothing left over at EOF"),
        None
    );
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Encode then decode gives back the same payload.
    #[test]
    fn one_payload_roundtrips(p in payload()) {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        codec.encode(p.to_wrapper(), &mut buf).expect("a small payload encodes");
        let wrapper = codec
            .decode(&mut buf)
            .expect("no I/O error")
            .expect("a whole frame")
            .expect("a valid wrapper");
        prop_assert!(buf.is_empty());
        prop_assert_eq!(Payload::from_wrapper(wrapper), Ok(p));
    }

    /// `encode_frame` writes exactly the codec's bytes for `to_wrapper`.
    #[test]
    fn direct_frame_encoding_matches_the_codec(p in payload()) {
        let mut via_codec = BytesMut::new();
        FrameCodec::new().encode(p.to_wrapper(), &mut via_codec).expect("a small payload encodes");
        let mut direct = BytesMut::new();
        p.encode_frame(&mut direct, spectrum_proto::DEFAULT_MAX_FRAME_LENGTH).expect("a small payload encodes");
        prop_assert_eq!(direct, via_codec);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Several frames back to back decode to the same sequence, wherever
    /// the stream is cut in two, and when it arrives byte by byte.
    #[test]
    fn stream_decodes_at_every_split_point(payloads in vec(payload(), 1..8)) {
        let stream = encode_all(&payloads);

        for split in 0..=stream.len() {
            let (head, tail) = stream.split_at(split);
            let decoded = decode_in_chunks([head, tail]);
            prop_assert_eq!(&decoded, &payloads, "split at byte {}", split);
        }

        let decoded = decode_in_chunks(stream.chunks(1));
        prop_assert_eq!(&decoded, &payloads, "byte by byte");
    }
}

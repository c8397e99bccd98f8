//! Byte-exact tests of the wire format.
//!
//! Every frame below is written out by hand from the field numbers in
//! `proto/protocol.proto`: a 4-byte big-endian body length, then the
//! `WrapperMessage` (`08 <type>` = field 1, varint; `12 <len> <payload>` =
//! field 2, length-delimited). None of these byte arrays is produced by the
//! code under test. Each frame is checked both ways: decoding it gives the
//! hand-built [`Payload`], and encoding that `Payload` gives the same bytes.
//!
//! Protobuf key byte = `(field number << 3) | wire type`, wire type 0 =
//! varint, 2 = length-delimited. prost writes fields in field-number order,
//! always writes proto2 `required` fields and writes `optional` fields only
//! when they are `Some`.

use bytes::{Bytes, BytesMut};
use prost::Message;
use spectrum_proto::login::UserSettings;
use spectrum_proto::{
    ApiVersion, Attachment, BackendConfig, Buddies, Buddy, Connected, ConversationMessage,
    Disconnected, FrameCodec, Login, Logout, MessageType, Participant, ParticipantFlag, Payload,
    Room, RoomList, Stats, Status, StatusType, VCard,
};
use tokio_util::codec::{Decoder, Encoder};

/// Decodes `frame` and compares with `expected`, then encodes `expected` and
/// compares with `frame`.
#[track_caller]
fn assert_frame(frame: &[u8], expected: &Payload) {
    let mut codec = FrameCodec::new();

    let mut buf = BytesMut::from(frame);
    let wrapper = codec
        .decode(&mut buf)
        .expect("decoding never fails with an I/O error")
        .expect("the bytes hold one whole frame")
        .expect("the frame is a valid WrapperMessage");
    assert!(buf.is_empty(), "the decoder left {} bytes", buf.len());
    let decoded = Payload::from_wrapper(wrapper).expect("the payload is valid");
    assert_eq!(&decoded, expected, "decoded payload differs");

    let mut out = BytesMut::new();
    codec
        .encode(expected.to_wrapper(), &mut out)
        .expect("encoding succeeds");
    assert_eq!(
        &out[..],
        frame,
        "encoded bytes differ:\n  got:      {:02x?}\n  expected: {frame:02x?}",
        &out[..]
    );
}

fn buddy(user_name: &str, buddy_name: &str) -> Buddy {
    Buddy {
        user_name: user_name.into(),
        buddy_name: buddy_name.into(),
        ..Default::default()
    }
}

fn s(text: &str) -> Option<String> {
    Some(text.to_owned())
}

// ---------------------------------------------------------------------------
// Verified images from the protocol facts (§1.1, Appendix A)
// ---------------------------------------------------------------------------

#[test]
fn ping_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x02, // body length 2
        0x08, 0x09, // field 1 (type), varint: TYPE_PING = 9; no payload field
    ];
    assert_frame(&frame, &Payload::Ping);
}

#[test]
fn pong_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x02, // body length 2
        0x08, 0x0a, // field 1 (type), varint: TYPE_PONG = 10; no payload field
    ];
    assert_frame(&frame, &Payload::Pong);
}

#[test]
fn exit_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x02, // body length 2
        0x08, 0x1d, // field 1 (type), varint: TYPE_EXIT = 29; no payload field
    ];
    assert_frame(&frame, &Payload::Exit);
}

#[test]
fn stats_frame_from_the_spec() {
    let frame = [
        0x00, 0x00, 0x00, 0x13, // body length 19
        0x08, 0x17, // wrapper field 1 (type), varint: TYPE_STATS = 23
        0x12, 0x0f, // wrapper field 2 (payload), length-delimited, 15 bytes
        0x08, 0xe8, 0x07, // field 1 (res), varint: 1000
        0x10, 0x84, 0x07, // field 2 (init_res), varint: 900
        0x18, 0xc8, 0x01, // field 3 (shared), varint: 200
        0x22, 0x04, b'1', b'2', b'3', b'4', // field 4 (id), length-delimited: "1234"
    ];
    assert_frame(
        &frame,
        &Payload::Stats(Stats {
            res: 1000,
            init_res: 900,
            shared: 200,
            id: "1234".into(),
        }),
    );
}

#[test]
fn appendix_a_payload_images() {
    // Required fields are written even when empty.
    let connected = Payload::Connected(Connected {
        user: String::new(),
    });
    assert_eq!(
        connected.to_wrapper().payload.as_deref(),
        Some(&[0x0a, 0x00][..]) // field 1 (user), length-delimited, empty
    );

    let disconnected = Payload::Disconnected(Disconnected {
        user: "u".into(),
        error: 0,
        message: None,
    });
    assert_eq!(
        disconnected.to_wrapper().payload.as_deref(),
        Some(
            &[
                0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
                0x10, 0x00, // field 2 (error), varint: 0, written although 0
            ][..]
        )
    );

    let login = Payload::Login(Login {
        user: "u@x".into(),
        legacy_name: "n".into(),
        password: "p".into(),
        extra_fields: vec![],
        settings: Some(UserSettings {
            value: [("k".to_owned(), "v".to_owned())].into(),
        }),
    });
    let login_image = [
        0x0a, 0x03, 0x75, 0x40, 0x78, // field 1 (user), length-delimited: "u@x"
        0x12, 0x01, 0x6e, // field 2 (legacyName), length-delimited: "n"
        0x1a, 0x01, 0x70, // field 3 (password), length-delimited: "p"
        0x2a, 0x08, // field 5 (settings), length-delimited, 8 bytes
        0x0a, 0x06, // UserSettings field 1 (value map entry), length-delimited, 6 bytes
        0x0a, 0x01, 0x6b, // entry field 1 (key), length-delimited: "k"
        0x12, 0x01, 0x76, // entry field 2 (value), length-delimited: "v"
    ];
    assert_eq!(
        login.to_wrapper().payload.as_deref(),
        Some(&login_image[..])
    );
    assert_eq!(
        Login::decode(&login_image[..]).map(Payload::Login),
        Ok(login)
    );
}

// ---------------------------------------------------------------------------
// One or more frames of every message type
// ---------------------------------------------------------------------------

#[test]
fn connected_frames() {
    let frame = [
        0x00, 0x00, 0x00, 0x09, // body length 9
        0x08, 0x01, // wrapper field 1 (type), varint: TYPE_CONNECTED = 1
        0x12, 0x05, // wrapper field 2 (payload), length-delimited, 5 bytes
        0x0a, 0x03, b'a', b'@', b'b', // field 1 (user), length-delimited: "a@b"
    ];
    assert_frame(
        &frame,
        &Payload::Connected(Connected { user: "a@b".into() }),
    );

    let empty_user = [
        0x00, 0x00, 0x00, 0x06, // body length 6
        0x08, 0x01, // wrapper field 1 (type), varint: TYPE_CONNECTED = 1
        0x12, 0x02, // wrapper field 2 (payload), length-delimited, 2 bytes
        0x0a, 0x00, // field 1 (user), length-delimited: "" (required, so written)
    ];
    assert_frame(
        &empty_user,
        &Payload::Connected(Connected {
            user: String::new(),
        }),
    );
}

#[test]
fn disconnected_frames() {
    let minimal = [
        0x00, 0x00, 0x00, 0x09, // body length 9
        0x08, 0x02, // wrapper field 1 (type), varint: TYPE_DISCONNECTED = 2
        0x12, 0x05, // wrapper field 2 (payload), length-delimited, 5 bytes
        0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
        0x10, 0x00, // field 2 (error), varint: 0
    ];
    assert_frame(
        &minimal,
        &Payload::Disconnected(Disconnected {
            user: "u".into(),
            error: 0,
            message: None,
        }),
    );

    let with_message = [
        0x00, 0x00, 0x00, 0x0e, // body length 14
        0x08, 0x02, // wrapper field 1 (type), varint: TYPE_DISCONNECTED = 2
        0x12, 0x0a, // wrapper field 2 (payload), length-delimited, 10 bytes
        0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
        0x10, 0x10, // field 2 (error), varint: 16 (OTHER_ERROR)
        0x1a, 0x03, b'b', b'y', b'e', // field 3 (message), length-delimited: "bye"
    ];
    assert_frame(
        &with_message,
        &Payload::Disconnected(Disconnected {
            user: "u".into(),
            error: 16,
            message: s("bye"),
        }),
    );

    // A negative int32 is a 10-byte varint (sign-extended to 64 bits).
    let negative = [
        0x00, 0x00, 0x00, 0x12, // body length 18
        0x08, 0x02, // wrapper field 1 (type), varint: TYPE_DISCONNECTED = 2
        0x12, 0x0e, // wrapper field 2 (payload), length-delimited, 14 bytes
        0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
        0x10, // field 2 (error), varint:
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, // -1
    ];
    assert_frame(
        &negative,
        &Payload::Disconnected(Disconnected {
            user: "u".into(),
            error: -1,
            message: None,
        }),
    );
}

#[test]
fn login_frame_with_settings() {
    let frame = [
        0x00, 0x00, 0x00, 0x19, // body length 25
        0x08, 0x03, // wrapper field 1 (type), varint: TYPE_LOGIN = 3
        0x12, 0x15, // wrapper field 2 (payload), length-delimited, 21 bytes
        0x0a, 0x03, b'u', b'@', b'x', // field 1 (user), length-delimited: "u@x"
        0x12, 0x01, b'n', // field 2 (legacyName), length-delimited: "n"
        0x1a, 0x01, b'p', // field 3 (password), length-delimited: "p"
        0x2a, 0x08, // field 5 (settings), length-delimited, 8 bytes
        0x0a, 0x06, // UserSettings field 1 (value map entry), length-delimited, 6 bytes
        0x0a, 0x01, b'k', // entry field 1 (key), length-delimited: "k"
        0x12, 0x01, b'v', // entry field 2 (value), length-delimited: "v"
    ];
    assert_frame(
        &frame,
        &Payload::Login(Login {
            user: "u@x".into(),
            legacy_name: "n".into(),
            password: "p".into(),
            extra_fields: vec![],
            settings: Some(UserSettings {
                value: [("k".to_owned(), "v".to_owned())].into(),
            }),
        }),
    );
}

#[test]
fn login_frame_with_extra_fields_and_empty_settings() {
    let frame = [
        0x00, 0x00, 0x00, 0x14, // body length 20
        0x08, 0x03, // wrapper field 1 (type), varint: TYPE_LOGIN = 3
        0x12, 0x10, // wrapper field 2 (payload), length-delimited, 16 bytes
        0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
        0x12, 0x01, b'n', // field 2 (legacyName), length-delimited: "n"
        0x1a, 0x00, // field 3 (password), length-delimited: "" (required, so written)
        0x22, 0x02, b'e', b'1', // field 4 (extraFields), length-delimited: "e1"
        0x22, 0x00, // field 4 (extraFields), length-delimited: ""
        0x2a, 0x00, // field 5 (settings), length-delimited: empty UserSettings
    ];
    assert_frame(
        &frame,
        &Payload::Login(Login {
            user: "u".into(),
            legacy_name: "n".into(),
            password: String::new(),
            extra_fields: vec!["e1".into(), String::new()],
            settings: Some(UserSettings::default()),
        }),
    );
}

#[test]
fn login_frame_with_two_settings_in_key_order() {
    // prost writes map entries in key order (btree_map) and, like proto3,
    // leaves an empty key or value out of the entry.
    let frame = [
        0x00, 0x00, 0x00, 0x1c, // body length 28
        0x08, 0x03, // wrapper field 1 (type), varint: TYPE_LOGIN = 3
        0x12, 0x18, // wrapper field 2 (payload), length-delimited, 24 bytes
        0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
        0x12, 0x01, b'n', // field 2 (legacyName), length-delimited: "n"
        0x1a, 0x01, b'p', // field 3 (password), length-delimited: "p"
        0x2a, 0x0d, // field 5 (settings), length-delimited, 13 bytes
        0x0a, 0x06, // UserSettings field 1 (value map entry), length-delimited, 6 bytes
        0x0a, 0x01, b'a', // entry field 1 (key), length-delimited: "a"
        0x12, 0x01, b'1', // entry field 2 (value), length-delimited: "1"
        0x0a, 0x03, // UserSettings field 1 (value map entry), length-delimited, 3 bytes
        0x0a, 0x01, b'b', // entry field 1 (key), length-delimited: "b"; value "" omitted
    ];
    let expected = Payload::Login(Login {
        user: "u".into(),
        legacy_name: "n".into(),
        password: "p".into(),
        extra_fields: vec![],
        settings: Some(UserSettings {
            value: [
                ("b".to_owned(), String::new()),
                ("a".to_owned(), "1".to_owned()),
            ]
            .into(),
        }),
    });
    assert_frame(&frame, &expected);

    // An entry that spells out the empty value decodes to the same map.
    let explicit_empty_value = [
        0x00, 0x00, 0x00, 0x1e, // body length 30
        0x08, 0x03, // wrapper field 1 (type), varint: TYPE_LOGIN = 3
        0x12, 0x1a, // wrapper field 2 (payload), length-delimited, 26 bytes
        0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
        0x12, 0x01, b'n', // field 2 (legacyName), length-delimited: "n"
        0x1a, 0x01, b'p', // field 3 (password), length-delimited: "p"
        0x2a, 0x0f, // field 5 (settings), length-delimited, 15 bytes
        0x0a, 0x06, // UserSettings field 1 (value map entry), length-delimited, 6 bytes
        0x0a, 0x01, b'a', // entry field 1 (key), length-delimited: "a"
        0x12, 0x01, b'1', // entry field 2 (value), length-delimited: "1"
        0x0a, 0x05, // UserSettings field 1 (value map entry), length-delimited, 5 bytes
        0x0a, 0x01, b'b', // entry field 1 (key), length-delimited: "b"
        0x12, 0x00, // entry field 2 (value), length-delimited: ""
    ];
    let mut buf = BytesMut::from(&explicit_empty_value[..]);
    let wrapper = FrameCodec::new()
        .decode(&mut buf)
        .expect("no I/O error")
        .expect("a whole frame")
        .expect("a valid wrapper");
    assert_eq!(Payload::from_wrapper(wrapper), Ok(expected));
}

#[test]
fn logout_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0c, // body length 12
        0x08, 0x04, // wrapper field 1 (type), varint: TYPE_LOGOUT = 4
        0x12, 0x08, // wrapper field 2 (payload), length-delimited, 8 bytes
        0x0a, 0x03, b'u', b'@', b'x', // field 1 (user), length-delimited: "u@x"
        0x12, 0x01, b'n', // field 2 (legacyName), length-delimited: "n"
    ];
    assert_frame(
        &frame,
        &Payload::Logout(Logout {
            user: "u@x".into(),
            legacy_name: "n".into(),
        }),
    );
}

#[test]
fn buddy_changed_frame_with_every_field() {
    let frame = [
        0x00, 0x00, 0x00, 0x23, // body length 35
        0x08, 0x06, // wrapper field 1 (type), varint: TYPE_BUDDY_CHANGED = 6
        0x12, 0x1f, // wrapper field 2 (payload), length-delimited, 31 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x1a, 0x03, b'B', b'o', b'b', // field 3 (alias), length-delimited: "Bob"
        0x22, 0x02, b'G', b'1', // field 4 (group), length-delimited: "G1"
        0x22, 0x02, b'G', b'2', // field 4 (group), length-delimited: "G2"
        0x28, 0x01, // field 5 (status), varint: STATUS_AWAY = 1
        0x32, 0x02, b'h', b'i', // field 6 (statusMessage), length-delimited: "hi"
        0x3a, 0x02, b'a', b'b', // field 7 (iconHash), length-delimited: "ab"
        0x40, 0x00, // field 8 (blocked), varint: false
    ];
    assert_frame(
        &frame,
        &Payload::BuddyChanged(Buddy {
            user_name: "u".into(),
            buddy_name: "b".into(),
            alias: s("Bob"),
            group: vec!["G1".into(), "G2".into()],
            status: Some(StatusType::StatusAway as i32),
            status_message: s("hi"),
            icon_hash: s("ab"),
            blocked: Some(false),
        }),
    );
}

#[test]
fn buddy_removed_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0a, // body length 10
        0x08, 0x07, // wrapper field 1 (type), varint: TYPE_BUDDY_REMOVED = 7
        0x12, 0x06, // wrapper field 2 (payload), length-delimited, 6 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
    ];
    assert_frame(&frame, &Payload::BuddyRemoved(buddy("u", "b")));
}

#[test]
fn conv_message_frame_with_optional_fields_and_attachment() {
    let frame = [
        0x00, 0x00, 0x00, 0x42, // body length 66
        0x08, 0x08, // wrapper field 1 (type), varint: TYPE_CONV_MESSAGE = 8
        0x12, 0x3e, // wrapper field 2 (payload), length-delimited, 62 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x1a, 0x02, b'h', b'i', // field 3 (message), length-delimited: "hi"
        0x22, 0x00, // field 4 (nickname), length-delimited: ""
        // field 5 (xhtml) is None: not written
        0x32, 0x0f, // field 6 (timestamp), length-delimited, 15 bytes:
        b'2', b'0', b'2', b'5', b'0', b'9', b'1', b'4', // "20250914"
        b'T', b'1', b'2', b'0', b'0', b'0', b'0', // "T120000"
        0x38, 0x01, // field 7 (headline), varint: true
        0x42, 0x02, b'm', b'1', // field 8 (id), length-delimited: "m1"
        // field 9 (pm) is None: not written
        0x50, 0x00, // field 10 (carbon), varint: false
        0x5a, 0x17, // field 11 (attachment), length-delimited, 23 bytes
        0x0a, 0x0a, // Attachment field 1 (url), length-delimited, 10 bytes:
        b'h', b't', b't', b'p', b':', b'/', b'/', b'x', b'/', b'y', // "http://x/y"
        0x12, 0x09, // Attachment field 2 (mimeType), length-delimited, 9 bytes:
        b'i', b'm', b'a', b'g', b'e', b'/', b'p', b'n', b'g', // "image/png"
    ];
    assert_frame(
        &frame,
        &Payload::ConvMessage(ConversationMessage {
            user_name: "u".into(),
            buddy_name: "b".into(),
            message: "hi".into(),
            nickname: s(""),
            xhtml: None,
            timestamp: s("20250914T120000"),
            headline: Some(true),
            id: s("m1"),
            pm: None,
            carbon: Some(false),
            attachment: vec![Attachment {
                url: "http://x/y".into(),
                mime_type: s("image/png"),
                description: None,
            }],
        }),
    );
}

#[test]
fn conv_message_frame_as_the_cpp_plugin_sends_it() {
    // NetworkPlugin::handleMessage sets nickname, xhtml and timestamp to ""
    // and headline, pm and carbon to false (protocol facts §3.5).
    let frame = [
        0x00, 0x00, 0x00, 0x18, // body length 24
        0x08, 0x08, // wrapper field 1 (type), varint: TYPE_CONV_MESSAGE = 8
        0x12, 0x14, // wrapper field 2 (payload), length-delimited, 20 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x1a, 0x00, // field 3 (message), length-delimited: ""
        0x22, 0x00, // field 4 (nickname), length-delimited: ""
        0x2a, 0x00, // field 5 (xhtml), length-delimited: ""
        0x32, 0x00, // field 6 (timestamp), length-delimited: ""
        0x38, 0x00, // field 7 (headline), varint: false
        0x48, 0x00, // field 9 (pm), varint: false
        0x50, 0x00, // field 10 (carbon), varint: false
    ];
    assert_frame(
        &frame,
        &Payload::ConvMessage(ConversationMessage {
            user_name: "u".into(),
            buddy_name: "b".into(),
            message: String::new(),
            nickname: s(""),
            xhtml: s(""),
            timestamp: s(""),
            headline: Some(false),
            id: None,
            pm: Some(false),
            carbon: Some(false),
            attachment: vec![],
        }),
    );
}

#[test]
fn join_room_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x15, // body length 21
        0x08, 0x0b, // wrapper field 1 (type), varint: TYPE_JOIN_ROOM = 11
        0x12, 0x11, // wrapper field 2 (payload), length-delimited, 17 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x04, b'n', b'i', b'c', b'k', // field 2 (nickname), length-delimited: "nick"
        0x1a, 0x02, b'#', b'r', // field 3 (room), length-delimited: "#r"
        0x22, 0x02, b'p', b'w', // field 4 (password), length-delimited: "pw"
    ];
    assert_frame(
        &frame,
        &Payload::JoinRoom(Room {
            user_name: "u".into(),
            nickname: "nick".into(),
            room: "#r".into(),
            password: s("pw"),
        }),
    );
}

#[test]
fn leave_room_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0f, // body length 15
        0x08, 0x0c, // wrapper field 1 (type), varint: TYPE_LEAVE_ROOM = 12
        0x12, 0x0b, // wrapper field 2 (payload), length-delimited, 11 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x00, // field 2 (nickname), length-delimited: ""
        0x1a, 0x02, b'#', b'r', // field 3 (room), length-delimited: "#r"
        0x22, 0x00, // field 4 (password), length-delimited: ""
    ];
    assert_frame(
        &frame,
        &Payload::LeaveRoom(Room {
            user_name: "u".into(),
            nickname: String::new(),
            room: "#r".into(),
            password: s(""),
        }),
    );
}

#[test]
fn participant_changed_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x21, // body length 33
        0x08, 0x0d, // wrapper field 1 (type), varint: TYPE_PARTICIPANT_CHANGED = 13
        0x12, 0x1d, // wrapper field 2 (payload), length-delimited, 29 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x02, b'#', b'r', // field 2 (room), length-delimited: "#r"
        0x1a, 0x01, b'n', // field 3 (nickname), length-delimited: "n"
        0x20, 0x11, // field 4 (flag), varint: 17 = MODERATOR | ME
        0x28, 0x05, // field 5 (status), varint: STATUS_NONE = 5
        0x32, 0x03, b'b', b'y', b'e', // field 6 (statusMessage), length-delimited: "bye"
        0x3a, 0x01, b'm', // field 7 (newname), length-delimited: "m"
        0x42, 0x02, b'h', b'1', // field 8 (iconHash), length-delimited: "h1"
        0x4a, 0x01, b'A', // field 9 (alias), length-delimited: "A"
    ];
    assert_frame(
        &frame,
        &Payload::ParticipantChanged(Participant {
            user_name: "u".into(),
            room: "#r".into(),
            nickname: "n".into(),
            flag: ParticipantFlag::Moderator.bit() | ParticipantFlag::Me.bit(),
            status: StatusType::StatusNone as i32,
            status_message: s("bye"),
            newname: s("m"),
            icon_hash: s("h1"),
            alias: s("A"),
        }),
    );
}

#[test]
fn room_nickname_changed_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x10, // body length 16
        0x08, 0x0e, // wrapper field 1 (type), varint: TYPE_ROOM_NICKNAME_CHANGED = 14
        0x12, 0x0c, // wrapper field 2 (payload), length-delimited, 12 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x03, b'n', b'e', b'w', // field 2 (nickname), length-delimited: "new"
        0x1a, 0x02, b'#', b'r', // field 3 (room), length-delimited: "#r"
    ];
    assert_frame(
        &frame,
        &Payload::RoomNicknameChanged(Room {
            user_name: "u".into(),
            nickname: "new".into(),
            room: "#r".into(),
            password: None,
        }),
    );
}

#[test]
fn room_subject_changed_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x16, // body length 22
        0x08, 0x0f, // wrapper field 1 (type), varint: TYPE_ROOM_SUBJECT_CHANGED = 15
        0x12, 0x12, // wrapper field 2 (payload), length-delimited, 18 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x02, b'#', b'r', // field 2 (buddyName), length-delimited: "#r"
        0x1a, 0x05, // field 3 (message), length-delimited, 5 bytes:
        b't', b'o', b'p', b'i', b'c', // "topic"
        0x22, 0x02, b'o', b'p', // field 4 (nickname), length-delimited: "op"
    ];
    assert_frame(
        &frame,
        &Payload::RoomSubjectChanged(ConversationMessage {
            user_name: "u".into(),
            buddy_name: "#r".into(),
            message: "topic".into(),
            nickname: s("op"),
            ..Default::default()
        }),
    );
}

#[test]
fn vcard_frame_with_photo() {
    let frame = [
        0x00, 0x00, 0x00, 0x20, // body length 32
        0x08, 0x10, // wrapper field 1 (type), varint: TYPE_VCARD = 16
        0x12, 0x1c, // wrapper field 2 (payload), length-delimited, 28 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x18, 0xac, 0x02, // field 3 (id), varint: 300
        0x22, 0x05, // field 4 (fullname), length-delimited, 5 bytes:
        b'B', b'o', b'b', b' ', b'B', // "Bob B"
        0x2a, 0x02, b'b', b'b', // field 5 (nickname), length-delimited: "bb"
        0x32, 0x06, // field 6 (photo), length-delimited, 6 bytes:
        0x89, 0x50, 0x4e, 0x47, 0x00, 0xff, // not UTF-8: bytes, not string
    ];
    assert_frame(
        &frame,
        &Payload::Vcard(VCard {
            user_name: "u".into(),
            buddy_name: "b".into(),
            id: 300,
            fullname: s("Bob B"),
            nickname: s("bb"),
            photo: Some(Bytes::from_static(&[0x89, 0x50, 0x4e, 0x47, 0x00, 0xff])),
        }),
    );
}

#[test]
fn vcard_update_frame_with_empty_photo() {
    // M->B own-vCard update: photo present (here empty) marks it as an update.
    let frame = [
        0x00, 0x00, 0x00, 0x0d, // body length 13
        0x08, 0x10, // wrapper field 1 (type), varint: TYPE_VCARD = 16
        0x12, 0x09, // wrapper field 2 (payload), length-delimited, 9 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x00, // field 2 (buddyName), length-delimited: ""
        0x18, 0x00, // field 3 (id), varint: 0
        0x32, 0x00, // field 6 (photo), length-delimited: empty but present
    ];
    assert_frame(
        &frame,
        &Payload::Vcard(VCard {
            user_name: "u".into(),
            buddy_name: String::new(),
            id: 0,
            fullname: None,
            nickname: None,
            photo: Some(Bytes::new()),
        }),
    );
}

#[test]
fn status_changed_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0e, // body length 14
        0x08, 0x11, // wrapper field 1 (type), varint: TYPE_STATUS_CHANGED = 17
        0x12, 0x0a, // wrapper field 2 (payload), length-delimited, 10 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        // there is no field 2 in Status
        0x18, 0x06, // field 3 (status), varint: STATUS_INVISIBLE = 6
        0x22, 0x03, b'b', b'r', b'b', // field 4 (statusMessage), length-delimited: "brb"
    ];
    assert_frame(
        &frame,
        &Payload::StatusChanged(Status {
            user_name: "u".into(),
            status: StatusType::StatusInvisible as i32,
            status_message: s("brb"),
        }),
    );
}

#[test]
fn buddy_typing_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0a, // body length 10
        0x08, 0x12, // wrapper field 1 (type), varint: TYPE_BUDDY_TYPING = 18
        0x12, 0x06, // wrapper field 2 (payload), length-delimited, 6 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
    ];
    assert_frame(&frame, &Payload::BuddyTyping(buddy("u", "b")));
}

#[test]
fn buddy_stopped_typing_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0a, // body length 10
        0x08, 0x13, // wrapper field 1 (type), varint: TYPE_BUDDY_STOPPED_TYPING = 19
        0x12, 0x06, // wrapper field 2 (payload), length-delimited, 6 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
    ];
    assert_frame(&frame, &Payload::BuddyStoppedTyping(buddy("u", "b")));
}

#[test]
fn buddy_typed_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0a, // body length 10
        0x08, 0x14, // wrapper field 1 (type), varint: TYPE_BUDDY_TYPED = 20
        0x12, 0x06, // wrapper field 2 (payload), length-delimited, 6 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
    ];
    assert_frame(&frame, &Payload::BuddyTyped(buddy("u", "b")));
}

#[test]
fn auth_request_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0f, // body length 15
        0x08, 0x15, // wrapper field 1 (type), varint: TYPE_AUTH_REQUEST = 21
        0x12, 0x0b, // wrapper field 2 (payload), length-delimited, 11 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x1a, 0x03, b'B', b'o', b'b', // field 3 (alias), length-delimited: "Bob"
    ];
    assert_frame(
        &frame,
        &Payload::AuthRequest(Buddy {
            alias: s("Bob"),
            ..buddy("u", "b")
        }),
    );
}

#[test]
fn attention_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x10, // body length 16
        0x08, 0x16, // wrapper field 1 (type), varint: TYPE_ATTENTION = 22
        0x12, 0x0c, // wrapper field 2 (payload), length-delimited, 12 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x1a, 0x04, b'b', b'u', b'z', b'z', // field 3 (message), length-delimited: "buzz"
    ];
    assert_frame(
        &frame,
        &Payload::Attention(ConversationMessage {
            user_name: "u".into(),
            buddy_name: "b".into(),
            message: "buzz".into(),
            ..Default::default()
        }),
    );
}

#[test]
fn backend_config_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0e, // body length 14
        0x08, 0x1e, // wrapper field 1 (type), varint: TYPE_BACKEND_CONFIG = 30
        0x12, 0x0a, // wrapper field 2 (payload), length-delimited, 10 bytes
        0x0a, 0x08, // field 1 (config), length-delimited, 8 bytes:
        b'[', b'f', b']', b'\n', b'x', b'=', b'1', b'\n', // "[f]\nx=1\n"
    ];
    assert_frame(
        &frame,
        &Payload::BackendConfig(BackendConfig {
            config: "[f]\nx=1\n".into(),
        }),
    );
}

#[test]
fn query_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x0c, // body length 12
        0x08, 0x1f, // wrapper field 1 (type), varint: TYPE_QUERY = 31
        0x12, 0x08, // wrapper field 2 (payload), length-delimited, 8 bytes
        0x0a, 0x06, // field 1 (config), length-delimited, 6 bytes:
        b's', b't', b'a', b't', b'u', b's', // "status"
    ];
    assert_frame(
        &frame,
        &Payload::Query(BackendConfig {
            config: "status".into(),
        }),
    );
}

#[test]
fn room_list_frames() {
    let frame = [
        0x00, 0x00, 0x00, 0x14, // body length 20
        0x08, 0x20, // wrapper field 1 (type), varint: TYPE_ROOM_LIST = 32
        0x12, 0x10, // wrapper field 2 (payload), length-delimited, 16 bytes
        0x0a, 0x02, b'#', b'a', // field 1 (room), length-delimited: "#a"
        0x0a, 0x02, b'#', b'b', // field 1 (room), length-delimited: "#b"
        0x12, 0x01, b'A', // field 2 (name), length-delimited: "A"
        0x12, 0x00, // field 2 (name), length-delimited: ""
        0x1a, 0x01, b'u', // field 3 (user), length-delimited: "u"
    ];
    assert_frame(
        &frame,
        &Payload::RoomList(RoomList {
            room: vec!["#a".into(), "#b".into()],
            name: vec!["A".into(), String::new()],
            user: s("u"),
        }),
    );

    // Nothing is required in RoomList: the payload field is present but empty.
    let empty = [
        0x00, 0x00, 0x00, 0x04, // body length 4
        0x08, 0x20, // wrapper field 1 (type), varint: TYPE_ROOM_LIST = 32
        0x12, 0x00, // wrapper field 2 (payload), length-delimited: empty RoomList
    ];
    assert_frame(&empty, &Payload::RoomList(RoomList::default()));
}

#[test]
fn conv_message_ack_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x10, // body length 16
        0x08, 0x21, // wrapper field 1 (type), varint: TYPE_CONV_MESSAGE_ACK = 33
        0x12, 0x0c, // wrapper field 2 (payload), length-delimited, 12 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x1a, 0x00, // field 3 (message), length-delimited: "" (required, so written)
        0x42, 0x02, b'm', b'1', // field 8 (id), length-delimited: "m1"
    ];
    assert_frame(
        &frame,
        &Payload::ConvMessageAck(ConversationMessage {
            user_name: "u".into(),
            buddy_name: "b".into(),
            message: String::new(),
            id: s("m1"),
            ..Default::default()
        }),
    );
}

#[test]
fn raw_xml_frames() {
    // The payload is the XML text itself, not a protobuf message.
    let frame = [
        0x00, 0x00, 0x00, 0x0f, // body length 15
        0x08, 0x22, // wrapper field 1 (type), varint: TYPE_RAW_XML = 34
        0x12, 0x0b, // wrapper field 2 (payload), length-delimited, 11 bytes:
        b'<', b'p', b'r', b'e', b's', b'e', b'n', b'c', b'e', b'/', b'>', // "<presence/>"
    ];
    assert_frame(&frame, &Payload::RawXml("<presence/>".into()));

    let non_ascii = [
        0x00, 0x00, 0x00, 0x0d, // body length 13
        0x08, 0x22, // wrapper field 1 (type), varint: TYPE_RAW_XML = 34
        0x12, 0x09, // wrapper field 2 (payload), length-delimited, 9 bytes:
        b'<', b'm', b'>', 0xc3, 0xa9, b'<', b'/', b'm', b'>', // "<m>é</m>", é = c3 a9
    ];
    assert_frame(&non_ascii, &Payload::RawXml("<m>\u{e9}</m>".into()));
}

#[test]
fn buddies_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x1b, // body length 27
        0x08, 0x23, // wrapper field 1 (type), varint: TYPE_BUDDIES = 35
        0x12, 0x17, // wrapper field 2 (payload), length-delimited, 23 bytes
        0x0a, 0x09, // field 1 (buddy), length-delimited, 9 bytes:
        0x0a, 0x01, b'u', //   Buddy field 1 (userName), length-delimited: "u"
        0x12, 0x02, b'b', b'1', //   Buddy field 2 (buddyName), length-delimited: "b1"
        0x28, 0x05, //   Buddy field 5 (status), varint: STATUS_NONE = 5
        0x0a, 0x0a, // field 1 (buddy), length-delimited, 10 bytes:
        0x0a, 0x01, b'u', //   Buddy field 1 (userName), length-delimited: "u"
        0x12, 0x02, b'b', b'2', //   Buddy field 2 (buddyName), length-delimited: "b2"
        0x22, 0x01, b'G', //   Buddy field 4 (group), length-delimited: "G"
    ];
    assert_frame(
        &frame,
        &Payload::Buddies(Buddies {
            buddy: vec![
                Buddy {
                    status: Some(StatusType::StatusNone as i32),
                    ..buddy("u", "b1")
                },
                Buddy {
                    group: vec!["G".into()],
                    ..buddy("u", "b2")
                },
            ],
        }),
    );
}

#[test]
fn api_version_frame() {
    let frame = [
        0x00, 0x00, 0x00, 0x06, // body length 6
        0x08, 0x24, // wrapper field 1 (type), varint: TYPE_API_VERSION = 36
        0x12, 0x02, // wrapper field 2 (payload), length-delimited, 2 bytes
        0x08, 0x01, // field 1 (version), varint: 1
    ];
    assert_frame(
        &frame,
        &Payload::ApiVersion(ApiVersion {
            version: spectrum_proto::API_VERSION,
        }),
    );
}

#[test]
fn frames_back_to_back_in_one_buffer() {
    // PING, then CONNECTED{"a@b"}, then PONG, in a single read.
    let stream = [
        0x00, 0x00, 0x00, 0x02, // body length 2
        0x08, 0x09, // field 1 (type), varint: TYPE_PING = 9
        0x00, 0x00, 0x00, 0x09, // body length 9
        0x08, 0x01, // wrapper field 1 (type), varint: TYPE_CONNECTED = 1
        0x12, 0x05, // wrapper field 2 (payload), length-delimited, 5 bytes
        0x0a, 0x03, b'a', b'@', b'b', // field 1 (user), length-delimited: "a@b"
        0x00, 0x00, 0x00, 0x02, // body length 2
        0x08, 0x0a, // field 1 (type), varint: TYPE_PONG = 10
    ];
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::from(&stream[..]);
    let mut decoded = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).expect("no I/O error") {
        let wrapper = frame.expect("a valid wrapper");
        decoded.push(Payload::from_wrapper(wrapper).expect("a valid payload"));
    }
    assert_eq!(
        decoded,
        [
            Payload::Ping,
            Payload::Connected(Connected { user: "a@b".into() }),
            Payload::Pong,
        ]
    );
    assert!(buf.is_empty());
    assert_eq!(decoded[1].message_type(), Some(MessageType::Connected));
}

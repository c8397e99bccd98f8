//! Bad input: oversize, truncated, corrupt and unknown frames, invalid
//! payloads, and oversize messages on the encoding side.
//!
//! A bad frame must be reported as an error *item* and must not break the
//! stream: the frame after it still decodes.

use bytes::{Bytes, BytesMut};
use spectrum_proto::{
    Buddy, Connected, DecodeError, EncodeError, FrameCodec, FrameError, Payload, TypeNumber,
    WrapperMessage,
};
use tokio_util::codec::{Decoder, Encoder};

/// PING, used as "the next frame" after a bad one.
const PING: [u8; 6] = [
    0x00, 0x00, 0x00, 0x02, // body length 2
    0x08, 0x09, // field 1 (type), varint: TYPE_PING = 9
];

/// Decodes the next item, which must be a valid frame, into a payload.
#[track_caller]
fn next_payload(codec: &mut FrameCodec, buf: &mut BytesMut) -> Payload {
    let wrapper = codec
        .decode(buf)
        .expect("no I/O error")
        .expect("a whole frame is buffered")
        .expect("the frame is a valid wrapper");
    Payload::from_wrapper(wrapper).expect("the payload is valid")
}

/// Decodes the next item, which must be a frame-level error.
#[track_caller]
fn next_error(codec: &mut FrameCodec, buf: &mut BytesMut) -> FrameError {
    match codec.decode(buf).expect("no I/O error") {
        Some(Err(e)) => e,
        Some(Ok(w)) => panic!("expected a frame error, decoded {w:?}"),
        None => panic!("expected a frame error, the decoder wants more bytes"),
    }
}

/// Decodes one whole frame and turns it into a payload result.
#[track_caller]
fn payload_of(frame: &[u8]) -> Result<Payload, DecodeError> {
    let mut buf = BytesMut::from(frame);
    let wrapper = FrameCodec::new()
        .decode(&mut buf)
        .expect("no I/O error")
        .expect("a whole frame")
        .expect("a valid wrapper");
    assert!(buf.is_empty());
    Payload::from_wrapper(wrapper)
}

// (a) ------------------------------------------------------------------------

#[test]
fn absurd_length_prefix_fails_the_stream() {
    let mut codec = FrameCodec::with_max_frame_length(1024);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x08, 0x09]);
    let err = codec.decode(&mut buf).expect_err("a corrupt stream");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let corrupt = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<spectrum_proto::CorruptStream>())
        .expect("a CorruptStream inside");
    assert_eq!(corrupt.len, 0xffff_ffff);
    assert_eq!(corrupt.ceiling, spectrum_proto::CORRUPT_FRAME_LENGTH);
}

#[test]
fn huge_length_prefix_is_rejected_without_allocating_it() {
    let mut codec = FrameCodec::with_max_frame_length(1024);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[0x3f, 0xff, 0xff, 0xf0]); // announces 1 GiB - 16
    buf.extend_from_slice(&[0xaa; 100]); // the start of that body

    assert_eq!(
        codec.decode(&mut buf).expect("no I/O error"),
        Some(Err(FrameError::TooLarge {
            len: 0x3fff_fff0,
            max: 1024
        }))
    );
    assert!(
        buf.capacity() < 64 * 1024,
        "the decoder reserved {} bytes",
        buf.capacity()
    );
    assert!(buf.is_empty(), "the oversize body bytes are discarded");

    // More of that body: swallowed as it arrives, never buffered.
    for _ in 0..16 {
        buf.extend_from_slice(&[0xbb; 4096]);
        assert_eq!(codec.decode(&mut buf).expect("no I/O error"), None);
        assert!(buf.is_empty());
        assert!(buf.capacity() < 64 * 1024);
    }
}

#[test]
fn oversize_frame_is_skipped_across_reads_and_the_next_frame_decodes() {
    let mut codec = FrameCodec::with_max_frame_length(1024);
    let mut buf = BytesMut::new();
    // 5000 bytes announced; 300 arrive with the header.
    buf.extend_from_slice(&[0x00, 0x00, 0x13, 0x88]); // body length 5000
    buf.extend_from_slice(&[0x08; 300]);
    assert_eq!(
        next_error(&mut codec, &mut buf),
        FrameError::TooLarge {
            len: 5000,
            max: 1024
        }
    );
    assert_eq!(codec.decode(&mut buf).expect("no I/O error"), None);

    // Three more partial reads of body bytes (that look like frames: they
    // must not be taken for frames).
    for _ in 0..3 {
        buf.extend_from_slice(&[0x00; 1000]);
        assert_eq!(codec.decode(&mut buf).expect("no I/O error"), None);
        assert!(buf.is_empty());
    }

    // The last 1700 body bytes arrive in the same read as a PING.
    buf.extend_from_slice(&[0x00; 1700]);
    buf.extend_from_slice(&PING);
    assert_eq!(next_payload(&mut codec, &mut buf), Payload::Ping);
    assert_eq!(codec.decode(&mut buf).expect("no I/O error"), None);
    assert!(buf.is_empty());
}

#[test]
fn frame_of_exactly_the_maximum_length_is_accepted() {
    // RAW_XML with 12 bytes of text: body = 08 22 12 0c + 12 = 16 bytes.
    let mut frame = vec![
        0x00, 0x00, 0x00, 0x10, // body length 16
        0x08, 0x22, // field 1 (type), varint: TYPE_RAW_XML = 34
        0x12, 0x0c, // field 2 (payload), length-delimited, 12 bytes
    ];
    frame.extend_from_slice(b"<iq>..</iq>!");

    let mut at_max = FrameCodec::with_max_frame_length(16);
    let mut buf = BytesMut::from(&frame[..]);
    assert_eq!(
        next_payload(&mut at_max, &mut buf),
        Payload::RawXml("<iq>..</iq>!".into())
    );

    let mut below = FrameCodec::with_max_frame_length(15);
    let mut buf = BytesMut::from(&frame[..]);
    assert_eq!(
        next_error(&mut below, &mut buf),
        FrameError::TooLarge { len: 16, max: 15 }
    );
    assert!(buf.is_empty());
}

// (b) ------------------------------------------------------------------------

#[test]
fn truncated_frame_waits_for_the_rest() {
    let frame = [
        0x00, 0x00, 0x00, 0x0a, // body length 10
        0x08, 0x01, // wrapper field 1 (type), varint: TYPE_CONNECTED = 1
        0x12, 0x06, // wrapper field 2 (payload), length-delimited, 6 bytes
        0x0a, 0x04, b'a', b'@', b'b', b'c', // field 1 (user), length-delimited: "a@bc"
    ];
    let mut codec = FrameCodec::new();

    // Header plus 5 of the 10 body bytes.
    let mut buf = BytesMut::from(&frame[..9]);
    assert_eq!(codec.decode(&mut buf).expect("no I/O error"), None);
    assert_eq!(buf.len(), 9, "a partial frame stays buffered");

    buf.extend_from_slice(&frame[9..]);
    assert_eq!(
        next_payload(&mut codec, &mut buf),
        Payload::Connected(Connected {
            user: "a@bc".into()
        })
    );
    assert!(buf.is_empty());

    // A partial header.
    let mut buf = BytesMut::from(&frame[..2]);
    assert_eq!(codec.decode(&mut buf).expect("no I/O error"), None);
    assert_eq!(buf.len(), 2);
    buf.extend_from_slice(&frame[2..]);
    assert_eq!(
        next_payload(&mut codec, &mut buf),
        Payload::Connected(Connected {
            user: "a@bc".into()
        })
    );
}

#[test]
fn truncated_frame_at_end_of_stream_is_an_error() {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::from(&[0x00, 0x00, 0x00, 0x0a, 0x08, 0x01][..]);
    assert!(
        codec.decode_eof(&mut buf).is_err(),
        "leftover bytes at EOF must not vanish silently"
    );

    let mut empty = BytesMut::new();
    assert_eq!(codec.decode_eof(&mut empty).expect("clean EOF"), None);
}

// (c) ------------------------------------------------------------------------

#[test]
fn corrupt_wrapper_is_reported_and_the_next_frame_decodes() {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x03, // body length 3
        0xff, 0xff, 0xff, // not protobuf: a varint key that never ends
    ]);
    buf.extend_from_slice(&PING);
    let mut codec = FrameCodec::new();

    let error = next_error(&mut codec, &mut buf);
    assert!(
        matches!(
            error,
            FrameError::Decode(DecodeError::Malformed {
                message: "WrapperMessage",
                ..
            })
        ),
        "unexpected error {error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("WrapperMessage"), "Display was {text:?}");

    assert_eq!(next_payload(&mut codec, &mut buf), Payload::Ping);
    assert!(buf.is_empty());
}

#[test]
fn wrapper_with_a_wrong_wire_type_is_reported() {
    // field 1 (type) sent as length-delimited instead of varint.
    let mut buf = BytesMut::from(
        &[
            0x00, 0x00, 0x00, 0x03, // body length 3
            0x0a, 0x01, 0x09, // field 1, length-delimited: wrong wire type for an enum
        ][..],
    );
    buf.extend_from_slice(&PING);
    let mut codec = FrameCodec::new();
    assert!(matches!(
        next_error(&mut codec, &mut buf),
        FrameError::Decode(DecodeError::Malformed {
            message: "WrapperMessage",
            ..
        })
    ));
    assert_eq!(next_payload(&mut codec, &mut buf), Payload::Ping);
}

// (d) ------------------------------------------------------------------------

#[test]
fn empty_frame_is_an_error() {
    let mut buf = BytesMut::from(&[0x00, 0x00, 0x00, 0x00][..]); // body length 0
    buf.extend_from_slice(&PING);
    let mut codec = FrameCodec::new();
    assert_eq!(
        next_error(&mut codec, &mut buf),
        FrameError::Decode(DecodeError::EmptyFrame)
    );
    assert_eq!(next_payload(&mut codec, &mut buf), Payload::Ping);
}

#[test]
fn wrapper_without_type_is_missing_a_field() {
    let mut buf = BytesMut::from(
        &[
            0x00, 0x00, 0x00, 0x02, // body length 2
            0x12, 0x00, // field 2 (payload), length-delimited, empty; no field 1 (type)
        ][..],
    );
    buf.extend_from_slice(&PING);
    let mut codec = FrameCodec::new();
    let error = next_error(&mut codec, &mut buf);
    assert_eq!(
        error,
        FrameError::Decode(DecodeError::MissingField {
            message: "WrapperMessage",
            field: "type"
        })
    );
    assert!(error.to_string().contains("`type`"), "Display was {error}");
    assert_eq!(next_payload(&mut codec, &mut buf), Payload::Ping);
}

// (e) ------------------------------------------------------------------------

/// Decodes `frame` to `expected` and re-encodes it to the same bytes.
#[track_caller]
fn assert_unknown_roundtrip(frame: &[u8], expected: &Payload) {
    assert_eq!(payload_of(frame).as_ref(), Ok(expected));
    assert_eq!(expected.message_type(), None);
    let mut out = BytesMut::new();
    FrameCodec::new()
        .encode(expected.to_wrapper(), &mut out)
        .expect("encoding succeeds");
    assert_eq!(&out[..], frame, "re-encoded bytes differ");
}

#[test]
fn unknown_type_numbers_are_kept_not_rejected() {
    // 99: a type newer than this crate, with a payload.
    assert_unknown_roundtrip(
        &[
            0x00, 0x00, 0x00, 0x06, // body length 6
            0x08, 0x63, // field 1 (type), varint: 99
            0x12, 0x02, 0xab, 0xcd, // field 2 (payload), length-delimited, 2 bytes
        ],
        &Payload::Unknown {
            type_number: 99,
            payload: Some(Bytes::from_static(&[0xab, 0xcd])),
        },
    );

    // 99 again, without any payload field: it stays absent.
    assert_unknown_roundtrip(
        &[
            0x00, 0x00, 0x00, 0x02, // body length 2
            0x08, 0x63, // field 1 (type), varint: 99; no payload field
        ],
        &Payload::Unknown {
            type_number: 99,
            payload: None,
        },
    );

    // 99 with a present but empty payload: it stays present.
    assert_unknown_roundtrip(
        &[
            0x00, 0x00, 0x00, 0x04, // body length 4
            0x08, 0x63, // field 1 (type), varint: 99
            0x12, 0x00, // field 2 (payload), length-delimited, empty
        ],
        &Payload::Unknown {
            type_number: 99,
            payload: Some(Bytes::new()),
        },
    );

    // 5 never existed.
    assert_unknown_roundtrip(
        &[
            0x00, 0x00, 0x00, 0x02, // body length 2
            0x08, 0x05, // field 1 (type), varint: 5
        ],
        &Payload::Unknown {
            type_number: 5,
            payload: None,
        },
    );

    // A negative number: a 10-byte varint.
    assert_unknown_roundtrip(
        &[
            0x00, 0x00, 0x00, 0x0b, // body length 11
            0x08, // field 1 (type), varint:
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, // -1
        ],
        &Payload::Unknown {
            type_number: -1,
            payload: None,
        },
    );
}

#[test]
fn dead_file_transfer_types_are_unknown() {
    // TYPE_FT_DATA (26) with an old FileTransferData {ftID=1, data="x"}.
    assert_unknown_roundtrip(
        &[
            0x00, 0x00, 0x00, 0x09, // body length 9
            0x08, 0x1a, // field 1 (type), varint: TYPE_FT_DATA = 26
            0x12, 0x05, // field 2 (payload), length-delimited, 5 bytes
            0x08, 0x01, // FileTransferData field 1 (ftID), varint: 1
            0x12, 0x01, b'x', // FileTransferData field 2 (data), length-delimited: "x"
        ],
        &Payload::Unknown {
            type_number: 26,
            payload: Some(Bytes::from_static(&[0x08, 0x01, 0x12, 0x01, b'x'])),
        },
    );

    // TYPE_FT_PAUSE (27) without a payload.
    assert_unknown_roundtrip(
        &[
            0x00, 0x00, 0x00, 0x02, // body length 2
            0x08, 0x1b, // field 1 (type), varint: TYPE_FT_PAUSE = 27
        ],
        &Payload::Unknown {
            type_number: 27,
            payload: None,
        },
    );
}

// (f) ------------------------------------------------------------------------

#[test]
fn login_without_password_names_the_field() {
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x0a, // body length 10
        0x08, 0x03, // wrapper field 1 (type), varint: TYPE_LOGIN = 3
        0x12, 0x06, // wrapper field 2 (payload), length-delimited, 6 bytes
        0x0a, 0x01, b'u', // field 1 (user), length-delimited: "u"
        0x12, 0x01, b'n', // field 2 (legacyName): "n"; field 3 (password) missing
    ]);
    let error = result.expect_err("a Login without password is invalid");
    assert_eq!(
        error,
        DecodeError::MissingField {
            message: "Login",
            field: "password"
        }
    );
    assert!(
        error.to_string().contains("password"),
        "Display was {error}"
    );
}

#[test]
fn payload_field_absent_for_a_message_type_is_missing_fields() {
    // TYPE_LOGIN with no payload field at all: the Login is empty.
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x02, // body length 2
        0x08, 0x03, // field 1 (type), varint: TYPE_LOGIN = 3; no payload
    ]);
    assert_eq!(
        result,
        Err(DecodeError::MissingField {
            message: "Login",
            field: "user"
        })
    );
}

#[test]
fn attachment_without_url_names_the_nested_message() {
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x10, // body length 16
        0x08, 0x08, // wrapper field 1 (type), varint: TYPE_CONV_MESSAGE = 8
        0x12, 0x0c, // wrapper field 2 (payload), length-delimited, 12 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x1a, 0x00, // field 3 (message), length-delimited: ""
        0x5a, 0x02, // field 11 (attachment), length-delimited, 2 bytes
        0x12, 0x00, // Attachment field 2 (mimeType): ""; field 1 (url) missing
    ]);
    assert_eq!(
        result,
        Err(DecodeError::MissingField {
            message: "Attachment",
            field: "url"
        })
    );
}

#[test]
fn status_with_an_unknown_status_value_is_invalid() {
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x09, // body length 9
        0x08, 0x11, // wrapper field 1 (type), varint: TYPE_STATUS_CHANGED = 17
        0x12, 0x05, // wrapper field 2 (payload), length-delimited, 5 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x18, 0x07, // field 3 (status), varint: 7, not a StatusType
    ]);
    assert_eq!(
        result,
        Err(DecodeError::InvalidEnum {
            message: "Status",
            field: "status",
            enum_name: "StatusType",
            value: 7
        })
    );
}

#[test]
fn participant_with_an_unknown_status_value_is_invalid() {
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x11, // body length 17
        0x08, 0x0d, // wrapper field 1 (type), varint: TYPE_PARTICIPANT_CHANGED = 13
        0x12, 0x0d, // wrapper field 2 (payload), length-delimited, 13 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'r', // field 2 (room), length-delimited: "r"
        0x1a, 0x01, b'n', // field 3 (nickname), length-delimited: "n"
        0x20, 0x00, // field 4 (flag), varint: 0
        0x28, 0x09, // field 5 (status), varint: 9, not a StatusType
    ]);
    assert!(
        matches!(
            result,
            Err(DecodeError::InvalidEnum {
                message: "Participant",
                field: "status",
                value: 9,
                ..
            })
        ),
        "got {result:?}"
    );
}

#[test]
fn buddy_with_an_unknown_optional_status_is_accepted() {
    // Buddy.status is optional: the reference implementations accept any
    // number there, so this is not an error.
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x0c, // body length 12
        0x08, 0x06, // wrapper field 1 (type), varint: TYPE_BUDDY_CHANGED = 6
        0x12, 0x08, // wrapper field 2 (payload), length-delimited, 8 bytes
        0x0a, 0x01, b'u', // field 1 (userName), length-delimited: "u"
        0x12, 0x01, b'b', // field 2 (buddyName), length-delimited: "b"
        0x28, 0x07, // field 5 (status), varint: 7, not a StatusType
    ]);
    assert_eq!(
        result,
        Ok(Payload::BuddyChanged(Buddy {
            user_name: "u".into(),
            buddy_name: "b".into(),
            status: Some(7),
            ..Default::default()
        }))
    );
}

#[test]
fn raw_xml_that_is_not_utf8_is_invalid() {
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x06, // body length 6
        0x08, 0x22, // wrapper field 1 (type), varint: TYPE_RAW_XML = 34
        0x12, 0x02, // wrapper field 2 (payload), length-delimited, 2 bytes
        0xc3, 0x28, // an invalid UTF-8 sequence
    ]);
    assert_eq!(result, Err(DecodeError::InvalidXmlText));
}

#[test]
fn string_field_that_is_not_utf8_is_malformed() {
    let result = payload_of(&[
        0x00, 0x00, 0x00, 0x08, // body length 8
        0x08, 0x01, // wrapper field 1 (type), varint: TYPE_CONNECTED = 1
        0x12, 0x04, // wrapper field 2 (payload), length-delimited, 4 bytes
        0x0a, 0x02, 0xc3, 0x28, // field 1 (user), length-delimited: invalid UTF-8
    ]);
    assert!(
        matches!(
            result,
            Err(DecodeError::Malformed {
                message: "Connected",
                ..
            })
        ),
        "got {result:?}"
    );
}

// (g) ------------------------------------------------------------------------

#[test]
fn encoding_more_than_the_maximum_is_refused() {
    // RAW_XML with 100 bytes of text: body = 08 22 12 64 + 100 = 104 bytes.
    let wrapper = Payload::RawXml("x".repeat(100)).to_wrapper();

    let mut out = BytesMut::new();
    let error = FrameCodec::with_max_frame_length(103)
        .encode(wrapper.clone(), &mut out)
        .expect_err("104 bytes exceed a maximum of 103");
    assert!(
        matches!(
            error,
            EncodeError::TooLarge {
                kind: TypeNumber(34),
                len: 104,
                max: 103
            }
        ),
        "got {error:?}"
    );
    assert!(
        error.to_string().contains("TYPE_RAW_XML"),
        "Display was {error}"
    );
    assert!(out.is_empty(), "nothing may be written on error");

    // Exactly the maximum is fine.
    FrameCodec::with_max_frame_length(104)
        .encode(&wrapper, &mut out)
        .expect("104 bytes fit a maximum of 104");
    assert_eq!(out.len(), 4 + 104);
    assert_eq!(&out[..4], &[0x00, 0x00, 0x00, 0x68]); // body length 104
}

#[test]
fn encoding_an_unknown_type_too_large_names_its_number() {
    let wrapper = WrapperMessage {
        r#type: 99,
        payload: Some(Bytes::from_static(&[0; 64])),
    };
    let error = FrameCodec::with_max_frame_length(8)
        .encode(wrapper, &mut BytesMut::new())
        .expect_err("too large");
    assert!(error.to_string().contains("type 99"), "Display was {error}");
}

//! The one-pass decoders (the frame's wrapper read by hand, each payload
//! decoded and checked for required fields in the same walk) against the
//! two-pass reference: prost's decode, then the required-field check. The
//! inputs are sequences of protobuf fields, mostly well-formed, so that
//! valid messages, missing fields, groups, nested attachments, bad UTF-8
//! and truncations all occur.

use proptest::prelude::*;
use spectrum_proto::fuzzing;

/// One field: number, wire type, and content shaped by the wire type.
fn field() -> impl Strategy<Value = Vec<u8>> {
    let content = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..12),
        2 => Just(b"alice@example.org".to_vec()),
        1 => Just(vec![0xff, 0xfe]),
        // An attachment with and without its url (field 11 of a message).
        1 => Just(vec![0x0a, 0x01, b'u']),
        1 => Just(vec![0x12, 0x00]),
    ];
    (
        0u64..14,
        prop_oneof![8 => 0u64..6, 1 => 6u64..8],
        content,
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(number, wire, content, value, truncate)| {
            let mut out = Vec::new();
            varint(number << 3 | wire, &mut out);
            match wire {
                0 => varint(value % 300, &mut out),
                1 => out.extend_from_slice(&value.to_le_bytes()),
                2 => {
                    varint(content.len() as u64, &mut out);
                    out.extend_from_slice(&content);
                }
                3 => {
                    // A group: a varint inside, then its end.
                    varint(1 << 3, &mut out);
                    varint(value % 300, &mut out);
                    varint(number << 3 | 4, &mut out);
                }
                5 => out.extend_from_slice(&value.to_le_bytes()[..4]),
                _ => {}
            }
            if truncate && value % 7 == 0 {
                out.pop();
            }
            out
        })
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn one_pass_decoding_matches_two_pass(fields in prop::collection::vec(field(), 0..8)) {
        fuzzing::one_pass(&fields.concat());
    }

    #[test]
    fn one_pass_decoding_matches_two_pass_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        fuzzing::one_pass(&bytes);
    }
}

/// Wrappers as writers make them, and the forms the hand-read path must
/// leave to prost.
#[test]
fn wrapper_forms() {
    let cases: &[&[u8]] = &[
        &[],
        &[0x08, 0x09],
        &[0x08, 0x08, 0x12, 0x00],
        &[0x08, 0x08, 0x12, 0x02, 0x0a, 0x00],
        // Payload shorter or longer than announced.
        &[0x08, 0x08, 0x12, 0x03, 0x0a, 0x00],
        &[0x08, 0x08, 0x12, 0x01, 0x0a, 0x00],
        // Type as a long (non-minimal) varint, and beyond i32.
        &[0x08, 0x88, 0x80, 0x00],
        &[0x08, 0xff, 0xff, 0xff, 0xff, 0x0f],
        &[0x08, 0xff, 0xff, 0xff, 0xff, 0x07],
        // Negative type: ten bytes.
        &[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        // Payload before type, type twice, no type, unknown field.
        &[0x12, 0x00, 0x08, 0x08],
        &[0x08, 0x08, 0x08, 0x09],
        &[0x12, 0x00],
        &[0x08, 0x08, 0x18, 0x01],
        // Truncated keys and varints.
        &[0x08],
        &[0x08, 0x80],
        &[0x08, 0x08, 0x12],
        &[0x08, 0x08, 0x12, 0x80],
    ];
    for case in cases {
        fuzzing::one_pass(case);
    }
}

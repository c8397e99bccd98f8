//! WrapperMessage-to-typed-payload decoding: the first byte is the type
//! number, the rest the payload.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((kind, payload)) = data.split_first() else { return };
    spectrum_proto::fuzzing::typed(spectrum_proto::WrapperMessage {
        r#type: i32::from(*kind),
        payload: Some(payload.to_vec().into()),
    });
});

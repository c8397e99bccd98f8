//! The frame decoder on arbitrary bytes: the first byte chooses where the
//! stream is cut into reads.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (cut, rest) = data.split_first().map_or((0, data), |(c, r)| (usize::from(*c), r));
    let cuts: Vec<usize> = (1..=4).map(|k| cut * k).collect();
    spectrum_proto::fuzzing::frame_stream(rest, &cuts);
});

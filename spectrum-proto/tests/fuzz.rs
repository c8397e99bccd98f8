//! The fuzz targets' invariants on the stable toolchain: proptest feeds
//! arbitrary and near-valid byte streams, 10,000 cases per target, and a
//! counting allocator checks that no single allocation exceeds the frame
//! limit, whatever length prefix the input announces.

// A global allocator that measures allocations cannot be written without
// `unsafe`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use proptest::prelude::*;
use spectrum_proto::WrapperMessage;
use spectrum_proto::fuzzing::{self, FUZZ_MAX_FRAME};

struct Counting;

static WATCHING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if WATCHING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns the largest single allocation it made. Tests in
/// this file run one at a time (see `watched`), so the figure is theirs.
fn largest_allocation(f: impl FnOnce()) -> usize {
    LARGEST.store(0, Ordering::Relaxed);
    WATCHING.store(true, Ordering::Relaxed);
    f();
    WATCHING.store(false, Ordering::Relaxed);
    LARGEST.load(Ordering::Relaxed)
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Frames: a length prefix (often plausible, sometimes huge) and a body
/// that is random, a real wrapper, or a real wrapper with bytes flipped.
fn frame() -> impl Strategy<Value = Vec<u8>> {
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (
            1i32..=40,
            prop::option::of(prop::collection::vec(any::<u8>(), 0..48))
        )
            .prop_map(|(t, p)| {
                use prost::Message;
                WrapperMessage {
                    r#type: t,
                    payload: p.map(Into::into),
                }
                .encode_to_vec()
            }),
    ];
    (body, any::<u32>(), 0u8..8).prop_map(|(body, wild_len, mode)| {
        let len = if mode == 0 {
            wild_len
        } else {
            body.len() as u32
        };
        let mut out = len.to_be_bytes().to_vec();
        out.extend_from_slice(&body);
        out
    })
}

fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    (
        prop::collection::vec(frame(), 0..6),
        prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    )
        .prop_map(|(frames, cuts)| {
            let data: Vec<u8> = frames.concat();
            let cuts = cuts.iter().map(|i| i.index(data.len().max(1))).collect();
            (data, cuts)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Target `frame_decoder`: arbitrary bytes, arbitrarily chunked.
    #[test]
    fn frame_decoder(data in prop::collection::vec(any::<u8>(), 0..512), cuts in prop::collection::vec(0usize..512, 0..8)) {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let largest = largest_allocation(|| { fuzzing::frame_stream(&data, &cuts); });
        prop_assert!(largest <= FUZZ_MAX_FRAME + 4096, "allocated {largest} bytes");
    }

    /// Target `frame_decoder` with near-valid streams.
    #[test]
    fn frame_decoder_structured((data, cuts) in stream()) {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let largest = largest_allocation(|| { fuzzing::frame_stream(&data, &cuts); });
        prop_assert!(largest <= FUZZ_MAX_FRAME + 4096, "allocated {largest} bytes");
    }

    /// Target `typed_payload`: any type number with any payload bytes.
    #[test]
    fn typed_payload(kind in -2i32..=40, payload in prop::option::of(prop::collection::vec(any::<u8>(), 0..256))) {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let wrapper = WrapperMessage { r#type: kind, payload: payload.map(Into::into) };
        let largest = largest_allocation(|| fuzzing::typed(wrapper));
        prop_assert!(largest <= FUZZ_MAX_FRAME, "allocated {largest} bytes");
    }
}

/// The allocation check is not vacuous: decoding a 40 KiB frame is seen.
#[test]
fn the_counter_sees_large_allocations() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut data = (40_000u32 + 2).to_be_bytes().to_vec();
    data.extend_from_slice(&[0x08, 0x08]);
    data.extend(std::iter::repeat_n(0u8, 40_000));
    let largest = largest_allocation(|| {
        fuzzing::frame_stream(&data, &[3, 9]);
    });
    assert!(largest >= 40_000, "saw only {largest} bytes");
}

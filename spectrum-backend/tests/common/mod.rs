//! Helpers shared by the runtime's integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use spectrum_backend::proto::Payload;
use spectrum_backend::testing::MainInstance;

/// Every frame the backend sent, in order.
pub(crate) fn from_backend(main: &MainInstance) -> Vec<Payload> {
    main.received().cloned().collect()
}

/// The BUDDY_REMOVED frames the logout handler sent for `user`.
pub(crate) fn logouts(frames: &[Payload], user: &str) -> Vec<String> {
    frames
        .iter()
        .filter_map(|p| match p {
            Payload::BuddyRemoved(b) if b.user_name == user => Some(b.buddy_name.clone()),
            _ => None,
        })
        .collect()
}

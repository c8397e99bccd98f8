//! Test support: a real Synapse on loopback, and helpers shared by the
//! client and end-to-end tests.

#![allow(dead_code, unused_imports, unreachable_pub)]

mod synapse;

use std::fmt;

pub use synapse::{SERVER_NAME, Synapse, free_port};

/// A test failure, shown as text (harness transcripts keep their layout).
pub struct Report(String);

impl<E: fmt::Display> From<E> for Report {
    fn from(e: E) -> Self {
        Report(e.to_string())
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a test returns.
pub type TestResult = Result<(), Report>;

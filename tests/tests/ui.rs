//! Compile-fail and compile-pass snapshots of `#[backend]` and `#[on(..)]`.
//!
//! Regenerate after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p spectrum-tests --test ui`, then review
//! the diff of `tests/ui`. One case: `cargo test -p spectrum-tests --test ui -- ui trybuild=NAME.rs`.

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "UI snapshots are recorded with rustc 1.95; after a toolchain bump rerun with TRYBUILD=overwrite and review the diff"
)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}

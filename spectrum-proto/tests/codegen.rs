//! Drift test for the checked-in prost code.
//!
//! `src/generated/pbnetwork.rs` is generated from `proto/protocol.proto` and
//! committed so that building the crate needs no `protoc`. This test compiles
//! the proto with the pure-Rust `protox` compiler, generates Rust with
//! `prost-build` exactly as the committed file was produced, and fails if the
//! two differ. Run with `UPDATE_PROTO=1` to rewrite the committed file.

use std::path::{Path, PathBuf};

const UPDATE_HINT: &str = "UPDATE_PROTO=1 cargo test -p spectrum-proto --test codegen";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Generates `pbnetwork.rs` from the proto into a temporary directory and
/// returns its text.
fn generate() -> String {
    let proto_dir = manifest_dir().join("proto");
    let fds = protox::compile(["protocol.proto"], [&proto_dir])
        .expect("protox failed to compile proto/protocol.proto");
    let out = tempfile::tempdir().expect("cannot create a temporary directory");
    prost_build::Config::new()
        .btree_map(["."])
        .bytes([
            ".pbnetwork.WrapperMessage.payload",
            ".pbnetwork.VCard.photo",
        ])
        .out_dir(out.path())
        .compile_fds(fds)
        .expect("prost-build failed to generate code");
    let generated = out.path().join("pbnetwork.rs");
    std::fs::read_to_string(&generated)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", generated.display()))
}

fn first_difference(a: &str, b: &str) -> String {
    for (n, (la, lb)) in a.lines().zip(b.lines()).enumerate() {
        if la != lb {
            return format!(
                "first difference at line {}:\n  committed: {la:?}\n  generated: {lb:?}",
                n + 1
            );
        }
    }
    format!(
        "the files differ in length or line endings ({} vs {} lines, {} vs {} bytes)",
        a.lines().count(),
        b.lines().count(),
        a.len(),
        b.len()
    )
}

#[test]
fn generated_code_matches_the_proto() {
    let committed_path: PathBuf = manifest_dir().join("src/generated/pbnetwork.rs");
    let fresh = generate();
    assert!(
        fresh.contains("pub struct WrapperMessage"),
        "generated code looks wrong: no WrapperMessage"
    );

    if std::env::var_os("UPDATE_PROTO").is_some_and(|v| v == "1") {
        std::fs::write(&committed_path, &fresh)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", committed_path.display()));
        eprintln!("updated {}", committed_path.display());
        return;
    }

    let committed = read(&committed_path);
    assert!(
        committed == fresh,
        "{} is out of date with proto/protocol.proto ({}).\nRun `{UPDATE_HINT}` to regenerate it.",
        committed_path.display(),
        first_difference(&committed, &fresh),
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nRun `{UPDATE_HINT}` to generate it.",
            path.display()
        )
    })
}

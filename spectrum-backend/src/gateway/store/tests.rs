use super::*;

use serde::Deserialize;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Session {
    token: String,
    expires: u64,
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[test]
fn values_survive_a_restart() {
    let dir = tempdir();
    let session = Session {
        token: "abc".into(),
        expires: 1_700_000_000,
    };
    {
        let store = Store::open(dir.path()).expect("opens");
        let alice = store.user("alice@example.org");
        alice.set("session", &session).expect("stored");
        alice.set("seen", &vec![1, 2, 3]).expect("stored");
        alice.set("gone", "soon").expect("stored");
        assert!(alice.remove("gone").expect("removed"));
        assert!(!alice.remove("gone").expect("already gone"));
    }
    let store = Store::open(dir.path()).expect("opens again");
    assert_eq!(store.path(), dir.path().join(FILE_NAME));
    let alice = store.user("alice@example.org");
    assert_eq!(
        alice.get::<Session>("session").expect("read"),
        Some(session)
    );
    assert_eq!(
        alice.get::<Vec<u8>>("seen").expect("read"),
        Some(vec![1, 2, 3])
    );
    assert_eq!(alice.get::<String>("gone").expect("read"), None);
    assert_eq!(alice.keys().expect("keys"), ["seen", "session"]);
}

#[test]
fn users_do_not_see_each_other() {
    let dir = tempdir();
    let store = Store::open(dir.path()).expect("opens");
    let alice = store.user("alice@example.org");
    let bob = store.user("bob@example.org");
    alice.set("token", "a").expect("stored");
    bob.set("token", "b").expect("stored");
    bob.set("only-bob", &true).expect("stored");
    assert_eq!(
        alice.get::<String>("token").expect("read").as_deref(),
        Some("a")
    );
    assert_eq!(
        bob.get::<String>("token").expect("read").as_deref(),
        Some("b")
    );
    assert_eq!(alice.keys().expect("keys"), ["token"]);
    assert_eq!(alice.clear().expect("cleared"), 1);
    assert_eq!(bob.keys().expect("keys"), ["only-bob", "token"]);
}

#[test]
fn a_transaction_keeps_all_or_nothing() {
    let dir = tempdir();
    let alice = Store::open(dir.path())
        .expect("opens")
        .user("alice@example.org");
    alice.set("n", &1).expect("stored");
    let failed: Result<(), StoreError> = alice.update(|tx| {
        tx.set("n", &2)?;
        tx.set("other", "x")?;
        assert_eq!(
            tx.get::<i32>("n")?,
            Some(2),
            "the transaction sees its writes"
        );
        // Asking for the wrong type fails the whole change.
        tx.get::<Vec<String>>("n")?;
        Ok(())
    });
    assert!(matches!(failed, Err(StoreError::Decode { ref key, .. }) if key == "n"));
    assert_eq!(alice.get::<i32>("n").expect("read"), Some(1));
    assert_eq!(alice.get::<String>("other").expect("read"), None);
    let n = alice
        .update(|tx| {
            let n = tx.get::<i32>("n")?.unwrap_or(0) + 1;
            tx.set("n", &n)?;
            tx.remove("missing")?;
            Ok::<_, StoreError>(n)
        })
        .expect("committed");
    assert_eq!(n, 2);
    assert_eq!(alice.get::<i32>("n").expect("read"), Some(2));
}

#[test]
fn a_file_that_is_no_database_gives_a_clear_error() {
    let dir = tempdir();
    let path = dir.path().join(FILE_NAME);
    let garbage: Vec<u8> = b"this is not a database, ".repeat(300);
    std::fs::write(&path, &garbage).expect("written");
    let err = Store::open(dir.path()).expect_err("refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("corrupt"), "{text}");
    // Nothing was changed in it.
    assert_eq!(std::fs::read(&path).expect("still there"), garbage);
}

#[test]
fn a_damaged_database_gives_a_clear_error() {
    let dir = tempdir();
    {
        let alice = Store::open(dir.path())
            .expect("opens")
            .user("alice@example.org");
        for i in 0..200 {
            alice
                .set(&format!("key{i}"), &"v".repeat(100))
                .expect("stored");
        }
    }
    // Overwrite everything after the header page with noise.
    let path = dir.path().join(FILE_NAME);
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() > 4096, "{} bytes", bytes.len());
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&path, &bytes).expect("written");
    let err = Store::open(dir.path()).expect_err("refused");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_directory_that_cannot_be_made_gives_a_clear_error() {
    let dir = tempdir();
    // A file where the directory should be: refused even for root.
    let blocker = dir.path().join("state");
    std::fs::write(&blocker, b"a file").expect("written");
    let err = Store::open(&blocker).expect_err("refused");
    assert!(matches!(err, StoreError::Directory { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("cannot create the state directory"),
        "{err}"
    );
}

#[test]
fn a_database_file_that_cannot_be_opened_gives_a_clear_error() {
    let dir = tempdir();
    // A directory where the database file should be.
    std::fs::create_dir(dir.path().join(FILE_NAME)).expect("made");
    let err = Store::open(dir.path()).expect_err("refused");
    assert!(matches!(err, StoreError::Unwritable { .. }), "{err:?}");
    assert!(
        err.to_string().contains("cannot be opened or written"),
        "{err}"
    );
}

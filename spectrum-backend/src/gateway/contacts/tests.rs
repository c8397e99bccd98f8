use super::*;

const USER: &str = "alice@example.org";

fn body(frame: &Payload) -> &proto::Buddy {
    match frame {
        Payload::BuddyChanged(b) | Payload::BuddyRemoved(b) => {
            assert_eq!(b.user_name, USER);
            b
        }
        other => panic!("unexpected frame {other:?}"),
    }
}

#[test]
fn the_icon_hash_is_the_sha1_hex_of_the_image() {
    // FIPS 180 test vector.
    assert_eq!(
        icon_hash(b"abc"),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(icon_hash(&[0u8; 1000]).len(), 40);
    assert_eq!(icon_hash(b""), "");
}

#[test]
fn every_field_is_set_so_that_offline_stays_offline() {
    let mut contacts = Contacts::new(USER);
    let frame = contacts
        .update(
            "Bob",
            Contact::new()
                .alias("Bobby")
                .group("Work")
                .status(StatusType::StatusNone, ""),
        )
        .expect("a new contact is sent");
    assert!(matches!(frame, Payload::BuddyChanged(_)));
    let b = body(&frame);
    assert_eq!(b.buddy_name, "Bob");
    assert_eq!(b.alias.as_deref(), Some("Bobby"));
    assert_eq!(b.group, ["Work"]);
    assert_eq!(b.status, Some(StatusType::StatusNone as i32));
    assert_eq!(b.status_message.as_deref(), Some(""));
    assert_eq!(b.icon_hash.as_deref(), Some(""));
    assert_eq!(b.blocked, Some(false));
}

#[test]
fn a_new_contact_is_sent_even_offline_and_bare() {
    let mut contacts = Contacts::new(USER);
    let bare = Contact::new().status(StatusType::StatusNone, "");
    assert!(contacts.update("eve", bare.clone()).is_some());
    assert!(contacts.update("eve", bare).is_none());
}

#[test]
fn only_changes_are_sent() {
    let mut contacts = Contacts::new(USER);
    let bob = Contact::new().alias("Bob");
    assert!(contacts.update("bob", bob.clone()).is_some());
    assert!(contacts.update("bob", bob.clone()).is_none());
    assert!(contacts.update("BOB", bob.clone()).is_none(), "names fold");
    assert!(
        contacts
            .status_changed("bob", StatusType::StatusOnline, "")
            .is_none()
    );
    let away = contacts
        .status_changed("bob", StatusType::StatusDnd, "busy")
        .expect("a change");
    assert_eq!(body(&away).status, Some(StatusType::StatusDnd as i32));
    assert_eq!(
        body(&away).alias.as_deref(),
        Some("Bob"),
        "the rest is kept"
    );
    let avatar = contacts
        .avatar_changed("bob", b"png")
        .expect("a new avatar");
    assert_eq!(body(&avatar).icon_hash, Some(icon_hash(b"png")));
    assert!(contacts.avatar_changed("bob", b"png").is_none());
    assert!(contacts.avatar_changed("bob", b"").is_some(), "cleared");
}

#[test]
fn the_login_batch_carries_only_what_spectrum_lacks() {
    let mut contacts = Contacts::new(USER);
    let stored = |name: &str, alias: &str| proto::Buddy {
        user_name: USER.into(),
        buddy_name: name.into(),
        alias: Some(alias.into()),
        group: vec!["Friends".into()],
        status: Some(StatusType::StatusNone as i32),
        icon_hash: Some(String::new()),
        ..Default::default()
    };
    contacts.known_from_main(&proto::Buddies {
        buddy: vec![
            stored("bob", "Bob"),
            stored("carol", "Carol"),
            stored("old", ""),
        ],
    });
    let batch = contacts.roster([
        // Offline, as Spectrum 2 has it: nothing to say.
        (
            "bob",
            Contact::new()
                .alias("Bob")
                .group("Friends")
                .status(StatusType::StatusNone, ""),
        ),
        // Online now.
        ("carol", Contact::new().alias("Carol").group("Friends")),
        // New.
        ("dave", Contact::new()),
    ]);
    let names: Vec<_> = batch.iter().map(|f| body(f).buddy_name.as_str()).collect();
    assert_eq!(names, ["carol", "dave"]);
    assert_eq!(contacts.unconfirmed().collect::<Vec<_>>(), ["old"]);
}

#[test]
fn removal_is_sent_once_for_known_contacts() {
    let mut contacts = Contacts::new(USER);
    contacts.update("bob", Contact::new());
    let removed = contacts.removed("Bob").expect("known");
    assert!(matches!(removed, Payload::BuddyRemoved(_)));
    assert_eq!(body(&removed).buddy_name, "bob");
    assert!(contacts.removed("bob").is_none());
    assert!(contacts.get("bob").is_none());
}

#[test]
fn the_users_own_roster_edits_are_not_echoed() {
    let mut contacts = Contacts::new(USER);
    contacts.update("bob", Contact::new().alias("Bob").group("A"));
    contacts.changed_by_user(&proto::Buddy {
        user_name: USER.into(),
        buddy_name: "bob".into(),
        alias: Some("Robert".into()),
        group: vec!["B".into()],
        ..Default::default()
    });
    assert!(
        contacts
            .update("bob", Contact::new().alias("Robert").group("B"))
            .is_none()
    );
    contacts.removed_by_user("BOB");
    assert_eq!(contacts.iter().count(), 0);
}

#[test]
fn a_lost_network_takes_everyone_offline_once() {
    let mut contacts = Contacts::new(USER);
    contacts.update("bob", Contact::new());
    contacts.update("carol", Contact::new().status(StatusType::StatusNone, ""));
    let frames = contacts.all_offline();
    assert_eq!(frames.len(), 1);
    assert_eq!(body(&frames[0]).buddy_name, "bob");
    assert_eq!(body(&frames[0]).status, Some(StatusType::StatusNone as i32));
    assert!(contacts.all_offline().is_empty());
}

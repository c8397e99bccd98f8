//! Drives every stub of the template through a spawned process, so that the
//! template keeps compiling, running and answering as its comments say.

use spectrum_backend::proto::{self, MessageType, ParticipantFlag, Payload, StatusType};
use spectrum_backend::testing::{MainInstance, Result};
use std::time::Duration;

const CONFIG: &str = "[service]\njid = template.localhost\n[backend]\ngreeting = welcome\n";
const USER: &str = "alice@localhost";
/// This package's executable, whatever the package is called.
const BACKEND: &str = env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")));

fn buddy(name: &str) -> proto::Buddy {
    proto::Buddy {
        user_name: USER.into(),
        buddy_name: name.into(),
        alias: Some("Bob".into()),
        group: vec!["Friends".into()],
        status: Some(StatusType::StatusNone as i32),
        ..Default::default()
    }
}

fn conv(buddy: &str, text: &str) -> proto::ConversationMessage {
    proto::ConversationMessage {
        user_name: USER.into(),
        buddy_name: buddy.into(),
        message: text.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_stub_answers_as_documented() -> Result<()> {
    let mut main = MainInstance::spawn(BACKEND, CONFIG).await?;
    let hello = main.handshake().await?;
    let config = hello.backend_config.unwrap_or_default();
    assert!(
        config.contains("muc=1"),
        "JoinRoom is handled, so rooms are announced: {config}"
    );
    assert!(
        !config.contains("rawxml=1") && !config.contains("send_buddies_on_login"),
        "{config}"
    );

    // Login, with the greeting from the [backend] section.
    main.set_status(USER, StatusType::StatusAway, "before login")
        .await?;
    main.login(USER, "alice", "pw").await?;
    let greeting = main.expect_message(USER).await?;
    assert_eq!(
        (greeting.buddy_name.as_str(), greeting.message.as_str()),
        (env!("CARGO_PKG_NAME"), "welcome")
    );

    // Contacts: added, confirmed, shown in the vCard, removed.
    main.send(Payload::BuddyChanged(buddy("bob"))).await?;
    let confirmed = main.expect_type(MessageType::BuddyChanged).await?;
    assert!(
        matches!(&confirmed, Payload::BuddyChanged(b) if b.buddy_name == "bob" && b.alias.as_deref() == Some("Bob") && b.group == ["Friends"]),
        "{confirmed:?}"
    );
    let vcard = main.vcard(USER, "bob").await?;
    assert_eq!(vcard.nickname.as_deref(), Some("Bob"));
    main.send(Payload::BuddyRemoved(buddy("bob"))).await?;
    let removed = main.expect_type(MessageType::BuddyRemoved).await?;
    assert!(matches!(removed, Payload::BuddyRemoved(b) if b.buddy_name == "bob"));

    // A message with a receipt request gets its ack.
    let mut msg = conv("bob", "hi");
    msg.id = Some("m1".into());
    main.send(Payload::ConvMessage(msg)).await?;
    let ack = main.expect_type(MessageType::ConvMessageAck).await?;
    assert!(matches!(ack, Payload::ConvMessageAck(a) if a.id.as_deref() == Some("m1")));

    // Rooms: joined with the user last and flagged ME, own messages echoed,
    // subjects confirmed.
    let occupants = main.join_room(USER, "#rust", "alice", "").await?;
    let me = occupants.last().expect("the user itself");
    assert_eq!(me.nickname, "alice");
    assert_ne!(me.flag & ParticipantFlag::Me.bit(), 0);
    main.send_message(USER, "#rust", "hello room").await?;
    let echoed = main.expect_message(USER).await?;
    assert_eq!(
        (echoed.buddy_name.as_str(), echoed.nickname.as_deref()),
        ("#rust", Some("alice"))
    );
    main.send(Payload::RoomSubjectChanged(conv("#rust", "new topic")))
        .await?;
    let subject = main.expect_type(MessageType::RoomSubjectChanged).await?;
    assert!(
        matches!(subject, Payload::RoomSubjectChanged(s) if s.message == "new topic" && s.nickname.as_deref() == Some("alice"))
    );
    main.leave_room(USER, "#rust").await?;

    // Events with nothing to answer are accepted silently.
    for kind in [
        Payload::BuddyTyping(buddy("bob")),
        Payload::BuddyTyped(buddy("bob")),
        Payload::BuddyStoppedTyping(buddy("bob")),
    ] {
        main.send(kind).await?;
    }
    main.send(Payload::Attention(conv("bob", "buzz"))).await?;
    main.send(Payload::Vcard(proto::VCard {
        user_name: USER.into(),
        photo: Some(vec![1, 2, 3].into()),
        ..Default::default()
    }))
    .await?;
    main.expect_none(
        "an answer to a silent event",
        Duration::from_millis(300),
        |p| !matches!(p, Payload::Pong | Payload::Stats(_)),
    )
    .await?;

    // Still alive and answering after all of it.
    main.ping().await?;
    main.logout(USER, "alice").await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn bad_settings_refuse_the_login_for_good() -> Result<()> {
    let config = "[backend]\ngreeting = a\ngreeting = b\nunknown = 1\n";
    let mut main = MainInstance::spawn(BACKEND, config).await?;
    main.handshake().await?;
    // Repeated keys are a list; `greeting` is one string: INVALID_SETTINGS (7).
    let refused = main
        .try_login(USER, "alice", "pw")
        .await?
        .expect_err("refused");
    assert_eq!(refused.error, 7, "{refused:?}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

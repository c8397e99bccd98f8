//! End to end: the `matrix` executable, spawned the way Spectrum 2 spawns
//! it, logged in to a real Synapse started for each test, talking with a
//! second Matrix user driven directly through the client.

mod support;

use std::time::Duration;

use matrix_backend::matrix::types::{Event, MsgType, SyncRequest, message_content};
use matrix_backend::matrix::{Client, Limits};
use serde_json::json;
use spectrum_backend::proto::{self, ParticipantFlag, Payload, StatusType};
use spectrum_backend::testing::MainInstance;
use support::{Report, Synapse, TestResult, Watcher};

const USER: &str = "alice@xmpp.test";
const ALICE: &str = "@alice:localhost";
const BOB: &str = "@bob:localhost";

fn config(synapse: &Synapse) -> String {
    format!(
        "[service]\njid = matrix.localhost\nbackend = /usr/bin/matrix\nworking_dir = {}\n\
         [matrix]\nhomeserver = {}\n",
        synapse.backend_dir().display(),
        synapse.url()
    )
}

/// The backend, spawned against `synapse`, past its first PING.
async fn backend(synapse: &Synapse) -> Result<MainInstance, Report> {
    backend_with(&config(synapse)).await
}

/// The backend, spawned with `config`, past its first PING.
async fn backend_with(config: &str) -> Result<MainInstance, Report> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_matrix"), config).await?;
    main.set_timeout(Duration::from_secs(20));
    let hello = main.handshake().await?;
    let features = hello.backend_config.unwrap_or_default();
    for announced in ["muc=1", "needPassword=1", "receipts=1"] {
        assert!(features.contains(announced), "{announced}: {features}");
    }
    Ok(main)
}

/// Registers a user (password `pw-name`) and logs a client in.
async fn user(synapse: &Synapse, name: &str) -> Result<Client, Report> {
    let password = format!("pw-{name}");
    synapse.register(name, &password).await?;
    let mut client = Client::new(&synapse.url(), Limits::default())?;
    client.login(name, &password, "other side").await?;
    Ok(client)
}

/// A direct chat bob opened with alice, before she logs in.
async fn bob_opens_a_direct_chat(bob: &Client) -> Result<String, Report> {
    let room = bob
        .create_room(
            &json!({"preset": "trusted_private_chat", "is_direct": true, "invite": [ALICE]}),
        )
        .await?;
    bob.set_account_data("m.direct", &json!({ ALICE: [room] }))
        .await?;
    Ok(room)
}

/// The BUDDY_CHANGED announcing `buddy` as a contact (with an alias;
/// presence updates carry none).
async fn buddy(main: &mut MainInstance, buddy: &str) -> Result<proto::Buddy, Report> {
    Ok(main
        .expect(&format!("BUDDY_CHANGED for {buddy}"), |p| match p {
            Payload::BuddyChanged(b)
                if b.buddy_name == buddy && !b.alias.as_deref().unwrap_or_default().is_empty() =>
            {
                Some(b.clone())
            }
            _ => None,
        })
        .await?)
}

/// A CONV_MESSAGE from the XMPP user, with a receipt request id.
async fn send(main: &mut MainInstance, buddy: &str, text: &str, id: &str) -> TestResult {
    main.send(Payload::ConvMessage(proto::ConversationMessage {
        user_name: USER.into(),
        buddy_name: buddy.into(),
        message: text.into(),
        id: Some(id.into()),
        ..Default::default()
    }))
    .await?;
    Ok(())
}

/// Synapse, bob (with a direct chat with alice and a display name), and
/// the backend with alice logged in and bob announced.
async fn alice_and_bob() -> Result<(Synapse, MainInstance, Client, String), Report> {
    alice_and_bob_with("").await
}

/// [`alice_and_bob`] with more `[matrix]` settings for the backend.
async fn alice_and_bob_with(
    settings: &str,
) -> Result<(Synapse, MainInstance, Client, String), Report> {
    let synapse = Synapse::start().await?;
    synapse.register("alice", "pw-alice").await?;
    let bob = user(&synapse, "bob").await?;
    bob.set_display_name("Bob B.").await?;
    let dm = bob_opens_a_direct_chat(&bob).await?;
    let mut main = backend_with(&format!("{}{settings}", config(&synapse))).await?;
    main.login(USER, ALICE, "pw-alice").await?;
    let contact = buddy(&mut main, BOB).await?;
    assert_eq!(contact.alias.as_deref(), Some("Bob B."));
    Ok((synapse, main, bob, dm))
}

#[tokio::test]
async fn direct_chat_partners_are_contacts_and_messages_flow_both_ways() -> TestResult {
    let (_synapse, mut main, bob, dm) = alice_and_bob().await?;
    let mut watcher = Watcher::new(&bob).await?;

    bob.send_message(
        &dm,
        &message_content(MsgType::Text, "hello *alice*", Some("hello <b>alice</b>")),
    )
    .await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.buddy_name.as_str(), m.message.as_str()),
        (BOB, "hello *alice*")
    );
    assert_eq!(m.xhtml.as_deref(), Some("hello <strong>alice</strong>"));
    assert_eq!(m.nickname.as_deref().unwrap_or_default(), "", "not a room");

    bob.send_message(&dm, &message_content(MsgType::Emote, "waves", None))
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "/me waves");
    bob.send_message(&dm, &message_content(MsgType::Notice, "from a bot", None))
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "from a bot");

    main.send_message(USER, BOB, "hi bob").await?;
    let got = watcher.message(&dm, ALICE).await?;
    assert_eq!(
        (got["msgtype"].as_str(), got["body"].as_str()),
        (Some("m.text"), Some("hi bob"))
    );
    main.send_message(USER, BOB, "/me nods").await?;
    let got = watcher.message(&dm, ALICE).await?;
    assert_eq!(
        (got["msgtype"].as_str(), got["body"].as_str()),
        (Some("m.emote"), Some("nods"))
    );

    // A URL on a host the config does not allow (here loopback) is a link,
    // not fetched by the backend.
    let mxc = bob
        .upload(b"private".to_vec(), "text/plain", "p.txt")
        .await?;
    let local = bob.download_url(&mxc).ok_or("a URL")?;
    main.send_message(USER, BOB, &local).await?;
    let got = watcher.message(&dm, ALICE).await?;
    assert_eq!(
        (got["msgtype"].as_str(), got["body"].as_str()),
        (Some("m.text"), Some(local.as_str()))
    );

    // alice's messages sent through the backend are not reported back; one
    // from another of her clients is, as a carbon.
    let phone = {
        let mut c = Client::new(bob.base_url(), Limits::default())?;
        c.login("alice", "pw-alice", "phone").await?;
        c
    };
    phone
        .send_message(&dm, &message_content(MsgType::Text, "from my phone", None))
        .await?;
    let carbon = main.expect_message(USER).await?;
    assert_eq!(
        (
            carbon.buddy_name.as_str(),
            carbon.message.as_str(),
            carbon.carbon
        ),
        (BOB, "from my phone", Some(true))
    );

    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_first_message_to_a_new_contact_opens_a_direct_chat() -> TestResult {
    let synapse = Synapse::start().await?;
    synapse.register("alice", "pw-alice").await?;
    let carol = user(&synapse, "carol").await?;
    let mut main = backend(&synapse).await?;
    main.login(USER, ALICE, "pw-alice").await?;

    let since = carol.sync(&SyncRequest::default()).await?.next_batch;
    main.send_message(USER, "@carol:localhost", "hello carol")
        .await?;
    // carol is invited to a direct chat and reads the message once in it.
    let mut watcher = Watcher {
        client: &carol,
        since,
    };
    let room = watcher
        .until("an invitation", |a| a.rooms.invite.keys().next().cloned())
        .await?;
    carol.join(&room).await?;
    // carol became alice's contact.
    let contact = buddy(&mut main, "@carol:localhost").await?;
    assert_eq!(contact.alias.as_deref(), Some("carol"));
    let state = carol.room_state(&room).await?;
    assert!(state.members.contains_key(ALICE));
    assert_eq!(watcher.message(&room, ALICE).await?["body"], "hello carol");

    // A second message goes to the same room.
    main.send_message(USER, "@carol:localhost", "again").await?;
    assert_eq!(watcher.message(&room, ALICE).await?["body"], "again");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn typing_and_read_receipts_both_ways() -> TestResult {
    let (_synapse, mut main, bob, dm) = alice_and_bob().await?;
    let mut watcher = Watcher::new(&bob).await?;

    bob.typing(&dm, true, Duration::from_secs(30)).await?;
    main.expect("BUDDY_TYPING from bob", |p| {
        matches!(p, Payload::BuddyTyping(b) if b.buddy_name == BOB).then_some(())
    })
    .await?;
    bob.typing(&dm, false, Duration::ZERO).await?;
    main.expect("BUDDY_STOPPED_TYPING from bob", |p| {
        matches!(p, Payload::BuddyStoppedTyping(b) if b.buddy_name == BOB).then_some(())
    })
    .await?;

    let typing = |on: bool| {
        let user_ids = if on { json!([ALICE]) } else { json!([]) };
        move |e: &Event| (e.kind == "m.typing" && e.content["user_ids"] == user_ids).then_some(())
    };
    main.send(Payload::BuddyTyping(proto::Buddy {
        user_name: USER.into(),
        buddy_name: BOB.into(),
        ..Default::default()
    }))
    .await?;
    watcher.expect(&dm, "alice typing", typing(true)).await?;
    main.send(Payload::BuddyTyped(proto::Buddy {
        user_name: USER.into(),
        buddy_name: BOB.into(),
        ..Default::default()
    }))
    .await?;
    watcher
        .expect(&dm, "alice not typing", typing(false))
        .await?;

    // bob reads alice's message: the XMPP user gets the receipt.
    send(&mut main, BOB, "did you read this?", "xmpp-7").await?;
    let event = watcher
        .expect(&dm, "alice's message", |e| {
            (e.kind == "m.room.message" && e.sender == ALICE).then(|| e.event_id.clone())
        })
        .await?;
    bob.read_receipt(&dm, &event).await?;
    let ack = main
        .expect("CONV_MESSAGE_ACK", |p| match p {
            Payload::ConvMessageAck(m) => Some(m.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        (ack.buddy_name.as_str(), ack.id.as_deref()),
        (BOB, Some("xmpp-7"))
    );

    // alice answers bob's message: bob gets her read receipt for it.
    let asked = bob
        .send_message(&dm, &message_content(MsgType::Text, "and this?", None))
        .await?;
    main.expect_message(USER).await?;
    main.send_message(USER, BOB, "yes").await?;
    watcher
        .expect(&dm, "alice's receipt for bob's message", |e| {
            (e.kind == "m.receipt" && e.content[&asked]["m.read"].get(ALICE).is_some())
                .then_some(())
        })
        .await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn attachments_travel_as_urls_both_ways() -> TestResult {
    // The files are served by the homeserver on loopback, which the backend
    // fetches only from a host the config allows.
    let (_synapse, mut main, bob, dm) =
        alice_and_bob_with("attachment_hosts = 127.0.0.1\n").await?;
    let mut watcher = Watcher::new(&bob).await?;
    let picture = b"\x89PNG pretend picture".to_vec();
    let mxc = bob.upload(picture.clone(), "image/png", "cat.png").await?;
    bob.send_message(
        &dm,
        &matrix_backend::matrix::types::media_content(&mxc, "cat.png", "image/png", picture.len()),
    )
    .await?;
    let m = main.expect_message(USER).await?;
    let attachment = m.attachment.first().ok_or("an attachment")?;
    assert_eq!(m.message, attachment.url, "the body is the URL");
    assert_eq!(attachment.description.as_deref(), Some("cat.png"));
    // The URL works without a token: what an XMPP client does with it.
    assert_eq!(bob.fetch(&attachment.url).await?.bytes, picture);

    // A lone URL from XMPP becomes a file on Matrix.
    let doc = bob
        .upload(b"some text".to_vec(), "text/plain", "notes.txt")
        .await?;
    let url = bob.download_url(&doc).ok_or("a URL")?;
    main.send_message(USER, BOB, &url).await?;
    let file = watcher.message(&dm, ALICE).await?;
    assert_eq!(file["msgtype"], "m.file");
    let uploaded = file["url"].as_str().ok_or("an mxc URI")?;
    assert_ne!(uploaded, doc, "uploaded again, not linked");
    assert_eq!(bob.download(uploaded).await?.bytes, b"some text");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn rooms_show_members_moderators_topics_and_messages() -> TestResult {
    let (synapse, mut main, bob, _dm) = alice_and_bob().await?;
    let room = bob
        .create_room(&json!({"preset": "public_chat", "room_alias_name": "lobby", "name": "Lobby", "topic": "Welcome"}))
        .await?;
    let mut watcher = Watcher::new(&bob).await?;

    // Spectrum 2 lower-cases room names; the answer uses that exact one.
    let occupants = main.join_room(USER, "#lobby:localhost", "ally", "").await?;
    let names: Vec<&str> = occupants.iter().map(|p| p.nickname.as_str()).collect();
    assert_eq!(names, ["Bob B.", "ally"], "the user last");
    assert!(
        occupants[0].flag & ParticipantFlag::Moderator.bit() != 0,
        "bob created it"
    );
    let renamed = occupants[1].newname.as_deref();
    assert_eq!(renamed, Some("alice"), "the Matrix display name wins");
    let (text, by) = main
        .expect("the subject", |p| match p {
            Payload::RoomSubjectChanged(m) if m.buddy_name == "#lobby:localhost" => {
                Some((m.message.clone(), m.nickname.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .await?;
    assert_eq!((text.as_str(), by.as_str()), ("Welcome", "Bob B."));

    bob.send_message(&room, &message_content(MsgType::Text, "hi all", None))
        .await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (
            m.buddy_name.as_str(),
            m.nickname.as_deref(),
            m.message.as_str()
        ),
        ("#lobby:localhost", Some("Bob B."), "hi all")
    );
    main.send_message(USER, "#lobby:localhost", "hello bob")
        .await?;
    assert_eq!(watcher.message(&room, ALICE).await?["body"], "hello bob");
    let echo = main.expect_message(USER).await?;
    assert_eq!(
        (echo.nickname.as_deref(), echo.message.as_str()),
        (Some("alice"), "hello bob"),
        "the user's own message, echoed"
    );

    // Someone joins; the topic changes on either side.
    let carol = user(&synapse, "carol").await?;
    carol.join("#lobby:localhost").await?;
    let joined = main
        .expect("carol's arrival", |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "carol" => Some(p.status),
            _ => None,
        })
        .await?;
    assert_eq!(joined, StatusType::StatusOnline as i32);
    bob.set_state(&room, "m.room.topic", "", &json!({"topic": "Changed"}))
        .await?;
    let subject = main
        .expect("the new subject", |p| match p {
            Payload::RoomSubjectChanged(m) => Some(m.message.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(subject, "Changed");
    let set_subject = Payload::RoomSubjectChanged(proto::ConversationMessage {
        user_name: USER.into(),
        buddy_name: "#lobby:localhost".into(),
        message: "From XMPP".into(),
        ..Default::default()
    });
    // Not allowed yet: the user is told so in the room.
    main.send(set_subject.clone()).await?;
    let refused = main.expect_message(USER).await?;
    assert!(
        refused.message.starts_with("The topic was not changed"),
        "{refused:?}"
    );
    // bob makes alice a moderator; she then may.
    bob.set_state(
        &room,
        "m.room.power_levels",
        "",
        &json!({"users": {ALICE: 50}, "state_default": 50}),
    )
    .await?;
    let promoted = main
        .expect("alice promoted", |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "alice" => Some(p.flag),
            _ => None,
        })
        .await?;
    assert!(promoted & ParticipantFlag::Moderator.bit() != 0);
    main.send(set_subject).await?;
    watcher
        .expect(&room, "alice's topic", |e| {
            (e.kind == "m.room.topic"
                && e.sender == ALICE
                && e.content_str("topic") == Some("From XMPP"))
            .then_some(())
        })
        .await?;
    carol.leave(&room).await?;
    let left = main
        .expect("carol leaving", |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "carol" => Some(p.status),
            _ => None,
        })
        .await?;
    assert_eq!(left, StatusType::StatusNone as i32);

    main.leave_room(USER, "#lobby:localhost").await?;
    watcher
        .expect(&room, "alice leaving", |e| {
            (e.kind == "m.room.member"
                && e.state_key.as_deref() == Some(ALICE)
                && e.content_str("membership") == Some("leave"))
            .then_some(())
        })
        .await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// The subject of `room` sent next.
async fn subject_of(main: &mut MainInstance, room: &str) -> Result<String, Report> {
    Ok(main
        .expect(&format!("the subject of {room}"), |p| match p {
            Payload::RoomSubjectChanged(m) if m.buddy_name == room => Some(m.message.clone()),
            _ => None,
        })
        .await?)
}

#[tokio::test]
async fn a_replayed_join_shows_the_room_as_it_is_now() -> TestResult {
    let (synapse, mut main, bob, _dm) = alice_and_bob().await?;
    let room = bob
        .create_room(
            &json!({"preset": "public_chat", "room_alias_name": "replay", "topic": "First"}),
        )
        .await?;
    let first = main
        .join_room(USER, "#replay:localhost", "alice", "")
        .await?;
    let names: Vec<&str> = first.iter().map(|p| p.nickname.as_str()).collect();
    assert_eq!(names, ["Bob B.", "alice"]);
    assert_eq!(subject_of(&mut main, "#replay:localhost").await?, "First");

    // The room changes: carol joins and is made a moderator, bob takes
    // another name, the topic changes, alice takes another name.
    let carol = user(&synapse, "carol").await?;
    carol.join("#replay:localhost").await?;
    main.expect("carol's arrival", |p| match p {
        Payload::ParticipantChanged(p) if p.nickname == "carol" => Some(()),
        _ => None,
    })
    .await?;
    bob.set_state(
        &room,
        "m.room.power_levels",
        "",
        // bob created the room: his power is above every level.
        &json!({"users": {"@carol:localhost": 50}}),
    )
    .await?;
    main.expect("carol promoted", |p| match p {
        Payload::ParticipantChanged(p)
            if p.nickname == "carol" && p.flag & ParticipantFlag::Moderator.bit() != 0 =>
        {
            Some(())
        }
        _ => None,
    })
    .await?;
    bob.set_display_name("Robert").await?;
    let renamed = main
        .expect("bob's new name", |p| match p {
            Payload::ParticipantChanged(p) if p.nickname == "Bob B." => p.newname.clone(),
            _ => None,
        })
        .await?;
    assert_eq!(renamed, "Robert");
    bob.set_state(&room, "m.room.topic", "", &json!({"topic": "Second"}))
        .await?;
    assert_eq!(subject_of(&mut main, "#replay:localhost").await?, "Second");
    // alice takes another name from another client: her nickname follows.
    let (elsewhere, _token) = alice_elsewhere(&synapse).await?;
    elsewhere.set_display_name("Alicia").await?;
    let own = main
        .expect("alice's new nickname", |p| match p {
            Payload::RoomNicknameChanged(r) if r.room == "#replay:localhost" => {
                Some(r.nickname.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(own, "Alicia");
    let renamed = main
        .expect("alice's rename", |p| match p {
            Payload::ParticipantChanged(p) if p.flag & ParticipantFlag::Me.bit() != 0 => {
                Some((p.nickname.clone(), p.newname.clone()))
            }
            _ => None,
        })
        .await?;
    assert_eq!(renamed, ("alice".to_owned(), Some("Alicia".to_owned())));

    // Spectrum 2 sends JOIN_ROOM again (it does after every CONNECTED):
    // the answer is the room as it is now.
    let replay = main
        .join_room(USER, "#replay:localhost", "Alicia", "")
        .await?;
    let mut now: Vec<(&str, bool)> = replay
        .iter()
        .map(|p| {
            let moderator = p.flag & ParticipantFlag::Moderator.bit() != 0;
            (p.nickname.as_str(), moderator)
        })
        .collect();
    let own = now.pop();
    assert_eq!(own, Some(("Alicia", false)), "the user last");
    now.sort_unstable();
    assert_eq!(now, [("Robert", true), ("carol", true)]);
    assert_eq!(subject_of(&mut main, "#replay:localhost").await?, "Second");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_room_list_names_joined_rooms_which_join_in_any_case() -> TestResult {
    let synapse = Synapse::start().await?;
    let alice = user(&synapse, "alice").await?;
    let bob = user(&synapse, "bob").await?;
    let room = bob
        .create_room(&json!({"preset": "public_chat", "name": "Quiet Room"}))
        .await?;
    alice.join(&room).await?;

    let mut main = backend(&synapse).await?;
    main.login(USER, ALICE, "pw-alice").await?;
    let list = main
        .expect("ROOM_LIST", |p| match p {
            Payload::RoomList(l) => Some(l.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(list.room, std::slice::from_ref(&room));
    assert_eq!(list.name, ["Quiet Room"]);
    assert_eq!(list.user.as_deref(), Some(USER));

    let lower = room.to_lowercase();
    let occupants = main.join_room(USER, &lower, "alice", "").await?;
    assert!(occupants.iter().all(|p| p.room == lower));
    assert_eq!(occupants.len(), 2, "{occupants:?}");
    bob.send_message(&room, &message_content(MsgType::Text, "psst", None))
        .await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.buddy_name.as_str(), m.message.as_str()),
        (lower.as_str(), "psst")
    );

    let missing = main
        .join_room(USER, "#nowhere:localhost", "alice", "")
        .await?;
    let own = missing.last().ok_or("an answer")?;
    assert!(
        own.flag & ParticipantFlag::RoomNotFound.bit() != 0,
        "{own:?}"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_encrypted_room_is_shown_as_such() -> TestResult {
    let (_synapse, mut main, bob, _dm) = alice_and_bob().await?;
    let room = bob
        .create_room(&json!({
            "preset": "public_chat", "room_alias_name": "secret",
            "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
        }))
        .await?;
    main.join_room(USER, "#secret:localhost", "alice", "")
        .await?;
    let notice = main.expect_message(USER).await?;
    assert!(
        notice.message.contains("end-to-end encrypted"),
        "{notice:?}"
    );

    bob.send_event(&room, "m.room.encrypted", &json!({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA", "session_id": "s", "device_id": "D", "sender_key": "k"}))
        .await?;
    let hidden = main.expect_message(USER).await?;
    assert_eq!(hidden.nickname.as_deref(), Some("Bob B."));
    assert!(hidden.message.contains("cannot decrypt"), "{hidden:?}");

    main.send_message(USER, "#secret:localhost", "plain text")
        .await?;
    let refused = main.expect_message(USER).await?;
    assert!(refused.message.starts_with("Not delivered"), "{refused:?}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn vcards_and_presence_of_contacts() -> TestResult {
    let (_synapse, mut main, bob, _dm) = alice_and_bob().await?;
    let picture = b"GIF89a pretend".to_vec();
    let mxc = bob.upload(picture.clone(), "image/gif", "me.gif").await?;
    bob.set_avatar(&mxc).await?;
    let card = main.vcard(USER, BOB).await?;
    assert_eq!(card.fullname.as_deref(), Some("Bob B."));
    assert_eq!(card.nickname.as_deref(), Some("bob"));
    assert_eq!(card.photo.as_deref(), Some(picture.as_slice()));

    bob.set_presence("unavailable", "at lunch").await?;
    let away = main
        .expect("bob away", |p| match p {
            Payload::BuddyChanged(b)
                if b.buddy_name == BOB && b.status == Some(StatusType::StatusAway as i32) =>
            {
                Some(b.clone())
            }
            _ => None,
        })
        .await?;
    assert_eq!(away.status_message.as_deref(), Some("at lunch"));
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_wrong_password_is_final_and_an_unreachable_server_is_retried() -> TestResult {
    let synapse = Synapse::start().await?;
    synapse.register("alice", "pw-alice").await?;
    let mut main = backend(&synapse).await?;
    let refused = main
        .try_login(USER, ALICE, "wrong")
        .await?
        .expect_err("wrong password");
    assert_eq!(
        refused.error,
        spectrum_backend::ConnectionError::AuthenticationFailed as i32
    );
    assert_eq!(main.exit().await?, 0);

    let port = support::free_port()?;
    let config = format!(
        "[service]\njid = m.localhost\nworking_dir = {}\n[matrix]\nhomeserver = http://127.0.0.1:{port}\n",
        synapse.backend_dir().display()
    );
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_matrix"), &config).await?;
    main.handshake().await?;
    let down = main
        .try_login(USER, ALICE, "pw-alice")
        .await?
        .expect_err("nothing listens");
    assert_eq!(
        down.error,
        spectrum_backend::ConnectionError::NetworkError as i32
    );
    assert!(down.message.unwrap_or_default().contains(&port.to_string()));
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// The next BUDDY_CHANGED showing bob with `status`.
async fn bob_is(main: &mut MainInstance, status: StatusType) -> TestResult {
    main.expect(&format!("bob {status:?}"), |p| match p {
        Payload::BuddyChanged(b) if b.buddy_name == BOB && b.status == Some(status as i32) => {
            Some(())
        }
        _ => None,
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn a_homeserver_restart_mid_session_loses_and_doubles_nothing() -> TestResult {
    let (mut synapse, mut main, bob, dm) = alice_and_bob().await?;
    let network = synapse.url().trim_start_matches("http://").to_owned();
    bob.set_presence("online", "here").await?;
    bob_is(&mut main, StatusType::StatusOnline).await?;
    bob.send_message(&dm, &message_content(MsgType::Text, "before", None))
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "before");

    synapse.stop();
    let lost = main.expect_message(USER).await?;
    assert_eq!(lost.buddy_name, network, "told by the homeserver's name");
    assert!(
        lost.message
            .starts_with(&format!("Lost the connection to {network}"))
            && lost.message.contains("trying again"),
        "{lost:?}"
    );
    // Nothing is known of contacts while the homeserver is away.
    bob_is(&mut main, StatusType::StatusNone).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    synapse.restart().await?;
    bob.send_message(&dm, &message_content(MsgType::Text, "after", None))
        .await?;
    let back = main.expect_message(USER).await?;
    assert_eq!(
        (back.buddy_name.as_str(), back.message.as_str()),
        (
            network.as_str(),
            format!("reconnected to {network}").as_str()
        )
    );
    bob_is(&mut main, StatusType::StatusOnline).await?;
    assert_eq!(main.expect_message(USER).await?.message, "after");
    main.expect_none("a repeated message", Duration::from_secs(3), |p| {
        matches!(p, Payload::ConvMessage(_) | Payload::Disconnected(_))
    })
    .await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_revoked_token_disconnects_and_a_new_login_works() -> TestResult {
    let (synapse, mut main, _bob, _dm) = alice_and_bob().await?;
    // alice logs out every device of hers from another client.
    let mut other = Client::new(&synapse.url(), Limits::default())?;
    let token = other
        .login("alice", "pw-alice", "other")
        .await?
        .access_token
        .clone();
    let answer = reqwest_post(
        &format!("{}/_matrix/client/v3/logout/all", synapse.url()),
        &token,
    )
    .await?;
    assert!(answer < 300, "HTTP {answer}");
    let gone = main
        .expect("DISCONNECTED", |p| match p {
            Payload::Disconnected(d) if d.user == USER => Some(d.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        gone.error,
        spectrum_backend::ConnectionError::NetworkError as i32
    );
    assert!(
        gone.message
            .unwrap_or_default()
            .contains("logging in again")
    );
    // What Spectrum 2 does next: LOGOUT, then LOGIN at once.
    main.logout(USER, ALICE).await?;
    main.login(USER, ALICE, "pw-alice").await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// The device IDs of the user whose token this is.
async fn devices(synapse: &Synapse, token: &str) -> Result<Vec<String>, Report> {
    let client = Client::new(&synapse.url(), Limits::default())?;
    drop(client); // installs the TLS provider reqwest needs
    let answer: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/_matrix/client/v3/devices", synapse.url()))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    let mut ids: Vec<String> = answer["devices"]
        .as_array()
        .ok_or("a device list")?
        .iter()
        .filter_map(|d| d["device_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Another client of alice's: sees her devices, can revoke her tokens.
async fn alice_elsewhere(synapse: &Synapse) -> Result<(Client, String), Report> {
    let mut other = Client::new(&synapse.url(), Limits::default())?;
    let token = other
        .login("alice", "pw-alice", "elsewhere")
        .await?
        .access_token
        .clone();
    Ok((other, token))
}

#[tokio::test]
async fn a_backend_restart_resumes_without_a_new_login_or_a_replay() -> TestResult {
    let (synapse, mut main, bob, dm) = alice_and_bob().await?;
    let (_elsewhere, token) = alice_elsewhere(&synapse).await?;
    let devices_before = devices(&synapse, &token).await?;
    // Registration's, the backend's and this one.
    assert_eq!(devices_before.len(), 3, "{devices_before:?}");
    bob.send_message(&dm, &message_content(MsgType::Text, "before", None))
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "before");
    assert_eq!(main.exit().await?, 0);

    bob.send_message(&dm, &message_content(MsgType::Text, "while down", None))
        .await?;
    let mut main = backend(&synapse).await?;
    main.login(USER, ALICE, "pw-alice").await?;
    assert_eq!(main.expect_message(USER).await?.message, "while down");
    main.expect_none("a repeated message", Duration::from_secs(3), |p| {
        matches!(p, Payload::ConvMessage(_) | Payload::Disconnected(_))
    })
    .await?;
    assert_eq!(
        devices(&synapse, &token).await?,
        devices_before,
        "the same device: no new login"
    );
    bob.send_message(&dm, &message_content(MsgType::Text, "after", None))
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "after");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn a_token_revoked_while_the_backend_was_down_means_a_new_login() -> TestResult {
    let (synapse, main, bob, dm) = alice_and_bob().await?;
    assert_eq!(main.exit().await?, 0);
    let (_elsewhere, token) = alice_elsewhere(&synapse).await?;
    let answer = reqwest_post(
        &format!("{}/_matrix/client/v3/logout/all", synapse.url()),
        &token,
    )
    .await?;
    assert!(answer < 300, "HTTP {answer}");

    let mut main = backend(&synapse).await?;
    main.login(USER, ALICE, "pw-alice").await?;
    let contact = buddy(&mut main, BOB).await?;
    assert_eq!(contact.alias.as_deref(), Some("Bob B."));
    bob.send_message(&dm, &message_content(MsgType::Text, "hello again", None))
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "hello again");
    let (_elsewhere, token) = alice_elsewhere(&synapse).await?;
    assert_eq!(devices(&synapse, &token).await?.len(), 2, "one new login");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

/// A bare authenticated POST; the HTTP status.
async fn reqwest_post(url: &str, token: &str) -> Result<u16, Report> {
    let client = Client::new(url, Limits::default())?;
    drop(client); // installs the TLS provider reqwest needs
    let answer = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await?;
    Ok(answer.status().as_u16())
}

#[tokio::test]
async fn a_flood_larger_than_an_answer_may_be_is_cut_and_the_user_told() -> TestResult {
    let (_synapse, mut main, bob, dm) = alice_and_bob_with("max_response_bytes = 65536\n").await?;
    let pid = main.backend_pid().ok_or("a spawned backend")?;
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
    };
    // The backend is held still while bob sends more than one answer may carry.
    assert!(signal("-STOP")?.success());
    let padding = "x".repeat(10_000);
    for i in 0..12 {
        let text = format!("flood {i} {padding}");
        bob.send_message(&dm, &message_content(MsgType::Text, &text, None))
            .await?;
    }
    assert!(signal("-CONT")?.success());

    let mut delivered = Vec::new();
    loop {
        let m = main.expect_message(USER).await?;
        let last = m.message.starts_with("flood 11 ");
        delivered.push(m.message.split(' ').take(2).collect::<Vec<_>>().join(" "));
        if last {
            break;
        }
    }
    let told = delivered
        .iter()
        .position(|m| m.starts_with("[some messages"));
    assert!(told.is_some(), "the gap is told: {delivered:?}");
    assert!(delivered.len() < 12, "the flood was cut: {delivered:?}");
    main.expect_none("a disconnection", std::time::Duration::from_secs(1), |p| {
        matches!(p, Payload::Disconnected(_))
    })
    .await?;
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn going_offline_keeps_the_rooms_and_leaving_them_does_not() -> TestResult {
    let (_synapse, mut main, bob, _dm) = alice_and_bob().await?;
    let kept = bob
        .create_room(&json!({"preset": "public_chat", "room_alias_name": "kept"}))
        .await?;
    let left = bob
        .create_room(&json!({"preset": "public_chat", "room_alias_name": "left"}))
        .await?;
    main.join_room(USER, "#kept:localhost", "alice", "").await?;
    main.join_room(USER, "#left:localhost", "alice", "").await?;

    // Leaving one room on purpose: the membership ends.
    main.leave_room(USER, "#left:localhost").await?;
    let mut watcher = Watcher::new(&bob).await?;
    watcher
        .expect(&left, "alice leaving", |e| {
            (e.kind == "m.room.member"
                && e.state_key.as_deref() == Some(ALICE)
                && e.content_str("membership") == Some("leave"))
            .then_some(())
        })
        .await?;
    // Going offline: LEAVE_ROOM for every room, then LOGOUT at once.
    main.leave_room(USER, "#kept:localhost").await?;
    main.logout(USER, ALICE).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let members = bob.room_state(&kept).await?.members;
    assert!(
        members.contains_key(ALICE),
        "still in the room: {members:?}"
    );

    // Back online, the room is joined again without a second membership.
    main.login(USER, ALICE, "pw-alice").await?;
    let occupants = main.join_room(USER, "#kept:localhost", "alice", "").await?;
    assert_eq!(occupants.len(), 2, "{occupants:?}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_invitation_to_a_room_is_told_and_accepted_by_joining() -> TestResult {
    let (_synapse, mut main, bob, _dm) = alice_and_bob().await?;
    let room = bob
        .create_room(&json!({"preset": "private_chat", "name": "Plans", "invite": [ALICE]}))
        .await?;
    let told = main.expect_message(USER).await?;
    assert_eq!(told.buddy_name, BOB);
    assert!(
        told.message.contains("Plans") && told.message.contains(&room),
        "{told:?}"
    );

    // Spectrum 2 lower-cases the name; the invitation is found all the same.
    let lower = room.to_lowercase();
    let occupants = main.join_room(USER, &lower, "alice", "").await?;
    assert_eq!(occupants.len(), 2, "{occupants:?}");
    let members = bob.room_state(&room).await?.members;
    assert!(members.contains_key(ALICE), "{members:?}");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

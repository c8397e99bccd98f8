//! The Matrix client against a real Synapse on loopback: each endpoint the
//! backend uses, checked from the other side where the effect is on others.

mod support;

use std::time::{Duration, Instant};

use matrix_backend::matrix::types::{
    MsgType, SyncRequest, SyncResponse, media_content, message_content,
};
use matrix_backend::matrix::{Client, Error, Limits};
use serde_json::json;
use support::{Report, Synapse, TestResult, Watcher};

/// Registers `name` (password `pw-name`) and logs a client in.
async fn user(synapse: &Synapse, name: &str) -> Result<Client, Report> {
    let password = format!("pw-{name}");
    synapse.register(name, &password).await?;
    let mut client = Client::new(&synapse.url(), Limits::default())?;
    client.login(name, &password, "tests").await?;
    Ok(client)
}

/// A public room created by `owner` with `alias`, joined by `other`.
async fn shared_room(owner: &Client, other: &Client, alias: &str) -> Result<String, Report> {
    let room = owner
        .create_room(&json!({"preset": "public_chat", "room_alias_name": alias, "name": "Lobby", "topic": "Welcome"}))
        .await?;
    let joined = other.join(&format!("#{alias}:localhost")).await?;
    assert_eq!(joined, room, "joined by alias");
    Ok(room)
}

#[tokio::test]
async fn synapse_restarts_with_its_data() -> TestResult {
    let mut synapse = Synapse::start().await?;
    let alice = synapse.register("alice", "secret-a").await?;
    assert_eq!(alice, "@alice:localhost");
    let mut client = Client::new(&synapse.url(), Limits::default())?;
    client.login("@alice:localhost", "secret-a", "test").await?;
    synapse.stop();
    let down = client.whoami().await.expect_err("the server is down");
    assert!(down.is_transient(), "{down}");
    synapse.restart().await?;
    assert_eq!(client.whoami().await?.user_id, alice, "the data survives");
    Ok(())
}

#[tokio::test]
async fn login_whoami_and_a_revoked_token() -> TestResult {
    let synapse = Synapse::start().await?;
    synapse.register("alice", "right").await?;
    let mut client = Client::new(&synapse.url(), Limits::default())?;
    let refused = client
        .login("alice", "wrong", "test")
        .await
        .expect_err("bad password");
    assert_eq!(refused.errcode(), Some("M_FORBIDDEN"), "{refused}");
    assert!(!refused.is_transient());

    let session = client.login("alice", "right", "test").await?.clone();
    assert_eq!(session.user_id, "@alice:localhost");
    let me = client.whoami().await?;
    assert_eq!(me.device_id.as_deref(), Some(session.device_id.as_str()));

    // The token, reused by a second client, then revoked by logging it out.
    let copy = Client::with_session(&synapse.url(), Limits::default(), session)?;
    copy.logout().await?;
    match client.whoami().await {
        Err(Error::UnknownToken { .. }) => {}
        other => panic!("expected UnknownToken, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn messages_in_every_form_arrive_through_a_long_poll() -> TestResult {
    let synapse = Synapse::start().await?;
    let alice = user(&synapse, "alice").await?;
    let bob = user(&synapse, "bob").await?;
    let room = shared_room(&alice, &bob, "lobby").await?;
    let mut alice_sees = Watcher::new(&alice).await?;
    let since = Watcher::new(&bob).await?.since;

    // A long poll that returns as soon as the message is sent.
    let request = SyncRequest {
        since: Some(since.clone()),
        timeout: Duration::from_secs(30),
        // Only the room: presence changes would end the poll too.
        filter: Some(
            json!({"room": {"timeline": {"limit": 10}, "ephemeral": {"not_types": ["*"]}}, "presence": {"not_types": ["*"]}})
                .to_string(),
        ),
        set_presence: None,
        full_state: false,
    };
    let poll = bob.sync(&request);
    let send = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        alice
            .send_message(
                &room,
                &message_content(MsgType::Text, "hello *all*", Some("hello <b>all</b>")),
            )
            .await
    };
    let started = Instant::now();
    let (answer, sent) = tokio::join!(poll, send);
    let (answer, sent) = (answer?, sent?);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the poll ended with the message"
    );
    let event = answer.rooms.join[&room]
        .timeline
        .events
        .iter()
        .find(|e| e.event_id == sent)
        .ok_or("the message is in the answer")?;
    assert_eq!(event.sender, "@alice:localhost");
    assert_eq!(event.content["formatted_body"], "hello <b>all</b>");
    assert_eq!(event.content["format"], "org.matrix.custom.html");

    alice
        .send_message(&room, &message_content(MsgType::Emote, "waves", None))
        .await?;
    alice
        .send_message(&room, &message_content(MsgType::Notice, "a bot says", None))
        .await?;
    let mut bob_sees = Watcher {
        client: &bob,
        since: answer.next_batch.clone(),
    };
    let kinds = bob_sees
        .until("emote and notice", |a| {
            let events = &a.rooms.join.get(&room)?.timeline.events;
            let kinds: Vec<String> = events
                .iter()
                .filter_map(|e| e.content_str("msgtype").map(str::to_owned))
                .collect();
            (kinds.len() >= 2).then_some(kinds)
        })
        .await?;
    assert_eq!(kinds, ["m.emote", "m.notice"]);

    // Our own message carries our transaction ID; others' do not.
    let own = alice_sees
        .until("the own echo", |a| {
            a.rooms
                .join
                .get(&room)?
                .timeline
                .events
                .iter()
                .find(|e| e.event_id == sent)
                .cloned()
        })
        .await?;
    let txn = own
        .unsigned
        .transaction_id
        .ok_or("own events carry the transaction")?;
    assert!(alice.is_own_transaction(&txn));
    assert!(!bob.is_own_transaction(&txn));
    Ok(())
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_refused_not_read() -> TestResult {
    let synapse = Synapse::start().await?;
    let alice = user(&synapse, "alice").await?;
    let bob = user(&synapse, "bob").await?;
    let room = shared_room(&alice, &bob, "big").await?;
    let text = "x".repeat(20_000);
    for _ in 0..3 {
        alice
            .send_message(&room, &message_content(MsgType::Text, &text, None))
            .await?;
    }
    let session = bob.session().ok_or("logged in")?.clone();
    let limits = Limits {
        response_bytes: 16 << 10,
        ..Limits::default()
    };
    let small = Client::with_session(&synapse.url(), limits, session)?;
    match small.sync(&SyncRequest::default()).await {
        Err(Error::TooLarge { limit, .. }) => assert_eq!(limit, 16 << 10),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // A filter keeps the same sync under the limit.
    let filter = json!({"room": {"timeline": {"limit": 0}}, "presence": {"limit": 0}}).to_string();
    let answer = small
        .sync(&SyncRequest {
            filter: Some(filter),
            ..SyncRequest::default()
        })
        .await?;
    assert!(answer.rooms.join.contains_key(&room));
    Ok(())
}

#[tokio::test]
async fn typing_and_read_receipts_reach_the_other_side() -> TestResult {
    let synapse = Synapse::start().await?;
    let alice = user(&synapse, "alice").await?;
    let bob = user(&synapse, "bob").await?;
    let room = shared_room(&alice, &bob, "chat").await?;
    let mut bob_sees = Watcher::new(&bob).await?;

    alice.typing(&room, true, Duration::from_secs(30)).await?;
    let ephemeral = |a: &SyncResponse, kind: &str| {
        a.rooms
            .join
            .get(&room)?
            .ephemeral
            .events
            .iter()
            .find(|e| e.kind == kind)
            .map(|e| e.content.clone())
    };
    let typing = bob_sees
        .until("typing", |a| {
            ephemeral(a, "m.typing").filter(|c| c["user_ids"] == json!(["@alice:localhost"]))
        })
        .await?;
    assert_eq!(typing["user_ids"][0], "@alice:localhost");
    alice.typing(&room, false, Duration::ZERO).await?;
    let stopped = bob_sees
        .until("typing stopped", |a| {
            ephemeral(a, "m.typing").filter(|c| c["user_ids"] == json!([]))
        })
        .await?;
    assert_eq!(stopped["user_ids"], json!([]));

    let sent = bob
        .send_message(&room, &message_content(MsgType::Text, "read me", None))
        .await?;
    alice.read_receipt(&room, &sent).await?;
    let receipt = bob_sees
        .until("a receipt", |a| ephemeral(a, "m.receipt"))
        .await?;
    assert!(
        receipt[&sent]["m.read"].get("@alice:localhost").is_some(),
        "{receipt}"
    );
    Ok(())
}

#[tokio::test]
async fn rooms_are_joined_by_alias_or_id_described_and_left() -> TestResult {
    let synapse = Synapse::start().await?;
    let alice = user(&synapse, "alice").await?;
    let bob = user(&synapse, "bob").await?;
    bob.set_display_name("Bobby").await?;
    let room = shared_room(&alice, &bob, "lobby").await?;
    let other = alice.create_room(&json!({"preset": "public_chat"})).await?;
    assert_eq!(bob.join(&other).await?, other, "joined by ID");
    assert_eq!(bob.joined_rooms().await?.len(), 2);

    alice
        .set_state(
            &room,
            "m.room.power_levels",
            "",
            &json!({"users": {"@bob:localhost": 50}}),
        )
        .await?;
    alice
        .set_state(&room, "m.room.topic", "", &json!({"topic": "New topic"}))
        .await?;
    let state = bob.room_state(&room).await?;
    assert_eq!(state.name.as_deref(), Some("Lobby"));
    assert_eq!(state.alias.as_deref(), Some("#lobby:localhost"));
    assert_eq!(
        state.topic,
        Some(("New topic".to_owned(), "@alice:localhost".to_owned()))
    );
    let names: Vec<(&str, Option<&str>)> = state
        .members
        .values()
        .map(|m| (m.user_id.as_str(), m.display_name.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("@alice:localhost", Some("alice")),
            ("@bob:localhost", Some("Bobby"))
        ]
    );
    // Synapse creates version 12 rooms: their creator outranks every level.
    assert_eq!(state.power_level("@alice:localhost"), i64::MAX);
    assert!(state.is_moderator("@bob:localhost"));
    assert!(!state.encrypted);

    let secret = alice
        .create_room(&json!({
            "preset": "private_chat",
            "initial_state": [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
        }))
        .await?;
    assert!(alice.room_state(&secret).await?.encrypted);

    bob.leave(&room).await?;
    assert_eq!(bob.joined_rooms().await?, [other]);
    let refused = bob
        .join("#nowhere:localhost")
        .await
        .expect_err("no such alias");
    assert_eq!(refused.errcode(), Some("M_NOT_FOUND"), "{refused}");
    Ok(())
}

#[tokio::test]
async fn profiles_media_and_direct_partners() -> TestResult {
    let synapse = Synapse::start().await?;
    let alice = user(&synapse, "alice").await?;
    let bob = user(&synapse, "bob").await?;

    let picture = b"\x89PNG not really, but bytes".to_vec();
    let mxc = bob.upload(picture.clone(), "image/png", "me.png").await?;
    assert!(mxc.starts_with("mxc://localhost/"), "{mxc}");
    bob.set_display_name("Bob B.").await?;
    bob.set_avatar(&mxc).await?;

    let profile = alice.profile("@bob:localhost").await?;
    assert_eq!(profile.displayname.as_deref(), Some("Bob B."));
    assert_eq!(profile.avatar_url.as_deref(), Some(mxc.as_str()));
    // Authenticated download, and the public URL given to XMPP users.
    assert_eq!(alice.download(&mxc).await?.bytes, picture);
    let url = alice.download_url(&mxc).ok_or("an mxc URI")?;
    let public = alice.fetch(&url).await?;
    assert_eq!(public.bytes, picture);
    assert_eq!(public.content_type.as_deref(), Some("image/png"));
    assert!(
        alice
            .thumbnail_url(&mxc, 96, 96)
            .is_some_and(|u| u.contains("/thumbnail/"))
    );
    assert!(alice.download_url("https://not.mxc/x").is_none());

    // A file over the media limit is refused before it is read whole.
    let small = Client::with_session(
        &synapse.url(),
        Limits {
            media_bytes: 8,
            ..Limits::default()
        },
        alice.session().ok_or("logged in")?.clone(),
    )?;
    assert!(matches!(
        small.fetch(&url).await,
        Err(Error::TooLarge { .. })
    ));

    let media = media_content(&mxc, "me.png", "image/png", picture.len());
    assert_eq!(media["msgtype"], "m.image");

    assert!(alice.direct_rooms().await?.is_empty(), "none yet");
    let dm = alice
        .create_room(&json!({"preset": "trusted_private_chat", "is_direct": true, "invite": ["@bob:localhost"]}))
        .await?;
    alice
        .set_account_data("m.direct", &json!({"@bob:localhost": [dm]}))
        .await?;
    let direct = alice.direct_rooms().await?;
    assert_eq!(direct["@bob:localhost"], [dm]);
    Ok(())
}

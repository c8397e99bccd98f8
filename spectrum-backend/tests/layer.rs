//! The author layer over a real socket, driven by the harness the way
//! Spectrum 2 drives a backend: replies awaited directly and built without
//! a session, typed views of what the user sent, receipts sent by the
//! runtime (once, only on success, or later when deferred), and the
//! JOIN_ROOM that Spectrum 2 replays answered from the session's rooms.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, Payload};
use spectrum_backend::reply::{Message, Receipt};
use spectrum_backend::testing::{MainInstance, Result as HarnessResult};
use spectrum_backend::view::{self, Target};

const CONFIG: &str = "[service]\njid = layer.localhost\n";
const USER: &str = "alice@layer.localhost";
const QUIET: Duration = Duration::from_millis(300);

struct Layer {
    /// Receipts the "network" has not confirmed yet.
    deferred: Vec<Receipt>,
    /// JoinRoom handler calls.
    joins: usize,
}

/// What a line of a legacy network means, built where it is parsed: no
/// session, no `Ctx`.
fn parse_network_lines(lines: &[&str]) -> Vec<Message> {
    lines
        .iter()
        .map(|line| match line.split_once(": ") {
            Some((from, text)) => Message::new(from, text),
            None => Message::new("network", *line),
        })
        .collect()
}

#[backend]
impl Layer {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        Layer {
            deferred: Vec::new(),
            joins: 0,
        }
    }

    #[on(JoinRoom)]
    async fn join(&mut self, ctx: &Ctx, join: view::Join) -> Result<()> {
        self.joins += 1;
        let password = join.password().unwrap_or("none").to_owned();
        ctx.room_joined(&join)
            .occupant("bob")
            .subject(format!("password {password}"), "bob")
            .await
    }

    #[on(StatusChanged)]
    async fn status(&mut self, ctx: &Ctx, presence: view::Presence) -> Result<()> {
        let text = format!(
            "{:?} {}",
            presence.status(),
            presence.message().unwrap_or("-")
        );
        ctx.message("network", text).await
    }

    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        match msg.text() {
            "defer" => {
                self.deferred.extend(msg.defer_receipt(ctx));
                ctx.message("network", "deferred").await
            }
            "deliver" => ctx.send_all(self.deferred.drain(..)).await,
            "ack" => {
                let id = msg.receipt_id().unwrap_or_default();
                ctx.message_ack(msg.to(), id).await
            }
            "joins?" => ctx.message("network", self.joins.to_string()).await,
            "lines" => {
                let replies = parse_network_lines(&["bob: hi", "carol: hello", "motd"]);
                ctx.send_all(replies).await
            }
            "fail" => Err(Error::other("the network refused it")),
            _ => {
                let target = match msg.target() {
                    Target::Contact(c) => format!("contact {c}"),
                    Target::Room(r) => format!("room {r}"),
                    Target::Occupant { room, nickname } => format!("occupant {nickname} of {room}"),
                };
                let xhtml = msg.xhtml().unwrap_or("-").to_owned();
                ctx.message("network", format!("{target}; xhtml {xhtml}"))
                    .xhtml("<b>seen</b>")
                    .await
            }
        }
    }
}

async fn logged_in() -> HarnessResult<MainInstance> {
    let mut main = MainInstance::start::<Layer>(CONFIG).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    Ok(main)
}

async fn send(
    main: &mut MainInstance,
    to: &str,
    text: &str,
    id: Option<&str>,
) -> HarnessResult<()> {
    main.send(Payload::ConvMessage(proto::ConversationMessage {
        user_name: USER.into(),
        buddy_name: to.into(),
        message: text.into(),
        xhtml: Some(String::new()),
        id: id.map(str::to_owned),
        ..Default::default()
    }))
    .await
}

async fn answer(main: &mut MainInstance, to: &str, text: &str) -> HarnessResult<String> {
    send(main, to, text, None).await?;
    Ok(main.expect_message(USER).await?.message)
}

async fn expect_ack(
    main: &mut MainInstance,
    id: &str,
) -> HarnessResult<proto::ConversationMessage> {
    main.expect(&format!("CONV_MESSAGE_ACK {id}"), |p| match p {
        Payload::ConvMessageAck(m) if m.id.as_deref() == Some(id) => Some(m.clone()),
        _ => None,
    })
    .await
}

async fn expect_no_ack(main: &mut MainInstance, id: &str) -> HarnessResult<()> {
    main.expect_none(
        &format!("CONV_MESSAGE_ACK {id}"),
        QUIET,
        |p| matches!(p, Payload::ConvMessageAck(m) if m.id.as_deref() == Some(id)),
    )
    .await
}

#[tokio::test]
async fn owned_replies_are_awaited_and_sent_in_batches() -> HarnessResult<()> {
    let mut main = logged_in().await?;
    send(&mut main, "network", "lines", None).await?;
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = main.expect_message(USER).await?;
        got.push((m.buddy_name, m.message));
    }
    assert_eq!(
        got,
        [
            ("bob".to_owned(), "hi".to_owned()),
            ("carol".to_owned(), "hello".to_owned()),
            ("network".to_owned(), "motd".to_owned()),
        ]
    );
    // A bound reply with a setter, awaited.
    send(&mut main, "bob", "hello", None).await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(m.xhtml.as_deref(), Some("<b>seen</b>"));
    main.exit().await?;
    Ok(())
}

#[tokio::test]
async fn receipts_go_out_once_after_success_or_when_the_network_confirms() -> HarnessResult<()> {
    let mut main = logged_in().await?;

    // Asked for: sent after the handler's own frames.
    send(&mut main, "bob", "hi", Some("r1")).await?;
    let reply = main.expect_message(USER).await?;
    assert_eq!(reply.message, "contact bob; xhtml -");
    let ack = expect_ack(&mut main, "r1").await?;
    assert_eq!(
        (ack.user_name.as_str(), ack.buddy_name.as_str()),
        (USER, "bob")
    );

    // Sent by the handler itself: not repeated.
    send(&mut main, "bob", "ack", Some("r2")).await?;
    expect_ack(&mut main, "r2").await?;
    expect_no_ack(&mut main, "r2").await?;

    // Deferred: nothing until the network confirms.
    send(&mut main, "bob", "defer", Some("r3")).await?;
    assert_eq!(main.expect_message(USER).await?.message, "deferred");
    expect_no_ack(&mut main, "r3").await?;
    send(&mut main, "bob", "deliver", None).await?;
    let ack = expect_ack(&mut main, "r3").await?;
    assert_eq!(ack.buddy_name, "bob");

    // Not asked for (an empty id is Spectrum 2's "none").
    send(&mut main, "bob", "hi", Some("")).await?;
    main.expect_message(USER).await?;
    main.expect_none("CONV_MESSAGE_ACK", QUIET, |p| {
        matches!(p, Payload::ConvMessageAck(_))
    })
    .await?;

    // A failed handler sends none: the session ends instead.
    send(&mut main, "bob", "fail", Some("r4")).await?;
    let d = main.expect_type(proto::MessageType::Disconnected).await?;
    assert!(matches!(d, Payload::Disconnected(_)));
    expect_no_ack(&mut main, "r4").await?;
    main.exit().await?;
    Ok(())
}

#[tokio::test]
async fn views_say_what_the_wire_means() -> HarnessResult<()> {
    let mut main = logged_in().await?;
    main.set_status(USER, proto::StatusType::StatusAway, "lunch")
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "StatusAway lunch");
    main.set_status(USER, proto::StatusType::StatusOnline, "")
        .await?;
    assert_eq!(main.expect_message(USER).await?.message, "StatusOnline -");

    assert_eq!(
        answer(&mut main, "#rust", "x").await?,
        "contact #rust; xhtml -"
    );
    main.join_room(USER, "#rust", "alice", "").await?;
    assert_eq!(
        answer(&mut main, "#rust", "x").await?,
        "room #rust; xhtml -"
    );
    assert_eq!(
        answer(&mut main, "#rust/bob", "x").await?,
        "occupant bob of #rust; xhtml -"
    );
    assert_eq!(answer(&mut main, "a/b", "x").await?, "contact a/b; xhtml -");
    // Rooms are matched whatever the case: the lookup that skips lower-casing
    // names already in lower case must not miss these.
    assert_eq!(
        answer(&mut main, "#Rust", "x").await?,
        "room #Rust; xhtml -"
    );
    assert_eq!(
        answer(&mut main, "#RUST/Bob", "x").await?,
        "occupant Bob of #RUST; xhtml -"
    );
    main.join_room(USER, "#ünïcode", "alice", "").await?;
    assert_eq!(
        answer(&mut main, "#ÜNÏCODE", "x").await?,
        "room #ÜNÏCODE; xhtml -"
    );

    main.send(Payload::ConvMessage(proto::ConversationMessage {
        user_name: USER.into(),
        buddy_name: "bob".into(),
        message: "x".into(),
        xhtml: Some("<i>x</i>".into()),
        ..Default::default()
    }))
    .await?;
    assert_eq!(
        main.expect_message(USER).await?.message,
        "contact bob; xhtml <i>x</i>"
    );

    main.leave_room(USER, "#rust").await?;
    assert_eq!(
        answer(&mut main, "#rust", "x").await?,
        "contact #rust; xhtml -"
    );
    main.exit().await?;
    Ok(())
}

async fn subject(main: &mut MainInstance) -> HarnessResult<String> {
    main.expect("ROOM_SUBJECT_CHANGED", |p| match p {
        Payload::RoomSubjectChanged(m) => Some(m.message.clone()),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn a_replayed_join_is_answered_without_the_handler() -> HarnessResult<()> {
    let mut main = logged_in().await?;
    let first = main.join_room(USER, "#rust", "alice", "secret").await?;
    assert_eq!(subject(&mut main).await?, "password secret");
    let replay = main.join_room(USER, "#rust", "alice", "secret").await?;
    assert_eq!(subject(&mut main).await?, "password secret");
    let shape = |ps: &[proto::Participant]| {
        ps.iter()
            .map(|p| (p.nickname.clone(), p.flag))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&first), shape(&replay));
    assert_eq!(
        shape(&first),
        [
            ("bob".to_owned(), 0),
            ("alice".to_owned(), proto::ParticipantFlag::Me.bit())
        ]
    );
    assert_eq!(answer(&mut main, "network", "joins?").await?, "1");

    // After LEAVE_ROOM a join is a join again.
    main.leave_room(USER, "#rust").await?;
    main.join_room(USER, "#rust", "alice", "").await?;
    assert_eq!(subject(&mut main).await?, "password none");
    assert_eq!(answer(&mut main, "network", "joins?").await?, "2");
    main.exit().await?;
    Ok(())
}

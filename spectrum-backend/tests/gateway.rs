//! The gateway building blocks inside a backend, driven over a real socket
//! by the harness the way Spectrum 2 drives it: a roster sent once at
//! login with avatar hashes, BUDDY_CHANGED only on change, a room join
//! answered with the occupants and the user last, the JOIN_ROOM that
//! Spectrum 2 replays after CONNECTED answered without a second network
//! join, a nickname forced by the network, and renames.
//!
//! The "legacy network" is simulated inside the backend: what matters here
//! is what reaches the main instance.

#![allow(clippy::unwrap_used)]

use spectrum_backend::gateway::contacts::{Contact, Contacts, icon_hash};
use spectrum_backend::gateway::rooms::{JoinAction, Occupant, Rooms};
use spectrum_backend::prelude::*;
use spectrum_backend::proto::MessageType::{self, BuddyChanged, Connected};
use spectrum_backend::proto::{self, Payload};
use spectrum_backend::testing::{MainInstance, Result as HarnessResult};

const CONFIG: &str = "[service]\njid = gateway.localhost\n";
const USER: &str = "alice@gateway.localhost";

struct Gateway {
    rooms: Rooms,
    contacts: Contacts,
    /// Joins sent to the simulated network.
    network_joins: usize,
}

impl Gateway {
    /// What the simulated network answers to a join: bob (an operator) and
    /// carol are there, the channel is spelled `#Rust`-style in upper case,
    /// and the nickname `taken` is given a trailing underscore.
    fn network_join(&mut self, room: &str, nickname: &str) -> Vec<Payload> {
        self.network_joins += 1;
        let own = if nickname == "taken" {
            "taken_".to_owned()
        } else {
            nickname.to_owned()
        };
        let channel = room.to_uppercase();
        self.rooms.subject_changed(&channel, "welcome", "bob");
        self.rooms.joined(
            &channel,
            &own,
            [
                Occupant::new("carol"),
                Occupant::new(own.clone()),
                Occupant::new("bob").moderator(),
            ],
        )
    }
}

async fn send_all(ctx: &Ctx, frames: Vec<Payload>) -> Result<()> {
    for frame in frames {
        ctx.send(frame).await?;
    }
    Ok(())
}

#[backend]
impl Gateway {
    #[on(Login)]
    async fn login(ctx: &Ctx, _login: Login) -> Result<Self> {
        let mut contacts = Contacts::new(ctx.user());
        let roster = contacts.roster([
            ("bob", Contact::new().alias("Bob").avatar(b"bob.png")),
            (
                "carol",
                Contact::new().status(StatusType::StatusAway, "out"),
            ),
        ]);
        send_all(ctx, roster).await?;
        ctx.connected().await?;
        Ok(Gateway {
            rooms: Rooms::new(ctx.user()),
            contacts,
            network_joins: 0,
        })
    }

    #[on(JoinRoom)]
    async fn join_room(&mut self, ctx: &Ctx, room: Room) -> Result<()> {
        let frames = match self.rooms.join_requested(&room) {
            JoinAction::Join(join) => self.network_join(&join.room, &join.nickname),
            JoinAction::Pending => Vec::new(),
            JoinAction::Replay(frames) => frames,
        };
        send_all(ctx, frames).await
    }

    #[on(LeaveRoom)]
    async fn leave_room(&mut self, room: Room) {
        self.rooms.left(&room.room);
    }

    /// Commands standing in for news from the network.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: ConversationMessage) -> Result<()> {
        let frames = match msg.message.as_str() {
            "joins?" => {
                let joins = self.network_joins.to_string();
                return ctx.message("network", joins).send().await;
            }
            "carol is away" => self
                .contacts
                .status_changed("carol", StatusType::StatusAway, "out")
                .into_iter()
                .collect(),
            "carol is back" => self
                .contacts
                .status_changed("carol", StatusType::StatusOnline, "")
                .into_iter()
                .collect(),
            "bob is robert" => self.rooms.renamed_everywhere("bob", "robert"),
            other => return ctx.message("network", format!("? {other}")).send().await,
        };
        let count = frames.len();
        send_all(ctx, frames).await?;
        ctx.message("network", format!("sent {count}")).send().await
    }
}

async fn logged_in() -> HarnessResult<MainInstance> {
    let mut main = MainInstance::start::<Gateway>(CONFIG).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    Ok(main)
}

/// Sends `text` and returns the backend's answer.
async fn ask(main: &mut MainInstance, text: &str) -> HarnessResult<String> {
    main.send_message(USER, "network", text).await?;
    Ok(main.expect_message(USER).await?.message)
}

fn names(occupants: &[proto::Participant]) -> Vec<(&str, i32, &str)> {
    occupants
        .iter()
        .map(|p| {
            (
                p.nickname.as_str(),
                p.flag,
                p.newname.as_deref().unwrap_or(""),
            )
        })
        .collect()
}

const ME: i32 = ParticipantFlag::Me.bit();
const MODERATOR: i32 = ParticipantFlag::Moderator.bit();

#[tokio::test]
async fn the_roster_goes_out_once_at_login_then_only_changes() -> HarnessResult<()> {
    let mut main = logged_in().await?;
    // The roster, in one batch, before CONNECTED.
    let kinds: Vec<MessageType> = main
        .received()
        .filter_map(Payload::message_type)
        .filter(|k| matches!(k, BuddyChanged | Connected))
        .collect();
    assert_eq!(kinds, [BuddyChanged, BuddyChanged, Connected]);
    let mut roster = Vec::new();
    for _ in 0..2 {
        match main.expect_type(BuddyChanged).await? {
            Payload::BuddyChanged(b) => roster.push(b),
            _ => unreachable!(),
        }
    }
    assert_eq!(roster[0].buddy_name, "bob");
    assert_eq!(roster[0].icon_hash, Some(icon_hash(b"bob.png")));
    assert_eq!(roster[0].icon_hash.as_ref().unwrap().len(), 40);
    assert_eq!(roster[1].status, Some(StatusType::StatusAway as i32));
    // The same presence again: nothing to send.
    assert_eq!(ask(&mut main, "carol is away").await?, "sent 0");
    main.expect_none("BUDDY_CHANGED", std::time::Duration::ZERO, |p| {
        p.message_type() == Some(BuddyChanged)
    })
    .await?;
    assert_eq!(ask(&mut main, "carol is back").await?, "sent 1");
    let Payload::BuddyChanged(carol) = main.expect_type(BuddyChanged).await? else {
        unreachable!()
    };
    assert_eq!(carol.status, Some(StatusType::StatusOnline as i32));
    Ok(())
}

#[tokio::test]
async fn joins_are_answered_and_the_replay_after_connected_from_memory() -> HarnessResult<()> {
    let mut main = logged_in().await?;
    let first = main.join_room(USER, "#rust", "alice", "").await?;
    assert_eq!(
        names(&first),
        [("bob", MODERATOR, ""), ("carol", 0, ""), ("alice", ME, "")]
    );
    assert!(first.iter().all(|p| p.room == "#rust"), "the name as sent");
    let Payload::RoomSubjectChanged(subject) =
        main.expect_type(MessageType::RoomSubjectChanged).await?
    else {
        unreachable!()
    };
    assert_eq!(
        (subject.buddy_name.as_str(), subject.message.as_str()),
        ("#rust", "welcome")
    );

    // Spectrum 2 sends JOIN_ROOM again after every CONNECTED.
    let replay = main.join_room(USER, "#rust", "alice", "").await?;
    assert_eq!(replay, first);
    main.expect_type(MessageType::RoomSubjectChanged).await?;
    assert_eq!(
        ask(&mut main, "joins?").await?,
        "1",
        "no second network join"
    );

    // A rename on the network reaches every room.
    assert_eq!(ask(&mut main, "bob is robert").await?, "sent 1");
    let Payload::ParticipantChanged(renamed) =
        main.expect_type(MessageType::ParticipantChanged).await?
    else {
        unreachable!()
    };
    assert_eq!(names(&[renamed]), [("bob", MODERATOR, "robert")]);
    Ok(())
}

#[tokio::test]
async fn a_nickname_forced_by_the_network_is_announced_before_the_user() -> HarnessResult<()> {
    let mut main = logged_in().await?;
    let occupants = main.join_room(USER, "#busy", "taken", "").await?;
    assert_eq!(
        names(&occupants),
        [
            ("bob", MODERATOR, ""),
            ("carol", 0, ""),
            ("taken", ME, "taken_")
        ]
    );
    let Payload::RoomNicknameChanged(nick) =
        main.expect_type(MessageType::RoomNicknameChanged).await?
    else {
        unreachable!()
    };
    assert_eq!(
        (nick.room.as_str(), nick.nickname.as_str()),
        ("#busy", "taken_")
    );
    // ROOM_NICKNAME_CHANGED came first: Spectrum 2 then takes the rename
    // to `taken_` as the user's own presence.
    let kinds: Vec<_> = main
        .received()
        .filter_map(|p| p.message_type())
        .filter(|k| {
            matches!(
                k,
                MessageType::RoomNicknameChanged | MessageType::ParticipantChanged
            )
        })
        .collect();
    assert_eq!(
        kinds.first(),
        Some(&MessageType::RoomNicknameChanged),
        "{kinds:?}"
    );
    Ok(())
}

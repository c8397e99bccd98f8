//! The room tracker for a network that names rooms and people by lasting
//! identifiers of its own (Matrix room and user IDs), over a real socket:
//! news found by the room's identifier, a full member list in which a
//! nickname changed becomes a rename, and the JOIN_ROOM that Spectrum 2
//! replays answered with the room as it is now.

#![allow(clippy::unwrap_used)]

use spectrum_backend::gateway::rooms::Occupant;
use spectrum_backend::prelude::*;
use spectrum_backend::proto::{self, Payload};
use spectrum_backend::testing::{MainInstance, Result as HarnessResult};
use spectrum_backend::view;

const CONFIG: &str = "[service]\njid = ids.localhost\n";
const USER: &str = "alice@ids.localhost";

/// The network's identifier of a room the user joins by name.
fn room_id(name: &str) -> String {
    format!("!{}:net", name.trim_start_matches('#').to_uppercase())
}

/// The members, by identity, under the names the network gives them.
fn members(bob: &str) -> Vec<Occupant> {
    vec![
        Occupant::new("Alice").id("@alice:net"),
        Occupant::new(bob).id("@bob:net").moderator(),
    ]
}

struct ById;

#[backend]
impl ById {
    #[on(Login)]
    async fn login(_login: Login) -> Self {
        ById
    }

    #[on(JoinRoom)]
    async fn join(&mut self, ctx: &Ctx, join: view::Join) -> Result<()> {
        let id = room_id(join.room());
        let frames = ctx.with_rooms(|rooms| {
            rooms.join_requested(join.raw());
            rooms.identify(join.room(), id.as_str());
            rooms.joined(&id, "Alice", members("Bob"))
        });
        ctx.send_all(frames).await
    }

    /// What "the network" says, as the user's messages to `network`:
    /// `renamed ROOM NICK` gives bob's new name in the room's full list.
    #[on(ConvMessage)]
    async fn message(&mut self, ctx: &Ctx, msg: view::Message) -> Result<()> {
        let words: Vec<&str> = msg.text().split(' ').collect();
        match words.as_slice() {
            ["renamed", room, nick] => {
                let id = room_id(room);
                let frames = ctx.with_rooms(|rooms| rooms.occupants_are(&id, members(nick)));
                ctx.send_all(frames).await
            }
            ["who", room, id] => {
                let who = ctx.with_rooms(|rooms| {
                    rooms
                        .occupant_with_id(&room_id(room), id)
                        .map_or("nobody".to_owned(), |o| o.nickname.clone())
                });
                ctx.message("network", who).await
            }
            _ => ctx.message("network", "?").await,
        }
    }
}

fn participants(frames: &[proto::Participant]) -> Vec<(String, String)> {
    frames
        .iter()
        .map(|p| (p.nickname.clone(), p.newname.clone().unwrap_or_default()))
        .collect()
}

async fn say(main: &mut MainInstance, text: &str) -> HarnessResult<()> {
    main.send_message(USER, "network", text).await
}

#[tokio::test]
async fn rooms_and_occupants_known_by_identifier() -> HarnessResult<()> {
    let mut main = MainInstance::start::<ById>(CONFIG).await?;
    main.handshake().await?;
    main.login(USER, "alice", "").await?;
    let first = main.join_room(USER, "#lobby", "ally", "").await?;
    assert_eq!(
        participants(&first),
        [
            ("Bob".to_owned(), String::new()),
            ("ally".to_owned(), "Alice".to_owned())
        ],
        "the network's name for the user replaces the requested one"
    );

    say(&mut main, "renamed #lobby Robert").await?;
    let renamed = main
        .expect("bob's rename", |p| match p {
            Payload::ParticipantChanged(p) => Some(p.clone()),
            _ => None,
        })
        .await?;
    assert_eq!(
        (renamed.nickname.as_str(), renamed.newname.as_deref()),
        ("Bob", Some("Robert")),
        "a rename, not a leave and a join"
    );
    say(&mut main, "who #lobby @bob:net").await?;
    assert_eq!(main.expect_message(USER).await?.message, "Robert");

    // Spectrum 2 replays the join (it does after every CONNECTED).
    let replay = main.join_room(USER, "#lobby", "Alice", "").await?;
    assert_eq!(
        participants(&replay),
        [
            ("Robert".to_owned(), String::new()),
            ("Alice".to_owned(), String::new())
        ],
        "the room as it is now"
    );

    // Left: the identifier finds nothing any more.
    main.leave_room(USER, "#lobby").await?;
    say(&mut main, "renamed #lobby Bobby").await?;
    say(&mut main, "who #lobby @bob:net").await?;
    assert_eq!(main.expect_message(USER).await?.message, "nobody");
    assert!(
        !main
            .unconsumed()
            .any(|p| matches!(p, Payload::ParticipantChanged(_))),
        "nothing about a room left"
    );
    main.exit().await?;
    Ok(())
}

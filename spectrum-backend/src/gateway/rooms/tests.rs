use super::*;
use spectrum_proto::StatusType;

const USER: &str = "alice@example.org";

fn request(room: &str, nickname: &str) -> proto::Room {
    proto::Room {
        user_name: USER.into(),
        nickname: nickname.into(),
        room: room.into(),
        password: Some(String::new()),
    }
}

/// A frame in the short form of [`crate::testing::room_frame`], checked to
/// be addressed to [`USER`].
fn show(frame: &Payload) -> String {
    let user = match frame {
        Payload::ParticipantChanged(p) => &p.user_name,
        Payload::RoomNicknameChanged(r) => &r.user_name,
        Payload::RoomSubjectChanged(m) => &m.user_name,
        other => panic!("unexpected frame {other:?}"),
    };
    assert_eq!(user, USER);
    crate::testing::room_frame(frame).expect("a room frame")
}

fn shown(frames: &[Payload]) -> Vec<String> {
    frames.iter().map(show).collect()
}

const ME: i32 = 16;
const MOD: i32 = 1;
const NONE: i32 = 5;

/// The answer to joining `#rust`: occupants, the user last, the subject.
fn rust_answer() -> [String; 4] {
    [
        "P #rust bob 1 0".into(),
        "P #rust carol 0 0".into(),
        format!("P #rust alice {ME} 0"),
        "S #rust hello bob".into(),
    ]
}

/// `#rust` joined as alice with bob (moderator) and carol, topic set by bob.
fn joined_rust() -> Rooms {
    let mut rooms = Rooms::new(USER);
    assert_eq!(
        rooms.join_requested(&request("#rust", "alice")),
        JoinAction::Join(JoinRequest {
            room: "#rust".into(),
            nickname: "alice".into(),
            password: String::new(),
        })
    );
    assert!(rooms.subject_changed("#Rust", "hello", "bob").is_empty());
    let frames = rooms.joined(
        "#Rust",
        "alice",
        [
            Occupant::new("carol"),
            Occupant::new("alice"),
            Occupant::new("bob").moderator(),
        ],
    );
    assert_eq!(shown(&frames), rust_answer());
    rooms
}

#[test]
fn a_join_is_answered_with_the_occupants_then_the_user_then_the_subject() {
    let rooms = joined_rust();
    assert!(rooms.is_joined("#RUST"));
    assert_eq!(rooms.name("#RUST"), Some("#rust"));
    assert_eq!(rooms.own_nickname("#rust"), Some("alice"));
    assert_eq!(rooms.subject("#rust"), Some(("hello", "bob")));
    let others: Vec<_> = rooms.occupants_of("#rust").map(|o| &o.nickname).collect();
    assert_eq!(others, ["bob", "carol"]);
}

#[test]
fn the_users_own_flags_come_from_the_networks_list() {
    let mut rooms = Rooms::new(USER);
    rooms.join_requested(&request("#ops", "alice"));
    let frames = rooms.joined("#ops", "alice", [Occupant::new("alice").moderator()]);
    assert_eq!(shown(&frames), [format!("P #ops alice {} 0", ME | MOD)]);
}

#[test]
fn the_replayed_join_is_answered_from_memory() {
    let mut rooms = joined_rust();
    let JoinAction::Replay(frames) = rooms.join_requested(&request("#rust", "alice")) else {
        panic!("a replayed join must not go to the network");
    };
    assert_eq!(shown(&frames), rust_answer());
}

#[test]
fn a_second_join_while_the_first_is_pending_waits_for_it() {
    let mut rooms = Rooms::new(USER);
    assert!(matches!(
        rooms.join_requested(&request("#a", "alice")),
        JoinAction::Join(_)
    ));
    assert_eq!(
        rooms.join_requested(&request("#a", "alice")),
        JoinAction::Pending
    );
    assert!(!rooms.is_joined("#a"));
    // Nothing about a room being joined reaches Spectrum 2 before its answer.
    assert!(rooms.occupant("#a", Occupant::new("bob")).is_empty());
    assert!(rooms.occupant_left("#a", "bob", "").is_empty());
}

#[test]
fn a_nickname_forced_by_the_network_is_announced_first() {
    let mut rooms = Rooms::new(USER);
    rooms.join_requested(&request("#rust", "alice"));
    let frames = rooms.joined("#rust", "alice_", [Occupant::new("bob")]);
    assert_eq!(
        shown(&frames),
        [
            "N #rust alice_",
            "P #rust bob 0 0",
            &format!("P #rust alice {ME} 0 alice_"),
        ]
    );
    assert_eq!(rooms.own_nickname("#rust"), Some("alice_"));
    // The replay asks for "alice" again: the same answer.
    let JoinAction::Replay(again) = rooms.join_requested(&request("#rust", "alice")) else {
        panic!("expected a replay");
    };
    assert_eq!(again, frames);
}

#[test]
fn a_full_list_gives_only_the_differences() {
    let mut rooms = joined_rust();
    let frames = rooms.occupants_are(
        "#rust",
        [
            Occupant::new("bob"), // lost moderator
            Occupant::new("dave"),
            Occupant::new("alice").moderator(),
        ],
    );
    assert_eq!(
        shown(&frames),
        [
            &format!("P #rust carol 0 {NONE}"),
            "P #rust bob 0 0",
            "P #rust dave 0 0",
            &format!("P #rust alice {} 0", ME | MOD),
        ]
    );
    // The same list again: nothing changed.
    let same = rooms.occupants_are(
        "#rust",
        [
            Occupant::new("dave"),
            Occupant::new("bob"),
            Occupant::new("alice").moderator(),
        ],
    );
    assert!(same.is_empty(), "{:?}", shown(&same));
}

#[test]
fn occupants_join_change_and_leave() {
    let mut rooms = joined_rust();
    assert_eq!(
        shown(&rooms.occupant("#rust", Occupant::new("dave"))),
        ["P #rust dave 0 0"]
    );
    assert!(rooms.occupant("#rust", Occupant::new("dave")).is_empty());
    let away = Occupant::new("dave").status(StatusType::StatusAway, "brb");
    let frames = rooms.occupant("#rust", away);
    assert_eq!(shown(&frames), ["P #rust dave 0 1"]);
    let Payload::ParticipantChanged(p) = &frames[0] else {
        unreachable!()
    };
    assert_eq!(p.status_message.as_deref(), Some("brb"));
    let frames = rooms.occupant_left("#rust", "dave", "bye");
    assert_eq!(shown(&frames), [format!("P #rust dave 0 {NONE}")]);
    let Payload::ParticipantChanged(p) = &frames[0] else {
        unreachable!()
    };
    assert_eq!(p.status_message.as_deref(), Some("bye"));
    assert!(rooms.occupant_left("#rust", "dave", "").is_empty());
}

#[test]
fn flags_change_once() {
    let mut rooms = joined_rust();
    let op = Flags::from(ParticipantFlag::Moderator);
    assert_eq!(
        shown(&rooms.flags_changed("#rust", "carol", op)),
        ["P #rust carol 1 0"]
    );
    assert!(rooms.flags_changed("#rust", "carol", op).is_empty());
    assert_eq!(
        shown(&rooms.flags_changed("#rust", "alice", op)),
        [format!("P #rust alice {} 0", ME | MOD)]
    );
    assert!(rooms.flags_changed("#rust", "nobody", op).is_empty());
}

#[test]
fn others_rename() {
    let mut rooms = joined_rust();
    assert_eq!(
        shown(&rooms.renamed("#rust", "bob", "robert")),
        ["P #rust bob 1 0 robert"]
    );
    let others: Vec<_> = rooms.occupants_of("#rust").map(|o| &o.nickname).collect();
    assert_eq!(others, ["carol", "robert"]);
    assert!(rooms.renamed("#rust", "bob", "x").is_empty());
}

#[test]
fn the_users_own_rename_sends_the_new_nickname_first() {
    let mut rooms = joined_rust();
    assert_eq!(
        shown(&rooms.renamed("#rust", "alice", "alicia")),
        ["N #rust alicia", &format!("P #rust alice {ME} 0 alicia")]
    );
    assert_eq!(rooms.own_nickname("#rust"), Some("alicia"));
}

#[test]
fn network_wide_renames_and_quits_touch_every_room() {
    let mut rooms = joined_rust();
    rooms.join_requested(&request("#go", "alice"));
    rooms.joined("#go", "alice", [Occupant::new("bob")]);
    assert_eq!(
        shown(&rooms.renamed_everywhere("bob", "rob")),
        ["P #go bob 0 0 rob", "P #rust bob 1 0 rob"]
    );
    assert_eq!(
        shown(&rooms.occupant_left_everywhere("rob", "quit")),
        [
            format!("P #go rob 0 {NONE}"),
            format!("P #rust rob 1 {NONE}")
        ]
    );
    assert!(rooms.occupant_left_everywhere("alice", "").is_empty());
}

#[test]
fn nicknames_fold_when_asked() {
    let mut rooms = Rooms::new(USER).fold_nicknames(|n| n.to_ascii_lowercase());
    rooms.join_requested(&request("#a", "Alice"));
    let frames = rooms.joined("#A", "Alice", [Occupant::new("ALICE").moderator()]);
    assert_eq!(shown(&frames), [format!("P #a Alice {} 0", ME | MOD)]);
    assert!(rooms.occupant_of("#a", "alice").is_some());
    assert_eq!(
        shown(&rooms.renamed("#a", "ALICE", "Al")),
        ["N #a Al", &format!("P #a Alice {} 0 Al", ME | MOD)]
    );
}

#[test]
fn the_subject_goes_out_once_per_change() {
    let mut rooms = joined_rust();
    assert!(rooms.subject_changed("#rust", "hello", "bob").is_empty());
    assert_eq!(
        shown(&rooms.subject_changed("#RUST", "news", "carol")),
        ["S #rust news carol"]
    );
}

#[test]
fn a_refused_join_reports_the_error_on_the_requested_nickname() {
    let mut rooms = Rooms::new(USER);
    rooms.join_requested(&request("#secret", "alice"));
    let frames = rooms.join_failed("#secret", ParticipantFlag::NotAuthorized, "bad key");
    assert_eq!(shown(&frames), [format!("P #secret alice 8 {NONE}")]);
    let Payload::ParticipantChanged(p) = &frames[0] else {
        unreachable!()
    };
    assert_eq!(p.status_message.as_deref(), Some("bad key"));
    assert!(rooms.name("#secret").is_none());
    // Asked again, it goes to the network again.
    assert!(matches!(
        rooms.join_requested(&request("#secret", "alice")),
        JoinAction::Join(_)
    ));
}

#[test]
fn being_kicked_leaves_the_room() {
    let mut rooms = joined_rust();
    assert_eq!(
        shown(&rooms.occupant_left("#rust", "alice", "kicked by bob")),
        [format!("P #rust alice {ME} {NONE}")]
    );
    assert!(!rooms.is_joined("#rust"));
    assert!(rooms.occupant("#rust", Occupant::new("x")).is_empty());
}

#[test]
fn leaving_forgets_the_room() {
    let mut rooms = joined_rust();
    assert_eq!(rooms.left("#RUST").as_deref(), Some("#rust"));
    assert_eq!(rooms.left("#rust"), None);
    assert!(rooms.subject_changed("#rust", "late", "bob").is_empty());
    assert!(rooms.joined("#rust", "alice", []).is_empty());
    assert_eq!(rooms.names().count(), 0);
}

#[test]
fn after_a_lost_connection_a_rejoin_reports_what_changed() {
    let mut rooms = joined_rust();
    let again = rooms.connection_lost();
    assert_eq!(
        again,
        [JoinRequest {
            room: "#rust".into(),
            nickname: "alice".into(),
            password: String::new(),
        }]
    );
    assert!(!rooms.is_joined("#rust"));
    // While the network is away, a replayed JOIN_ROOM waits for the rejoin.
    assert_eq!(
        rooms.join_requested(&request("#rust", "alice")),
        JoinAction::Pending
    );
    let frames = rooms.joined(
        "#rust",
        "alice",
        [Occupant::new("bob").moderator(), Occupant::new("erin")],
    );
    assert_eq!(
        shown(&frames),
        [format!("P #rust carol 0 {NONE}"), "P #rust erin 0 0".into()]
    );
}

/// `#lobby:x` (Matrix's alias) joined by its room ID `!Lobby:x`, with
/// occupants known by user ID under their display names.
fn joined_lobby() -> Rooms {
    let mut rooms = Rooms::new(USER);
    rooms.join_requested(&request("#lobby:x", "ally"));
    rooms.identify("#lobby:x", "!Lobby:x");
    let frames = rooms.joined(
        "!Lobby:x",
        "Alice",
        [
            Occupant::new("Alice").id("@alice:x"),
            Occupant::new("Bob").id("@bob:x"),
        ],
    );
    assert_eq!(
        shown(&frames),
        [
            "N #lobby:x Alice",
            "P #lobby:x Bob 0 0",
            &format!("P #lobby:x ally {ME} 0 Alice"),
        ]
    );
    rooms
}

#[test]
fn a_room_is_found_by_the_networks_identifier_exactly() {
    let mut rooms = joined_lobby();
    assert_eq!(rooms.id("#LOBBY:x"), Some("!Lobby:x"));
    assert_eq!(rooms.name("!Lobby:x"), Some("#lobby:x"));
    assert_eq!(rooms.name("!lobby:x"), None, "identifiers are exact");
    assert_eq!(
        shown(&rooms.subject_changed("!Lobby:x", "hi", "Bob")),
        ["S #lobby:x hi Bob"]
    );
    assert_eq!(rooms.left("!Lobby:x").as_deref(), Some("#lobby:x"));
    assert_eq!(rooms.name("!Lobby:x"), None, "forgotten with the room");
    assert!(rooms.occupant("!Lobby:x", Occupant::new("x")).is_empty());
}

#[test]
fn a_full_list_by_identity_gives_renames_not_leaves_and_joins() {
    let mut rooms = joined_lobby();
    assert_eq!(
        rooms
            .occupant_with_id("!Lobby:x", "@bob:x")
            .map(|o| o.nickname.as_str()),
        Some("Bob")
    );
    let frames = rooms.occupants_are(
        "!Lobby:x",
        [
            Occupant::new("Alice").id("@alice:x"),
            Occupant::new("Robert").id("@bob:x").moderator(),
            Occupant::new("Carol").id("@carol:x"),
        ],
    );
    assert_eq!(
        shown(&frames),
        [
            "P #lobby:x Bob 0 0 Robert",
            "P #lobby:x Carol 0 0",
            "P #lobby:x Robert 1 0",
        ]
    );
    // The user's own display name changed elsewhere.
    let frames = rooms.occupants_are(
        "!Lobby:x",
        [
            Occupant::new("Alicia").id("@alice:x"),
            Occupant::new("Robert").id("@bob:x").moderator(),
            Occupant::new("Carol").id("@carol:x"),
        ],
    );
    assert_eq!(
        shown(&frames),
        [
            "N #lobby:x Alicia",
            &format!("P #lobby:x Alice {ME} 0 Alicia")
        ]
    );
    assert_eq!(rooms.own_nickname("#lobby:x"), Some("Alicia"));
    // Two occupants swap nicknames; a third takes a freed one.
    let frames = rooms.occupants_are(
        "!Lobby:x",
        [
            Occupant::new("Alicia").id("@alice:x"),
            Occupant::new("Carol").id("@bob:x").moderator(),
            Occupant::new("Robert").id("@carol:x"),
        ],
    );
    assert_eq!(
        shown(&frames),
        ["P #lobby:x Carol 0 0 Robert", "P #lobby:x Robert 1 0 Carol",]
    );
    let JoinAction::Replay(replay) = rooms.join_requested(&request("#lobby:x", "Alicia")) else {
        panic!("joined already");
    };
    assert_eq!(
        shown(&replay),
        [
            "P #lobby:x Carol 1 0",
            "P #lobby:x Robert 0 0",
            &format!("P #lobby:x Alicia {ME} 0"),
        ],
        "a replay shows the list as it is now"
    );
}

#[test]
fn an_occupant_list_in_pieces_answers_the_join_then_gives_the_differences() {
    let mut rooms = Rooms::new(USER);
    rooms.join_requested(&request("#rust", "alice"));
    assert!(rooms.subject_changed("#rust", "hello", "bob").is_empty());
    rooms.occupants_arriving("#Rust", [Occupant::new("carol")]);
    rooms.occupants_arriving(
        "#rust",
        [Occupant::new("alice"), Occupant::new("bob").moderator()],
    );
    // Pieces for a room the user is not in are dropped.
    rooms.occupants_arriving("#go", [Occupant::new("dave")]);
    assert!(rooms.occupants_done("#go", "alice").is_empty());
    assert_eq!(
        shown(&rooms.occupants_done("#rust", "alice")),
        rust_answer()
    );
    // Joined: the next complete list gives what changed only.
    rooms.occupants_arriving("#rust", [Occupant::new("bob").moderator()]);
    rooms.occupants_arriving("#rust", [Occupant::new("alice"), Occupant::new("dave")]);
    assert_eq!(
        shown(&rooms.occupants_done("#rust", "alice")),
        ["P #rust carol 0 5", "P #rust dave 0 0"]
    );
}

#[test]
fn an_occupant_list_that_never_ends_is_cut() {
    let mut rooms = Rooms::new(USER);
    rooms.join_requested(&request("#big", "alice"));
    for chunk in 0..(MAX_ARRIVING / 1000 + 2) {
        rooms.occupants_arriving(
            "#big",
            (0..1000).map(|i| Occupant::new(format!("n{chunk}-{i}"))),
        );
    }
    let frames = rooms.occupants_done("#big", "alice");
    // Every occupant kept, and the user.
    assert_eq!(frames.len(), MAX_ARRIVING + 1);
}

#[test]
fn a_lost_connection_drops_a_list_half_arrived() {
    let mut rooms = joined_rust();
    rooms.occupants_arriving("#rust", [Occupant::new("zed")]);
    assert_eq!(rooms.connection_lost().len(), 1);
    let frames = rooms.occupants_done("#rust", "alice");
    assert!(
        shown(&frames).iter().all(|f| !f.contains("zed")),
        "{frames:?}"
    );
}

#[test]
fn one_flag_changes_and_the_others_stay() {
    let mut rooms = joined_rust();
    let owner = ParticipantFlag::Moderator;
    assert!(rooms.flag_set("#rust", "bob", owner, true).is_empty());
    assert_eq!(
        shown(&rooms.flag_set("#rust", "bob", owner, false)),
        ["P #rust bob 0 0"]
    );
    assert_eq!(
        shown(&rooms.flag_set("#rust", "carol", owner, true)),
        ["P #rust carol 1 0"]
    );
    assert!(rooms.flag_set("#rust", "nobody", owner, true).is_empty());
}

#[test]
fn a_subject_in_two_parts_keeps_the_other_part() {
    let mut rooms = joined_rust();
    assert_eq!(
        shown(&rooms.subject_text("#rust", "news")),
        ["S #rust news bob"]
    );
    assert_eq!(
        shown(&rooms.subject_set_by("#rust", "carol")),
        ["S #rust news carol"]
    );
    assert!(rooms.subject_set_by("#rust", "carol").is_empty());
}

#[test]
fn private_chats_follow_renames_end_with_the_room_and_are_bounded() {
    let mut rooms = joined_rust().fold_nicknames(|n| n.to_ascii_lowercase());
    rooms.private_chat("#Rust", "Bob");
    assert_eq!(rooms.private_chat_of("BOB"), Some("#rust"));
    rooms.renamed_everywhere("bob", "robert");
    assert_eq!(rooms.private_chat_of("bob"), None);
    assert_eq!(rooms.private_chat_of("Robert"), Some("#rust"));
    // Not through a room the user is not in.
    rooms.private_chat("#go", "dave");
    assert_eq!(rooms.private_chat_of("dave"), None);
    for i in 0..MAX_PRIVATE_CHATS + 10 {
        rooms.private_chat("#rust", &format!("n{i:05}"));
    }
    let kept = (0..MAX_PRIVATE_CHATS + 10)
        .filter(|i| rooms.private_chat_of(&format!("n{i:05}")).is_some())
        .count();
    assert!(kept <= MAX_PRIVATE_CHATS, "{kept} kept");
    assert_eq!(
        rooms.private_chat_of(&format!("n{:05}", MAX_PRIVATE_CHATS + 9)),
        Some("#rust")
    );
    rooms.left("#rust");
    assert_eq!(rooms.private_chat_of("robert"), None);
}

/// `#a%one` and `#b%two`, both with bob and carol, joined as alice.
fn two_networks() -> Rooms {
    let mut rooms = Rooms::new(USER);
    for room in ["#a%one", "#b%two"] {
        rooms.join_requested(&request(room, "alice"));
        rooms.joined(
            room,
            "alice",
            [Occupant::new("bob"), Occupant::new("carol")],
        );
    }
    rooms
}

fn on_one(room: &str) -> bool {
    room.ends_with("%one")
}

#[test]
fn a_quit_and_a_rename_on_one_network_leave_the_others_rooms_alone() {
    let mut rooms = two_networks();
    assert_eq!(
        shown(&rooms.occupant_left_where(on_one, "bob", "bye")),
        ["P #a%one bob 0 5"]
    );
    assert!(rooms.occupant_of("#b%two", "bob").is_some());
    assert_eq!(
        shown(&rooms.renamed_where(on_one, "carol", "caro")),
        ["P #a%one carol 0 0 caro"]
    );
    assert!(rooms.occupant_of("#b%two", "carol").is_some());
    // The user's own rename, on one network only.
    assert_eq!(
        shown(&rooms.renamed_where(on_one, "alice", "al")),
        ["N #a%one al", &format!("P #a%one alice {ME} 0 al")]
    );
    assert_eq!(rooms.own_nickname("#b%two"), Some("alice"));
}

#[test]
fn a_link_gone_ends_its_rooms_only() {
    let mut rooms = two_networks();
    assert_eq!(
        shown(&rooms.link_gone_where(on_one, "gave up")),
        [format!("P #a%one alice {ME} 5")]
    );
    assert!(!rooms.is_joined("#a%one") && rooms.name("#a%one").is_none());
    assert!(rooms.is_joined("#b%two"));
    assert!(rooms.link_gone_where(on_one, "again").is_empty());
}

#[test]
fn a_link_gone_answers_its_joins_still_waiting_and_ends_rooms_being_joined_again() {
    let mut rooms = two_networks();
    // A join the network of `%one` has not answered yet, and `#a%one` being
    // joined again after a lost connection.
    rooms.join_requested(&request("#new%one", "alice"));
    assert_eq!(rooms.connection_lost_where(on_one).len(), 2);
    let not_found = ParticipantFlag::RoomNotFound.bit();
    let mut frames = shown(&rooms.link_gone_where(on_one, "gave up"));
    frames.sort();
    assert_eq!(
        frames,
        [
            format!("P #a%one alice {ME} 5"),
            format!("P #new%one alice {not_found} 5"),
        ]
    );
    assert!(rooms.name("#new%one").is_none() && rooms.name("#a%one").is_none());
    assert!(rooms.is_joined("#b%two"));
}

//! The simulator's command language, shared by the prompt and by scripts.
//!
//! One command per line: a keyword, then words separated by spaces; the last
//! argument of `send`, `status` and the `expect` forms that take text is the
//! rest of the line, verbatim. Blank lines and lines starting with `#` are
//! ignored.

use std::fmt;
use std::time::Duration;

use spectrum_backend::proto::{MessageType, Payload, StatusType};

/// One line of input, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Command {
    /// Send LOGIN.
    Login {
        /// The XMPP bare JID.
        user: String,
        /// The name on the legacy network.
        legacy_name: String,
        /// The legacy password (empty if not given).
        password: String,
    },
    /// Send LOGOUT.
    Logout {
        /// The XMPP bare JID.
        user: String,
    },
    /// Send a CONV_MESSAGE from the XMPP user.
    Send {
        /// The XMPP bare JID.
        user: String,
        /// The legacy contact.
        buddy: String,
        /// The message body.
        text: String,
    },
    /// Send JOIN_ROOM.
    Join {
        /// The XMPP bare JID.
        user: String,
        /// The room name, as the main sends it (lower-cased).
        room: String,
        /// The user's nickname in the room.
        nick: String,
        /// The room password (empty if not given).
        password: String,
    },
    /// Send LEAVE_ROOM.
    Leave {
        /// The XMPP bare JID.
        user: String,
        /// The room name.
        room: String,
    },
    /// Send STATUS_CHANGED.
    Status {
        /// The XMPP bare JID.
        user: String,
        /// The new presence.
        status: StatusType,
        /// The status text (may be empty).
        text: String,
    },
    /// Send a VCARD request.
    Vcard {
        /// The XMPP bare JID.
        user: String,
        /// Whose vCard.
        buddy: String,
    },
    /// Send BUDDY_TYPING.
    Typing {
        /// The XMPP bare JID.
        user: String,
        /// To whom the user is typing.
        buddy: String,
    },
    /// Send BUDDY_TYPED (the user paused typing; XMPP `paused`).
    Paused {
        /// The XMPP bare JID.
        user: String,
        /// To whom the user was typing.
        buddy: String,
    },
    /// Send BUDDY_STOPPED_TYPING (XMPP `active` or `inactive`).
    Stopped {
        /// The XMPP bare JID.
        user: String,
        /// To whom the user was typing.
        buddy: String,
    },
    /// Send PING.
    Ping,
    /// Make this JID the current user: later commands leave `<user>` out.
    User(String),
    /// Print the command list.
    Help,
    /// Send EXIT, wait for the backend to end, and stop.
    Quit,
    /// Wait for a frame from the backend.
    Expect(Expectation),
    /// Change how long `expect` waits.
    Timeout(Duration),
    /// Wait, printing whatever arrives.
    Sleep(Duration),
}

/// A frame an `expect` line waits for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expectation {
    /// CONNECTED for the user.
    Connected {
        /// The XMPP bare JID.
        user: String,
    },
    /// DISCONNECTED for the user, with this error code if given.
    Disconnected {
        /// The XMPP bare JID.
        user: String,
        /// The expected `error` field.
        code: Option<i32>,
    },
    /// CONV_MESSAGE for the user from the buddy, with this text if given.
    Message {
        /// The XMPP bare JID.
        user: String,
        /// The sending contact.
        buddy: String,
        /// The expected body.
        text: Option<String>,
    },
    /// A VCARD from the backend, with this field value if given.
    Vcard {
        /// The field to compare, and its expected value.
        field: Option<(VcardField, String)>,
    },
    /// PARTICIPANT_CHANGED for the user in the room, about this nickname.
    Participant {
        /// The XMPP bare JID.
        user: String,
        /// The room name.
        room: String,
        /// The occupant's nickname.
        nick: String,
    },
    /// Any frame of this type.
    Type(MessageType),
}

/// The vCard fields `expect vcard` can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VcardField {
    /// `fullname`.
    Fullname,
    /// `nickname`.
    Nickname,
}

impl Expectation {
    /// The type of frame this expectation waits for.
    pub(crate) fn kind(&self) -> MessageType {
        match self {
            Expectation::Connected { .. } => MessageType::Connected,
            Expectation::Disconnected { .. } => MessageType::Disconnected,
            Expectation::Message { .. } => MessageType::ConvMessage,
            Expectation::Vcard { .. } => MessageType::Vcard,
            Expectation::Participant { .. } => MessageType::ParticipantChanged,
            Expectation::Type(kind) => *kind,
        }
    }

    /// Whether a frame from the backend satisfies this expectation.
    pub(crate) fn matches(&self, payload: &Payload) -> bool {
        match (self, payload) {
            (Expectation::Connected { user }, Payload::Connected(c)) => &c.user == user,
            (Expectation::Disconnected { user, code }, Payload::Disconnected(d)) => {
                &d.user == user && code.is_none_or(|c| c == d.error)
            }
            (Expectation::Message { user, buddy, text }, Payload::ConvMessage(m)) => {
                &m.user_name == user
                    && &m.buddy_name == buddy
                    && text.as_ref().is_none_or(|t| t == &m.message)
            }
            (Expectation::Vcard { field }, Payload::Vcard(v)) => match field {
                None => true,
                Some((VcardField::Fullname, want)) => v.fullname.as_deref() == Some(want),
                Some((VcardField::Nickname, want)) => v.nickname.as_deref() == Some(want),
            },
            (Expectation::Participant { user, room, nick }, Payload::ParticipantChanged(p)) => {
                &p.user_name == user && &p.room == room && &p.nickname == nick
            }
            (Expectation::Type(kind), p) => p.message_type() == Some(*kind),
            _ => false,
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Connected { user } => write!(f, "CONNECTED for {user}"),
            Expectation::Disconnected { user, code } => {
                write!(f, "DISCONNECTED for {user}")?;
                match code {
                    Some(c) => write!(f, " with error {c}"),
                    None => Ok(()),
                }
            }
            Expectation::Message { user, buddy, text } => {
                write!(f, "CONV_MESSAGE for {user} from {buddy}")?;
                match text {
                    Some(t) => write!(f, " saying {t:?}"),
                    None => Ok(()),
                }
            }
            Expectation::Vcard { field } => match field {
                None => write!(f, "VCARD"),
                Some((VcardField::Fullname, v)) => write!(f, "VCARD with fullname {v:?}"),
                Some((VcardField::Nickname, v)) => write!(f, "VCARD with nickname {v:?}"),
            },
            Expectation::Participant { user, room, nick } => {
                write!(f, "PARTICIPANT_CHANGED for {user} in {room} about {nick}")
            }
            Expectation::Type(kind) => f.write_str(type_name(*kind)),
        }
    }
}

/// A type's protocol name without the `TYPE_` prefix: `CONV_MESSAGE`.
pub(crate) fn type_name(kind: MessageType) -> &'static str {
    let name = kind.as_str_name();
    name.strip_prefix("TYPE_").unwrap_or(name)
}

/// Every command: its syntax, and what it does. `help` prints this table.
pub(crate) const COMMANDS: &[(&str, &str)] = &[
    (
        "login <user> <legacy-name> [password]",
        "LOGIN (user = the XMPP bare JID)",
    ),
    ("logout <user>", "LOGOUT"),
    (
        "send <user> <buddy> <text...>",
        "CONV_MESSAGE from the user to a contact",
    ),
    ("join <user> <room> <nick> [password]", "JOIN_ROOM"),
    ("leave <user> <room>", "LEAVE_ROOM"),
    (
        "status <user> <online|away|chat|xa|dnd|invisible> [text...]",
        "STATUS_CHANGED",
    ),
    (
        "vcard <user> <buddy>",
        "VCARD request (a fresh id each time)",
    ),
    ("typing <user> <buddy>", "BUDDY_TYPING (XMPP `composing`)"),
    ("paused <user> <buddy>", "BUDDY_TYPED (XMPP `paused`)"),
    (
        "stopped <user> <buddy>",
        "BUDDY_STOPPED_TYPING (XMPP `active` or `inactive`)",
    ),
    (
        "user <jid>",
        "make <jid> the current user: from now on, leave <user> out of commands",
    ),
    ("ping", "PING (the PONG shows the round trip)"),
    ("help", "this list"),
    (
        "quit | exit",
        "EXIT, then wait for the backend to end and show its exit code",
    ),
    ("expect connected <user>", "wait for CONNECTED"),
    (
        "expect disconnected <user> [code]",
        "wait for DISCONNECTED, with that error code if given",
    ),
    (
        "expect message <user> <buddy> [text...]",
        "wait for CONV_MESSAGE from the buddy, with that text if given",
    ),
    (
        "expect vcard [fullname=<text>|nickname=<text>]",
        "wait for a VCARD answer",
    ),
    (
        "expect participant <user> <room> <nick>",
        "wait for PARTICIPANT_CHANGED about that nickname",
    ),
    (
        "expect type <TYPE_NAME>",
        "wait for any frame of that type, e.g. BUDDY_CHANGED",
    ),
    ("timeout <secs>", "how long `expect` waits (default 5)"),
    ("sleep <ms>", "wait, showing whatever arrives"),
];

/// The help text: one line per command.
pub(crate) fn help() -> String {
    let width = COMMANDS.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    let mut out = String::from("commands (frames: → to the backend, ← from it):\n");
    for (syntax, what) in COMMANDS {
        out.push_str(&format!("  {syntax:<width$}  {what}\n"));
    }
    out.push_str(
        "  after `user <jid>`, leave <user> out: `send bob hi`, `expect connected`;\n  \
         `expect` takes the first matching frame from the backend that no earlier `expect`\n  \
         took (it may have come before), waiting up to the timeout for one;\n  \
         blank lines and lines starting with # are ignored",
    );
    out
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// Parses one line; `Ok(None)` for a blank line or a comment. With a
/// `current` user (set by `user <jid>`), commands take no `<user>` word.
pub(crate) fn parse(line: &str, current: Option<&str>) -> Result<Option<Command>, ParseError> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut words = Words::new(line);
    let keyword = words.word().unwrap_or_default().to_ascii_lowercase();
    let mut args = Args {
        words,
        usage: usage_of(&keyword),
        current,
    };
    let command = match keyword.as_str() {
        "login" => Command::Login {
            user: args.user()?,
            legacy_name: args.required("<legacy-name>")?,
            password: args.optional().unwrap_or_default(),
        },
        "logout" => Command::Logout { user: args.user()? },
        "send" => Command::Send {
            user: args.user()?,
            buddy: args.required("<buddy>")?,
            text: args.rest_required("<text...>")?,
        },
        "join" => Command::Join {
            user: args.user()?,
            room: args.required("<room>")?,
            nick: args.required("<nick>")?,
            password: args.optional().unwrap_or_default(),
        },
        "leave" => Command::Leave {
            user: args.user()?,
            room: args.required("<room>")?,
        },
        "status" => {
            let user = args.user()?;
            let word = args.required("<online|away|chat|xa|dnd|invisible>")?;
            let status = parse_status(&word).ok_or_else(|| {
                args.error(format!(
                    "unknown status `{word}`: use online, away, chat, xa, dnd or invisible"
                ))
            })?;
            Command::Status {
                user,
                status,
                text: args.rest(),
            }
        }
        "vcard" => Command::Vcard {
            user: args.user()?,
            buddy: args.required("<buddy>")?,
        },
        "typing" => Command::Typing {
            user: args.user()?,
            buddy: args.required("<buddy>")?,
        },
        "paused" => Command::Paused {
            user: args.user()?,
            buddy: args.required("<buddy>")?,
        },
        "stopped" => Command::Stopped {
            user: args.user()?,
            buddy: args.required("<buddy>")?,
        },
        "user" => Command::User(args.required("<jid>")?),
        "ping" => Command::Ping,
        "help" | "?" => Command::Help,
        "quit" | "exit" => Command::Quit,
        "expect" => Command::Expect(parse_expectation(&mut args)?),
        "timeout" => {
            let word = args.required("<secs>")?;
            let secs: f64 = word
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s <= 3600.0)
                .ok_or_else(|| {
                    args.error(format!(
                        "`{word}` is not a number of seconds between 0 and 3600"
                    ))
                })?;
            Command::Timeout(Duration::from_secs_f64(secs))
        }
        "sleep" => {
            let word = args.required("<ms>")?;
            let ms: u64 = word
                .parse()
                .ok()
                .filter(|ms| *ms <= 3_600_000)
                .ok_or_else(|| args.error(format!("`{word}` is not a number of milliseconds")))?;
            Command::Sleep(Duration::from_millis(ms))
        }
        other => return Err(unknown_command(other)),
    };
    args.finish()?;
    Ok(Some(command))
}

fn parse_expectation(args: &mut Args<'_>) -> Result<Expectation, ParseError> {
    let what = args
        .required("connected|disconnected|message|vcard|participant|type")?
        .to_ascii_lowercase();
    args.usage = COMMANDS
        .iter()
        .find(|(syntax, _)| {
            syntax
                .strip_prefix("expect ")
                .is_some_and(|s| s.starts_with(&what))
        })
        .map(|(syntax, _)| *syntax);
    Ok(match what.as_str() {
        "connected" => Expectation::Connected { user: args.user()? },
        "disconnected" => {
            let user = args.user()?;
            let code = match args.optional() {
                None => None,
                Some(word) => Some(word.parse().map_err(|_| {
                    args.error(format!("`{word}` is not an error code (a number)"))
                })?),
            };
            Expectation::Disconnected { user, code }
        }
        "message" => Expectation::Message {
            user: args.user()?,
            buddy: args.required("<buddy>")?,
            text: Some(args.rest()).filter(|t| !t.is_empty()),
        },
        "vcard" => {
            let rest = args.rest();
            let field = if rest.is_empty() {
                None
            } else if let Some(v) = rest.strip_prefix("fullname=") {
                Some((VcardField::Fullname, v.to_owned()))
            } else if let Some(v) = rest.strip_prefix("nickname=") {
                Some((VcardField::Nickname, v.to_owned()))
            } else {
                return Err(args.error(format!(
                    "`{rest}`: write fullname=<text> or nickname=<text>"
                )));
            };
            Expectation::Vcard { field }
        }
        "participant" => Expectation::Participant {
            user: args.user()?,
            room: args.required("<room>")?,
            nick: args.required("<nick>")?,
        },
        "type" => {
            let word = args.required("<TYPE_NAME>")?;
            let kind = parse_type(&word).ok_or_else(|| {
                args.error(format!(
                    "unknown frame type `{word}`; types are {}",
                    MessageType::ALL
                        .iter()
                        .map(|t| type_name(*t))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            Expectation::Type(kind)
        }
        other => {
            return Err(ParseError(format!(
                "unknown expectation `{other}`: expect connected, disconnected, message, vcard, participant or type"
            )));
        }
    })
}

/// `BUDDY_CHANGED`, `TYPE_BUDDY_CHANGED` or `buddy_changed`.
fn parse_type(word: &str) -> Option<MessageType> {
    let upper = word.to_ascii_uppercase();
    let name = upper.strip_prefix("TYPE_").unwrap_or(&upper);
    MessageType::from_str_name(&format!("TYPE_{name}"))
}

fn parse_status(word: &str) -> Option<StatusType> {
    Some(match word.to_ascii_lowercase().as_str() {
        "online" => StatusType::StatusOnline,
        "away" => StatusType::StatusAway,
        "chat" => StatusType::StatusFfc,
        "xa" => StatusType::StatusXa,
        "dnd" => StatusType::StatusDnd,
        "invisible" => StatusType::StatusInvisible,
        _ => return None,
    })
}

fn usage_of(keyword: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(syntax, _)| {
            syntax
                .split(' ')
                .next()
                .is_some_and(|first| first == keyword)
                || (keyword == "exit" && syntax.starts_with("quit"))
        })
        .map(|(syntax, _)| *syntax)
}

fn unknown_command(word: &str) -> ParseError {
    let keywords = [
        "login", "logout", "send", "join", "leave", "status", "vcard", "typing", "paused",
        "stopped", "user", "ping", "help", "quit", "exit", "expect", "timeout", "sleep",
    ];
    let suggestion = keywords
        .iter()
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    ParseError(format!(
        "unknown command `{word}`{suggestion}; type `help` for the list"
    ))
}

/// Edit distance counting a swap of two neighbours as one edit (optimal
/// string alignment), for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Splits a line into words, keeping the rest of the line available verbatim.
struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    fn new(line: &'a str) -> Self {
        Words { rest: line.trim() }
    }

    fn word(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest.trim_start();
        Some(word)
    }

    fn rest(&mut self) -> &'a str {
        std::mem::take(&mut self.rest)
    }
}

/// A command's arguments, with its syntax for error messages.
struct Args<'a> {
    words: Words<'a>,
    usage: Option<&'static str>,
    /// The current user, standing for every `<user>` argument.
    current: Option<&'a str>,
}

impl Args<'_> {
    /// The `<user>` argument: the current user if there is one, else the
    /// next word.
    fn user(&mut self) -> Result<String, ParseError> {
        match self.current {
            Some(user) => Ok(user.to_owned()),
            None => self.required("<user>"),
        }
    }

    fn error(&self, what: String) -> ParseError {
        match self.usage {
            Some(usage) => ParseError(format!("{what} (usage: {usage})")),
            None => ParseError(what),
        }
    }

    fn required(&mut self, name: &str) -> Result<String, ParseError> {
        self.words
            .word()
            .map(str::to_owned)
            .ok_or_else(|| self.error(format!("missing {name}")))
    }

    fn optional(&mut self) -> Option<String> {
        self.words.word().map(str::to_owned)
    }

    fn rest(&mut self) -> String {
        self.words.rest().to_owned()
    }

    fn rest_required(&mut self, name: &str) -> Result<String, ParseError> {
        let rest = self.rest();
        if rest.is_empty() {
            return Err(self.error(format!("missing {name}")));
        }
        Ok(rest)
    }

    fn finish(mut self) -> Result<(), ParseError> {
        match self.words.word() {
            None => Ok(()),
            Some(extra) => Err(self.error(format!("unexpected `{extra}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        match parse(line, None) {
            Ok(Some(c)) => c,
            other => panic!("{line:?} → {other:?}"),
        }
    }

    fn err(line: &str) -> String {
        match parse(line, None) {
            Err(e) => e.to_string(),
            other => panic!("{line:?} should not parse: {other:?}"),
        }
    }

    #[test]
    fn blank_lines_and_comments_are_nothing() {
        assert_eq!(parse("   ", None), Ok(None));
        assert_eq!(parse("# login a b", None), Ok(None));
    }

    #[test]
    fn text_is_the_rest_of_the_line_verbatim() {
        assert_eq!(
            ok("send alice@x bob  Hello,  echo! # not a comment"),
            Command::Send {
                user: "alice@x".into(),
                buddy: "bob".into(),
                text: "Hello,  echo! # not a comment".into()
            }
        );
        assert_eq!(
            ok("expect vcard fullname=Echo of bob"),
            Command::Expect(Expectation::Vcard {
                field: Some((VcardField::Fullname, "Echo of bob".into()))
            })
        );
    }

    #[test]
    fn optional_arguments() {
        assert_eq!(
            ok("login a@x a"),
            Command::Login {
                user: "a@x".into(),
                legacy_name: "a".into(),
                password: String::new()
            }
        );
        assert_eq!(
            ok("expect disconnected a@x 2"),
            Command::Expect(Expectation::Disconnected {
                user: "a@x".into(),
                code: Some(2)
            })
        );
        assert_eq!(
            ok("expect message a@x bob"),
            Command::Expect(Expectation::Message {
                user: "a@x".into(),
                buddy: "bob".into(),
                text: None
            })
        );
        assert_eq!(
            ok("status a@x away  gone fishing"),
            Command::Status {
                user: "a@x".into(),
                status: StatusType::StatusAway,
                text: "gone fishing".into()
            }
        );
    }

    #[test]
    fn types_with_or_without_prefix() {
        assert_eq!(
            ok("expect type buddy_changed"),
            Command::Expect(Expectation::Type(MessageType::BuddyChanged))
        );
        assert_eq!(
            ok("expect type TYPE_PONG"),
            Command::Expect(Expectation::Type(MessageType::Pong))
        );
        assert!(err("expect type NOPE").contains("CONV_MESSAGE"));
    }

    #[test]
    fn times() {
        assert_eq!(
            ok("timeout 0.5"),
            Command::Timeout(Duration::from_millis(500))
        );
        assert_eq!(ok("sleep 20"), Command::Sleep(Duration::from_millis(20)));
        assert!(err("timeout -1").contains("seconds"));
        assert!(err("sleep soon").contains("milliseconds"));
    }

    #[test]
    fn errors_say_what_to_write() {
        assert_eq!(
            err("login alice"),
            "missing <legacy-name> (usage: login <user> <legacy-name> [password])"
        );
        assert_eq!(err("logout a b"), "unexpected `b` (usage: logout <user>)");
        assert!(err("status a sleepy").contains("use online, away"));
        assert_eq!(
            err("lgoin a b"),
            "unknown command `lgoin` (did you mean `login`?); type `help` for the list"
        );
        assert!(err("expect joy").contains("unknown expectation `joy`"));
        assert!(err("expect connected").contains("usage: expect connected <user>"));
        assert!(err("expect vcard photo=x").contains("fullname=<text>"));
    }

    #[test]
    fn expectations_match_frames() {
        use spectrum_backend::proto::{ConversationMessage, Disconnected};
        let msg = Payload::ConvMessage(ConversationMessage {
            user_name: "a@x".into(),
            buddy_name: "bob".into(),
            message: "hi".into(),
            ..Default::default()
        });
        let want = |text: Option<&str>| Expectation::Message {
            user: "a@x".into(),
            buddy: "bob".into(),
            text: text.map(str::to_owned),
        };
        assert!(want(Some("hi")).matches(&msg));
        assert!(want(None).matches(&msg));
        assert!(!want(Some("ho")).matches(&msg));
        let gone = Payload::Disconnected(Disconnected {
            user: "a@x".into(),
            error: 2,
            message: None,
        });
        let disc = |code| Expectation::Disconnected {
            user: "a@x".into(),
            code,
        };
        assert!(disc(None).matches(&gone));
        assert!(disc(Some(2)).matches(&gone));
        assert!(!disc(Some(0)).matches(&gone));
        assert!(Expectation::Type(MessageType::Disconnected).matches(&gone));
    }

    #[test]
    fn the_current_user_stands_for_user() {
        let parsed = |line| match parse(line, Some("a@x")) {
            Ok(Some(c)) => c,
            other => panic!("{line:?} → {other:?}"),
        };
        assert_eq!(
            parsed("send bob hi there"),
            Command::Send {
                user: "a@x".into(),
                buddy: "bob".into(),
                text: "hi there".into()
            }
        );
        assert_eq!(
            parsed("expect connected"),
            Command::Expect(Expectation::Connected { user: "a@x".into() })
        );
        assert_eq!(
            parsed("paused bob"),
            Command::Paused {
                user: "a@x".into(),
                buddy: "bob".into()
            }
        );
        assert_eq!(ok("user b@y"), Command::User("b@y".into()));
        assert!(err("user").contains("missing <jid>"));
    }

    #[test]
    fn swapped_letters_are_one_edit() {
        assert_eq!(edit_distance("lgoin", "login"), 1);
        assert_eq!(edit_distance("send", "send"), 0);
        assert_eq!(edit_distance("", "ping"), 4);
        assert_eq!(edit_distance("lgoin", "join"), 2);
    }

    #[test]
    fn help_lists_every_keyword() {
        let help = help();
        for k in ["login", "send", "expect type", "sleep", "quit"] {
            assert!(help.contains(k), "{k}");
        }
    }
}

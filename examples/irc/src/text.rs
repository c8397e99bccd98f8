//! Text between XMPP and IRC: lines, CTCP, names without control
//! characters.

use spectrum_backend::gateway::text::split_lines;

/// Room for the text in a PRIVMSG relayed with the sender's full mask.
const MAX_TEXT_BYTES: usize = 400;

/// IRC compares nicknames and channel names without case.
pub(crate) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Whether `name` names a channel rather than a nickname.
pub(crate) fn is_channel(name: &str) -> bool {
    name.starts_with(['#', '&', '+', '!'])
}

/// A target, room name or topic without control characters: a stray one
/// would end the IRC line early or colour the text.
pub(crate) fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// A nickname or channel to write to, if it can be one: no control
/// characters, no spaces or commas (which would add parameters or targets).
pub(crate) fn target(name: &str) -> Option<String> {
    let name = clean(name);
    (!name.is_empty() && !name.contains([' ', ','])).then_some(name)
}

/// The lines of a message from XMPP: CR, LF and CRLF all end a line (a
/// lone CR is a line break, never part of an IRC line); long lines are cut
/// at character boundaries, preferably at a space, to fit one IRC line.
pub(crate) fn irc_lines(text: &str) -> Vec<String> {
    // A NUL would end the IRC line early.
    split_lines(&text.replace('\0', ""), MAX_TEXT_BYTES)
}

/// A line of XMPP text as IRC text: `/me waves` becomes a CTCP ACTION.
pub(crate) fn to_irc(line: &str) -> String {
    match line.strip_prefix("/me ") {
        Some(action) => format!("\u{1}ACTION {action}\u{1}"),
        None => line.to_owned(),
    }
}

/// What a PRIVMSG or NOTICE text is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// Text for the user (a CTCP ACTION already as `/me ...`).
    Text(String),
    /// A CTCP request (`VERSION`, `PING 123`...): for the software, not the user.
    Ctcp { command: &'a str, argument: &'a str },
}

/// Reads an incoming text.
pub(crate) fn from_irc(text: &str) -> Incoming<'_> {
    let Some(ctcp) = text.strip_prefix('\u{1}') else {
        return Incoming::Text(text.to_owned());
    };
    let ctcp = ctcp.strip_suffix('\u{1}').unwrap_or(ctcp);
    let (command, argument) = ctcp.split_once(' ').unwrap_or((ctcp, ""));
    if command.eq_ignore_ascii_case("ACTION") {
        return Incoming::Text(format!("/me {argument}"));
    }
    Incoming::Ctcp { command, argument }
}

/// The nickname part of `nick!user@host`, without NAMES prefixes.
pub(crate) fn nick_of(mask: &str) -> &str {
    mask.split(['!', '@']).next().unwrap_or(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_become_irc_lines_at_any_line_end() {
        assert_eq!(
            irc_lines("one\r\ntwo\n\nthree\rfour"),
            ["one", "two", "three", "four"]
        );
        assert!(irc_lines("").is_empty());
        let long = "é".repeat(300);
        let lines = irc_lines(&long);
        assert!(lines.iter().all(|l| l.len() <= 400), "{lines:?}");
        assert_eq!(lines.concat(), long);
        let words = "word ".repeat(100);
        let lines = irc_lines(&words);
        assert!(lines.iter().all(|l| l.len() <= 400 && !l.starts_with(' ')));
        assert_eq!(lines.join(" ").split_whitespace().count(), 100);
    }

    #[test]
    fn actions_both_ways_and_ctcp_requests() {
        assert_eq!(to_irc("/me waves"), "\u{1}ACTION waves\u{1}");
        assert_eq!(to_irc("/mean"), "/mean");
        assert_eq!(
            from_irc("\u{1}ACTION waves\u{1}"),
            Incoming::Text("/me waves".into())
        );
        assert_eq!(
            from_irc("\u{1}PING 123\u{1}"),
            Incoming::Ctcp {
                command: "PING",
                argument: "123"
            }
        );
        assert_eq!(from_irc("hi"), Incoming::Text("hi".into()));
    }

    #[test]
    fn targets_lose_control_characters_and_refuse_spaces() {
        assert_eq!(target("bob\u{7}\r").as_deref(), Some("bob"));
        assert_eq!(target("#a b"), None);
        assert_eq!(target("a,b"), None);
        assert_eq!(target("\u{1}"), None);
        assert_eq!(clean("topic\u{3}4 red"), "topic4 red");
    }
}

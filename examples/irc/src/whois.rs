//! `/whois nick` (or `.whois nick`) typed as a message: the WHOIS replies,
//! gathered into one message from that nickname.

use std::collections::HashMap;

use crate::text::fold;

/// At most this many WHOIS answers are awaited at once.
const MAX_PENDING: usize = 8;
/// At most this many lines of one WHOIS answer are kept.
const MAX_LINES: usize = 32;

/// The numerics of a WHOIS answer, 318 ending it (401: no such nick).
pub(crate) const WHOIS_REPLIES: [u16; 17] = [
    275, 276, 301, 307, 311, 312, 313, 317, 318, 319, 320, 330, 338, 378, 379, 401, 671,
];

/// The nickname of a `/whois nick` or `.whois nick` command, if `text` is one.
pub(crate) fn whois_command(text: &str) -> Option<&str> {
    let text = text.trim();
    let rest = text
        .strip_prefix("/whois ")
        .or_else(|| text.strip_prefix(".whois "))?;
    let nick = rest.trim();
    (!nick.is_empty() && !nick.contains(char::is_whitespace)).then_some(nick)
}

/// The WHOIS answers being gathered, by folded nickname.
#[derive(Debug, Default)]
pub(crate) struct Whois {
    pending: HashMap<String, Vec<String>>,
}

impl Whois {
    /// Remembers that the user asked about `nick`; false when too many
    /// answers are awaited already.
    pub(crate) fn asked(&mut self, nick: &str) -> bool {
        if self.pending.len() >= MAX_PENDING && !self.is_pending(nick) {
            return false;
        }
        self.pending.insert(fold(nick), Vec::new());
        true
    }

    /// Whether an answer about `nick` is awaited.
    pub(crate) fn is_pending(&self, nick: &str) -> bool {
        self.pending.contains_key(&fold(nick))
    }

    /// A WHOIS reply; the whole answer, as (nickname, text), once it ends.
    pub(crate) fn reply(&mut self, code: u16, args: &[String]) -> Option<(String, String)> {
        let arg = |i: usize| args.get(i).map_or("", String::as_str);
        let nick = arg(1);
        let lines = self.pending.get_mut(&fold(nick))?;
        let line = match code {
            311 => format!("{nick} is {}@{} ({})", arg(2), arg(3), arg(5)),
            312 => format!("{nick} is on {} ({})", arg(2), arg(3)),
            313 => format!("{nick} is an IRC operator"),
            317 => format!("{nick} has been idle {} s", arg(2)),
            319 => format!("{nick} is in {}", arg(2)),
            301 => format!("{nick} is away: {}", arg(2)),
            330 => format!("{nick} is logged in as {}", arg(2)),
            275 | 671 => format!("{nick} is on a secure connection"),
            401 => format!("{nick}: {}", arg(2)),
            318 => {
                let lines = self.pending.remove(&fold(nick))?;
                return Some((nick.to_owned(), lines.join("\n")));
            }
            // Other numerics of a WHOIS (account, host, modes...): as sent.
            _ => args.get(1..).unwrap_or_default().join(" "),
        };
        if lines.len() < MAX_LINES {
            lines.push(line);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_gathered_until_their_end() {
        let mut whois = Whois::default();
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            whois.reply(311, &args(&["me", "bob", "b", "h", "*", "Bob"])),
            None
        );
        assert!(whois.asked("Bob"));
        assert_eq!(
            whois.reply(311, &args(&["me", "bob", "b", "h", "*", "Bob"])),
            None
        );
        assert_eq!(
            whois.reply(330, &args(&["me", "bob", "bobby", "is logged in as"])),
            None
        );
        assert_eq!(
            whois.reply(318, &args(&["me", "bob", "End"])),
            Some((
                "bob".into(),
                "bob is b@h (Bob)\nbob is logged in as bobby".into()
            ))
        );
        assert!(!whois.is_pending("bob"));
        for i in 0..MAX_PENDING {
            assert!(whois.asked(&format!("n{i}")));
        }
        assert!(!whois.asked("one-more"), "bounded");
    }

    #[test]
    fn whois_commands() {
        assert_eq!(whois_command("/whois bob"), Some("bob"));
        assert_eq!(whois_command(" .whois  bob "), Some("bob"));
        assert_eq!(whois_command("/whois"), None);
        assert_eq!(whois_command("/whois a b"), None);
        assert_eq!(whois_command("whois bob"), None);
    }
}

//! Text from XMPP cut to a legacy network's size limit.

/// The lines of `text` for a network that takes one line of at most
/// `max_bytes` bytes per message (IRC's PRIVMSG, an SMS): CR, LF and CRLF
/// all end a line, empty lines are dropped, and a longer line is cut at a
/// character boundary, at its last space when there is one (the spaces at
/// the cut are dropped). A character longer than `max_bytes` goes whole.
///
/// ```
/// use spectrum_backend::gateway::text::split_lines;
///
/// assert_eq!(split_lines("one\r\ntwo\rthree\n\n", 100), ["one", "two", "three"]);
/// assert_eq!(split_lines("hello brave new world", 12), ["hello brave", "new world"]);
/// assert_eq!(split_lines("ééé", 3), ["é", "é", "é"]);
/// ```
pub fn split_lines(text: &str, max_bytes: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for line in text.split(['\r', '\n']) {
        let mut rest = line;
        while rest.len() > max_bytes {
            let mut cut = max_bytes;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            if cut == 0 {
                // One character over the limit: it goes whole.
                cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
            } else if let Some(space) = rest[..cut].rfind(' ').filter(|i| *i > 0) {
                cut = space;
            }
            lines.push(rest[..cut].to_owned());
            rest = rest[cut..].trim_start_matches(' ');
        }
        if !rest.is_empty() {
            lines.push(rest.to_owned());
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::split_lines;

    #[test]
    fn every_piece_fits_and_nothing_but_the_cut_spaces_is_lost() {
        let text = "a few words, then averyveryverylongwordwithoutspaces, and ünïcödé";
        for max in 1..40 {
            let lines = split_lines(text, max);
            for line in &lines {
                assert!(line.len() <= max.max(2), "{line:?} over {max}");
            }
            let joined: String = lines.concat();
            assert_eq!(joined.replace(' ', ""), text.replace(' ', ""), "max {max}");
            // Only the spaces at the cuts go.
            let spaces = |t: &str| t.matches(' ').count();
            assert!(spaces(text) - spaces(&joined) < lines.len(), "max {max}");
        }
    }

    #[test]
    fn a_space_at_the_start_is_not_a_cut() {
        assert_eq!(split_lines(" abcdef", 4), [" abc", "def"]);
    }
}

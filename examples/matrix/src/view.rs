//! What a Matrix event shows the XMPP user, and what an XMPP message becomes
//! on Matrix: pure functions, no I/O.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use spectrum_backend::StatusType;

use crate::matrix::room::RoomState;
use crate::matrix::types::{Event, MsgType};

/// Shown instead of a message the backend cannot decrypt.
pub(crate) const ENCRYPTED: &str =
    "[an end-to-end encrypted message: this transport cannot decrypt it]";

/// Told where a sync answer left messages out.
pub(crate) const SKIPPED: &str =
    "[some messages were skipped here: more arrived at once than this transport takes]";

/// Told once when the user joins an encrypted room.
pub(crate) const ENCRYPTED_ROOM: &str = "This room is end-to-end encrypted: this transport \
     cannot read or send its messages. Use a Matrix client for it.";

/// A message as the XMPP user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shown {
    /// The plain-text body.
    pub(crate) text: String,
    /// An XHTML-IM fragment, when the event had HTML that maps.
    pub(crate) xhtml: Option<String>,
    /// A file: its public URL and name.
    pub(crate) attachment: Option<(String, String)>,
}

impl Shown {
    fn plain(text: impl Into<String>) -> Self {
        Shown {
            text: text.into(),
            xhtml: None,
            attachment: None,
        }
    }
}

/// What a timeline event shows, if anything: messages (text, emotes as
/// `/me`, notices, files as their URL), stickers, and a placeholder for
/// encrypted ones. `media_url` turns an `mxc://` URI into a public URL.
pub(crate) fn show(event: &Event, media_url: impl Fn(&str) -> Option<String>) -> Option<Shown> {
    match event.kind.as_str() {
        "m.room.encrypted" => Some(Shown::plain(ENCRYPTED)),
        "m.sticker" => file(event, &media_url),
        "m.room.message" => {
            let body = event.content_str("body")?;
            let is_reply = event
                .content
                .pointer("/m.relates_to/m.in_reply_to")
                .is_some();
            let body = if is_reply {
                strip_reply_fallback(body)
            } else {
                body
            };
            let html = (event.content_str("format") == Some("org.matrix.custom.html"))
                .then(|| event.content_str("formatted_body"))
                .flatten()
                .and_then(html_to_xhtml);
            match event.content_str("msgtype")? {
                "m.text" | "m.notice" => Some(Shown {
                    text: body.to_owned(),
                    xhtml: html,
                    attachment: None,
                }),
                "m.emote" => Some(Shown {
                    text: format!("/me {body}"),
                    xhtml: html.map(|h| format!("/me {h}")),
                    attachment: None,
                }),
                "m.image" | "m.file" | "m.video" | "m.audio" => file(event, &media_url),
                // Unknown message types carry a body for exactly this case.
                _ => Some(Shown::plain(body)),
            }
        }
        _ => None,
    }
}

/// A file event: the body is its URL (what XMPP clients show inline), the
/// attachment carries URL and name.
fn file(event: &Event, media_url: &impl Fn(&str) -> Option<String>) -> Option<Shown> {
    let name = event.content_str("body").unwrap_or("file");
    let Some(url) = event.content_str("url").and_then(media_url) else {
        // Encrypted attachments (`file` instead of `url`) cannot be shown.
        return Some(Shown::plain(format!("[{name}: {ENCRYPTED}]")));
    };
    Some(Shown {
        text: url.clone(),
        xhtml: None,
        attachment: Some((url, name.to_owned())),
    })
}

/// A reply's body starts with the quoted original (`> ` lines, then a
/// blank line); clients that show replies natively drop it, so does this.
fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> ") {
        return body;
    }
    match body.find("\n\n") {
        Some(i) if body[..i].lines().all(|l| l.starts_with('>')) => &body[i + 2..],
        _ => body,
    }
}

/// Elements kept as they are (XHTML-IM's text, list, hypertext modules).
const KEPT: &[&str] = &[
    "a",
    "blockquote",
    "br",
    "cite",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "span",
    "strong",
    "ul",
];

/// Elements renamed, or turned into a styled span.
fn mapped(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match name {
        "b" => ("strong", None),
        "i" => ("em", None),
        "u" => ("span", Some("text-decoration: underline")),
        "s" | "del" | "strike" => ("span", Some("text-decoration: line-through")),
        _ => return None,
    })
}

fn escape_attr(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// One `<...>` tag: name (lower case), whether it closes, its attributes.
fn parse_tag(tag: &str) -> (String, bool, Vec<(String, String)>) {
    let tag = tag.trim().trim_end_matches('/');
    let (closing, tag) = match tag.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
    let name = tag[..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut rest = tag[name_end..].trim_start();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_ascii_lowercase();
        let after = rest[eq + 1..].trim_start();
        let (value, remaining) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                Some(end) => (&after[1..1 + end], &after[end + 2..]),
                None => (&after[1..], ""),
            },
            _ => {
                let end = after
                    .find(|c: char| c.is_whitespace())
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        attrs.push((key, value.to_owned()));
        rest = remaining.trim_start();
    }
    (name, closing, attrs)
}

/// Matrix HTML (any HTML, possibly not well-formed) as a well-formed
/// XHTML-IM fragment: known elements kept or mapped, others dropped with
/// their text kept, reply quotes (`mx-reply`) dropped whole, links limited
/// to web and mail URLs, entities XML knows. `None` if nothing is left.
pub(crate) fn html_to_xhtml(html: &str) -> Option<String> {
    let mut out = String::with_capacity(html.len());
    let mut open: Vec<&'static str> = Vec::new();
    let mut skipping = 0usize;
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let Some(end) = after.find('>') else {
                break;
            };
            let (name, closing, attrs) = parse_tag(&after[..end]);
            rest = &after[end + 1..];
            if name == "mx-reply" {
                skipping = if closing {
                    skipping.saturating_sub(1)
                } else {
                    skipping + 1
                };
                continue;
            }
            if skipping > 0 {
                continue;
            }
            if name == "br" || name == "hr" {
                out.push_str("<br/>");
                continue;
            }
            let (element, style) = match KEPT.iter().find(|k| **k == name) {
                Some(k) => (*k, None),
                None => match mapped(&name) {
                    Some(m) => m,
                    None => continue,
                },
            };
            if closing {
                if let Some(at) = open.iter().rposition(|o| *o == element) {
                    for e in open.drain(at..).rev() {
                        out.push_str(&format!("</{e}>"));
                    }
                }
                continue;
            }
            out.push('<');
            out.push_str(element);
            if let Some(style) = style {
                out.push_str(&format!(" style=\"{style}\""));
            }
            if element == "a"
                && let Some((_, href)) = attrs.iter().find(|(k, _)| k == "href")
                && ["https://", "http://", "mailto:"]
                    .iter()
                    .any(|p| href.starts_with(p))
            {
                out.push_str(&format!(" href=\"{}\"", escape_attr(href)));
            }
            out.push('>');
            open.push(element);
            continue;
        }
        let end = rest.find('<').unwrap_or(rest.len());
        if skipping == 0 {
            push_text(&mut out, &rest[..end]);
        }
        rest = &rest[end..];
    }
    for e in open.drain(..).rev() {
        out.push_str(&format!("</{e}>"));
    }
    (!out.trim().is_empty()).then_some(out)
}

/// HTML text as XML text: the five XML entities and numeric ones kept,
/// `&nbsp;` as its number, any other `&` escaped.
fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp].replace('>', "&gt;"));
        let after = &rest[amp + 1..];
        let entity = after.find(';').filter(|&i| i <= 10).map(|i| &after[..i]);
        match entity {
            Some(e @ ("amp" | "lt" | "gt" | "quot" | "apos")) => {
                out.push_str(&format!("&{e};"));
                rest = &after[e.len() + 1..];
            }
            Some("nbsp") => {
                out.push_str("&#160;");
                rest = &after[5..];
            }
            Some(e)
                if e.strip_prefix('#').is_some_and(|n| {
                    n.parse::<u32>().is_ok()
                        || n.strip_prefix('x')
                            .is_some_and(|h| u32::from_str_radix(h, 16).is_ok())
                }) =>
            {
                out.push_str(&format!("&{e};"));
                rest = &after[e.len() + 1..];
            }
            _ => {
                out.push_str("&amp;");
                rest = after;
            }
        }
    }
    out.push_str(&rest.replace('>', "&gt;"));
}

/// Room nicknames: each member's display name, or the user ID's local part
/// without one; a name two members share is replaced by their user IDs.
pub(crate) fn nicknames(room: &RoomState) -> BTreeMap<String, String> {
    let base = |m: &crate::matrix::room::Member| {
        m.display_name
            .clone()
            .unwrap_or_else(|| localpart(&m.user_id).to_owned())
    };
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for m in room.members.values() {
        *count.entry(base(m)).or_default() += 1;
    }
    room.members
        .values()
        .map(|m| {
            let name = base(m);
            let nick = if count[&name] > 1 {
                m.user_id.clone()
            } else {
                name
            };
            (m.user_id.clone(), nick)
        })
        .collect()
}

/// `@alice:example.org` → `alice`.
pub(crate) fn localpart(user_id: &str) -> &str {
    let id = user_id.strip_prefix('@').unwrap_or(user_id);
    id.split(':').next().unwrap_or(id)
}

/// An XMPP message as a Matrix message content: `/me` makes an emote, an
/// XHTML-IM body the HTML body.
pub(crate) fn outgoing(text: &str, xhtml: Option<&str>) -> Value {
    let (msgtype, body) = match text.strip_prefix("/me ") {
        Some(action) => (MsgType::Emote, action),
        None => (MsgType::Text, text),
    };
    let html = xhtml.map(unwrap_body).filter(|h| !h.trim().is_empty());
    let html = html.map(|h| match msgtype {
        MsgType::Emote => h.strip_prefix("/me ").unwrap_or(h),
        _ => h,
    });
    crate::matrix::types::message_content(msgtype, body, html)
}

/// The content of an XHTML-IM `<body>` wrapper, if the fragment has one.
fn unwrap_body(xhtml: &str) -> &str {
    let trimmed = xhtml.trim();
    if let Some(rest) = trimmed.strip_prefix("<body")
        && let Some(start) = rest.find('>')
        && let Some(inner) = rest[start + 1..].strip_suffix("</body>")
    {
        return inner;
    }
    trimmed
}

/// The URL, if an XMPP message is nothing but one web URL (how XMPP
/// clients send a file: XEP-0066 puts the same URL in the body) that the
/// backend may fetch: a host listed in `allowed`, or any `https://` URL
/// whose host is a name, not an address or `localhost`. The backend must not
/// become a way to read services only it can reach.
pub(crate) fn attachment_url<'a>(text: &'a str, allowed: &[String]) -> Option<&'a str> {
    let url = text.trim();
    if url.contains(char::is_whitespace) {
        return None;
    }
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') || authority.is_empty() {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    }
    .to_ascii_lowercase();
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
        return Some(url);
    }
    let is_address = host.parse::<std::net::IpAddr>().is_ok()
        || host.split('.').all(|part| part.parse::<u32>().is_ok());
    let is_local = host == "localhost" || host.ends_with(".localhost") || !host.contains('.');
    (https && !is_address && !is_local).then_some(url)
}

/// A file name for an uploaded URL: its last path segment.
pub(crate) fn file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| !s.is_empty() && !s.contains(':'))
        .unwrap_or("file")
}

/// Matrix presence as XMPP show.
pub(crate) fn status(presence: &str) -> StatusType {
    match presence {
        "online" => StatusType::StatusOnline,
        "unavailable" => StatusType::StatusAway,
        _ => StatusType::StatusNone,
    }
}

/// XMPP show as Matrix presence.
pub(crate) fn presence(status: StatusType) -> &'static str {
    match status {
        StatusType::StatusOnline | StatusType::StatusFfc => "online",
        StatusType::StatusNone | StatusType::StatusInvisible => "offline",
        _ => "unavailable",
    }
}

/// When an event happened, if long enough ago to be worth a delay mark
/// (as Spectrum 2's libpurple backend does for messages over 10 s old).
pub(crate) fn delay(event: &Event, now: SystemTime) -> Option<SystemTime> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(event.origin_server_ts);
    let age = now.duration_since(at).ok()?;
    (event.origin_server_ts > 0 && age > Duration::from_secs(10)).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(content: Value) -> Event {
        Event {
            kind: "m.room.message".into(),
            sender: "@b:x".into(),
            content,
            event_id: "$e".into(),
            ..Event::default()
        }
    }

    fn public(mxc: &str) -> Option<String> {
        mxc.strip_prefix("mxc://")
            .map(|rest| format!("https://hs/_matrix/media/v3/download/{rest}"))
    }

    #[test]
    fn text_emote_and_notice() {
        let text = show(&message(json!({"msgtype": "m.text", "body": "hi"})), public);
        assert_eq!(text, Some(Shown::plain("hi")));
        let emote = show(
            &message(json!({"msgtype": "m.emote", "body": "waves"})),
            public,
        );
        assert_eq!(emote.map(|s| s.text), Some("/me waves".to_owned()));
        let notice = show(
            &message(json!({"msgtype": "m.notice", "body": "bot"})),
            public,
        );
        assert_eq!(notice.map(|s| s.text), Some("bot".to_owned()));
        let odd = show(
            &message(json!({"msgtype": "org.example", "body": "fallback"})),
            public,
        );
        assert_eq!(odd.map(|s| s.text), Some("fallback".to_owned()));
        assert_eq!(show(&message(json!({"msgtype": "m.text"})), public), None);
    }

    #[test]
    fn formatted_bodies_become_xhtml() {
        let event = message(json!({
            "msgtype": "m.text", "body": "**hi** there",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b>hi</b> <i>there</i><br>&nbsp;&amp; <font color=red>red</font>",
        }));
        let shown = show(&event, public).expect("shown");
        assert_eq!(
            shown.xhtml.as_deref(),
            Some("<strong>hi</strong> <em>there</em><br/>&#160;&amp; red")
        );
        assert_eq!(shown.text, "**hi** there");
    }

    #[test]
    fn html_is_made_well_formed() {
        let cases = [
            (
                "<p>unclosed <b>bold",
                "<p>unclosed <strong>bold</strong></p>",
            ),
            ("<b>a<i>b</b>c</i>", "<strong>a<em>b</em></strong>c"),
            (
                "a & b > c &copy; &#169; &#xA9;",
                "a &amp; b &gt; c &amp;copy; &#169; &#xA9;",
            ),
            (
                "<a href=\"https://x.org/?a=1&b=2\">x</a> <a href=\"javascript:alert(1)\">y</a>",
                "<a href=\"https://x.org/?a=1&amp;b=2\">x</a> <a>y</a>",
            ),
            (
                "<u>u</u><del>d</del>",
                "<span style=\"text-decoration: underline\">u</span><span style=\"text-decoration: line-through\">d</span>",
            ),
            (
                "<mx-reply><blockquote>old</blockquote></mx-reply>new",
                "new",
            ),
            ("<img src=\"mxc://x/y\"><script>x</script>", "x"),
            ("</b>stray close", "stray close"),
        ];
        for (html, xhtml) in cases {
            assert_eq!(html_to_xhtml(html).as_deref(), Some(xhtml), "{html}");
        }
        assert_eq!(html_to_xhtml("<img src=x>"), None);
        assert_eq!(html_to_xhtml("<b unterminated"), None);
    }

    #[test]
    fn replies_lose_their_quoted_fallback() {
        let event = message(json!({
            "msgtype": "m.text",
            "body": "> <@a:x> original\n> more\n\nthe answer",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$o"}},
        }));
        assert_eq!(
            show(&event, public).map(|s| s.text),
            Some("the answer".to_owned())
        );
        let quote = message(json!({"msgtype": "m.text", "body": "> a quote\n\nnot a reply"}));
        assert_eq!(
            show(&quote, public).map(|s| s.text),
            Some("> a quote\n\nnot a reply".to_owned())
        );
    }

    #[test]
    fn files_are_shown_as_their_public_url() {
        let image =
            message(json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://hs/abc"}));
        let shown = show(&image, public).expect("shown");
        let url = "https://hs/_matrix/media/v3/download/hs/abc";
        assert_eq!(shown.text, url);
        assert_eq!(
            shown.attachment,
            Some((url.to_owned(), "cat.png".to_owned()))
        );
        let encrypted = message(json!({"msgtype": "m.file", "body": "f.pdf", "file": {}}));
        assert!(
            show(&encrypted, public)
                .expect("shown")
                .text
                .contains("f.pdf")
        );
    }

    #[test]
    fn encrypted_events_are_shown_as_such() {
        let event = Event {
            kind: "m.room.encrypted".into(),
            ..Event::default()
        };
        assert_eq!(
            show(&event, public).map(|s| s.text),
            Some(ENCRYPTED.to_owned())
        );
        let state = Event {
            kind: "m.room.member".into(),
            ..Event::default()
        };
        assert_eq!(show(&state, public), None);
    }

    #[test]
    fn nicknames_are_display_names_unless_shared() {
        let member = |id: &str, name: Option<&str>| Event {
            kind: "m.room.member".into(),
            state_key: Some(id.into()),
            content: json!({"membership": "join", "displayname": name}),
            ..Event::default()
        };
        let room = RoomState::from_events(&[
            member("@a:x", Some("Ann")),
            member("@b:x", Some("Twin")),
            member("@c:y", Some("Twin")),
            member("@d:x", None),
        ]);
        let nicks = nicknames(&room);
        assert_eq!(nicks["@a:x"], "Ann");
        assert_eq!(nicks["@b:x"], "@b:x");
        assert_eq!(nicks["@c:y"], "@c:y");
        assert_eq!(nicks["@d:x"], "d");
    }

    #[test]
    fn xmpp_messages_become_text_or_emotes() {
        assert_eq!(
            outgoing("hi", None),
            json!({"msgtype": "m.text", "body": "hi"})
        );
        assert_eq!(
            outgoing(
                "/me waves",
                Some("<body xmlns='http://www.w3.org/1999/xhtml'>/me <em>waves</em></body>")
            ),
            json!({"msgtype": "m.emote", "body": "waves", "format": "org.matrix.custom.html", "formatted_body": "<em>waves</em>"})
        );
        assert_eq!(
            outgoing("x", Some("  ")),
            json!({"msgtype": "m.text", "body": "x"})
        );
    }

    #[test]
    fn a_lone_url_is_an_attachment() {
        let none: &[String] = &[];
        assert_eq!(
            attachment_url(" https://up.example.org/f.png ", none),
            Some("https://up.example.org/f.png")
        );
        assert_eq!(
            attachment_url("see https://up.example.org/f.png", none),
            None
        );
        assert_eq!(attachment_url("ftp://up.example.org/f", none), None);
        // Only names over TLS, unless the host is allowed by the config.
        for refused in [
            "http://up.example.org/f",
            "https://127.0.0.1/f",
            "https://169.254.169.254/latest",
            "https://[::1]:8448/f",
            "https://2130706433/f",
            "https://localhost/f",
            "https://intranet/f",
            "https://user@up.example.org/f",
        ] {
            assert_eq!(attachment_url(refused, none), None, "{refused}");
        }
        let allowed = ["127.0.0.1".to_owned()];
        assert_eq!(
            attachment_url("http://127.0.0.1:8008/f", &allowed),
            Some("http://127.0.0.1:8008/f")
        );
        assert_eq!(file_name("https://h/a/b/cat.png?x=1"), "cat.png");
        assert_eq!(file_name("https://h/"), "h");
        assert_eq!(file_name("https://"), "file");
    }

    #[test]
    fn presence_maps_both_ways() {
        assert_eq!(status("online"), StatusType::StatusOnline);
        assert_eq!(status("unavailable"), StatusType::StatusAway);
        assert_eq!(status("offline"), StatusType::StatusNone);
        assert_eq!(presence(StatusType::StatusDnd), "unavailable");
        assert_eq!(presence(StatusType::StatusOnline), "online");
    }

    #[test]
    fn only_old_events_carry_a_delay() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |ms| Event {
            origin_server_ts: ms,
            ..Event::default()
        };
        assert_eq!(delay(&at(999_995_000), now), None);
        assert_eq!(
            delay(&at(900_000_000), now),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(900_000))
        );
        assert_eq!(delay(&at(0), now), None);
    }
}

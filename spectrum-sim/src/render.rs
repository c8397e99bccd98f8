//! Frames as one compact line: `CONV_MESSAGE { user_name: "a@x",
//! buddy_name: "bob", message: "hi" }`.
//!
//! Starts from the harness's description (the payload's `Debug` text) and
//! drops the fields that say nothing (`None`, `""`, `[]`, `false`), shows
//! set optional fields without `Some(..)`, and names the numbers that are
//! enums or flags: `flag: MODERATOR|ME`, `error: AUTHENTICATION_FAILED`.

use spectrum_backend::proto::{ConnectionError, ParticipantFlag, Payload, StatusType};
use spectrum_backend::testing::describe;

/// One frame's payload, compact.
pub(crate) fn compact(payload: &Payload) -> String {
    let text = describe(payload);
    match text.find(" {") {
        Some(at) if text.ends_with('}') && !matches!(payload, Payload::RawXml(_)) => {
            let (name, body) = text.split_at(at);
            format!("{name} {}", fields(&body[1..]))
        }
        _ => text,
    }
}

/// `{ a: 1, b: None }` → `{ a: 1 }`, recursively; `{}` for nothing left.
fn fields(body: &str) -> String {
    let inner = body
        .strip_prefix('{')
        .and_then(|b| b.strip_suffix('}'))
        .unwrap_or(body)
        .trim();
    let kept: Vec<String> = split_top_level(inner)
        .into_iter()
        .filter_map(|field| {
            let (name, value) = field.split_once(": ")?;
            let value = value.trim();
            if is_empty(value) {
                return None;
            }
            let value = named(name.trim(), unwrap_some(value));
            // A nested message with nothing left in it.
            if value.ends_with(" {}") || value.ends_with(" {})") {
                return None;
            }
            Some(format!("{name}: {value}"))
        })
        .collect();
    if kept.is_empty() {
        "{}".to_owned()
    } else {
        format!("{{ {} }}", kept.join(", "))
    }
}

fn is_empty(value: &str) -> bool {
    let value = unwrap_some(value);
    matches!(value, "None" | "\"\"" | "[]" | "false" | "b\"\"")
        || value.ends_with("{}") && !value.contains(' ')
}

/// `Some(x)` → `x`: in a frame, a field that is set simply shows its value.
fn unwrap_some(value: &str) -> &str {
    value
        .strip_prefix("Some(")
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or(value)
}

/// A value with its enum or flag names, or with its own fields compacted.
fn named(field: &str, value: &str) -> String {
    let number = value
        .strip_prefix("Some(")
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or(value)
        .parse::<i32>();
    match (field, number) {
        ("status", Ok(n)) => StatusType::try_from(n).map_or_else(
            |_| value.to_owned(),
            |s| s.as_str_name().trim_start_matches("STATUS_").to_owned(),
        ),
        ("flag", Ok(n)) => flags(n),
        ("error", Ok(n)) => ConnectionError::try_from(n).map_or_else(
            |_| value.to_owned(),
            |e| {
                e.as_str_name()
                    .trim_start_matches("CONNECTION_ERROR_")
                    .to_owned()
            },
        ),
        _ => match value.find(" {") {
            // A nested message: `Some(UserSettings { .. })`.
            Some(at) if value.trim_end_matches(')').ends_with('}') => {
                let closing = value.len() - value.trim_end_matches(')').len();
                let (head, rest) = value.split_at(at);
                let body = &rest[1..rest.len() - closing];
                format!("{head} {}{}", fields(body), ")".repeat(closing))
            }
            _ => value.to_owned(),
        },
    }
}

/// `MODERATOR|ME`; `NONE` for 0; unknown bits as a number.
fn flags(mask: i32) -> String {
    const ALL: [ParticipantFlag; 7] = [
        ParticipantFlag::Moderator,
        ParticipantFlag::Conflict,
        ParticipantFlag::Banned,
        ParticipantFlag::NotAuthorized,
        ParticipantFlag::Me,
        ParticipantFlag::Kicked,
        ParticipantFlag::RoomNotFound,
    ];
    if mask == 0 {
        return "NONE".to_owned();
    }
    let mut names: Vec<String> = ALL
        .iter()
        .filter(|f| mask & f.bit() != 0)
        .map(|f| {
            f.as_str_name()
                .trim_start_matches("PARTICIPANT_FLAG_")
                .to_owned()
        })
        .collect();
    let known = ALL.iter().fold(0, |m, f| m | f.bit());
    if mask & !known != 0 {
        names.push(format!("{:#x}", mask & !known));
    }
    names.join("|")
}

/// Splits at the commas that are not inside quotes or brackets.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in text.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() {
        parts.push(last);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use spectrum_backend::proto::{self, Participant};

    #[test]
    fn empty_fields_are_left_out() {
        let msg = Payload::ConvMessage(proto::ConversationMessage {
            user_name: "a@x".into(),
            buddy_name: "bob".into(),
            message: "hi, \"you\" {there}".into(),
            xhtml: Some(String::new()),
            ..Default::default()
        });
        assert_eq!(
            compact(&msg),
            r#"CONV_MESSAGE { user_name: "a@x", buddy_name: "bob", message: "hi, \"you\" {there}" }"#
        );
    }

    #[test]
    fn flags_statuses_and_errors_by_name() {
        let p = Payload::ParticipantChanged(Participant {
            user_name: "a@x".into(),
            room: "#r".into(),
            nickname: "al".into(),
            flag: ParticipantFlag::Moderator.bit() | ParticipantFlag::Me.bit(),
            status: StatusType::StatusAway as i32,
            ..Default::default()
        });
        let text = compact(&p);
        assert!(text.contains("flag: MODERATOR|ME"), "{text}");
        assert!(
            text.contains("status: AWAY") || text.contains("status: StatusAway"),
            "{text}"
        );
        assert!(!text.contains("newname"), "{text}");
        let gone = Payload::Disconnected(proto::Disconnected {
            user: "a@x".into(),
            error: 2,
            message: None,
        });
        assert_eq!(
            compact(&gone),
            r#"DISCONNECTED { user: "a@x", error: AUTHENTICATION_FAILED }"#
        );
        assert_eq!(flags(0), "NONE");
        assert_eq!(flags(16 | 256), "ME|0x100");
    }

    #[test]
    fn nested_messages_and_bare_types() {
        let login = Payload::Login(proto::Login {
            user: "a@x".into(),
            legacy_name: "a".into(),
            password: String::new(),
            extra_fields: Vec::new(),
            settings: Some(proto::login::UserSettings::default()),
        });
        let text = compact(&login);
        assert!(
            text.starts_with(r#"LOGIN { user: "a@x", legacy_name: "a""#),
            "{text}"
        );
        assert!(!text.contains("password"), "{text}");
        assert_eq!(compact(&Payload::Ping), "PING");
    }
}

//! One try of the session's link: connect to a server and register on it
//! (capabilities, PASS, NICK, USER, SASL, then wait for the welcome),
//! answering what the server asks on the way.

use base64::Engine as _;
use irc_proto::{CapSubCommand, Command, Message, Response};
use spectrum_backend::gateway::prelude::*;
use tokio::net::TcpStream;

use crate::settings::Server;
use crate::tls::Tls;

/// The longest line accepted from a server (IRCv3 tags included); a longer
/// one is skipped as it arrives, never buffered.
pub(crate) const MAX_LINE: usize = 8192;

/// How many times `_` is appended to a nickname in use before giving up.
const NICK_TRIES: usize = 5;

/// Capabilities asked for when offered (SASL only with a password).
const WANTED_CAPS: [&str; 2] = ["away-notify", "multi-prefix"];

/// The longest AUTHENTICATE argument; longer payloads are split.
const SASL_CHUNK: usize = 400;

/// Who registers.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    /// The nickname wanted; `_` is appended while it is in use.
    pub(crate) nick: String,
    /// Sent as PASS first, when set.
    pub(crate) pass: Option<String>,
    /// Account and password for SASL PLAIN, used if the server offers it.
    pub(crate) sasl: Option<(String, String)>,
}

/// A registered connection.
pub(crate) struct Registered {
    /// The connection, with whatever the server sent after its welcome
    /// still to be read.
    pub(crate) stream: Connection,
    /// The nickname the server welcomed.
    pub(crate) nick: String,
    /// The capabilities the server granted.
    pub(crate) caps: Vec<String>,
    /// Whether SASL logged the user in (then no service identify is sent).
    pub(crate) sasl: bool,
}

/// Where capability negotiation stands.
#[derive(Default)]
struct Caps {
    offered: Vec<String>,
    granted: Vec<String>,
    sasl: bool,
}

/// The list of a CAP reply and whether more lines of it follow (`CAP * LS * :...`).
fn cap_list(a: Option<&String>, b: Option<&String>) -> (Vec<String>, bool) {
    let (list, more) = match (a, b) {
        (Some(star), Some(list)) if star == "*" => (list.as_str(), true),
        (Some(list), _) => (list.as_str(), false),
        (None, _) => ("", false),
    };
    let names = list
        .split_whitespace()
        .map(|c| c.split('=').next().unwrap_or(c).to_ascii_lowercase())
        .collect();
    (names, more)
}

/// AUTHENTICATE lines carrying a SASL PLAIN response.
fn plain(account: &str, password: &str) -> Vec<Command> {
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{account}\0{account}\0{password}"));
    let mut lines: Vec<Command> = encoded
        .as_bytes()
        .chunks(SASL_CHUNK)
        .map(|c| Command::AUTHENTICATE(String::from_utf8_lossy(c).into_owned()))
        .collect();
    // A last chunk of exactly the maximum says "more follows": end it.
    if encoded.len() % SASL_CHUNK == 0 {
        lines.push(Command::AUTHENTICATE("+".into()));
    }
    lines
}

/// A line from the server, parsed; `None` for what is not IRC.
pub(crate) fn parse(line: &[u8]) -> Option<Message> {
    String::from_utf8_lossy(line).parse().ok()
}

/// Opens a connection to `server`, over TLS when it says so.
pub(crate) async fn connect(
    server: &Server,
    tls: Option<&Tls>,
) -> Result<Connection, ConnectError> {
    let tcp = TcpStream::connect((server.host.as_str(), server.port))
        .await
        .map_err(|e| ConnectError::retry(format!("IRC server {server}: cannot connect: {e}")))?;
    match tls {
        Some(tls) if server.tls => tls.wrap(server, tcp).await,
        _ if server.tls => Err(ConnectError::fatal(
            ConnectionError::NoSslSupport,
            format!("IRC server {server}: TLS is not set up"),
        )),
        _ => Ok(Box::new(tcp)),
    }
}

/// Registers on `io`.
pub(crate) async fn register(
    io: Connection,
    server: &Server,
    who: &Registration,
) -> Result<Registered, ConnectError> {
    let lost = |what: String| ConnectError::retry(format!("IRC server {server}: {what}"));
    let refused = |what: String| {
        ConnectError::fatal(
            ConnectionError::AuthenticationFailed,
            format!("IRC server {server} refused the user: {what}"),
        )
    };
    let mut handshake =
        Handshake::new(io, LineCodec::new(MAX_LINE), format!("IRC server {server}"));
    let mut nick = who.nick.clone();
    let mut commands = vec![Command::CAP(
        None,
        CapSubCommand::LS,
        Some("302".into()),
        None,
    )];
    if let Some(pass) = &who.pass {
        commands.push(Command::PASS(pass.clone()));
    }
    commands.push(Command::NICK(nick.clone()));
    commands.push(Command::USER(nick.clone(), "0".into(), nick.clone()));
    let mut caps = Caps::default();
    let mut tries = 0;
    let welcomed = loop {
        for command in commands.drain(..) {
            handshake.send(String::from(&command)).await?;
        }
        let Some(msg) = parse(&handshake.next_line().await?) else {
            continue;
        };
        let text = |args: &[String]| args.last().cloned().unwrap_or_default();
        let end = || Command::CAP(None, CapSubCommand::END, None, None);
        match msg.command {
            Command::PING(token, _) => commands.push(Command::PONG(token, None)),
            Command::CAP(_, CapSubCommand::LS, a, b) => {
                let (offered, more) = cap_list(a.as_ref(), b.as_ref());
                caps.offered.extend(offered);
                if more {
                    continue;
                }
                let mut wanted: Vec<&str> = WANTED_CAPS
                    .into_iter()
                    .filter(|c| caps.offered.iter().any(|o| o == c))
                    .collect();
                if who.sasl.is_some() && caps.offered.iter().any(|o| o == "sasl") {
                    wanted.push("sasl");
                }
                commands.push(match wanted.is_empty() {
                    true => end(),
                    false => Command::CAP(None, CapSubCommand::REQ, None, Some(wanted.join(" "))),
                });
            }
            Command::CAP(_, CapSubCommand::ACK, a, b) => {
                let (granted, more) = cap_list(a.as_ref(), b.as_ref());
                caps.granted.extend(granted);
                if more {
                    continue;
                }
                let sasl = caps.granted.iter().any(|c| c == "sasl");
                commands.push(match (&who.sasl, sasl) {
                    (Some(_), true) => Command::AUTHENTICATE("PLAIN".into()),
                    _ => end(),
                });
            }
            Command::CAP(_, CapSubCommand::NAK, _, _) => commands.push(end()),
            Command::AUTHENTICATE(challenge) if challenge == "+" => match &who.sasl {
                Some((account, password)) => commands.extend(plain(account, password)),
                None => commands.push(Command::AUTHENTICATE("*".into())),
            },
            Command::Response(Response::RPL_SASLSUCCESS, _) => {
                caps.sasl = true;
                commands.push(end());
            }
            Command::Response(Response::ERR_SASLFAIL | Response::ERR_SASLTOOLONG, args) => {
                return Err(refused(format!("SASL: {}", text(&args))));
            }
            // SASL cut short or already done: go on without it.
            Command::Response(
                Response::ERR_SASLABORT | Response::ERR_SASLALREADY | Response::RPL_SASLMECHS,
                _,
            ) => commands.push(end()),
            Command::Response(Response::RPL_WELCOME, args) => {
                break args.first().cloned().unwrap_or(nick);
            }
            Command::Response(Response::ERR_NICKNAMEINUSE, _) if tries < NICK_TRIES => {
                tries += 1;
                nick.push('_');
                commands.push(Command::NICK(nick.clone()));
            }
            Command::Response(Response::ERR_NICKNAMEINUSE, _) => {
                return Err(ConnectError::fatal(
                    ConnectionError::NameInUse,
                    format!("the nickname {} is already in use on {server}", who.nick),
                ));
            }
            Command::Response(Response::ERR_ERRONEOUSNICKNAME, args) => {
                return Err(ConnectError::fatal(
                    ConnectionError::InvalidUsername,
                    format!(
                        "IRC server {server} refuses the nickname {nick}: {}",
                        text(&args)
                    ),
                ));
            }
            Command::Response(
                Response::ERR_PASSWDMISMATCH | Response::ERR_YOUREBANNEDCREEP,
                args,
            ) => {
                return Err(refused(text(&args)));
            }
            Command::ERROR(text) => return Err(lost(format!("closed the connection: {text}"))),
            _ => {}
        }
    };
    Ok(Registered {
        stream: Box::new(handshake.finish()),
        nick: welcomed,
        caps: caps.granted,
        sasl: caps.sasl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_lists_and_continuations() {
        let s = |x: &str| Some(x.to_owned());
        assert_eq!(
            cap_list(s("sasl=PLAIN,EXTERNAL away-notify").as_ref(), None),
            (vec!["sasl".to_owned(), "away-notify".to_owned()], false)
        );
        assert_eq!(
            cap_list(s("*").as_ref(), s("multi-prefix").as_ref()),
            (vec!["multi-prefix".to_owned()], true)
        );
    }

    #[test]
    fn sasl_plain_is_split_and_ended() {
        let one = plain("alice", "secret");
        assert_eq!(
            one,
            [Command::AUTHENTICATE("YWxpY2UAYWxpY2UAc2VjcmV0".into())]
        );
        // 300 raw bytes: exactly 400 encoded, so a `+` ends it.
        let exact = plain("a", &"p".repeat(300 - 4));
        assert_eq!(exact.len(), 2);
        assert_eq!(exact[1], Command::AUTHENTICATE("+".into()));
    }
}

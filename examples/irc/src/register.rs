//! One try of the session's link: connect to a server and register on it
//! (PASS, NICK, USER, then wait for the welcome), answering what the server
//! asks on the way.

use std::io::Cursor;

use futures_util::{SinkExt as _, StreamExt as _};
use irc_proto::{Command, Message, Response};
use spectrum_backend::ConnectionError;
use spectrum_backend::gateway::link::{ConnectError, Line, LineCodec};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::settings::Server;
use crate::tls::Tls;

/// The longest line accepted from a server (IRCv3 tags included); a longer
/// one is skipped as it arrives, never buffered.
pub(crate) const MAX_LINE: usize = 8192;

/// How many times `_` is appended to a nickname in use before giving up.
const NICK_TRIES: usize = 5;

/// A connection, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connection as the link reads and writes it.
pub(crate) type Stream = Box<dyn Io>;

/// Who registers.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    /// The nickname wanted; `_` is appended while it is in use.
    pub(crate) nick: String,
    /// Sent as PASS first, when set.
    pub(crate) pass: Option<String>,
}

/// A line from the server, parsed; `None` for what is not IRC.
pub(crate) fn parse(line: &[u8]) -> Option<Message> {
    String::from_utf8_lossy(line).parse().ok()
}

/// Opens a connection to `server`, over TLS when it says so.
pub(crate) async fn connect(server: &Server, tls: Option<&Tls>) -> Result<Stream, ConnectError> {
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

/// Registers on `io`; the connection (with whatever the server sent after
/// its welcome still to be read) and the nickname it welcomed.
pub(crate) async fn register(
    io: Stream,
    server: &Server,
    who: &Registration,
) -> Result<(Stream, String), ConnectError> {
    let lost = |what: String| ConnectError::retry(format!("IRC server {server}: {what}"));
    let mut framed = Framed::new(io, LineCodec::new(MAX_LINE));
    let mut nick = who.nick.clone();
    let mut commands = Vec::new();
    if let Some(pass) = &who.pass {
        commands.push(Command::PASS(pass.clone()));
    }
    commands.push(Command::NICK(nick.clone()));
    commands.push(Command::USER(nick.clone(), "0".into(), nick.clone()));
    for command in &commands {
        framed
            .send(String::from(command))
            .await
            .map_err(|e| lost(format!("cannot send: {e}")))?;
    }
    let mut tries = 0;
    let welcomed = loop {
        let line = match framed.next().await {
            Some(Ok(Line::Text(line))) => line,
            Some(Ok(Line::TooLong)) => continue,
            Some(Err(e)) => return Err(lost(e.to_string())),
            None => return Err(lost("closed the connection before its welcome".into())),
        };
        let Some(msg) = parse(&line) else { continue };
        let text = |args: &[String]| args.last().cloned().unwrap_or_default();
        let reply = match msg.command {
            Command::PING(token, _) => Command::PONG(token, None),
            Command::Response(Response::RPL_WELCOME, args) => {
                break args.first().cloned().unwrap_or(nick);
            }
            Command::Response(Response::ERR_NICKNAMEINUSE, _) if tries < NICK_TRIES => {
                tries += 1;
                nick.push('_');
                Command::NICK(nick.clone())
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
                return Err(ConnectError::fatal(
                    ConnectionError::AuthenticationFailed,
                    format!("IRC server {server} refused the user: {}", text(&args)),
                ));
            }
            Command::ERROR(text) => return Err(lost(format!("closed the connection: {text}"))),
            _ => continue,
        };
        framed
            .send(String::from(&reply))
            .await
            .map_err(|e| lost(format!("cannot send: {e}")))?;
    };
    // What the server sent right after its welcome is already read: it is
    // read again first, then the connection.
    let parts = framed.into_parts();
    let (reader, writer) = tokio::io::split(parts.io);
    let rest = Cursor::new(parts.read_buf).chain(reader);
    Ok((Box::new(tokio::io::join(rest, writer)), welcomed))
}

//! The connection to the IRC server: logging in, the read task, and
//! turning [`Out`] events into messages for Spectrum 2.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use irc::client::ClientStream;
use irc::client::prelude::{Client, Command, Config as IrcConfig, Message, Response, Sender};
use spectrum_backend::{ConnectionError, Ctx, Error, ParticipantFlag, StatusType};

use crate::settings::Settings;
use crate::state::{Change, Out, State};

/// How long the server gets to accept the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the server gets to welcome the user (001) after connecting.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(30);
/// How long LOGOUT waits for the server to close the connection after QUIT.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A logged-in connection: what the session's handlers use.
pub(crate) struct Link {
    sender: Sender,
    state: Arc<Mutex<State>>,
    /// Set on LOGOUT: the read task then ends quietly when the server closes.
    quitting: Arc<AtomicBool>,
    reader: Option<tokio::task::JoinHandle<()>>,
    server: String,
}

/// A connection whose server has welcomed the user, before its read task runs.
struct Welcomed {
    client: Client,
    stream: ClientStream,
    nick: String,
    server: String,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // The state stays consistent across a panic in another holder: every
    // change is a single insert or remove.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Link {
    /// Connects to the first configured server that answers and waits for
    /// its welcome; starts the read task, which reports to `ctx`.
    pub(crate) async fn open(
        ctx: &Ctx,
        settings: &Settings,
        nick: &str,
        password: &str,
    ) -> Result<Link, Error> {
        let mut failures = Vec::new();
        let mut welcomed = None;
        for (host, port) in &settings.servers {
            match welcome(settings, host, *port, nick, password).await {
                Ok(w) => {
                    welcomed = Some(w);
                    break;
                }
                // Only an unreachable server is worth trying the next one.
                Err(e) if e.code() == ConnectionError::NetworkError => {
                    tracing::info!("{host}:{port}: {}", e.message());
                    failures.push(e.message().to_owned());
                }
                Err(e) => return Err(e),
            }
        }
        let Some(Welcomed {
            client,
            stream,
            nick,
            server,
        }) = welcomed
        else {
            return Err(Error::network(failures.join("; ")));
        };
        tracing::info!(%server, %nick, "welcomed by the IRC server");
        // CONNECTED before the read task starts: Spectrum 2 drops messages
        // for a user it does not yet consider connected, and the server may
        // send some right after its welcome.
        ctx.connected().await?;
        let sender = client.sender();
        if let Some((target, text)) = settings.identify_message(password) {
            send(&sender, Command::PRIVMSG(target, text));
        }
        let state = Arc::new(Mutex::new(State::new(nick)));
        let quitting = Arc::new(AtomicBool::new(false));
        drop(client);
        let reader = tokio::spawn(read_loop(
            ctx.clone(),
            stream,
            Arc::clone(&state),
            Arc::clone(&quitting),
            server.clone(),
        ));
        Ok(Link {
            sender,
            state,
            quitting,
            reader: Some(reader),
            server,
        })
    }

    /// The session's view of the server, for a handler's decision.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Queues a command for the server. Once the connection is gone the
    /// read task has already reported it: the command is dropped.
    pub(crate) fn send(&self, command: Command) {
        send(&self.sender, command);
    }

    /// QUIT, then waits a little for the server to close the connection.
    pub(crate) async fn quit(mut self, reason: &str) {
        self.quitting.store(true, Ordering::SeqCst);
        self.send(Command::QUIT(Some(reason.to_owned())));
        if let Some(mut reader) = self.reader.take()
            && tokio::time::timeout(QUIT_TIMEOUT, &mut reader)
                .await
                .is_err()
        {
            tracing::info!(server = %self.server, "no answer to QUIT; closing the connection");
            reader.abort();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // A session dropped without LOGOUT (a failed handler) closes the
        // socket instead of leaving the read task behind.
        if let Some(reader) = self.reader.take() {
            self.quitting.store(true, Ordering::SeqCst);
            reader.abort();
        }
    }
}

fn send(sender: &Sender, command: Command) {
    if let Err(e) = sender.send(command) {
        tracing::debug!("not connected to the IRC server any more; dropped: {e}");
    }
}

/// Connects to one server and reads until it welcomes the user (001) or
/// refuses them.
async fn welcome(
    settings: &Settings,
    host: &str,
    port: u16,
    nick: &str,
    password: &str,
) -> Result<Welcomed, Error> {
    let server = format!("{host}:{port}");
    let config = IrcConfig {
        nickname: Some(nick.to_owned()),
        username: Some(nick.to_owned()),
        realname: Some(nick.to_owned()),
        server: Some(host.to_owned()),
        port: Some(port),
        password: settings.send_pass.then(|| password.to_owned()),
        encoding: Some("UTF-8".to_owned()),
        ..IrcConfig::default()
    };
    let unreachable = |what: String| Error::network(format!("IRC server {server}: {what}"));
    let mut client = match tokio::time::timeout(CONNECT_TIMEOUT, Client::from_config(config)).await
    {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return Err(unreachable(format!("cannot connect: {e}"))),
        Err(_) => {
            return Err(unreachable(format!(
                "no connection within {CONNECT_TIMEOUT:?}"
            )));
        }
    };
    let mut stream = client
        .stream()
        .map_err(|e| unreachable(format!("cannot read: {e}")))?;
    client
        .identify()
        .map_err(|e| unreachable(format!("cannot log in: {e}")))?;
    let answer = tokio::time::timeout(WELCOME_TIMEOUT, async {
        while let Some(item) = stream.next().await {
            let msg = match item {
                Ok(msg) => msg,
                Err(irc::error::Error::NoUsableNick) => {
                    return Err(Error::name_in_use(format!(
                        "the nickname {nick} is already in use on {server}"
                    )));
                }
                Err(e) => return Err(unreachable(e.to_string())),
            };
            if let Some(answer) = registration_answer(&msg, &server) {
                return answer;
            }
        }
        Err(unreachable(
            "closed the connection before welcoming the user".to_owned(),
        ))
    })
    .await
    .unwrap_or_else(|_| {
        Err(unreachable(format!(
            "no welcome within {WELCOME_TIMEOUT:?}"
        )))
    })?;
    Ok(Welcomed {
        client,
        stream,
        nick: answer,
        server,
    })
}

/// What a message before the welcome decides: the nickname the server
/// welcomed, a refusal, or nothing yet.
fn registration_answer(msg: &Message, server: &str) -> Option<Result<String, Error>> {
    match &msg.command {
        Command::Response(Response::RPL_WELCOME, args) => {
            Some(args.first().cloned().ok_or_else(|| {
                Error::network(format!("IRC server {server}: a welcome without a nickname"))
            }))
        }
        Command::Response(Response::ERR_PASSWDMISMATCH, args) => {
            Some(Err(Error::authentication_failed(format!(
                "IRC server {server} refused the password: {}",
                args.last().map_or("", String::as_str)
            ))))
        }
        Command::Response(Response::ERR_YOUREBANNEDCREEP, args) => {
            Some(Err(Error::authentication_failed(format!(
                "IRC server {server} refused the user: {}",
                args.last().map_or("", String::as_str)
            ))))
        }
        Command::ERROR(text) => Some(Err(Error::network(format!(
            "IRC server {server} closed the connection: {text}"
        )))),
        _ => None,
    }
}

/// Reads the server until the connection or the session ends. A
/// connection lost without LOGOUT is reported as DISCONNECTED
/// (NETWORK_ERROR: Spectrum 2 logs the user in again). A silent peer is
/// noticed by the `irc` crate's own PING (every 180 s, 20 s to answer).
async fn read_loop(
    ctx: Ctx,
    mut stream: ClientStream,
    state: Arc<Mutex<State>>,
    quitting: Arc<AtomicBool>,
    server: String,
) {
    let mut last_error = None;
    let reason = loop {
        let item = tokio::select! {
            () = ctx.ended() => return,
            item = stream.next() => item,
        };
        let msg = match item {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => break e.to_string(),
            None => break "the server closed the connection".to_owned(),
        };
        if let Command::ERROR(text) = &msg.command {
            last_error = Some(text.clone());
            continue;
        }
        let events = lock(&state).on_message(&msg);
        for event in events {
            if let Err(e) = report(&ctx, event).await {
                tracing::debug!("could not report to the main instance: {e}");
            }
        }
    };
    if quitting.load(Ordering::SeqCst) || ctx.is_ended() {
        return;
    }
    let reason = match last_error {
        Some(text) => format!("{reason} ({text})"),
        None => reason,
    };
    tracing::warn!(%server, "lost the IRC connection: {reason}");
    let text = format!("Lost the connection to IRC server {server}: {reason}");
    if let Err(e) = ctx.disconnect(ConnectionError::NetworkError, text).await {
        tracing::debug!("could not report the lost connection: {e}");
    }
}

/// Sends one event to Spectrum 2.
pub(crate) async fn report(ctx: &Ctx, event: Out) -> spectrum_backend::Result<()> {
    match event {
        Out::Message { from, text } => ctx.message(from, text).send().await,
        Out::RoomMessage { room, nick, text } => ctx.room_message(room, nick, text).send().await,
        Out::PrivateMessage { room, nick, text } => {
            ctx.private_message(room, nick, text).send().await
        }
        Out::Joined {
            request,
            nick,
            occupants,
            moderator,
            subject,
        } => {
            // The nickname first: occupants equal to it are the user.
            let mut join = ctx.room_joined(&request).nickname(nick);
            for (occupant, is_moderator) in occupants {
                let flags = if is_moderator {
                    ParticipantFlag::Moderator.bit()
                } else {
                    0
                };
                join = join.occupant_with(occupant, flags);
            }
            if moderator {
                join = join.moderator();
            }
            if let Some((text, by)) = subject {
                join = join.subject(text, by);
            }
            join.send().await
        }
        Out::Participant {
            room,
            nick,
            moderator,
            change,
        } => {
            let mut p = ctx.participant(room, nick);
            if moderator {
                p = p.moderator();
            }
            p = match change {
                Change::Present => p,
                Change::Left(reason) => p.left().status_message(reason),
                Change::Renamed(new) => p.renamed(new),
            };
            p.send().await
        }
        Out::Subject { room, text, by } => ctx.subject(room, text).by(by).send().await,
        Out::RoomNickname { room, nick } => ctx.room_nickname_changed(room, nick).await,
        Out::JoinFailed {
            room,
            nick,
            flag,
            reason,
        } => {
            ctx.participant(room, nick)
                .flag(flag)
                .status(StatusType::StatusNone)
                .status_message(reason)
                .send()
                .await
        }
    }
}

/// IRC lines for a message: one PRIVMSG per line of text, long lines cut
/// at character boundaries so that each fits the 512-byte IRC line.
pub(crate) fn irc_lines(text: &str) -> Vec<String> {
    /// Room for the text in a PRIVMSG relayed with the sender's full mask.
    const MAX_BYTES: usize = 400;
    let mut lines = Vec::new();
    for line in text.lines() {
        let mut rest = line.trim_end_matches('\r');
        while rest.len() > MAX_BYTES {
            let mut cut = MAX_BYTES;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            // Prefer the last space before the limit.
            if let Some(space) = rest[..cut].rfind(' ').filter(|i| *i > 0) {
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
    use super::*;

    #[test]
    fn messages_become_irc_lines() {
        assert_eq!(irc_lines("one\r\ntwo\n\nthree"), ["one", "two", "three"]);
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
    fn registration_answers() {
        let parse = |line: &str| line.parse::<Message>().expect("valid line");
        let answer = |line: &str| registration_answer(&parse(line), "h:1");
        assert!(matches!(answer(":s 001 alice :Welcome"), Some(Ok(n)) if n == "alice"));
        assert!(answer(":s NOTICE * :*** Looking up your hostname").is_none());
        let refused = answer(":s 464 * :Password incorrect");
        assert!(
            matches!(refused, Some(Err(e)) if e.code() == ConnectionError::AuthenticationFailed)
        );
        let closed = answer("ERROR :Closing connection");
        assert!(matches!(closed, Some(Err(e)) if e.code() == ConnectionError::NetworkError));
    }
}

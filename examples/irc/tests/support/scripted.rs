//! A scripted IRC server: a loopback listener whose every line the test
//! writes itself, to play servers no real one imitates (hostile ones, or
//! exchanges that need IRC services).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use super::Line;

/// How long any expected line or connection may take; a guard, not a pace.
const GUARD: Duration = Duration::from_secs(20);

/// A listener on 127.0.0.1.
pub struct Scripted {
    listener: TcpListener,
    port: u16,
}

/// One client connection, registered or not.
pub struct Client {
    pub read: BufReader<OwnedReadHalf>,
    pub write: OwnedWriteHalf,
    /// The nickname the client asked for last.
    pub nick: String,
    /// Every line read so far, in order.
    pub seen: Vec<Line>,
}

impl Scripted {
    /// Listens on a free loopback port.
    pub async fn bind() -> Result<Scripted, String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot listen: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("no address: {e}"))?
            .port();
        Ok(Scripted { listener, port })
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` for `service.irc_server`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The next connection, read up to its USER line (its NICK, PASS and
    /// CAP lines are in [`Client::seen`]).
    pub async fn accept(&self) -> Result<Client, String> {
        let (stream, _) = tokio::time::timeout(GUARD, self.listener.accept())
            .await
            .map_err(|_| format!("no connection within {GUARD:?}"))?
            .map_err(|e| format!("accept failed: {e}"))?;
        let mut client = Client::new(stream);
        client.expect("USER", |l| l.command == "USER").await?;
        Ok(client)
    }

    /// The next connection, registered and welcomed.
    pub async fn accept_welcomed(&self) -> Result<Client, String> {
        let mut client = self.accept().await?;
        client.welcome().await?;
        Ok(client)
    }
}

impl Client {
    fn new(stream: TcpStream) -> Client {
        let (read, write) = stream.into_split();
        Client {
            read: BufReader::new(read),
            write,
            nick: String::new(),
            seen: Vec::new(),
        }
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.write
            .write_all(bytes)
            .await
            .map_err(|e| format!("cannot write to the backend: {e}"))
    }

    /// Sends one line, CRLF added.
    pub async fn send(&mut self, line: &str) -> Result<(), String> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await
    }

    /// Welcomes the client under its last NICK.
    pub async fn welcome(&mut self) -> Result<(), String> {
        let nick = self.nick.clone();
        self.send(&format!(":irc.scripted 001 {nick} :Welcome {nick}"))
            .await?;
        self.send(&format!(":irc.scripted 376 {nick} :End of MOTD"))
            .await
    }

    /// The next line `pick` accepts; earlier ones are kept in `seen` only.
    pub async fn expect(
        &mut self,
        what: &str,
        pick: impl Fn(&Line) -> bool,
    ) -> Result<Line, String> {
        loop {
            let mut raw = String::new();
            let n = tokio::time::timeout(GUARD, self.read.read_line(&mut raw))
                .await
                .map_err(|_| self.failure(&format!("expected {what} within {GUARD:?}")))?
                .map_err(|e| self.failure(&format!("reading failed: {e}")))?;
            if n == 0 {
                return Err(self.failure(&format!("connection closed; expected {what}")));
            }
            let line = Line::parse(&raw);
            if line.command == "NICK" {
                self.nick = line.param(0).to_owned();
            }
            self.seen.push(line.clone());
            if pick(&line) {
                return Ok(line);
            }
        }
    }

    /// The next `CAP <sub>` from the client.
    pub async fn expect_cap(&mut self, sub: &str) -> Result<Line, String> {
        self.expect(&format!("CAP {sub}"), |l| {
            l.command == "CAP" && l.param(0) == sub
        })
        .await
    }

    fn failure(&self, what: &str) -> String {
        let seen: Vec<&str> = self.seen.iter().map(|l| l.raw.trim_end()).collect();
        format!(
            "scripted server: {what}\nlines so far:\n  {}",
            seen.join("\n  ")
        )
    }
}

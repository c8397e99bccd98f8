//! Test support: a real ngircd on loopback, and a plain IRC client written
//! with nothing but tokio line I/O (independent of the backend's IRC crate).

#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod scripted;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long any expected IRC line may take; a guard, not a pace.
const TIMEOUT: Duration = Duration::from_secs(10);

pub use spectrum_backend::testing::{Report, TestResult};

/// An ngircd process on 127.0.0.1, killed on drop.
pub struct Ngircd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    program: PathBuf,
}

fn find_ngircd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("ngircd"))
        .find(|p| p.is_file())
}

/// A port nothing listens on right now.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on loopback: {e}"))
}

/// Runs ngircd with the config in `dir`, appending to its log there.
fn run(program: &Path, dir: &Path) -> Result<Child, String> {
    let log = dir.join("ngircd.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("cannot open the log: {e}"))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot share the log: {e}"))?;
    Command::new(program)
        .arg("--nodaemon")
        .arg("--config")
        .arg(dir.join("ngircd.conf"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))
}

/// What ngircd printed so far in `dir`.
fn log_in(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("ngircd.log")).unwrap_or_default()
}

/// How often the log in `dir` says the server listens on `port`.
fn times_listening(dir: &Path, port: u16) -> usize {
    let line = format!("Now listening on [127.0.0.1]:{port} ");
    log_in(dir).matches(&line).count()
}

/// Waits until the log in `dir` says, for the `before + 1`-th time, that
/// `child` listens on `port`.
///
/// The log, not a probe connection: a probe succeeds against another
/// process that took the port, or against itself (a connection to a port
/// nothing listens on may be given that port as its own).
async fn wait_until_listening(
    child: &mut Child,
    dir: &Path,
    port: u16,
    before: usize,
) -> Result<(), String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("ngircd exited ({status}):\n{}", log_in(dir)));
        }
        if times_listening(dir, port) > before {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "ngircd does not listen on port {port} after {TIMEOUT:?}:\n{}",
                log_in(dir)
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Ngircd {
    /// Starts ngircd with a minimal config and waits until it accepts
    /// connections.
    pub async fn start() -> Result<Ngircd, String> {
        Ngircd::start_with(|_| String::new()).await
    }

    /// Starts ngircd with more config text, made from the server's
    /// directory (for key and certificate files).
    pub async fn start_with(extra: impl FnOnce(&Path) -> String) -> Result<Ngircd, String> {
        let Some(program) = find_ngircd() else {
            return Err(
                "ngircd is not installed. These end-to-end tests need a real IRC \
                        server: run `apt-get install -y ngircd`"
                    .to_owned(),
            );
        };
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        // Started as root, ngircd runs as `nobody` before writing its PID file.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let _ = std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777));
        }
        let extra = extra(dir.path());
        // The port is free when picked, but another test's server (or any
        // connection's ephemeral port) may take it before ngircd binds it:
        // then ngircd exits, and another port is tried.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            let config = dir.path().join("ngircd.conf");
            let text = format!(
                "[Global]\n\
                 Name = irc.test.local\n\
                 Info = spectrum-backend test server\n\
                 AdminInfo1 = tests\nAdminInfo2 = tests\nAdminEMail = tests@irc.test.local\n\
                 Listen = 127.0.0.1\n\
                 Ports = {port}\n\
                 PidFile = {pid}\n\
                 MotdPhrase = test server\n\
                 [Limits]\n\
                 MaxNickLength = 30\n\
                 MaxConnectionsIP = 0\n\
                 # No flood penalties: the tests send quickly.\n\
                 MaxPenaltyTime = 0\n\
                 [Options]\n\
                 DNS = no\n\
                 Ident = no\n\
                 PAM = no\n\
                 {extra}",
                pid = dir.path().join("ngircd.pid").display(),
            );
            std::fs::write(&config, text).map_err(|e| format!("cannot write {config:?}: {e}"))?;
            let mut child = run(&program, dir.path())?;
            match wait_until_listening(&mut child, dir.path(), port, 0).await {
                Ok(()) => {
                    return Ok(Ngircd {
                        child,
                        port,
                        dir,
                        program,
                    });
                }
                Err(e) if attempt >= 5 || !matches!(child.try_wait(), Ok(Some(_))) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(e);
                }
                Err(_) => {}
            }
        }
    }

    /// Starts the stopped server again, on the same port.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let before = times_listening(self.dir.path(), self.port);
        self.child = run(&self.program, self.dir.path())?;
        wait_until_listening(&mut self.child, self.dir.path(), self.port, before).await
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The transport config file for the backend, pointing at this server.
    pub fn transport_config(&self) -> String {
        transport_config(&format!("127.0.0.1:{}", self.port))
    }

    /// What ngircd printed so far.
    pub fn log(&self) -> String {
        log_in(self.dir.path())
    }

    /// Kills the server now (its clients lose their connections).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The temporary directory holding the config and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Ngircd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// JOIN_ROOM for `user`: `room` as `nickname`, without a password.
pub fn join_request(user: &str, room: &str, nickname: &str) -> spectrum_backend::proto::Payload {
    spectrum_backend::proto::Payload::JoinRoom(spectrum_backend::proto::Room {
        user_name: user.into(),
        nickname: nickname.into(),
        room: room.into(),
        password: Some(String::new()),
    })
}

/// A transport config file naming `server` as the IRC server.
pub fn transport_config(server: &str) -> String {
    format!("[service]\njid = irc.localhost\nbackend = /usr/bin/irc\nirc_server = {server}\n")
}

/// One line from the server, split into its parts.
#[derive(Debug, Clone)]
pub struct Line {
    pub raw: String,
    pub prefix: String,
    pub command: String,
    pub params: Vec<String>,
}

impl Line {
    pub fn parse(raw: &str) -> Line {
        let mut rest = raw.trim_end_matches(['\r', '\n']);
        let mut prefix = "";
        if let Some(after) = rest.strip_prefix(':') {
            let (p, r) = after.split_once(' ').unwrap_or((after, ""));
            prefix = p;
            rest = r;
        }
        let (head, trailing) = match rest.split_once(" :") {
            Some((head, trailing)) => (head, Some(trailing)),
            None => (rest, None),
        };
        let mut words = head.split(' ').filter(|w| !w.is_empty());
        let command = words.next().unwrap_or("").to_ascii_uppercase();
        let mut params: Vec<String> = words.map(str::to_owned).collect();
        params.extend(trailing.map(str::to_owned));
        Line {
            raw: raw.to_owned(),
            prefix: prefix.to_owned(),
            command,
            params,
        }
    }

    /// The sender's nickname.
    pub fn nick(&self) -> &str {
        self.prefix.split(['!', '@']).next().unwrap_or("")
    }

    /// Parameter `i`, or "".
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }

    /// The last parameter, or "".
    pub fn last(&self) -> &str {
        self.params.last().map_or("", String::as_str)
    }

    /// Whether this is `command` from `nick`.
    pub fn is(&self, command: &str, nick: &str) -> bool {
        self.command == command && self.nick().eq_ignore_ascii_case(nick)
    }
}

/// A minimal IRC client: register, send lines, wait for lines.
pub struct PlainClient {
    nick: String,
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
    backlog: VecDeque<Line>,
    seen: Vec<String>,
}

impl PlainClient {
    /// Connects and registers as `nick`; returns after the welcome (001).
    pub async fn connect(port: u16, nick: &str) -> Result<PlainClient, String> {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("{nick}: cannot connect to port {port}: {e}"))?;
        let (read, write) = stream.into_split();
        let mut client = PlainClient {
            nick: nick.to_owned(),
            lines: BufReader::new(read).lines(),
            write,
            backlog: VecDeque::new(),
            seen: Vec::new(),
        };
        client.send(&format!("NICK {nick}")).await?;
        client
            .send(&format!("USER {nick} 0 * :plain test client"))
            .await?;
        client
            .expect("the welcome (001)", |l| l.command == "001")
            .await?;
        Ok(client)
    }

    /// Sends one line.
    pub async fn send(&mut self, line: &str) -> Result<(), String> {
        self.seen.push(format!("→ {line}"));
        self.write
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| format!("{}: cannot send `{line}`: {e}", self.nick))
    }

    /// The first line (kept from earlier, then new) matching `pick`;
    /// others are kept for later. PINGs are answered on the way.
    pub async fn expect(
        &mut self,
        what: &str,
        pick: impl Fn(&Line) -> bool,
    ) -> Result<Line, String> {
        if let Some(i) = self.backlog.iter().position(&pick)
            && let Some(line) = self.backlog.remove(i)
        {
            return Ok(line);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let raw = match tokio::time::timeout(left, self.lines.next_line()).await {
                Err(_) => return Err(self.failure(&format!("expected {what} within {TIMEOUT:?}"))),
                Ok(Err(e)) => return Err(self.failure(&format!("reading failed: {e}"))),
                Ok(Ok(None)) => {
                    return Err(self.failure(&format!("connection closed; expected {what}")));
                }
                Ok(Ok(Some(raw))) => raw,
            };
            self.seen.push(format!("← {raw}"));
            let line = Line::parse(&raw);
            if line.command == "PING" {
                let pong = format!("PONG :{}", line.last());
                self.send(&pong).await?;
                continue;
            }
            if pick(&line) {
                return Ok(line);
            }
            self.backlog.push_back(line);
        }
    }

    fn failure(&self, what: &str) -> String {
        format!(
            "IRC client {}: {what}\nlines so far:\n  {}",
            self.nick,
            self.seen.join("\n  ")
        )
    }
}

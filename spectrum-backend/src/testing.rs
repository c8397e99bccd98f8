//! Play the Spectrum 2 main instance, to test a backend without Spectrum 2.
//!
//! [`MainInstance`] listens on loopback, lets the backend connect, and speaks
//! the protocol over that real socket, exactly as the main instance does:
//! PING first, then LOGIN, messages, rooms, vCards, EXIT. It works two ways:
//!
//! * in-process, with a `#[backend]` type: [`MainInstance::start`];
//! * with any backend executable, spawned with the arguments and config file
//!   Spectrum 2 would give it (so C++ and Python backends can be tested
//!   too): [`MainInstance::spawn`].
//!
//! Every helper has a timeout; a failure prints every frame seen so far.
//!
//! ```
//! use spectrum_backend::prelude::*;
//! use spectrum_backend::testing::MainInstance;
//!
//! struct Echo;
//!
//! #[backend]
//! impl Echo {
//!     #[on(Login)]
//!     async fn login(_login: Login) -> Self { Echo }
//!
//!     #[on(ConvMessage)]
//!     async fn message(&mut self, ctx: &Ctx, m: ConversationMessage) -> Result<()> {
//!         ctx.message(&m.buddy_name, &m.message).await
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), spectrum_backend::testing::Failure> {
//! let mut main = MainInstance::start::<Echo>("[service]\njid = echo.localhost\n").await?;
//! main.handshake().await?;
//! main.login("alice@localhost", "alice", "secret").await?;
//! main.send_message("alice@localhost", "bob", "hi").await?;
//! let reply = main.expect_message("alice@localhost").await?;
//! assert_eq!((reply.buddy_name.as_str(), reply.message.as_str()), ("bob", "hi"));
//! assert_eq!(main.exit().await?, 0);
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use spectrum_proto::{self as proto, FrameCodec, MessageType, ParticipantFlag, Payload};
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

use crate::{Args, Backend, Config, RunError, Runtime};

/// A harness step that did not happen: what was expected, and the frames
/// seen so far, decoded.
pub struct Failure {
    what: String,
    transcript: String,
}

impl Failure {
    /// What was expected.
    pub fn what(&self) -> &str {
        &self.what
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n\nframes so far (main ⇄ backend):\n{}",
            self.what, self.transcript
        )
    }
}

// A test returning `Result<(), Failure>` prints the error with `Debug`:
// make that the readable transcript, not an escaped string.
impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

/// Harness result.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// Any test failure, shown as its text: for tests that mix harness steps
/// with errors of their own (a legacy server's, I/O), all with `?`. A
/// harness [`Failure`] keeps its transcript's layout.
///
/// ```
/// use spectrum_backend::testing::{Report, TestResult};
///
/// fn parses() -> TestResult {
///     let port: u16 = "6667".parse()?;
///     assert_eq!(port, 6667);
///     Ok(())
/// }
/// parses().unwrap();
/// let failed: Report = "x".parse::<u16>().unwrap_err().into();
/// assert_eq!(format!("{failed:?}"), "invalid digit found in string");
/// ```
pub struct Report(String);

impl<E: std::fmt::Display> From<E> for Report {
    fn from(e: E) -> Self {
        Report(e.to_string())
    }
}

// Tests print their error with `Debug`: the text as it is, not escaped.
impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a test that uses [`Report`] returns.
pub type TestResult<T = ()> = std::result::Result<T, Report>;

/// One frame the main instance sent or received.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Sent by the main instance to the backend.
    ToBackend(Payload),
    /// Received from the backend.
    FromBackend(Payload),
    /// Received from the backend but not decodable.
    Bad(String),
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Frame::ToBackend(p) => write!(f, "main → backend  {}", describe(p)),
            Frame::FromBackend(p) => write!(f, "backend → main  {}", describe(p)),
            Frame::Bad(e) => write!(f, "backend → main  <undecodable: {e}>"),
        }
    }
}

/// A one-line, readable form of a payload: its type name and fields.
pub fn describe(payload: &Payload) -> String {
    let name = payload
        .message_type()
        .map_or("UNKNOWN", |t| t.as_str_name());
    let name = name.trim_start_matches("TYPE_");
    let debug = format!("{payload:?}");
    // `Variant(Message { .. })` → `{ .. }`; unit variants have nothing more to say.
    match debug.find('{') {
        Some(i) => format!(
            "{name} {}",
            &debug[i..debug.len() - usize::from(debug.ends_with(')'))]
        ),
        None if matches!(payload, Payload::RawXml(_)) => format!("{name} {debug}"),
        None => name.to_owned(),
    }
}

/// A room frame in a short form that tests can compare, or `None` for a
/// frame about no room: `P room nick flags status [newname]` for
/// PARTICIPANT_CHANGED, `N room nick` for ROOM_NICKNAME_CHANGED, `S room
/// text by` for ROOM_SUBJECT_CHANGED. The flags are
/// [`ParticipantFlag`] bits and the status a
/// [`StatusType`](crate::StatusType) number.
///
/// ```
/// use spectrum_backend::gateway::rooms::{Occupant, Rooms};
/// use spectrum_backend::proto::Room;
/// use spectrum_backend::testing::room_frame;
///
/// let mut rooms = Rooms::new("alice@example.org");
/// let join = Room { room: "#rust".into(), nickname: "alice".into(), ..Room::default() };
/// rooms.join_requested(&join);
/// let frames = rooms.joined("#rust", "alice", [Occupant::new("bob").moderator()]);
/// let shown: Vec<String> = frames.iter().filter_map(room_frame).collect();
/// assert_eq!(shown, ["P #rust bob 1 0", "P #rust alice 16 0"]);
/// ```
pub fn room_frame(payload: &Payload) -> Option<String> {
    Some(match payload {
        Payload::ParticipantChanged(p) => format!(
            "P {} {} {} {} {}",
            p.room,
            p.nickname,
            p.flag,
            p.status,
            p.newname.as_deref().unwrap_or_default()
        )
        .trim_end()
        .to_owned(),
        Payload::RoomNicknameChanged(r) => format!("N {} {}", r.room, r.nickname),
        Payload::RoomSubjectChanged(m) => format!(
            "S {} {} {}",
            m.buddy_name,
            m.message,
            m.nickname.as_deref().unwrap_or_default()
        ),
        _ => return None,
    })
}

// One per harness: the size of the `Process` variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Peer {
    InProcess(JoinHandle<std::result::Result<(), RunError>>),
    Process {
        child: tokio::process::Child,
        stderr: Arc<Mutex<String>>,
        _config: tempfile::TempPath,
    },
    Detached,
}

/// The main instance's side of one backend connection.
pub struct MainInstance {
    framed: Framed<TcpStream, FrameCodec>,
    backlog: VecDeque<Payload>,
    transcript: Vec<Frame>,
    peer: Peer,
    timeout: Duration,
    next_vcard_id: i32,
    recording: bool,
}

impl std::fmt::Debug for MainInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainInstance")
            .field("frames", &self.transcript.len())
            .finish_non_exhaustive()
    }
}

/// Memory of a process, from Linux's `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// Resident now (`VmRSS`).
    pub rss_kib: u64,
    /// The highest resident size so far (`VmHWM`).
    pub hwm_kib: u64,
}

impl ProcessMemory {
    /// Reads process `pid`'s figures; `None` where `/proc` has none.
    pub fn read(pid: u32) -> Option<ProcessMemory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        Self::parse(&status)
    }

    /// Parses the text of a `/proc/<pid>/status` file.
    pub fn parse(status: &str) -> Option<ProcessMemory> {
        Some(ProcessMemory {
            rss_kib: crate::stats::status_kib(status, "VmRSS")?,
            hwm_kib: crate::stats::status_kib(status, "VmHWM")?,
        })
    }
}

/// The argument list Spectrum 2 gives a backend it spawns, for a main
/// instance started as `spectrum2 -n <config>`.
pub fn spectrum_argv(port: u16, backend_id: u32, config: &Path) -> Vec<String> {
    vec![
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        format!("--service.backend_id={backend_id}"),
        "-n".into(),
        config.display().to_string(),
    ]
}

fn fail<T>(what: impl Into<String>) -> Result<T> {
    Err(Failure {
        what: what.into(),
        transcript: String::new(),
    })
}

impl MainInstance {
    /// Runs backend `B` in this process against a new main instance, with
    /// `config` as the transport config file's text.
    pub async fn start<B: Backend>(config: &str) -> Result<Self> {
        Self::start_with::<B>(config, |rt| rt).await
    }

    /// Like [`MainInstance::start`], adjusting the runtime first (shared
    /// state, capabilities, limits).
    pub async fn start_with<B: Backend>(
        config: &str,
        adjust: impl FnOnce(Runtime<B>) -> Runtime<B>,
    ) -> Result<Self> {
        let listener = bind().await?;
        let port = local_port(&listener)?;
        let parsed =
            Config::parse(config).or_else(|e| fail(format!("invalid test config: {e}")))?;
        let argv = spectrum_argv(port, 1, Path::new("in-process.cfg"));
        let args = Args::parse(&argv).or_else(|e| fail(format!("invalid arguments: {e}")))?;
        let runtime = adjust(Runtime::<B>::new(args, parsed));
        let task = tokio::spawn(runtime.run());
        Self::accept(listener, Peer::InProcess(task)).await
    }

    /// Spawns a backend executable as Spectrum 2 does: the config text is
    /// written to a file, and the program is run with
    /// `--host 127.0.0.1 --port P --service.backend_id=1 -n <file>`.
    pub async fn spawn(program: impl AsRef<Path>, config: impl AsRef<[u8]>) -> Result<Self> {
        Self::spawn_with_args(program, &[], config).await
    }

    /// Like [`MainInstance::spawn`], for a `service.backend` command that
    /// carries its own arguments before Spectrum 2's (`python3 backend.py`).
    pub async fn spawn_with_args(
        program: impl AsRef<Path>,
        leading: &[&str],
        config: impl AsRef<[u8]>,
    ) -> Result<Self> {
        let program = program.as_ref();
        let listener = bind().await?;
        let port = local_port(&listener)?;
        let file = tempfile::Builder::new()
            .prefix("spectrum-backend-test-")
            .suffix(".cfg")
            .tempfile()
            .or_else(|e| fail(format!("cannot create the config file: {e}")))?;
        std::fs::write(file.path(), config.as_ref())
            .or_else(|e| fail(format!("cannot write the config file: {e}")))?;
        let config_path: PathBuf = file.path().to_owned();
        let mut child = tokio::process::Command::new(program)
            .args(leading)
            .args(spectrum_argv(port, 1, &config_path))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .or_else(|e| fail(format!("cannot run {}: {e}", program.display())))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&text);
                    }
                }
            });
        }
        Self::accept(
            listener,
            Peer::Process {
                child,
                stderr,
                _config: file.into_temp_path(),
            },
        )
        .await
    }

    /// Waits for a backend started some other way to connect to `listener`.
    pub async fn accept_from(listener: TcpListener) -> Result<Self> {
        Self::accept(listener, Peer::Detached).await
    }

    async fn accept(listener: TcpListener, mut peer: Peer) -> Result<Self> {
        // A backend that dies before connecting fails at once, not after 30 s.
        let accepted = {
            let gone = async {
                match &mut peer {
                    Peer::Process { child, .. } => match child.wait().await {
                        Ok(status) => format!("the backend exited ({status}) before connecting"),
                        Err(e) => format!("waiting for the backend failed: {e}"),
                    },
                    Peer::InProcess(task) => match task.await {
                        Ok(Ok(())) => "the backend stopped before connecting".to_owned(),
                        Ok(Err(e)) => format!("the backend failed before connecting: {e}"),
                        Err(e) => format!("the backend task failed: {e}"),
                    },
                    Peer::Detached => std::future::pending().await,
                }
            };
            tokio::select! {
                accepted = tokio::time::timeout(Duration::from_secs(30), listener.accept()) => Ok(accepted),
                why = gone => Err(why),
            }
        };
        let (stream, _) = match accepted {
            Ok(Ok(Ok(conn))) => conn,
            Ok(Ok(Err(e))) => {
                return fail(format!("accepting the backend's connection failed: {e}"));
            }
            Ok(Err(_)) => {
                return Err(report(
                    "the backend did not connect within 30 s".into(),
                    &[],
                    &peer,
                    usize::MAX,
                ));
            }
            Err(why) => return Err(report(why, &[], &peer, usize::MAX)),
        };
        let _ = stream.set_nodelay(true);
        Ok(MainInstance {
            framed: Framed::new(stream, FrameCodec::new()),
            backlog: VecDeque::new(),
            transcript: Vec::new(),
            peer,
            timeout: Duration::from_secs(10),
            next_vcard_id: 0,
            recording: true,
        })
    }

    /// How long each expectation waits (default 10 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Every frame so far, in order.
    pub fn transcript(&self) -> &[Frame] {
        &self.transcript
    }

    /// A failure carrying the transcript (and a spawned backend's stderr).
    pub fn failure(&self, what: impl Into<String>) -> Failure {
        report(what.into(), &self.transcript, &self.peer, 30)
    }

    /// Sends a frame to the backend.
    pub async fn send(&mut self, payload: Payload) -> Result<()> {
        if self.recording {
            self.transcript.push(Frame::ToBackend(payload.clone()));
        }
        let wrapper = payload.to_wrapper();
        match self.framed.send(wrapper).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failure(format!("sending {} failed: {e}", describe(&payload)))),
        }
    }

    /// Sends raw bytes, for fault tests (garbage, partial frames).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        use tokio::io::AsyncWriteExt as _;
        match self.framed.get_mut().write_all(bytes).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failure(format!("writing raw bytes failed: {e}"))),
        }
    }

    async fn read_frame(&mut self, deadline: Instant) -> Result<Option<Payload>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = match tokio::time::timeout(left, self.framed.next()).await {
                Err(_) => return Ok(None),
                Ok(next) => next,
            };
            match next {
                None => return Err(self.failure("the backend closed the connection")),
                Some(Err(e)) => {
                    return Err(self.failure(format!("reading from the backend failed: {e}")));
                }
                Some(Ok(Err(e))) => self.record(Frame::Bad(e.to_string())),
                Some(Ok(Ok(wrapper))) => match Payload::from_wrapper(wrapper) {
                    Ok(p) => {
                        if self.recording {
                            self.transcript.push(Frame::FromBackend(p.clone()));
                        }
                        return Ok(Some(p));
                    }
                    Err(e) => self.record(Frame::Bad(e.to_string())),
                },
            }
        }
    }

    fn record(&mut self, frame: Frame) {
        if self.recording {
            self.transcript.push(frame);
        }
    }

    /// Whether frames are kept in the [transcript](MainInstance::transcript)
    /// (on by default). A load test turns it off so that a long run neither
    /// keeps nor copies every frame; a failure then shows only the frames
    /// recorded while it was on.
    pub fn set_recording(&mut self, on: bool) {
        self.recording = on;
    }

    /// The process id of a backend started by [`MainInstance::spawn`]
    /// (`None` for an in-process or detached backend, or once the process
    /// has been reaped). Useful to read its memory in `/proc/<pid>/status`.
    pub fn backend_pid(&self) -> Option<u32> {
        match &self.peer {
            Peer::Process { child, .. } => child.id(),
            Peer::InProcess(_) | Peer::Detached => None,
        }
    }

    /// The next frame from the backend (unconsumed frames first, then the
    /// socket), or `None` if none arrives before `deadline`: unlike
    /// [`MainInstance::recv`], a quiet backend is not a failure; a closed
    /// connection is.
    ///
    /// Cancel-safe: dropping the future never loses a frame, so it can be
    /// raced against other input in `tokio::select!`.
    pub async fn recv_until(&mut self, deadline: Instant) -> Result<Option<Payload>> {
        if let Some(p) = self.backlog.pop_front() {
            return Ok(Some(p));
        }
        self.read_frame(deadline).await
    }

    /// The next frame from the backend, in order.
    pub async fn recv(&mut self) -> Result<Payload> {
        if let Some(p) = self.backlog.pop_front() {
            return Ok(p);
        }
        let deadline = Instant::now() + self.timeout;
        match self.read_frame(deadline).await? {
            Some(p) => Ok(p),
            None => Err(self.failure(format!(
                "no frame from the backend within {:?}",
                self.timeout
            ))),
        }
    }

    /// The first frame (from the backlog, then the socket) for which `pick`
    /// returns `Some`. Other frames are kept for later calls, in order.
    pub async fn expect<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&Payload) -> Option<T>,
    ) -> Result<T> {
        if let Some(i) = self.backlog.iter().position(|p| pick(p).is_some())
            && let Some(p) = self.backlog.remove(i)
            && let Some(t) = pick(&p)
        {
            return Ok(t);
        }
        let deadline = Instant::now() + self.timeout;
        while let Some(p) = self.read_frame(deadline).await? {
            if let Some(t) = pick(&p) {
                return Ok(t);
            }
            self.backlog.push_back(p);
        }
        Err(self.failure(format!("expected {what} within {:?}", self.timeout)))
    }

    /// The first frame of type `kind`.
    pub async fn expect_type(&mut self, kind: MessageType) -> Result<Payload> {
        self.expect(kind.as_str_name(), |p| {
            (p.message_type() == Some(kind)).then(|| p.clone())
        })
        .await
    }

    /// Asserts that no frame matching `pick` arrives within `wait`.
    pub async fn expect_none(
        &mut self,
        what: &str,
        wait: Duration,
        mut pick: impl FnMut(&Payload) -> bool,
    ) -> Result<()> {
        if self.backlog.iter().any(&mut pick) {
            return Err(self.failure(format!("unexpected {what}")));
        }
        let deadline = Instant::now() + wait;
        while let Some(p) = self.read_frame(deadline).await? {
            if pick(&p) {
                return Err(self.failure(format!("unexpected {what}")));
            }
            self.backlog.push_back(p);
        }
        Ok(())
    }

    /// Does what the main instance does on accept: sends PING, and expects
    /// PONG (with STATS). Returns the BACKEND_CONFIG text, if one was sent
    /// before the PONG.
    pub async fn handshake(&mut self) -> Result<Handshake> {
        self.send(Payload::Ping).await?;
        let mut config = None;
        loop {
            match self.recv().await? {
                Payload::BackendConfig(c) => config = Some(c.config),
                Payload::Pong => break,
                other => {
                    return Err(self.failure(format!(
                        "expected BACKEND_CONFIG or PONG after the first PING, got {}",
                        describe(&other)
                    )));
                }
            }
        }
        let stats = self.expect("STATS", |p| match p {
            Payload::Stats(s) => Some(s.clone()),
            _ => None,
        });
        let stats = stats.await?;
        Ok(Handshake {
            backend_config: config,
            stats,
        })
    }

    /// Sends PING and measures how long the PONG takes.
    pub async fn ping(&mut self) -> Result<Duration> {
        let start = Instant::now();
        self.send(Payload::Ping).await?;
        self.expect("PONG", |p| matches!(p, Payload::Pong).then_some(()))
            .await?;
        Ok(start.elapsed())
    }

    /// Sends LOGIN and expects CONNECTED for the user.
    pub async fn login(&mut self, user: &str, legacy_name: &str, password: &str) -> Result<()> {
        match self.try_login(user, legacy_name, password).await? {
            Ok(()) => Ok(()),
            Err(d) => Err(self.failure(format!(
                "expected CONNECTED for {user}, got DISCONNECTED error {} ({:?})",
                d.error, d.message
            ))),
        }
    }

    /// Sends LOGIN and returns the backend's answer: `Ok` for CONNECTED, the
    /// DISCONNECTED otherwise.
    pub async fn try_login(
        &mut self,
        user: &str,
        legacy_name: &str,
        password: &str,
    ) -> Result<std::result::Result<(), proto::Disconnected>> {
        self.send(Payload::Login(proto::Login {
            user: user.into(),
            legacy_name: legacy_name.into(),
            password: password.into(),
            extra_fields: Vec::new(),
            settings: Some(proto::login::UserSettings::default()),
        }))
        .await?;
        self.expect(
            &format!("CONNECTED or DISCONNECTED for {user}"),
            |p| match p {
                Payload::Connected(c) if c.user == user => Some(Ok(())),
                Payload::Disconnected(d) if d.user == user => Some(Err(d.clone())),
                _ => None,
            },
        )
        .await
    }

    /// Sends LOGOUT.
    pub async fn logout(&mut self, user: &str, legacy_name: &str) -> Result<()> {
        self.send(Payload::Logout(proto::Logout {
            user: user.into(),
            legacy_name: legacy_name.into(),
        }))
        .await
    }

    /// Sends STATUS_CHANGED.
    pub async fn set_status(
        &mut self,
        user: &str,
        status: proto::StatusType,
        text: &str,
    ) -> Result<()> {
        self.send(Payload::StatusChanged(proto::Status {
            user_name: user.into(),
            status: status as i32,
            status_message: Some(text.into()),
        }))
        .await
    }

    /// Sends a CONV_MESSAGE from the XMPP user to `buddy`.
    pub async fn send_message(&mut self, user: &str, buddy: &str, text: &str) -> Result<()> {
        self.send(Payload::ConvMessage(proto::ConversationMessage {
            user_name: user.into(),
            buddy_name: buddy.into(),
            message: text.into(),
            xhtml: Some(String::new()),
            ..Default::default()
        }))
        .await
    }

    /// The next CONV_MESSAGE for `user`.
    pub async fn expect_message(&mut self, user: &str) -> Result<proto::ConversationMessage> {
        self.expect(&format!("CONV_MESSAGE for {user}"), |p| match p {
            Payload::ConvMessage(m) if m.user_name == user => Some(m.clone()),
            _ => None,
        })
        .await
    }

    /// Sends JOIN_ROOM and collects PARTICIPANT_CHANGED for the room until
    /// the user's own entry (the ME flag, or the requested nickname).
    pub async fn join_room(
        &mut self,
        user: &str,
        room: &str,
        nickname: &str,
        password: &str,
    ) -> Result<Vec<proto::Participant>> {
        self.send(Payload::JoinRoom(proto::Room {
            user_name: user.into(),
            nickname: nickname.into(),
            room: room.into(),
            password: Some(password.into()),
        }))
        .await?;
        let mut occupants = Vec::new();
        loop {
            let p = self
                .expect(
                    &format!("PARTICIPANT_CHANGED in {room} for {user}"),
                    |p| match p {
                        Payload::ParticipantChanged(p) if p.user_name == user && p.room == room => {
                            Some(p.clone())
                        }
                        _ => None,
                    },
                )
                .await?;
            let own = p.flag & ParticipantFlag::Me.bit() != 0 || p.nickname == nickname;
            occupants.push(p);
            if own {
                return Ok(occupants);
            }
        }
    }

    /// Sends LEAVE_ROOM.
    pub async fn leave_room(&mut self, user: &str, room: &str) -> Result<()> {
        self.send(Payload::LeaveRoom(proto::Room {
            user_name: user.into(),
            nickname: String::new(),
            room: room.into(),
            password: Some(String::new()),
        }))
        .await
    }

    /// Requests `buddy`'s vCard and expects the answer with the same id.
    pub async fn vcard(&mut self, user: &str, buddy: &str) -> Result<proto::VCard> {
        let id = self.next_vcard_id;
        self.next_vcard_id += 1;
        self.send(Payload::Vcard(proto::VCard {
            user_name: user.into(),
            buddy_name: buddy.into(),
            id,
            ..Default::default()
        }))
        .await?;
        self.expect(&format!("VCARD with id {id}"), |p| match p {
            Payload::Vcard(v) if v.id == id => Some(v.clone()),
            _ => None,
        })
        .await
    }

    /// Sends EXIT and waits for the backend to end; its exit code (0 for an
    /// in-process backend that stopped cleanly).
    pub async fn exit(mut self) -> Result<i32> {
        self.send(Payload::Exit).await?;
        self.wait_exit().await
    }

    /// Like [`MainInstance::exit`] (sends EXIT and returns the backend's exit
    /// code), but borrows the harness: the frames the backend sent before it
    /// closed the connection stay readable in the
    /// [transcript](MainInstance::transcript).
    pub async fn exit_and_wait(&mut self) -> Result<i32> {
        self.send(Payload::Exit).await?;
        self.wait_exit().await
    }

    /// Closes the connection (as a vanished main instance would) and waits
    /// for the backend to end; its exit code.
    pub async fn close(mut self) -> Result<i32> {
        use tokio::io::AsyncWriteExt as _;
        let _ = self.framed.get_mut().shutdown().await;
        self.wait_exit().await
    }

    /// Like [`MainInstance::close`] (closes the connection and returns the
    /// backend's exit code), but borrows the harness: the frames the backend
    /// sent before it closed its side stay readable in the
    /// [transcript](MainInstance::transcript).
    pub async fn close_and_wait(&mut self) -> Result<i32> {
        use tokio::io::AsyncWriteExt as _;
        let _ = self.framed.get_mut().shutdown().await;
        self.wait_exit().await
    }

    /// Reads every frame until the backend closes the connection, then
    /// waits for it to end. The frames are in [`MainInstance::transcript`].
    async fn wait_exit(&mut self) -> Result<i32> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.framed.next()).await {
                Err(_) => {
                    return Err(self.failure("the backend did not close the connection after EXIT"));
                }
                Ok(None) | Ok(Some(Err(_))) => {
                    // As Spectrum 2 does when a backend closes: close too.
                    use tokio::io::AsyncWriteExt as _;
                    let _ = self.framed.get_mut().shutdown().await;
                    break;
                }
                Ok(Some(Ok(Err(e)))) => self.transcript.push(Frame::Bad(e.to_string())),
                Ok(Some(Ok(Ok(w)))) => match Payload::from_wrapper(w) {
                    Ok(p) => {
                        self.transcript.push(Frame::FromBackend(p.clone()));
                        self.backlog.push_back(p);
                    }
                    Err(e) => self.transcript.push(Frame::Bad(e.to_string())),
                },
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.peer_exit_code(left).await
    }

    /// Waits at most `left` for the backend to end; its exit code.
    async fn peer_exit_code(&mut self, left: Duration) -> Result<i32> {
        let code = match &mut self.peer {
            Peer::InProcess(task) => match tokio::time::timeout(left, task).await {
                Ok(Ok(Ok(()))) => Ok(0),
                Ok(Ok(Err(e))) => Err(format!("the backend failed: {e}")),
                Ok(Err(e)) => Err(format!("the backend task failed: {e}")),
                Err(_) => Err("the backend did not stop".to_owned()),
            },
            Peer::Process { child, .. } => match tokio::time::timeout(left, child.wait()).await {
                Ok(Ok(status)) => Ok(status.code().unwrap_or(-1)),
                Ok(Err(e)) => Err(format!("waiting for the backend failed: {e}")),
                Err(_) => Err("the backend process did not exit".to_owned()),
            },
            Peer::Detached => Ok(0),
        };
        code.map_err(|what| self.failure(what))
    }

    /// Every frame received from the backend so far, in order (whether an
    /// expectation consumed it or not).
    pub fn received(&self) -> impl Iterator<Item = &Payload> {
        self.transcript.iter().filter_map(|f| match f {
            Frame::FromBackend(p) => Some(p),
            _ => None,
        })
    }

    /// What a backend started by [`MainInstance::spawn`] wrote to stderr so
    /// far (`None` for an in-process or detached backend).
    pub fn stderr(&self) -> Option<String> {
        match &self.peer {
            Peer::Process { stderr, .. } => stderr.lock().ok().map(|s| s.clone()),
            Peer::InProcess(_) | Peer::Detached => None,
        }
    }

    /// Sends signal `name` (`TERM`, `INT`, `HUP`...) to a backend started
    /// by [`MainInstance::spawn`], as an init system or an operator would.
    pub fn signal(&self, name: &str) -> Result<()> {
        let Some(pid) = self.backend_pid() else {
            return Err(self.failure("no spawned backend process to signal"));
        };
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid.to_string()])
            .status();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(self.failure(format!("kill -s {name} {pid} failed: {s}"))),
            Err(e) => Err(self.failure(format!("cannot run kill: {e}"))),
        }
    }

    /// Reads every frame until the backend closes the connection: the frames
    /// not consumed yet, in order. Fails if the connection is reset (the
    /// backend closed with input unread, and frames in flight may be lost)
    /// rather than closed.
    pub async fn read_to_end(&mut self) -> Result<Vec<Payload>> {
        let mut frames: Vec<Payload> = self.backlog.drain(..).collect();
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.framed.next()).await {
                Err(_) => return Err(self.failure("the backend did not close the connection")),
                Ok(None) => return Ok(frames),
                Ok(Some(Err(e))) => {
                    return Err(self.failure(format!("the connection failed before its end: {e}")));
                }
                Ok(Some(Ok(Err(e)))) => self.record(Frame::Bad(e.to_string())),
                Ok(Some(Ok(Ok(w)))) => match Payload::from_wrapper(w) {
                    Ok(p) => {
                        if self.recording {
                            self.transcript.push(Frame::FromBackend(p.clone()));
                        }
                        frames.push(p);
                    }
                    Err(e) => self.record(Frame::Bad(e.to_string())),
                },
            }
        }
    }

    /// Waits for the backend to end after it closed the connection (see
    /// [`MainInstance::read_to_end`]), closing our side first as Spectrum 2
    /// does; its exit code.
    pub async fn wait_for_exit(&mut self) -> Result<i32> {
        use tokio::io::AsyncWriteExt as _;
        let _ = self.framed.get_mut().shutdown().await;
        self.peer_exit_code(self.timeout).await
    }

    /// Frames received but not yet consumed by an expectation.
    pub fn unconsumed(&self) -> impl Iterator<Item = &Payload> {
        self.backlog.iter()
    }
}

/// What the backend announced when it connected.
#[derive(Debug, Clone, PartialEq)]
pub struct Handshake {
    /// The BACKEND_CONFIG text sent before the first PONG.
    pub backend_config: Option<String>,
    /// The STATS sent with the first PONG.
    pub stats: proto::Stats,
}

/// A failure with the frames seen so far and the last `stderr_lines` lines
/// a spawned backend wrote to stderr.
fn report(what: String, frames: &[Frame], peer: &Peer, stderr_lines: usize) -> Failure {
    let mut transcript = String::new();
    for frame in frames {
        let _ = writeln!(transcript, "  {frame}");
    }
    if transcript.is_empty() {
        transcript.push_str("  (none)\n");
    }
    if let Peer::Process { stderr, .. } = peer
        && let Ok(s) = stderr.lock()
    {
        let tail: Vec<&str> = s.lines().rev().take(stderr_lines).collect();
        let _ = writeln!(transcript, "\nbackend stderr (last lines):");
        for line in tail.into_iter().rev() {
            let _ = writeln!(transcript, "  {line}");
        }
    }
    Failure { what, transcript }
}

async fn bind() -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0))
        .await
        .or_else(|e| fail(format!("cannot listen on loopback: {e}")))
}

fn local_port(listener: &TcpListener) -> Result<u16> {
    listener
        .local_addr()
        .map(|a| a.port())
        .or_else(|e| fail(format!("no local address: {e}")))
}

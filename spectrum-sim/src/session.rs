//! One simulated main instance talking to one backend: runs commands and
//! prints every frame, in and out, as it happens.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use spectrum_backend::proto::{self, Payload};
use spectrum_backend::testing::{Failure, Frame, MainInstance};

use crate::commands::{self, Command, Expectation};
use crate::output::{self, Kind};
use crate::render::compact;
use crate::spawn::Backend;

/// Frames kept for later `expect` lines at most; older ones are forgotten
/// (a long interactive session would otherwise keep every frame).
const PENDING_LIMIT: usize = 10_000;

/// How long the sim waits for the backend to end once a run has failed.
const GIVE_UP_AFTER: Duration = Duration::from_secs(2);

/// What to do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Read the next command.
    Continue,
    /// The backend was told to exit and did, with this exit code.
    Exited(i32),
}

/// Why a command did not complete.
#[derive(Debug)]
pub(crate) enum StepError {
    /// An `expect` was not met in time; the backend is still connected.
    Unmet(Failure),
    /// The connection is gone (the backend closed it, or died).
    Lost(Failure),
}

/// The simulated main instance: the harness plus what the sim remembers.
pub(crate) struct Session {
    main: MainInstance,
    /// How many transcript entries have been printed.
    shown: usize,
    /// Frames from the backend not yet consumed by an `expect`.
    pending: VecDeque<Payload>,
    /// Legacy names given at `login`, for LOGOUT.
    legacy_names: HashMap<String, String>,
    next_vcard_id: i32,
    timeout: Duration,
    ping_sent: Option<Instant>,
    /// The backend process, when the simulator started it.
    backend: Option<Backend>,
    /// Set by `user <jid>`: commands then leave the user out.
    current_user: Option<String>,
}

impl Session {
    /// Wraps a harness that has done the handshake, and prints the frames
    /// exchanged so far.
    pub(crate) fn new(main: MainInstance, timeout: Duration, backend: Option<Backend>) -> Self {
        let mut session = Session {
            main,
            shown: 0,
            pending: VecDeque::new(),
            legacy_names: HashMap::new(),
            next_vcard_id: 0,
            timeout,
            ping_sent: None,
            backend,
            current_user: None,
        };
        session.show();
        session
    }

    /// Prints the frames exchanged since the last call.
    fn show(&mut self) {
        let transcript = self.main.transcript();
        for frame in transcript.iter().skip(self.shown) {
            let kind = match frame {
                Frame::ToBackend(_) => Kind::Sent,
                Frame::FromBackend(_) | Frame::Bad(_) => Kind::Received,
            };
            output::line(kind, &render(frame));
        }
        self.shown = transcript.len();
    }

    /// Prints a frame just received, and the round trip if it answers `ping`.
    fn arrived(&mut self, payload: &Payload) {
        self.show();
        if matches!(payload, Payload::Pong)
            && let Some(sent) = self.ping_sent.take()
        {
            output::line(
                Kind::Note,
                &format!("# round trip {}", millis(sent.elapsed())),
            );
        }
    }

    /// The user `user <jid>` made current, if any.
    pub(crate) fn current_user(&self) -> Option<&str> {
        self.current_user.as_deref()
    }

    /// Notes a frame just received: prints it and keeps it for `expect`.
    fn received(&mut self, payload: &Payload) {
        self.arrived(payload);
        if self.pending.len() == PENDING_LIMIT {
            self.pending.pop_front();
        }
        self.pending.push_back(payload.clone());
    }

    /// Waits for the next frame until `deadline`, printing it; `false` if
    /// none came. Cancel-safe, so the prompt can race it against stdin.
    pub(crate) async fn poll(&mut self, deadline: Instant) -> Result<bool, Failure> {
        let next = self.main.recv_until(deadline).await;
        match next {
            Ok(Some(payload)) => {
                self.received(&payload);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(failure) => {
                self.show();
                Err(failure)
            }
        }
    }

    async fn send(&mut self, payload: Payload) -> Result<(), StepError> {
        let sent = self.main.send(payload).await;
        self.show();
        sent.map_err(StepError::Lost)
    }

    /// Runs one command.
    pub(crate) async fn execute(&mut self, command: &Command) -> Result<Outcome, StepError> {
        match command {
            Command::Login {
                user,
                legacy_name,
                password,
            } => {
                self.legacy_names.insert(user.clone(), legacy_name.clone());
                self.send(Payload::Login(proto::Login {
                    user: user.clone(),
                    legacy_name: legacy_name.clone(),
                    password: password.clone(),
                    extra_fields: Vec::new(),
                    settings: Some(proto::login::UserSettings::default()),
                }))
                .await?;
            }
            Command::Logout { user } => {
                let legacy_name = self.legacy_names.remove(user).unwrap_or_default();
                self.send(Payload::Logout(proto::Logout {
                    user: user.clone(),
                    legacy_name,
                }))
                .await?;
            }
            Command::Send { user, buddy, text } => {
                self.send(Payload::ConvMessage(proto::ConversationMessage {
                    user_name: user.clone(),
                    buddy_name: buddy.clone(),
                    message: text.clone(),
                    xhtml: Some(String::new()),
                    ..Default::default()
                }))
                .await?;
            }
            Command::Join {
                user,
                room,
                nick,
                password,
            } => {
                self.send(Payload::JoinRoom(proto::Room {
                    user_name: user.clone(),
                    nickname: nick.clone(),
                    room: room.clone(),
                    password: Some(password.clone()),
                }))
                .await?;
            }
            Command::Leave { user, room } => {
                self.send(Payload::LeaveRoom(proto::Room {
                    user_name: user.clone(),
                    nickname: String::new(),
                    room: room.clone(),
                    password: Some(String::new()),
                }))
                .await?;
            }
            Command::Status { user, status, text } => {
                self.send(Payload::StatusChanged(proto::Status {
                    user_name: user.clone(),
                    status: *status as i32,
                    status_message: Some(text.clone()),
                }))
                .await?;
            }
            Command::Vcard { user, buddy } => {
                let id = self.next_vcard_id;
                self.next_vcard_id = self.next_vcard_id.wrapping_add(1);
                self.send(Payload::Vcard(proto::VCard {
                    user_name: user.clone(),
                    buddy_name: buddy.clone(),
                    id,
                    ..Default::default()
                }))
                .await?;
            }
            Command::Typing { user, buddy } => {
                self.send(Payload::BuddyTyping(proto::Buddy {
                    user_name: user.clone(),
                    buddy_name: buddy.clone(),
                    ..Default::default()
                }))
                .await?;
            }
            Command::Paused { user, buddy } => {
                self.send(Payload::BuddyTyped(proto::Buddy {
                    user_name: user.clone(),
                    buddy_name: buddy.clone(),
                    ..Default::default()
                }))
                .await?;
            }
            Command::Stopped { user, buddy } => {
                self.send(Payload::BuddyStoppedTyping(proto::Buddy {
                    user_name: user.clone(),
                    buddy_name: buddy.clone(),
                    ..Default::default()
                }))
                .await?;
            }
            Command::User(jid) => {
                self.current_user = Some(jid.clone());
                output::line(Kind::Note, &format!("# current user: {jid}"));
            }
            Command::Ping => {
                self.ping_sent = Some(Instant::now());
                self.send(Payload::Ping).await?;
            }
            Command::Help => output::line(Kind::Plain, &commands::help()),
            Command::Quit => return self.quit().await.map(Outcome::Exited),
            Command::Expect(expectation) => {
                self.expect(expectation).await?;
                output::line(Kind::Met, &format!("✓ {expectation}"));
            }
            Command::Timeout(timeout) => self.timeout = *timeout,
            Command::Sleep(pause) => {
                let deadline = Instant::now() + *pause;
                while self.poll(deadline).await.map_err(StepError::Lost)? {}
            }
        }
        Ok(Outcome::Continue)
    }

    /// Sends EXIT, waits for the backend to end, and prints its exit code.
    pub(crate) async fn quit(&mut self) -> Result<i32, StepError> {
        let code = self.main.exit_and_wait().await;
        self.show();
        let mut code = code.map_err(StepError::Lost)?;
        if let Some(backend) = &mut self.backend {
            // The harness saw the connection close; the process says how it ended.
            code = backend
                .end(self.timeout)
                .await
                .map_err(|what| StepError::Lost(self.main.failure(what)))?;
        }
        output::line(Kind::Note, &format!("# backend exited with code {code}"));
        Ok(code)
    }

    /// The first frame (kept or new) that meets `expectation`, within the
    /// timeout. Frames that do not match are kept for later.
    async fn expect(&mut self, expectation: &Expectation) -> Result<Payload, StepError> {
        if let Some(i) = self.pending.iter().position(|p| expectation.matches(p))
            && let Some(found) = self.pending.remove(i)
        {
            return Ok(found);
        }
        let deadline = Instant::now() + self.timeout;
        loop {
            let next = self.main.recv_until(deadline).await;
            match next {
                Ok(Some(payload)) => {
                    if expectation.matches(&payload) {
                        self.arrived(&payload);
                        return Ok(payload);
                    }
                    self.received(&payload);
                }
                Ok(None) => {
                    let mut what = format!("no {expectation} within {}", seconds(self.timeout));
                    let kind = Some(expectation.kind());
                    let near: Vec<&Payload> = self
                        .pending
                        .iter()
                        .filter(|p| p.message_type() == kind)
                        .collect();
                    if !near.is_empty() {
                        what.push_str("; frames of that type no `expect` took:");
                        for p in near.iter().rev().take(3).rev() {
                            what.push_str(&format!("\n  ← {}", compact(p)));
                        }
                    }
                    return Err(StepError::Unmet(self.main.failure(what)));
                }
                Err(failure) => {
                    self.show();
                    return Err(StepError::Lost(failure));
                }
            }
        }
    }

    /// Ends a failed run: closes the connection (as a vanished main instance
    /// would) and prints how the backend ended.
    pub(crate) async fn abandon(mut self) {
        self.main.set_timeout(GIVE_UP_AFTER);
        let closed = self.main.close().await.map_err(|f| f.what().to_owned());
        let code = match (closed, self.backend.as_mut()) {
            (Ok(_), Some(backend)) => backend.end(GIVE_UP_AFTER).await,
            (closed, _) => closed,
        };
        match code {
            Ok(code) => output::line(Kind::Failed, &format!("# backend exited with code {code}")),
            Err(what) => output::line(Kind::Failed, &format!("# {what}")),
        }
    }
}

/// `→ LOGIN {…}` for a frame to the backend, `← CONNECTED {…}` for one from it.
pub(crate) fn render(frame: &Frame) -> String {
    match frame {
        Frame::ToBackend(p) => format!("→ {}", compact(p)),
        Frame::FromBackend(p) => format!("← {}", compact(p)),
        Frame::Bad(e) => format!("← <undecodable frame: {e}>"),
    }
}

/// `0.213 ms`.
pub(crate) fn millis(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// `5 s`, `0.5 s`.
pub(crate) fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

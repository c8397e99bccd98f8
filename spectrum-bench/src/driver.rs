//! The main instance's side: spawn a backend process, then drive it.

use std::process::Stdio;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::StreamExt as _;
use spectrum_proto::{self as proto, FrameCodec, Payload};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{Encoder as _, FramedRead};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A spawned backend and the connection to it.
pub(crate) struct Backend {
    pub(crate) child: tokio::process::Child,
    pub(crate) pid: u32,
    pub(crate) reader: FramedRead<OwnedReadHalf, FrameCodec>,
    pub(crate) writer: OwnedWriteHalf,
    pub(crate) _config: tempfile::TempPath,
}

impl Backend {
    /// Spawns this executable as backend `kind` with Spectrum 2's arguments.
    pub(crate) async fn spawn(kind: &str) -> Result<Backend, BoxError> {
        let log = std::env::var("BENCH_BACKEND_LOG").unwrap_or_else(|_| "warn".into());
        Self::spawn_with(kind, &log, Stdio::inherit()).await
    }

    /// Like [`Backend::spawn`], with the backend's `RUST_LOG` and stderr.
    pub(crate) async fn spawn_with(
        kind: &str,
        log: &str,
        stderr: Stdio,
    ) -> Result<Backend, BoxError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let config = tempfile::Builder::new().suffix(".cfg").tempfile()?;
        std::fs::write(config.path(), "[service]\njid = bench.localhost\n")?;
        let exe = std::env::current_exe()?;
        let argv = spectrum_backend::testing::spectrum_argv(port, 1, config.path());
        // `BENCH_BACKEND_WRAP="valgrind --tool=callgrind"` runs the backend
        // under a profiler.
        let wrap = std::env::var("BENCH_BACKEND_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = tokio::process::Command::new(program);
                c.args(words).arg(&exe);
                c
            }
            None => tokio::process::Command::new(&exe),
        };
        let child = command
            .arg("backend")
            .arg(kind)
            .arg("--")
            .args(&argv)
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or("the backend exited at once")?;
        let (stream, _) =
            tokio::time::timeout(Duration::from_secs(30), listener.accept()).await??;
        stream.set_nodelay(true)?;
        let (read, writer) = stream.into_split();
        let reader = FramedRead::with_capacity(read, FrameCodec::new(), 256 * 1024);
        let mut backend = Backend {
            child,
            pid,
            reader,
            writer,
            _config: config.into_temp_path(),
        };
        backend.send(&[Payload::Ping]).await?;
        backend.wait_for(|p| matches!(p, Payload::Pong)).await?;
        Ok(backend)
    }

    pub(crate) async fn send(&mut self, payloads: &[Payload]) -> Result<(), BoxError> {
        let mut buf = BytesMut::new();
        encode(payloads, &mut buf)?;
        self.writer.write_all(&buf).await?;
        Ok(())
    }

    /// Reads until `pick` matches; other frames are dropped.
    pub(crate) async fn wait_for(
        &mut self,
        mut pick: impl FnMut(&Payload) -> bool,
    ) -> Result<Payload, BoxError> {
        loop {
            let p = next(&mut self.reader).await?;
            if pick(&p) {
                return Ok(p);
            }
        }
    }

    /// Logs `users` users in, all at once, and waits for every CONNECTED.
    pub(crate) async fn login_all(&mut self, users: usize) -> Result<(), BoxError> {
        for chunk in (0..users).collect::<Vec<_>>().chunks(500) {
            let logins: Vec<Payload> = chunk.iter().map(|&u| login(u)).collect();
            self.send(&logins).await?;
        }
        let mut connected = 0;
        while connected < users {
            match next(&mut self.reader).await? {
                Payload::Connected(_) => connected += 1,
                Payload::Disconnected(d) => return Err(format!("login refused: {d:?}").into()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends EXIT and waits for the process to end.
    pub(crate) async fn exit(mut self) -> Result<(), BoxError> {
        self.send(&[Payload::Exit]).await?;
        while next(&mut self.reader).await.is_ok() {}
        // As Spectrum 2 does when a backend closes: close too.
        let _ = self.writer.shutdown().await;
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await??;
        if !status.success() {
            return Err(format!("the backend exited with {status}").into());
        }
        Ok(())
    }
}

pub(crate) fn encode(payloads: &[Payload], buf: &mut BytesMut) -> Result<(), BoxError> {
    let mut codec = FrameCodec::new();
    for p in payloads {
        codec.encode(p.to_wrapper(), buf)?;
    }
    Ok(())
}

pub(crate) async fn next(
    reader: &mut FramedRead<OwnedReadHalf, FrameCodec>,
) -> Result<Payload, BoxError> {
    match tokio::time::timeout(Duration::from_secs(60), reader.next()).await {
        Err(_) => Err("no frame from the backend for 60 s".into()),
        Ok(None) => Err("the backend closed the connection".into()),
        Ok(Some(frame)) => Ok(Payload::from_wrapper(frame??)?),
    }
}

pub(crate) fn user(u: usize) -> String {
    format!("user{u}@bench.localhost")
}

pub(crate) fn login(u: usize) -> Payload {
    Payload::Login(proto::Login {
        user: user(u),
        legacy_name: format!("user{u}"),
        password: "pw".into(),
        extra_fields: Vec::new(),
        settings: Some(proto::login::UserSettings::default()),
    })
}

pub(crate) fn message(u: usize, text: String) -> Payload {
    Payload::ConvMessage(proto::ConversationMessage {
        user_name: user(u),
        buddy_name: "bob".into(),
        message: text,
        xhtml: Some(String::new()),
        ..Default::default()
    })
}

pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Resident and peak resident memory of a process, in KiB.
pub(crate) fn memory_kib(pid: u32) -> (u64, u64) {
    spectrum_backend::testing::ProcessMemory::read(pid).map_or((0, 0), |m| (m.rss_kib, m.hwm_kib))
}

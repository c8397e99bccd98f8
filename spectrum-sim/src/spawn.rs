//! Starting the backend as Spectrum 2 does, with its output shown live.
//!
//! The harness can spawn a backend itself, but it keeps the backend's
//! stderr to itself (for failure reports). Here the simulator spawns it, so
//! that every line the backend writes, on stderr or stdout, is shown as it
//! comes, between the frames, dimmed; then it lets the harness accept the
//! connection.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use spectrum_backend::testing::{MainInstance, spectrum_argv};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, BufReader};
use tokio::net::TcpListener;
use tokio::process::Child;

use crate::output;

/// A backend process started by the simulator.
pub(crate) struct Backend {
    child: Child,
    /// The config file, deleted when the backend is done.
    _config: tempfile::TempPath,
}

/// The longest line of backend output shown whole; longer ones are cut.
const LINE_LIMIT: usize = 64 * 1024;

impl Backend {
    /// Spawns `program` with `leading` arguments, then Spectrum 2's, and
    /// waits for it to connect.
    pub(crate) async fn start(
        program: &Path,
        leading: &[String],
        config: &str,
    ) -> Result<(MainInstance, Backend), String> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot listen on loopback: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening port: {e}"))?
            .port();
        let file = tempfile::Builder::new()
            .prefix("spectrum-sim-")
            .suffix(".cfg")
            .tempfile()
            .map_err(|e| format!("cannot create the config file: {e}"))?;
        std::fs::write(file.path(), config)
            .map_err(|e| format!("cannot write the config file: {e}"))?;
        let path = file.into_temp_path();
        let mut child = tokio::process::Command::new(program)
            .args(leading)
            .args(spectrum_argv(port, 1, &path))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(show_lines(out));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(show_lines(err));
        }
        let main = tokio::select! {
            main = MainInstance::accept_from(listener) => main.map_err(|f| f.to_string())?,
            status = child.wait() => {
                return Err(match status {
                    Ok(status) => format!("the backend exited ({status}) before connecting"),
                    Err(e) => format!("waiting for the backend failed: {e}"),
                });
            }
        };
        Ok((
            main,
            Backend {
                child,
                _config: path,
            },
        ))
    }

    /// The backend's process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits up to `wait` for the process to end, then kills it; its exit
    /// code (-1 if killed by a signal).
    pub(crate) async fn end(&mut self, wait: Duration) -> Result<i32, String> {
        let status = match tokio::time::timeout(wait, self.child.wait()).await {
            Ok(status) => status.map_err(|e| format!("waiting for the backend failed: {e}"))?,
            Err(_) => {
                let _ = self.child.kill().await;
                return Err(format!(
                    "the backend was still running {} s after its connection closed; killed",
                    wait.as_secs_f64()
                ));
            }
        };
        Ok(status.code().unwrap_or(-1))
    }
}

/// Shows every line of `pipe` as backend output until it closes.
async fn show_lines(pipe: impl AsyncRead + Unpin) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // `take` bounds the memory a line without an end can use.
        match (&mut reader)
            .take(LINE_LIMIT as u64)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                output::backend_line(text.trim_end_matches(['\n', '\r']));
            }
        }
    }
}

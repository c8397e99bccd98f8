//! A real Synapse homeserver on 127.0.0.1, installed from PyPI into a cached
//! virtualenv on first use.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit as _, Mac as _};

/// The Synapse release the tests run against.
pub const SYNAPSE_VERSION: &str = "1.163.2";

/// How long Synapse may take to answer after it is started (the first start
/// creates its database).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Where the virtualenv lives: `$SYNAPSE_VENV`, or beside the build output
/// so that `cargo clean` removes it.
fn venv_dir() -> PathBuf {
    std::env::var_os("SYNAPSE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("synapse-venv"))
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The Python that runs Synapse: `$SYNAPSE_PYTHON` if set, otherwise the
/// cached virtualenv's, which is created and filled with `pip install
/// matrix-synapse` the first time. Test processes running at once wait for
/// each other on a file lock; only one installs.
fn synapse_python() -> Result<PathBuf, String> {
    if let Some(python) = std::env::var_os("SYNAPSE_PYTHON") {
        return Ok(PathBuf::from(python));
    }
    let venv = venv_dir();
    let parent = venv.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {parent:?}: {e}"))?;
    let lock_path = venv.with_extension("lock");
    let lock = File::create(&lock_path).map_err(|e| format!("cannot create {lock_path:?}: {e}"))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {lock_path:?}: {e}"))?;
    let python = venv.join("bin").join("python");
    let marker = venv.join(format!("installed-{SYNAPSE_VERSION}"));
    if marker.is_file() {
        return Ok(python);
    }
    // A partial install (an interrupted run) is started over.
    let _ = std::fs::remove_dir_all(&venv);
    let started = Instant::now();
    eprintln!("installing matrix-synapse {SYNAPSE_VERSION} into {venv:?} (once)...");
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "`python3 -m venv` (Python 3.9+ with the venv module is needed)",
    )?;
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("matrix-synapse=={SYNAPSE_VERSION}"),
        ]),
        "`pip install matrix-synapse`",
    )?;
    let took = started.elapsed();
    File::create(&marker)
        .and_then(|mut f| writeln!(f, "installed in {:.1} s", took.as_secs_f64()))
        .map_err(|e| format!("cannot write {marker:?}: {e}"))?;
    eprintln!("installed matrix-synapse in {:.1} s", took.as_secs_f64());
    Ok(python)
}

/// A port nothing listens on right now.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on loopback: {e}"))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    use std::io::Read as _;
    let mut bytes = [0; N];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("no random bytes: {e}"))?;
    Ok(bytes)
}

fn random_hex() -> Result<String, String> {
    Ok(random_bytes::<16>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// A Synapse process serving the client API on 127.0.0.1 (plain HTTP, no
/// federation, SQLite), killed on drop. Its data survives [`Synapse::stop`]
/// and [`Synapse::restart`].
pub struct Synapse {
    child: Option<Child>,
    python: PathBuf,
    port: u16,
    secret: String,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

/// The server name: user IDs are `@name:localhost`.
pub const SERVER_NAME: &str = "localhost";

impl Synapse {
    /// Installs Synapse if needed, writes its config, starts it and waits
    /// until the client API answers.
    pub async fn start() -> Result<Synapse, String> {
        let python = tokio::task::spawn_blocking(synapse_python)
            .await
            .map_err(|e| format!("the install task failed: {e}"))??;
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let port = free_port()?;
        let secret = random_hex()?;
        write_config(dir.path(), port, &secret)?;
        let mut server = Synapse {
            child: None,
            python,
            port,
            secret,
            dir,
            http: {
                // reqwest is built without a TLS provider of its own.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::new()
            },
        };
        server.launch().await?;
        Ok(server)
    }

    async fn launch(&mut self) -> Result<(), String> {
        let log = self.dir.path().join("synapse.log");
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("cannot open {log:?}: {e}"))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot share the log: {e}"))?;
        let child = Command::new(&self.python)
            .args(["-m", "synapse.app.homeserver", "-c"])
            .arg(self.dir.path().join("homeserver.yaml"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run Synapse with {:?}: {e}", self.python))?;
        self.child = Some(child);
        let started = Instant::now();
        let url = format!("{}/_matrix/client/versions", self.url());
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("Synapse exited ({status}):\n{}", self.log_tail()));
            }
            if let Ok(answer) = self.http.get(&url).send().await
                && answer.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "Synapse does not answer on port {} after {START_TIMEOUT:?}:\n{}",
                    self.port,
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A directory that lives as long as the server: the backend's
    /// `service.working_dir` in tests, so that its saved sessions outlive
    /// a backend process but not the test.
    pub fn backend_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("backend")
    }

    /// The base URL of the client API.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last lines Synapse logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("synapse.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Kills the server; its clients' requests fail until [`Synapse::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.launch().await
    }

    /// Registers a user through the shared-secret admin API; the user ID.
    pub async fn register(&self, localpart: &str, password: &str) -> Result<String, String> {
        let url = format!("{}/_synapse/admin/v1/register", self.url());
        let fail = |e: &dyn std::fmt::Display| format!("registering {localpart}: {e}");
        let nonce: serde_json::Value = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(&e))?
            .json()
            .await
            .map_err(|e| fail(&e))?;
        let nonce = nonce["nonce"].as_str().ok_or_else(|| fail(&"no nonce"))?;
        let mut mac =
            Hmac::<sha1::Sha1>::new_from_slice(self.secret.as_bytes()).map_err(|e| fail(&e))?;
        for (i, part) in [nonce, localpart, password, "notadmin"].iter().enumerate() {
            if i > 0 {
                mac.update(b"\0");
            }
            mac.update(part.as_bytes());
        }
        let mac: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let body = serde_json::json!({
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": false,
            "mac": mac,
        });
        let answer = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| fail(&e))?;
        let status = answer.status();
        let answer: serde_json::Value = answer.json().await.map_err(|e| fail(&e))?;
        match answer["user_id"].as_str() {
            Some(id) if status.is_success() => Ok(id.to_owned()),
            _ => Err(fail(&format!("HTTP {status}: {answer}"))),
        }
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal homeserver config: one plain-HTTP client listener on
/// loopback, SQLite, no federation, registration only through the shared
/// secret, rate limits out of the way, media downloadable without a token.
fn write_config(dir: &Path, port: u16, secret: &str) -> Result<(), String> {
    use base64::Engine as _;
    let seed = random_bytes::<32>()?;
    let key = base64::engine::general_purpose::STANDARD_NO_PAD.encode(seed);
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {path:?}: {e}"))
    };
    write("signing.key", &format!("ed25519 a_test {key}\n"))?;
    let d = dir.display();
    let unlimited = "{per_second: 10000, burst_count: 10000}";
    let config = format!(
        "server_name: \"{SERVER_NAME}\"
pid_file: {d}/homeserver.pid
listeners:
  - port: {port}
    tls: false
    type: http
    x_forwarded: false
    bind_addresses: ['127.0.0.1']
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {d}/homeserver.db
media_store_path: {d}/media
signing_key_path: {d}/signing.key
registration_shared_secret: \"{secret}\"
macaroon_secret_key: \"{m}\"
form_secret: \"{f}\"
report_stats: false
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
enable_authenticated_media: false
presence:
  enabled: true
rc_message: {unlimited}
rc_registration: {unlimited}
rc_login:
  address: {unlimited}
  account: {unlimited}
  failed_attempts: {unlimited}
rc_joins:
  local: {unlimited}
  remote: {unlimited}
rc_joins_per_room: {unlimited}
rc_invites:
  per_room: {unlimited}
  per_user: {unlimited}
  per_issuer: {unlimited}
rc_presence:
  per_user: {unlimited}
rc_media_create: {unlimited}
rc_admin_redaction: {unlimited}
",
        m = random_hex()?,
        f = random_hex()?,
    );
    write("homeserver.yaml", &config)
}

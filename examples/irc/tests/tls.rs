//! TLS against a real ngircd listening with a certificate the test makes:
//! trusted through `service.irc_ca_file`, refused without it (with a
//! clear error), and accepted unchecked only when the server is named in
//! `service.irc_tls_unverified`.
//!
//! ngircd must be installed (`apt-get install -y ngircd`; Debian's is built
//! with TLS); without it these tests fail and say so.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use spectrum_backend::ConnectionError;
use spectrum_backend::testing::MainInstance;
use support::{Ngircd, PlainClient, Report, TestResult, free_port, transport_config};

const USER: &str = "alice@xmpp.test";

/// ngircd with TLS on a port of its own, its certificate signed by a CA
/// whose certificate is `dir/ca.pem`.
struct TlsServer {
    irc: Ngircd,
    tls_port: u16,
}

/// Makes a CA and a certificate it signs for 127.0.0.1; writes the CA's
/// certificate and the server's certificate and key to `dir`.
fn certificates(dir: &Path) -> Result<(), Report> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&key, &ca)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    std::fs::write(dir.join("cert.pem"), cert.pem())?;
    std::fs::write(dir.join("key.pem"), key.serialize_pem())?;
    Ok(())
}

impl TlsServer {
    async fn start() -> Result<TlsServer, Report> {
        let tls_port = free_port()?;
        let mut made = Ok(());
        let irc = Ngircd::start_with(|dir| {
            made = certificates(dir);
            format!(
                "[SSL]\nCertFile = {}\nKeyFile = {}\nPorts = {tls_port}\n",
                dir.join("cert.pem").display(),
                dir.join("key.pem").display(),
            )
        })
        .await?;
        made?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(format!("ngircd does not listen for TLS:\n{}", irc.log()).into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(TlsServer { irc, tls_port })
    }

    /// A transport config for the TLS port, with `more` keys.
    fn config(&self, more: &str) -> String {
        format!(
            "{}{more}",
            transport_config(&format!("127.0.0.1:+{}", self.tls_port))
        )
    }

    fn ca_file(&self) -> String {
        self.irc.dir().join("ca.pem").display().to_string()
    }
}

async fn backend(config: &str) -> Result<MainInstance, Report> {
    let mut main = MainInstance::spawn(env!("CARGO_BIN_EXE_irc"), config).await?;
    main.handshake().await?;
    Ok(main)
}

#[tokio::test]
async fn a_server_whose_ca_is_configured_is_reached_over_tls() -> TestResult {
    let server = TlsServer::start().await?;
    let mut bob = PlainClient::connect(server.irc.port(), "bob").await?;
    let config = server.config(&format!("irc_ca_file = {}\n", server.ca_file()));
    let mut main = backend(&config).await?;
    main.login(USER, "alice", "").await?;

    bob.send("PRIVMSG alice :over TLS?").await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(
        (m.buddy_name.as_str(), m.message.as_str()),
        ("bob", "over TLS?")
    );
    main.send_message(USER, "bob", "yes").await?;
    let line = bob
        .expect("alice's answer", |l| l.is("PRIVMSG", "alice"))
        .await?;
    assert_eq!(line.last(), "yes");
    // The server marks connections that came over TLS (ngircd: 275,
    // others: 671).
    bob.send("WHOIS alice").await?;
    let secure = bob
        .expect("alice on a secure connection", |l| {
            matches!(l.command.as_str(), "275" | "671")
        })
        .await?;
    assert_eq!(secure.param(1), "alice");
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn an_unknown_certificate_is_refused_with_a_clear_error() -> TestResult {
    let server = TlsServer::start().await?;
    let mut main = backend(&server.config("")).await?;
    let refused = main
        .try_login(USER, "alice", "")
        .await?
        .expect_err("the certificate is signed by nobody the system trusts");
    assert_eq!(refused.error, ConnectionError::CertUntrusted as i32);
    let text = refused.message.unwrap_or_default();
    assert!(
        text.contains(&format!("127.0.0.1:+{}", server.tls_port)) && text.contains("certificate"),
        "{text}"
    );
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

#[tokio::test]
async fn checks_are_off_only_for_a_server_named_for_it() -> TestResult {
    let server = TlsServer::start().await?;
    let config = server.config("irc_tls_unverified = 127.0.0.1\n");
    let mut main = backend(&config).await?;
    main.login(USER, "alice", "").await?;
    let mut bob = PlainClient::connect(server.irc.port(), "bob").await?;
    bob.send("PRIVMSG alice :unchecked, still encrypted")
        .await?;
    let m = main.expect_message(USER).await?;
    assert_eq!(m.message, "unchecked, still encrypted");
    assert_eq!(main.exit().await?, 0);

    // Another server's name does not switch the checks off.
    let config = server.config("irc_tls_unverified = irc.example.net\n");
    let mut main = backend(&config).await?;
    let refused = main
        .try_login(USER, "alice", "")
        .await?
        .expect_err("checked");
    assert_eq!(refused.error, ConnectionError::CertUntrusted as i32);
    assert_eq!(main.exit().await?, 0);
    Ok(())
}

//! TLS to IRC servers, with rustls (no OpenSSL).
//!
//! Certificates are checked against the system's roots (the OS's CA store,
//! which the admin already manages and the distribution keeps current,
//! rather than a list frozen into the binary at build time), plus a private
//! CA file when `service.irc_ca_file` names one. A server listed in
//! `service.irc_tls_unverified` is not checked at all: an explicit,
//! per-server choice, never a fallback.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use spectrum_backend::gateway::prelude::*;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::settings::Server;

/// The two client configurations: checked, and for opted-out servers.
#[derive(Debug)]
pub(crate) struct Tls {
    checked: Arc<ClientConfig>,
    unchecked: Arc<ClientConfig>,
}

/// The last configuration built, by CA file: the config file does not
/// change, and reading the system's store for every login would be wasted.
static BUILT: Mutex<Option<(Option<PathBuf>, Arc<Tls>)>> = Mutex::new(None);

impl Tls {
    /// The TLS configuration; an unreadable CA file is a wrong setting.
    pub(crate) fn get(ca_file: Option<&Path>) -> Result<Arc<Tls>, Error> {
        let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((key, tls)) = &*built
            && key.as_deref() == ca_file
        {
            return Ok(Arc::clone(tls));
        }
        let tls = Arc::new(Tls::build(ca_file).map_err(Error::invalid_settings)?);
        *built = Some((ca_file.map(Path::to_path_buf), Arc::clone(&tls)));
        Ok(tls)
    }

    fn build(ca_file: Option<&Path>) -> Result<Tls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::warn!("system CA store: {e}");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "system CA certificates");
        if let Some(path) = ca_file {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("service.irc_ca_file = {shown}: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "service.irc_ca_file = {shown}: no certificate in it"
                ));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("service.irc_ca_file = {shown}: {e}"))?;
            }
        }
        let builder = |provider: &Arc<CryptoProvider>| {
            ClientConfig::builder_with_provider(Arc::clone(provider))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))
        };
        let checked = builder(&provider)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let unchecked = builder(&provider)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unchecked(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth();
        Ok(Tls {
            checked: Arc::new(checked),
            unchecked: Arc::new(unchecked),
        })
    }

    /// TLS over `tcp` to `server`. A certificate that fails the checks is
    /// final, with the matching DISCONNECTED code: retrying will not mend it.
    pub(crate) async fn wrap(
        &self,
        server: &Server,
        tcp: TcpStream,
    ) -> Result<Connection, ConnectError> {
        let config = if server.verify {
            &self.checked
        } else {
            &self.unchecked
        };
        let name = ServerName::try_from(server.host.clone()).map_err(|e| {
            ConnectError::fatal(
                ConnectionError::InvalidSettings,
                format!("IRC server {server}: {e}"),
            )
        })?;
        match TlsConnector::from(Arc::clone(config))
            .connect(name, tcp)
            .await
        {
            Ok(tls) => Ok(Box::new(tls)),
            Err(e) => {
                let rustls = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
                let text = format!("IRC server {server}: TLS: {e}");
                Err(match rustls {
                    Some(rustls::Error::InvalidCertificate(cert)) => {
                        ConnectError::fatal(certificate_code(cert), text)
                    }
                    Some(_) => ConnectError::fatal(ConnectionError::EncryptionError, text),
                    None => ConnectError::retry(text),
                })
            }
        }
    }
}

/// The DISCONNECTED code for a refused certificate.
fn certificate_code(e: &CertificateError) -> ConnectionError {
    match e {
        CertificateError::UnknownIssuer => ConnectionError::CertUntrusted,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            ConnectionError::CertExpired
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            ConnectionError::CertNotActivated
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            ConnectionError::CertHostnameMismatch
        }
        _ => ConnectionError::CertOtherError,
    }
}

/// Accepts any certificate, still checking that the server holds its key.
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

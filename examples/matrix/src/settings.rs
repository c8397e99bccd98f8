//! The Matrix keys of the transport config file, and the user's Matrix ID.

use spectrum_backend::{Config, Error};

/// What the config file says about the homeserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// The homeserver's client API base URL.
    pub(crate) homeserver: String,
    /// `matrix.max_response_bytes`: the largest answer read (a sync
    /// included); larger ones are refused unread.
    pub(crate) max_response_bytes: usize,
    /// `matrix.attachment_hosts`: hosts whose URLs are fetched and uploaded
    /// as files even when they are addresses, local, or plain HTTP.
    pub(crate) attachment_hosts: Vec<String>,
}

/// The default of `matrix.max_response_bytes`.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

impl Settings {
    /// `matrix.homeserver` if set; otherwise `https://` and the server name
    /// of the user's Matrix ID. A wrong setting is final (INVALID_SETTINGS).
    pub(crate) fn for_user(config: &Config, user: &str) -> Result<Self, Error> {
        let max_response_bytes =
            config.number_at_least("matrix.max_response_bytes", MAX_RESPONSE_BYTES, 1024)?;
        let homeserver = Self::homeserver(config, user)?;
        let attachment_hosts = config
            .get_all("matrix.attachment_hosts")
            .iter()
            .flat_map(|v| v.split([',', ' ']))
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Settings {
            homeserver,
            max_response_bytes,
            attachment_hosts,
        })
    }

    /// The homeserver's host (and port, if given): how the user is told
    /// about it, and the pseudo-contact that tells them.
    pub(crate) fn network(&self) -> String {
        let rest = self
            .homeserver
            .split_once("://")
            .map_or(self.homeserver.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest).to_owned()
    }

    fn homeserver(config: &Config, user: &str) -> Result<String, Error> {
        if let Some(url) = config.get("matrix.homeserver") {
            let url = url.trim().trim_end_matches('/');
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::invalid_settings(format!(
                    "matrix.homeserver = {url} is not an http(s) URL"
                )));
            }
            return Ok(url.to_owned());
        }
        let server = server_name(user).ok_or_else(|| {
            Error::invalid_username(format!(
                "{user} is not a Matrix ID (@name:server), and no matrix.homeserver is configured"
            ))
        })?;
        Ok(format!("https://{server}"))
    }
}

/// The server name of `@name:server`.
pub(crate) fn server_name(user: &str) -> Option<&str> {
    let (local, server) = user.strip_prefix('@')?.split_once(':')?;
    (!local.is_empty() && !server.is_empty()).then_some(server)
}

/// The Matrix ID to log in with: the legacy name as given, trimmed; a
/// Spectrum 2 legacy name may not contain `@` at the start (JID escaping
/// turns `@` into `%`), so `%name:server` is accepted too.
pub(crate) fn matrix_id(legacy_name: &str) -> Result<String, Error> {
    let name = legacy_name.trim();
    let name = match name.strip_prefix('%') {
        Some(rest) => format!("@{rest}"),
        None => name.to_owned(),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(Error::invalid_username(format!(
            "{legacy_name:?} is not a Matrix user ID"
        )));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_homeserver_is_configured_or_derived_from_the_id()
    -> Result<(), Box<dyn std::error::Error>> {
        let configured = Config::parse("[matrix]\nhomeserver = http://127.0.0.1:8008/\n")?;
        assert_eq!(
            Settings::for_user(&configured, "@a:x")?.homeserver,
            "http://127.0.0.1:8008"
        );
        let none = Config::parse("[service]\njid = m.localhost\n")?;
        assert_eq!(
            Settings::for_user(&none, "@a:example.org")?.homeserver,
            "https://example.org"
        );
        assert!(Settings::for_user(&none, "alice").is_err());
        let bad = Config::parse("[matrix]\nhomeserver = example.org\n")?;
        assert!(Settings::for_user(&bad, "@a:x").is_err());
        assert_eq!(
            Settings::for_user(&none, "@a:x")?.max_response_bytes,
            16 << 20
        );
        let small = Config::parse("[matrix]\nmax_response_bytes = 65536\n")?;
        assert_eq!(
            Settings::for_user(&small, "@a:x")?.max_response_bytes,
            65536
        );
        let hosts = Config::parse("[matrix]\nattachment_hosts = 127.0.0.1, files.lan\n")?;
        assert_eq!(
            Settings::for_user(&hosts, "@a:x")?.attachment_hosts,
            ["127.0.0.1", "files.lan"]
        );
        assert_eq!(
            Settings::for_user(&configured, "@a:x")?.network(),
            "127.0.0.1:8008"
        );
        let tiny = Config::parse("[matrix]\nmax_response_bytes = 10\n")?;
        assert!(Settings::for_user(&tiny, "@a:x").is_err());
        Ok(())
    }

    #[test]
    fn matrix_ids_from_legacy_names() -> Result<(), Error> {
        assert_eq!(matrix_id(" @a:x ")?, "@a:x");
        assert_eq!(matrix_id("%a:x")?, "@a:x");
        assert_eq!(matrix_id("alice")?, "alice");
        assert!(matrix_id("a b").is_err());
        assert!(matrix_id("").is_err());
        Ok(())
    }
}

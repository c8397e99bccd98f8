//! The IRC keys of the transport config file.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use spectrum_backend::gateway::prelude::*;

use crate::tls::Tls;

/// The port IRC servers listen on when `service.irc_server` names none.
pub(crate) const DEFAULT_PORT: u16 = 6667;
/// The port that means TLS without a `+`.
pub(crate) const TLS_PORT: u16 = 6697;

/// What the config file says about the IRC network.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// `service.irc_server`, once or repeated: tried in order at login,
    /// round robin on reconnects.
    pub(crate) servers: Vec<Server>,
    /// `service.irc_send_pass`: send the user's password as the server
    /// password (PASS) instead of identifying to a service.
    pub(crate) send_pass: bool,
    /// `service.irc_identify`: `Target text`, with `$password` replaced,
    /// sent as a private message after the welcome when the user has a
    /// password. Default `NickServ identify $password`.
    pub(crate) identify: String,
    /// `service.irc_reconnect_attempts`: failed tries in a row after which
    /// a lost connection is given up (DISCONNECTED); 0 never gives up.
    pub(crate) reconnect_attempts: u32,
    /// `service.irc_away_timeout`: seconds between WHO polls that keep
    /// occupants' away state and contacts' presence current; 0 turns them off.
    pub(crate) away_timeout: u64,
    /// `service.irc_keepalive`: seconds between PINGs to the server; a
    /// connection silent for two of them counts as lost. 0 turns it off.
    pub(crate) keepalive: u64,
    /// TLS settings, when a server is reached over TLS.
    pub(crate) tls: Option<Arc<Tls>>,
    /// `service.irc_ca_file`: a private CA trusted besides the system's.
    pub(crate) ca_file: Option<PathBuf>,
    /// `service.irc_tls_unverified`: servers whose certificates are not checked.
    pub(crate) unverified: Vec<String>,
}

/// One IRC server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server {
    /// Host name or address.
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// Over TLS: written `+port`, or port 6697.
    pub(crate) tls: bool,
    /// Whether the certificate is checked: always, unless the server is
    /// named in `service.irc_tls_unverified`.
    pub(crate) verify: bool,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plus = if self.tls { "+" } else { "" };
        write!(f, "{}:{plus}{}", self.host, self.port)
    }
}

impl Settings {
    /// Reads the settings; a wrong config is final (INVALID_SETTINGS), not
    /// something a reconnect would fix.
    pub(crate) fn from_config(config: &Config) -> Result<Self, Error> {
        let unverified = config.get_all("service.irc_tls_unverified");
        let servers = config
            .get_all("service.irc_server")
            .iter()
            .map(|s| parse_server(s, unverified))
            .collect::<Result<Vec<_>, _>>()?;
        let ca_file = config.get("service.irc_ca_file").map(PathBuf::from);
        let tls = match servers.iter().any(|s| s.tls) {
            true => Some(Tls::get(ca_file.as_deref())?),
            false => None,
        };
        let send_pass = config.boolean("service.irc_send_pass", false)?;
        let identify = config
            .get("service.irc_identify")
            .unwrap_or("NickServ identify $password")
            .to_owned();
        let reconnect_attempts = config.number("service.irc_reconnect_attempts", 10)?;
        let away_timeout = config.number("service.irc_away_timeout", 60)?;
        let keepalive = config.number("service.irc_keepalive", 90)?;
        Ok(Settings {
            keepalive,
            away_timeout,
            servers,
            send_pass,
            identify,
            reconnect_attempts,
            tls,
            ca_file,
            unverified: unverified.to_vec(),
        })
    }

    /// Gateway mode: no server configured, rooms name their network.
    pub(crate) fn gateway(&self) -> bool {
        self.servers.is_empty()
    }

    /// The settings for one network of gateway mode, `server` as a room
    /// name gives it (`irc.example.net`, `irc.example.net:+6697`).
    pub(crate) fn for_network(&self, server: &str) -> Result<Settings, Error> {
        let server = parse_server(server, &self.unverified)?;
        let tls = match (server.tls, &self.tls) {
            (true, None) => Some(Tls::get(self.ca_file.as_deref())?),
            (_, tls) => tls.clone(),
        };
        Ok(Settings {
            servers: vec![server],
            tls,
            ..self.clone()
        })
    }

    /// The private message that identifies the user to a nickname service,
    /// as (target, text); none without a password or with PASS.
    pub(crate) fn identify_message(&self, name: &str, password: &str) -> Option<(String, String)> {
        if self.send_pass || password.is_empty() {
            return None;
        }
        let (target, text) = self.identify.trim().split_once(' ')?;
        Some((
            target.to_owned(),
            text.trim()
                .replace("$name", name)
                .replace("$password", password),
        ))
    }
}

/// `host`, `host:port` or `host/port` (`[v6 address]` in the first two
/// forms); `+port` or port 6697 means TLS. Certificates are checked unless
/// the host (or `host:port`) is in `unverified`.
fn parse_server<S: AsRef<str>>(value: &str, unverified: &[S]) -> Result<Server, Error> {
    let bad = || {
        Error::invalid_settings(format!(
            "service.irc_server = {value}: expected host[:port], host/port, +port for TLS"
        ))
    };
    let value = value.trim();
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix([':', '/']).ok_or_else(bad)?)),
        }
    } else if let Some((host, port)) = value.split_once('/') {
        (host, Some(port))
    } else {
        match value.split_once(':') {
            Some((host, port)) if !port.contains(':') => (host, Some(port)),
            // More than one colon: a bare IPv6 address.
            Some(_) => (value, None),
            None => (value, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let (port, plus) = match port {
        None => (DEFAULT_PORT, false),
        Some(p) => {
            let (p, plus) = p.strip_prefix('+').map_or((p, false), |p| (p, true));
            (p.parse().ok().filter(|p| *p != 0).ok_or_else(bad)?, plus)
        }
    };
    let tls = plus || port == TLS_PORT;
    let named = |u: &S| {
        let u = u.as_ref().trim();
        u.eq_ignore_ascii_case(host) || u.eq_ignore_ascii_case(&format!("{host}:{port}"))
    };
    Ok(Server {
        host: host.to_owned(),
        port,
        tls,
        verify: !unverified.iter().any(named),
    })
}

/// Refuses legacy names no IRC server accepts as a nickname (final:
/// INVALID_USERNAME), so that the server's refusal is never mistaken for
/// "nickname in use".
pub(crate) fn check_nickname(nick: &str) -> Result<(), Error> {
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || ",*?!@.:".contains(c);
    let valid = nick
        .chars()
        .next()
        .is_some_and(|c| !c.is_ascii_digit() && !"-#&+$~%".contains(c))
        && !nick.chars().any(forbidden);
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_username(format!(
            "`{nick}` cannot be an IRC nickname"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Result<Settings, Error> {
        let config = Config::parse(text).map_err(|e| Error::invalid_settings(e.to_string()))?;
        Settings::from_config(&config)
    }

    #[test]
    fn servers_with_and_without_ports() {
        let s = settings(
            "[service]\nirc_server = irc.example.net\nirc_server = 127.0.0.1:7000\n\
             irc_server = [::1]:6697\nirc_server = ::1\n",
        )
        .expect("valid");
        let servers: Vec<String> = s
            .servers
            .iter()
            .map(|s| format!("{} {}", s.host, s.port))
            .collect();
        assert_eq!(
            servers,
            [
                "irc.example.net 6667",
                "127.0.0.1 7000",
                "::1 6697",
                "::1 6667",
            ]
        );
        assert!(!s.send_pass);
    }

    #[test]
    fn tls_is_plus_port_or_6697_and_checked_unless_opted_out() {
        let s = settings(
            "[service]\nirc_server = a.net:+7000\nirc_server = b.net/6697\n\
             irc_server = c.net/7000\nirc_server = [::1]/+7001\n\
             irc_tls_unverified = b.net\n",
        )
        .expect("valid");
        let servers: Vec<(String, bool, bool)> = s
            .servers
            .iter()
            .map(|s| (s.to_string(), s.tls, s.verify))
            .collect();
        assert_eq!(
            servers,
            [
                ("a.net:+7000".to_owned(), true, true),
                ("b.net:+6697".to_owned(), true, false),
                ("c.net:7000".to_owned(), false, true),
                ("::1:+7001".to_owned(), true, true),
            ]
        );
        let e =
            settings("[service]\nirc_server = a.net:+7000\nirc_ca_file = /nonexistent/ca.pem\n")
                .expect_err("no such CA file");
        assert!(
            e.message().contains("/nonexistent/ca.pem"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn the_readmes_transport_configs_are_valid() {
        let readme = include_str!("../README.md");
        let configs: Vec<&str> = readme
            .split("```ini\n")
            .skip(1)
            .filter_map(|block| block.split("```").next())
            .collect();
        assert_eq!(configs.len(), 2, "one config per mode");
        let single = settings(configs[0]).expect("the single-network config");
        assert_eq!(single.servers.len(), 2);
        assert!(
            single
                .servers
                .iter()
                .all(|s| s.tls && s.verify && s.port == 6697)
        );
        assert_eq!(single.away_timeout, 60);
        let gateway = settings(configs[1]).expect("the gateway config");
        assert!(gateway.gateway());
    }

    #[test]
    fn wrong_settings_are_final() {
        for text in [
            "[service]\nirc_server = host:port\n",
            "[service]\nirc_server = host:0\n",
            "[service]\nirc_server = :6667\n",
            "[service]\nirc_server = h\nirc_send_pass = maybe\n",
        ] {
            let e = settings(text).expect_err(text);
            assert_eq!(e.code(), spectrum_backend::ConnectionError::InvalidSettings);
        }
    }

    #[test]
    fn identification() {
        let s = settings("[service]\nirc_server = h\n").expect("valid");
        assert_eq!(
            s.identify_message("alice", "pw"),
            Some(("NickServ".into(), "identify pw".into()))
        );
        assert_eq!(s.identify_message("alice", ""), None);
        let s = settings("[service]\nirc_server = h\nirc_send_pass = 1\n").expect("valid");
        assert_eq!(s.identify_message("alice", "pw"), None);
        let s = settings("[service]\nirc_server = h\nirc_identify = Q auth $name $password\n")
            .expect("valid");
        assert_eq!(
            s.identify_message("alice", "pw"),
            Some(("Q".into(), "auth alice pw".into()))
        );
    }

    #[test]
    fn nicknames() {
        for ok in ["alice", "Bob_", "[x]", "a-1", "`q"] {
            assert!(check_nickname(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "-x", "#chan", "a b", "alice@example.org", "x!y"] {
            assert!(check_nickname(bad).is_err(), "{bad}");
        }
    }
}

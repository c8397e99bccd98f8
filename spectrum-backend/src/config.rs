//! The transport config file, in the dialect Spectrum 2 reads.
//!
//! INI: `[section]` headers, then `key = value`. `#` starts a comment, also
//! after a value. Whitespace around keys and values is trimmed; quotes are
//! kept. A key given several times keeps every value, in order (e.g.
//! `service.irc_server`). Keys are addressed as `section.key`.
//!
//! Sections deserialize into your own types with serde:
//!
//! ```
//! use serde::Deserialize;
//! use spectrum_backend::Config;
//!
//! #[derive(Deserialize)]
//! struct Irc { irc_server: Vec<String>, irc_send_pass: bool, port: Option<u16> }
//!
//! let cfg = Config::parse("[service]\nirc_server = a.net # main\nirc_server = b.net\nirc_send_pass = yes\n").unwrap();
//! let irc: Irc = cfg.section("service").unwrap();
//! assert_eq!(irc.irc_server, ["a.net", "b.net"]);
//! assert!(irc.irc_send_pass);
//! assert_eq!(irc.port, None);
//! assert_eq!(cfg.get("service.irc_server"), Some("b.net"));
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeOwned, IntoDeserializer};

/// A parsed config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `section.key` → every value given, in file order.
    values: BTreeMap<String, Vec<String>>,
    path: Option<PathBuf>,
    /// 1-based numbers of the lines that were not UTF-8.
    lossy_lines: Vec<usize>,
}

/// The config file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("can't open {} configuration file: {source}", path.display())]
    Read {
        /// The path given on the command line.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line is neither a section header, a `key = value` pair nor a comment.
    #[error("{}line {line}: expected `[section]` or `key = value`, found `{text}`", path_prefix(.path))]
    Syntax {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// The offending line.
        text: String,
    },
    /// A section does not have the shape the backend expects.
    #[error("config section [{section}]: {message}")]
    Section {
        /// The section name.
        section: String,
        /// What serde found wrong.
        message: String,
    },
}

fn path_prefix(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|p| format!("{}: ", p.display()))
        .unwrap_or_default()
}

impl Config {
    /// Reads and parses a config file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse_bytes(&bytes).map_err(|e| match e {
            ConfigError::Syntax { line, text, .. } => ConfigError::Syntax {
                path: Some(path.to_owned()),
                line,
                text,
            },
            other => other,
        })?;
        config.path = Some(path.to_owned());
        Ok(config)
    }

    /// Parses a config file's bytes. Spectrum 2 reads its config as bytes,
    /// so files in Latin-1 or another legacy encoding (a name in a comment)
    /// are common: lines that are not UTF-8 are read with U+FFFD in place of
    /// the bad bytes and listed in [`Config::lossy_lines`] (the runtime
    /// warns about each).
    ///
    /// ```
    /// let cfg = spectrum_backend::Config::parse_bytes(b"# Jos\xe9\n[service]\njid = x\n").unwrap();
    /// assert_eq!(cfg.get("service.jid"), Some("x"));
    /// assert_eq!(cfg.lossy_lines(), [1]);
    /// ```
    pub fn parse_bytes(bytes: &[u8]) -> Result<Config, ConfigError> {
        let mut lossy_lines = Vec::new();
        let mut text = String::with_capacity(bytes.len());
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                text.push('\n');
            }
            match std::str::from_utf8(line) {
                Ok(line) => text.push_str(line),
                Err(_) => {
                    lossy_lines.push(i + 1);
                    text.push_str(&String::from_utf8_lossy(line));
                }
            }
        }
        let mut config = Self::parse(&text)?;
        config.lossy_lines = lossy_lines;
        Ok(config)
    }

    /// The 1-based numbers of the lines of the file that were not UTF-8.
    pub fn lossy_lines(&self) -> &[usize] {
        &self.lossy_lines
    }

    /// Parses config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut section = String::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_owned();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(ConfigError::Syntax {
                    path: None,
                    line: i + 1,
                    text: raw.to_owned(),
                });
            };
            let key = key.trim();
            if key.is_empty() {
                return Err(ConfigError::Syntax {
                    path: None,
                    line: i + 1,
                    text: raw.to_owned(),
                });
            }
            let full = if section.is_empty() {
                key.to_owned()
            } else {
                format!("{section}.{key}")
            };
            values
                .entry(full)
                .or_default()
                .push(value.trim().to_owned());
        }
        Ok(Config {
            values,
            path: None,
            lossy_lines: Vec::new(),
        })
    }

    /// Applies `--section.key=value` overrides from the command line; an
    /// override replaces every value the file gave.
    pub fn apply_overrides<'a>(
        &mut self,
        overrides: impl IntoIterator<Item = &'a (String, String)>,
    ) {
        for (key, value) in overrides {
            self.values.insert(key.clone(), vec![value.clone()]);
        }
    }

    /// The file this config was read from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The last value of `section.key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of `section.key`, in file order.
    pub fn get_all(&self, key: &str) -> &[String] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }

    /// A boolean value, read as Spectrum 2 does: `1 true yes on` or
    /// `0 false no off` (any case); an empty value means true.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(parse_bool)
    }

    /// Deserializes `[section]` into `T`. Values are text and are converted
    /// to the field types (numbers, booleans, `Vec` for repeated keys,
    /// `Option` for keys that may be absent).
    pub fn section<T: DeserializeOwned>(&self, section: &str) -> Result<T, ConfigError> {
        let prefix = format!("{section}.");
        let entries = self
            .values
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k, Values(v))));
        let de = de::value::MapDeserializer::<_, de::value::Error>::new(entries);
        T::deserialize(de).map_err(|e| ConfigError::Section {
            section: section.to_owned(),
            message: e.to_string(),
        })
    }
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The values of one key, deserialized on demand into the requested type.
struct Values<'a>(&'a [String]);

impl<'de, 'a> IntoDeserializer<'de, de::value::Error> for Values<'a> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl Values<'_> {
    fn last(&self) -> &str {
        self.0.last().map_or("", String::as_str)
    }

    fn parse<T: std::str::FromStr>(&self, what: &str) -> Result<T, de::value::Error> {
        self.last()
            .parse()
            .map_err(|_| de::Error::custom(format!("`{}` is not {what}", self.last())))
    }
}

macro_rules! parse_number {
    ($($method:ident => $visit:ident: $ty:ty),*) => {$(
        fn $method<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            visitor.$visit(self.parse::<$ty>(concat!("a valid ", stringify!($ty)))?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Values<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.0.len() > 1 {
            return self.deserialize_seq(visitor);
        }
        visitor.visit_str(self.last())
    }

    fn deserialize_bool<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match parse_bool(self.last()) {
            Some(b) => visitor.visit_bool(b),
            None => Err(de::Error::custom(format!(
                "`{}` is not a boolean (use 1/0, true/false, yes/no or on/off)",
                self.last()
            ))),
        }
    }

    parse_number!(
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
        deserialize_f32 => visit_f32: f32, deserialize_f64 => visit_f64: f64
    );

    fn deserialize_option<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let items = self.0.iter().map(|v| Values(std::slice::from_ref(v)));
        visitor.visit_seq(de::value::SeqDeserializer::new(items))
    }

    fn deserialize_newtype_struct<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_enum(self.last().into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_spectrum_syntax() {
        let cfg = Config::parse(
            "# comment\n[service]\njid = irc.example.org   # trailing\nbackend = \"/opt/my dir/b\" --x=1\n\n[logging]\nbackend_config=\n",
        )
        .expect("valid");
        assert_eq!(cfg.get("service.jid"), Some("irc.example.org"));
        assert_eq!(cfg.get("service.backend"), Some("\"/opt/my dir/b\" --x=1"));
        assert_eq!(cfg.get("logging.backend_config"), Some(""));
        assert_eq!(cfg.get("service.missing"), None);
    }

    #[test]
    fn reports_bad_lines_with_their_number() {
        let e = Config::parse("[a]\nx = 1\nnonsense\n").expect_err("bad");
        assert_eq!(
            e.to_string(),
            "line 3: expected `[section]` or `key = value`, found `nonsense`"
        );
    }

    #[test]
    fn typed_sections_explain_bad_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            port: u16,
        }
        let cfg = Config::parse("[backend]\nport = lots\n").expect("valid");
        let e = cfg.section::<S>("backend").expect_err("not a number");
        assert_eq!(
            e.to_string(),
            "config section [backend]: `lots` is not a valid u16"
        );
        let cfg = Config::parse("[backend]\n").expect("valid");
        let e = cfg.section::<S>("backend").expect_err("missing");
        assert_eq!(
            e.to_string(),
            "config section [backend]: missing field `port`"
        );
    }

    #[test]
    fn overrides_replace_file_values() {
        let mut cfg = Config::parse("[service]\nirc_server = a\nirc_server = b\n").expect("valid");
        cfg.apply_overrides(&[("service.irc_server".to_owned(), "c".to_owned())]);
        assert_eq!(cfg.get_all("service.irc_server"), ["c"]);
    }
}
